/**
 * Record layer throughput: CRC-32C, batch encode, object decode and the allocation-free cursor,
 * for 16 KiB batches of records with 100-byte values, uncompressed and with lz4 and zstd.
 *
 *   npx tsc -p <your tsconfig> && node dist/bench/records.js [seconds per case, default 1]
 */
import { randomBytes } from 'node:crypto';
import { crc32c } from '../src/protocol/records/crc.js';
import {
  RecordCursor,
  decodeRecordBatch,
  encodeRecordBatch,
  forEachRecord,
  type RecordInput,
} from '../src/protocol/records/index.js';
import { codecName } from '../src/protocol/compression/index.js';

const SECONDS = Number(process.argv[2] ?? 1);
const BATCH_BYTES = 16 * 1024;
const VALUE_BYTES = 100;

/** Runs `fn` (which reports how many units it did) repeatedly for SECONDS; returns units/s. */
function measure(fn: () => number): number {
  for (let i = 0; i < 20; i++) fn();
  let units = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(SECONDS * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    units += fn();
    elapsed = process.hrtime.bigint() - start;
  }
  return units / (Number(elapsed) / 1e9);
}

/** Event-like JSON payloads: repeated field names, varying ids and a random token. */
function value(i: number): Buffer {
  const token = randomBytes(12).toString('base64url');
  const json = `{"id":${i},"user":"user-${i % 977}","event":"${['click', 'view', 'buy'][i % 3]}","ts":${1_700_000_000_000 + i},"t":"${token}"}`;
  const v = Buffer.alloc(VALUE_BYTES, 0x20);
  v.write(json.slice(0, VALUE_BYTES));
  return v;
}

/** As many records as fit a 16 KiB uncompressed batch. */
function batchRecords(): RecordInput[] {
  const records: RecordInput[] = [];
  const now = Date.now();
  for (let i = 0; ; i++) {
    const candidate = [
      ...records,
      { key: Buffer.from(`key-${i % 1000}`), value: value(i), headers: [], timestamp: now + i },
    ];
    if (encodeRecordBatch({ records: candidate }).length > BATCH_BYTES) return records;
    records.push(candidate[candidate.length - 1]!);
  }
}

function fmt(n: number, unit: string): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k${unit}`;
  return `${n.toFixed(0)} ${unit}`;
}

function row(name: string, result: string): void {
  console.log(`${name.padEnd(52)} ${result}`);
}

console.log(`node ${process.version}, ${SECONDS}s per case\n`);

for (const size of [16 * 1024, 1024 * 1024]) {
  const buf = randomBytes(size);
  const perSec = measure(() => {
    crc32c(buf);
    return 1;
  });
  row(`crc32c ${size === 16 * 1024 ? '16 KiB' : '1 MiB'} buffers`, `${((perSec * size) / 1e9).toFixed(2)} GB/s`);
}

const records = batchRecords();
console.log(
  `\nbatch: ${records.length} records, ${VALUE_BYTES}-byte values, ${encodeRecordBatch({ records }).length} bytes uncompressed\n`,
);

for (const codec of [0, 3, 4]) {
  const batch = encodeRecordBatch({ records, compression: codec });
  const name = codecName(codec);
  row(
    `encode (${name}, ${batch.length} bytes/batch)`,
    `${fmt(
      measure(() => (encodeRecordBatch({ records, compression: codec }), records.length)),
      'records/s',
    )}`,
  );
  row(
    `decode objects (${name})`,
    `${fmt(
      measure(() => decodeRecordBatch(batch).records.length),
      'records/s',
    )}`,
  );
  const cursor = new RecordCursor();
  let sink = 0;
  row(
    `cursor, offset+timestamp+value length (${name})`,
    `${fmt(
      measure(() => {
        cursor.reset(batch);
        let n = 0;
        while (cursor.next()) {
          sink += cursor.offset + cursor.timestamp + cursor.valueLength;
          n++;
        }
        return n;
      }),
      'records/s',
    )}`,
  );
  row(
    `cursor visitor with key()/value() views (${name})`,
    `${fmt(
      measure(() =>
        forEachRecord(
          batch,
          (c) => {
            sink += c.value()!.length + c.key()!.length;
          },
          undefined,
          cursor,
        ),
      ),
      'records/s',
    )}`,
  );
  if (sink === 42) console.log('');
}
