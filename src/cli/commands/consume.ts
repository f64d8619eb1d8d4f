import type { Command } from 'commander';
import { Consumer, type ConsumerRecord } from '../../client/consumer.js';
import type { TopicPartition } from '../../client/cluster.js';
import { listOffsets, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from '../../client/offsets.js';
import {
  EXIT,
  UsageError,
  action,
  bytesToText,
  clientCommand,
  clientOptions,
  parseInteger,
  type GlobalOptions,
} from './common.js';

interface ConsumeOptions extends GlobalOptions {
  fromBeginning?: boolean;
  offset?: string;
  partition?: string;
  group?: string;
  count?: string;
  format?: string;
  end?: boolean;
  isolationLevel: string;
  commit: boolean;
}

type Rec = ConsumerRecord<Buffer | null, Buffer | null>;

function headerText(r: Rec): string {
  return r.headers.map((h) => `${h.key}=${h.value === null ? '' : bytesToText(h.value)}`).join(',');
}

/**
 * Compiles a --format template into a function. Placeholders: {topic} {partition} {offset}
 * {timestamp} (ms) {datetime} (ISO 8601) {key} {value} {headers} (k=v,...) {header.NAME};
 * escapes \n \t \\. A null key or value prints as "null".
 */
export function compileFormat(template: string): (r: Rec) => string {
  const parts: ((r: Rec) => string)[] = [];
  const re = /\{([a-zA-Z]+)(?:\.([^}]+))?\}|\\([nt\\])/g;
  let last = 0;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    const lit = template.slice(last, m.index);
    if (lit !== '') parts.push(() => lit);
    last = re.lastIndex;
    if (m[3] !== undefined) {
      const ch = m[3] === 'n' ? '\n' : m[3] === 't' ? '\t' : '\\';
      parts.push(() => ch);
      continue;
    }
    const name = m[1]!;
    switch (name) {
      case 'topic':
        parts.push((r) => r.topic);
        break;
      case 'partition':
        parts.push((r) => String(r.partition));
        break;
      case 'offset':
        parts.push((r) => String(r.offset));
        break;
      case 'timestamp':
        parts.push((r) => String(r.timestamp));
        break;
      case 'datetime':
        parts.push((r) => new Date(r.timestamp).toISOString());
        break;
      case 'key':
        parts.push((r) => bytesToText(r.key) ?? 'null');
        break;
      case 'value':
        parts.push((r) => bytesToText(r.value) ?? 'null');
        break;
      case 'headers':
        parts.push(headerText);
        break;
      case 'header': {
        const hk = m[2];
        if (hk === undefined) throw new UsageError('--format: {header.NAME} needs a header name');
        parts.push((r) => {
          const h = r.headers.find((x) => x.key === hk);
          return h === undefined ? '' : (bytesToText(h.value) ?? 'null');
        });
        break;
      }
      default:
        throw new UsageError(
          `--format: unknown placeholder {${name}} (use topic, partition, offset, timestamp, datetime, key, value, headers, header.NAME)`,
        );
    }
  }
  const tail = template.slice(last);
  if (tail !== '') parts.push(() => tail);
  return (r) => {
    let s = '';
    for (const p of parts) s += p(r);
    return s;
  };
}

export function recordJson(r: Rec): string {
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: bytesToText(r.key),
    value: bytesToText(r.value),
    headers: r.headers.map((h) => [h.key, bytesToText(h.value)]),
  });
}

/** Where to start reading without a group: earliest, latest, an offset, or -N (N before the end). */
type Start =
  { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: number } | { kind: 'fromEnd'; n: number };

function parseStart(o: ConsumeOptions): Start {
  if (o.offset === undefined) return o.fromBeginning ? { kind: 'earliest' } : { kind: 'latest' };
  if (o.fromBeginning) throw new UsageError('use either --from-beginning or --offset, not both');
  const v = o.offset.trim();
  if (v === 'earliest' || v === 'beginning') return { kind: 'earliest' };
  if (v === 'latest' || v === 'end') return { kind: 'latest' };
  const n = parseInteger('--offset', v);
  return n < 0 ? { kind: 'fromEnd', n: -n } : { kind: 'offset', offset: n };
}

export function registerConsumeCommand(program: Command): void {
  clientCommand(program.command('consume <topic>'))
    .description('print records of a topic; follows new records until interrupted (Ctrl-C)')
    .option('--from-beginning', 'start at the first retained record instead of the end')
    .option('-o, --offset <offset>', 'start offset: a number, earliest, latest, or -N for the last N records')
    .option('-p, --partition <n>', 'read only this partition')
    .option('-g, --group <id>', 'consume as a member of this consumer group (committing offsets)')
    .option('-n, --count <n>', 'exit after this many records')
    .option('-e, --end', 'exit once every partition is read up to its end')
    .option(
      '-f, --format <template>',
      'output template: {key} {value} {headers} {header.NAME} {partition} {offset} {timestamp} {datetime} {topic}',
    )
    .option('--isolation-level <level>', 'read_uncommitted or read_committed', 'read_uncommitted')
    .option('--no-commit', 'with --group: do not commit offsets')
    .action(
      action(async (topic: string, o: ConsumeOptions) => {
        const count = o.count === undefined ? Infinity : parseInteger('--count', o.count, 1);
        const partition = o.partition === undefined ? undefined : parseInteger('--partition', o.partition, 0);
        if (o.isolationLevel !== 'read_committed' && o.isolationLevel !== 'read_uncommitted')
          throw new UsageError(`--isolation-level: "${o.isolationLevel}" is not read_uncommitted or read_committed`);
        if (o.group !== undefined && (o.offset !== undefined || partition !== undefined))
          throw new UsageError('--group assigns partitions itself; it cannot be combined with --offset or --partition');
        const format = o.json ? recordJson : compileFormat(o.format ?? '{value}');
        const start = o.group === undefined ? parseStart(o) : undefined;
        const consumer = new Consumer({
          ...clientOptions(o),
          groupId: o.group,
          autoOffsetReset: o.fromBeginning ? 'earliest' : 'latest',
          enableAutoCommit: o.group !== undefined && o.commit,
          isolationLevel: o.isolationLevel,
          sessionTimeoutMs: 10_000,
          heartbeatIntervalMs: 1_000,
          rebalanceTimeoutMs: 30_000,
        });
        let stopping = false;
        const stop = () => {
          if (stopping) process.exit(130);
          stopping = true;
          void consumer.close();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        process.stdout.on('error', (err: NodeJS.ErrnoException) => {
          // The reader went away (e.g. `| head`): stop quietly.
          if (err.code === 'EPIPE') stop();
        });
        let printed = 0;
        try {
          const info = await consumer.cluster.topic(topic);
          if (o.group !== undefined) consumer.subscribe(topic);
          else {
            const tps: TopicPartition[] =
              partition !== undefined
                ? [{ topic, partition }]
                : info.partitions.map((p) => ({ topic, partition: p.partition }));
            if (partition !== undefined && partition >= info.partitions.length)
              throw new UsageError(`topic "${topic}" has partitions 0-${info.partitions.length - 1}, not ${partition}`);
            consumer.assign(tps);
            const st = start!;
            if (st.kind === 'earliest') consumer.seekToBeginning();
            else if (st.kind === 'latest') consumer.seekToEnd();
            else if (st.kind === 'offset') for (const tp of tps) consumer.seek({ ...tp, offset: st.offset });
            else {
              const n = st.n;
              const [lo, hi] = await Promise.all([
                listOffsets(
                  consumer.cluster,
                  tps.map((tp) => ({ ...tp, timestamp: EARLIEST_TIMESTAMP })),
                ),
                listOffsets(
                  consumer.cluster,
                  tps.map((tp) => ({ ...tp, timestamp: LATEST_TIMESTAMP })),
                ),
              ]);
              tps.forEach((tp, i) => consumer.seek({ ...tp, offset: Math.max(lo[i]!.offset, hi[i]!.offset - n) }));
            }
          }
          while (!stopping && printed < count) {
            const records = await consumer.poll(500, { maxRecords: count - printed });
            if (records.length > 0) {
              let chunk = '';
              for (const r of records) {
                if (printed >= count) break;
                chunk += format(r) + '\n';
                printed++;
              }
              if (!process.stdout.write(chunk) && !process.stdout.destroyed) {
                // Backpressure from a slow reader; a reader that left closes the stream instead.
                await new Promise<void>((r) => {
                  const done = () => {
                    process.stdout.off('drain', done);
                    process.stdout.off('close', done);
                    r();
                  };
                  process.stdout.once('drain', done);
                  process.stdout.once('close', done);
                });
              }
            }
            if (o.end && records.length === 0 && atEnd(consumer)) break;
          }
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          if (!stopping) await consumer.close();
        }
        return EXIT.OK;
      }),
    );
}

/** Every assigned partition's position has reached its end (high watermark or LSO). */
function atEnd(consumer: Consumer): boolean {
  const tps = consumer.assignment();
  if (tps.length === 0) return false;
  return tps.every((tp) => consumer.lag(tp) === 0);
}
