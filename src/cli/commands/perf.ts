import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { Producer, type Acks } from '../../client/producer.js';
import { Consumer } from '../../client/consumer.js';
import type { CompressionCodecName } from '../../protocol/compression/codec.js';
import {
  EXIT,
  UsageError,
  action,
  clientCommand,
  clientOptions,
  colour,
  out,
  parseInteger,
  printJson,
  type GlobalOptions,
} from './common.js';

interface PerfProduceOptions extends GlobalOptions {
  records: string;
  recordSize: string;
  throughput: string;
  acks: string;
  compression: string;
  batchSize: string;
  lingerMs: string;
  maxInFlight: string;
  keys: string;
  idempotent: boolean;
  progress: boolean;
}

interface PerfConsumeOptions extends GlobalOptions {
  records: string;
  group?: string;
  idleTimeoutMs: string;
  progress: boolean;
}

export interface LatencySummary {
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles of latencies in ms (the array is sorted in place). */
export function summarize(latencies: Float64Array): LatencySummary {
  const n = latencies.length;
  if (n === 0) return { avg: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  latencies.sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += latencies[i]!;
  const at = (q: number) => latencies[Math.min(n - 1, Math.floor(q * n))]!;
  return { avg: sum / n, p50: at(0.5), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: latencies[n - 1]! };
}

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

/** Random uppercase letters, like Kafka's producer perf test payload. */
function payload(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = 65 + Math.floor(Math.random() * 26);
  return b;
}

class Progress {
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastLine = 0;
  private lastCount = 0;

  constructor(
    private readonly total: number,
    private readonly label: string,
    enabled: boolean,
    private readonly current: () => number,
    private readonly startedAt: number,
  ) {
    if (enabled && process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} {bar} {percentage}% | {value}/{total} records | {rate} rec/s | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: 0 });
    }
    if (enabled) this.timer = setInterval(() => this.tick(), this.bar !== undefined ? 100 : 5000);
  }

  private tick(): void {
    const now = performance.now();
    const n = this.current();
    if (this.bar !== undefined) {
      const secs = (now - this.startedAt) / 1000;
      this.bar.update(n, { rate: secs > 0 ? Math.round(n / secs) : 0 });
      return;
    }
    // Not a terminal: a line every few seconds, as kafka-producer-perf-test prints.
    const secs = (now - (this.lastLine || this.startedAt)) / 1000;
    process.stderr.write(
      `${this.label}: ${n}/${this.total} records, ${Math.round((n - this.lastCount) / secs)} records/s\n`,
    );
    this.lastLine = now;
    this.lastCount = n;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.bar !== undefined) {
      this.bar.update(this.current());
      this.bar.stop();
    }
  }
}

function report(
  kind: string,
  o: GlobalOptions,
  r: {
    records: number;
    bytes: number;
    seconds: number;
    latency: LatencySummary;
    latencyLabel: string;
    extra?: Record<string, unknown>;
  },
): void {
  const recordsPerSec = r.records / r.seconds;
  const mbPerSec = r.bytes / r.seconds / (1024 * 1024);
  if (o.json) {
    printJson({
      kind,
      records: r.records,
      bytes: r.bytes,
      seconds: round(r.seconds, 3),
      recordsPerSec: round(recordsPerSec, 1),
      mbPerSec: round(mbPerSec, 2),
      latencyMs: Object.fromEntries(Object.entries(r.latency).map(([k, v]) => [k, round(v, 3)])),
      ...r.extra,
    });
    return;
  }
  const l = r.latency;
  out(
    `${colour.bold(`${r.records} records`)} ${kind} in ${round(r.seconds, 2)} s: ${colour.bold(`${Math.round(recordsPerSec)} records/s`)} (${colour.bold(`${round(mbPerSec)} MB/s`)})`,
  );
  out(
    `${r.latencyLabel} latency ms: avg ${round(l.avg)}, p50 ${round(l.p50)}, p95 ${round(l.p95)}, p99 ${round(l.p99)}, p99.9 ${round(l.p999)}, max ${round(l.max)}`,
  );
}

export function registerPerfCommands(program: Command): void {
  const perf = program
    .command('perf')
    .description('load generators: measure produce and consume throughput and latency');

  clientCommand(perf.command('produce <topic>'))
    .description(
      'send records as fast as possible (or at --throughput) and report records/s, MB/s and latency percentiles',
    )
    .requiredOption('-n, --records <n>', 'number of records to send')
    .option('-s, --record-size <bytes>', 'value size of each record', '100')
    .option('-t, --throughput <records/s>', 'target rate; -1 for as fast as possible', '-1')
    .option('--acks <acks>', '0, 1 or all', 'all')
    .option('--compression <codec>', 'none, gzip, snappy, lz4 or zstd', 'none')
    .option('--batch-size <bytes>', 'batch size per partition', '262144')
    .option('--linger-ms <ms>', 'batching delay', '5')
    .option('--max-in-flight <n>', 'produce requests in flight per broker', '5')
    .option('--keys <n>', 'use n distinct keys (0: no keys, sticky partitioning)', '0')
    .option('--no-idempotent', 'disable idempotence')
    .option('--no-progress', 'no live progress output')
    .action(
      action(async (topic: string, o: PerfProduceOptions) => {
        const total = parseInteger('--records', o.records, 1);
        const size = parseInteger('--record-size', o.recordSize, 0);
        const throughput = parseInteger('--throughput', o.throughput, -1);
        if (throughput === 0) throw new UsageError('--throughput must be positive or -1');
        const keyCount = parseInteger('--keys', o.keys, 0);
        const acks: Acks =
          o.acks === 'all' || o.acks === '-1'
            ? 'all'
            : o.acks === '1'
              ? 1
              : o.acks === '0'
                ? 0
                : (() => {
                    throw new UsageError(`--acks: "${o.acks}" is not 0, 1 or all`);
                  })();
        const producer = new Producer({
          ...clientOptions(o),
          acks,
          compression: o.compression as CompressionCodecName,
          batchSize: parseInteger('--batch-size', o.batchSize, 1),
          lingerMs: parseInteger('--linger-ms', o.lingerMs, 0),
          maxInFlight: parseInteger('--max-in-flight', o.maxInFlight, 1),
          maxRequestSize: 8 * 1024 * 1024,
          bufferMemory: 16 * 1024 * 1024,
          idempotent: acks === 'all' && o.idempotent ? undefined : false,
          allowAutoTopicCreation: false,
        });
        const value = payload(size);
        const keys = Array.from({ length: keyCount }, (_, i) => Buffer.from(`key-${i}`));
        const sentAt = new Float64Array(total);
        const latency = new Float64Array(total);
        let acked = 0;
        let failed: Error | undefined;
        let progress: Progress | undefined;
        try {
          await producer.connect();
          await producer.cluster.topic(topic);
          const start = performance.now();
          progress = new Progress(total, 'producing', o.progress && !o.json, () => acked, start);
          let done!: () => void;
          const allDone = new Promise<void>((r) => (done = r));
          const onDelivery = (i: number, err: Error | null) => {
            if (err !== null) failed ??= err;
            else latency[i] = performance.now() - sentAt[i]!;
            if (++acked === total) done();
          };
          const record: { topic: string; key: Buffer | null; value: Buffer } = { topic, key: null, value };
          for (let i = 0; i < total; i++) {
            if (failed !== undefined) break;
            if ((i & 1023) === 0) {
              if (producer.bufferedSize >= 16 * 1024 * 1024) await producer.bufferSpace();
              if (throughput > 0) {
                const ahead = (i / throughput) * 1000 - (performance.now() - start);
                if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
              } else if ((i & 16383) === 0) {
                // Let responses in: a tight loop would starve the socket.
                await new Promise((r) => setImmediate(r));
              }
            } else if (throughput > 0 && throughput < 1024 * 10) {
              const ahead = (i / throughput) * 1000 - (performance.now() - start);
              if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
            }
            sentAt[i] = performance.now();
            // produce() copies what it needs, so one record object serves every send.
            record.key = keyCount > 0 ? keys[i % keyCount]! : null;
            producer.produce(record, (err) => onDelivery(i, err));
          }
          if (failed === undefined) {
            await producer.flush();
            await allDone;
          }
          const seconds = (performance.now() - start) / 1000;
          progress.stop();
          progress = undefined;
          if (failed !== undefined) throw failed;
          report('sent', o, {
            records: total,
            bytes: total * size,
            seconds,
            latency: summarize(latency),
            latencyLabel: acks === 0 ? 'send (acks=0, not acknowledged)' : 'produce (send to acknowledgement)',
            extra: {
              recordSize: size,
              acks: String(acks),
              compression: o.compression,
              batchSize: Number(o.batchSize),
              idempotent: producer.isIdempotent,
            },
          });
        } finally {
          progress?.stop();
          await producer.close().catch(() => undefined);
        }
        return EXIT.OK;
      }),
    );

  clientCommand(perf.command('consume <topic>'))
    .description(
      'read records from the beginning as fast as possible and report records/s, MB/s and end-to-end latency',
    )
    .requiredOption('-n, --records <n>', 'number of records to read')
    .option('-g, --group <id>', 'consume as a group member (default: assign all partitions, no group)')
    .option('--idle-timeout-ms <ms>', 'give up when no record arrives for this long', '10000')
    .option('--no-progress', 'no live progress output')
    .action(
      action(async (topic: string, o: PerfConsumeOptions) => {
        const total = parseInteger('--records', o.records, 1);
        const idle = parseInteger('--idle-timeout-ms', o.idleTimeoutMs, 1);
        const consumer = new Consumer({
          ...clientOptions(o),
          groupId: o.group,
          autoOffsetReset: 'earliest',
          maxPollRecords: 20_000,
          fetchMaxWaitMs: 100,
          maxPartitionFetchBytes: 1024 * 1024,
        });
        let count = 0;
        let bytes = 0;
        const latency = new Float64Array(total);
        let progress: Progress | undefined;
        try {
          const info = await consumer.cluster.topic(topic);
          if (o.group !== undefined) consumer.subscribe(topic);
          else {
            consumer.assign(info.partitions.map((p) => ({ topic, partition: p.partition })));
            consumer.seekToBeginning();
          }
          const start = performance.now();
          progress = new Progress(total, 'consuming', o.progress && !o.json, () => count, start);
          let lastRecord = Date.now();
          while (count < total) {
            const records = await consumer.poll(200, { maxRecords: total - count });
            if (records.length === 0) {
              if (Date.now() - lastRecord > idle) break;
              continue;
            }
            const now = Date.now();
            lastRecord = now;
            for (const r of records) {
              bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
              latency[count++] = now - r.timestamp;
            }
          }
          const seconds = (performance.now() - start) / 1000;
          progress.stop();
          progress = undefined;
          report('received', o, {
            records: count,
            bytes,
            seconds,
            latency: summarize(latency.subarray(0, count)),
            latencyLabel: 'end-to-end (record timestamp to receipt)',
          });
          if (count < total) {
            process.stderr.write(
              `${colour.errRed(`only ${count} of ${total} records arrived within the idle timeout`)}\n`,
            );
            return EXIT.FAILED;
          }
        } finally {
          progress?.stop();
          await consumer.close();
        }
        return EXIT.OK;
      }),
    );
}
