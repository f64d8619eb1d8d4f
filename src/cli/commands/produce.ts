import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { Producer, type Acks, type RecordMetadata } from '../../client/producer.js';
import type { CompressionCodecName } from '../../protocol/compression/codec.js';
import {
  EXIT,
  UsageError,
  action,
  clientCommand,
  clientOptions,
  collect,
  colour,
  out,
  parseInteger,
  parseKeyValues,
  type GlobalOptions,
} from './common.js';

interface ProduceOptions extends GlobalOptions {
  file?: string;
  keySeparator?: string;
  header: string[];
  partition?: string;
  valueFormat: string;
  acks: string;
  compression: string;
  lingerMs: string;
  batchSize: string;
  idempotent: boolean;
}

/** One input line split into key and value. */
export function splitLine(line: string, separator: string | undefined): { key: string | null; value: string } {
  if (separator === undefined || separator === '') return { key: null, value: line };
  const i = line.indexOf(separator);
  if (i < 0) return { key: null, value: line };
  return { key: line.slice(0, i), value: line.slice(i + separator.length) };
}

function parseAcks(v: string): Acks {
  if (v === 'all' || v === '-1') return 'all';
  if (v === '0') return 0;
  if (v === '1') return 1;
  throw new UsageError(`--acks: "${v}" is not 0, 1 or all`);
}

export function registerProduceCommand(program: Command): void {
  clientCommand(program.command('produce <topic>'))
    .description('send lines from stdin (or a file) as records, one record per line')
    .option('-f, --file <path>', 'read lines from a file instead of stdin')
    .option('-K, --key-separator <sep>', 'split each line into key and value at the first <sep>')
    .option('-H, --header <key=value>', 'add a header to every record (repeatable)', collect, [])
    .option('-p, --partition <n>', 'send every record to this partition')
    .option('--value-format <format>', 'string, or json (each value must be valid JSON)', 'string')
    .option('--acks <acks>', '0, 1 or all', 'all')
    .option('--compression <codec>', 'none, gzip, snappy, lz4 or zstd', 'none')
    .option('--linger-ms <ms>', 'wait this long to fill batches', '5')
    .option('--batch-size <bytes>', 'batch size per partition', '16384')
    .option('--no-idempotent', 'do not use an idempotent producer')
    .action(
      action(async (topic: string, o: ProduceOptions) => {
        const headers = Object.entries(parseKeyValues('--header', o.header));
        const partition = o.partition === undefined ? undefined : parseInteger('--partition', o.partition, 0);
        if (o.valueFormat !== 'string' && o.valueFormat !== 'json')
          throw new UsageError(`--value-format: "${o.valueFormat}" is not string or json`);
        const acks = parseAcks(o.acks);
        const compression = o.compression as CompressionCodecName;
        if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(compression))
          throw new UsageError(`--compression: "${o.compression}" is not none, gzip, snappy, lz4 or zstd`);
        const producer = new Producer<string | null, string>({
          ...clientOptions(o),
          acks,
          compression,
          lingerMs: parseInteger('--linger-ms', o.lingerMs, 0),
          batchSize: parseInteger('--batch-size', o.batchSize, 1),
          // Idempotence stays the client default (on, when the broker offers it) unless turned off.
          idempotent: acks === 'all' && o.idempotent ? undefined : false,
          // A typo in the topic name should be an error, not a new topic.
          allowAutoTopicCreation: false,
        });
        let failed: Error | undefined;
        let sent = 0;
        const perPartition = new Map<number, { first: number; last: number; count: number }>();
        const results: (RecordMetadata | undefined)[] = [];
        try {
          // Fail fast with a clear message when the broker or the topic is not there.
          await producer.connect();
          await producer.cluster.topic(topic);
          const input = o.file === undefined ? process.stdin : createReadStream(o.file);
          const lines = createInterface({ input, crlfDelay: Infinity });
          let lineNo = 0;
          for await (const line of lines) {
            lineNo++;
            if (failed !== undefined) break;
            const { key, value } = splitLine(line, o.keySeparator);
            if (o.valueFormat === 'json') {
              try {
                JSON.parse(value);
              } catch (err) {
                throw new UsageError(`line ${lineNo}: value is not valid JSON (${(err as Error).message})`);
              }
            }
            const index = sent++;
            if (producer.bufferedSize > 16 * 1024 * 1024) await producer.flush();
            producer.produce(
              { topic, key, value, headers: headers.length > 0 ? headers : undefined, partition },
              (err, md) => {
                if (err !== null) {
                  failed ??= err;
                  return;
                }
                results[index] = md;
                const s = perPartition.get(md!.partition);
                if (s === undefined) perPartition.set(md!.partition, { first: md!.offset, last: md!.offset, count: 1 });
                else {
                  s.first = Math.min(s.first, md!.offset);
                  s.last = Math.max(s.last, md!.offset);
                  s.count++;
                }
              },
            );
          }
          await producer.flush();
        } finally {
          await producer.close().catch(() => undefined);
        }
        if (failed !== undefined) throw failed;
        if (o.json) {
          for (const md of results)
            if (md !== undefined)
              out(
                JSON.stringify({
                  topic: md.topic,
                  partition: md.partition,
                  offset: md.offset,
                  timestamp: md.timestamp,
                }),
              );
          return EXIT.OK;
        }
        const parts = [...perPartition]
          .sort((a, b) => a[0] - b[0])
          .map(([p, s]) =>
            acks === 0 ? `partition ${p}: ${s.count}` : `partition ${p}: offsets ${s.first}-${s.last}`,
          );
        process.stderr.write(
          `${colour.errGreen('✓')} Produced ${sent} record${sent === 1 ? '' : 's'} to ${topic}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}\n`,
        );
        return EXIT.OK;
      }),
    );
}
