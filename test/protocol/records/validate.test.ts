import { test } from 'node:test';
import assert from 'node:assert/strict';
import { updateCrc } from '../../../src/protocol/records/batch-header.js';
import {
  ControlRecordType,
  encodeControlBatch,
  encodeMessageSet,
  encodeRecordBatch,
  validateProduceRecords,
  type ProduceRecordsProblem,
  type RecordInput,
} from '../../../src/protocol/records/index.js';
import { rng } from './helpers.js';

const T0 = 1_700_000_000_000;

function recs(n: number, t = T0): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`), timestamp: t + i }));
}

function problemOf(buf: Buffer, options?: Parameters<typeof validateProduceRecords>[1]): ProduceRecordsProblem {
  const r = validateProduceRecords(buf, options);
  assert.equal(r.ok, false, 'expected a problem');
  return r as ProduceRecordsProblem;
}

test('a valid produce blob is summarised from headers alone', () => {
  const blob = Buffer.concat([
    encodeRecordBatch({ records: recs(3) }),
    encodeRecordBatch({ records: recs(4, T0 + 100), compression: 3, producerId: 4, producerEpoch: 0, baseSequence: 0 }),
    encodeRecordBatch({
      records: recs(1, T0 - 5),
      compression: 4,
      transactional: true,
      producerId: 5,
      producerEpoch: 0,
      baseSequence: 0,
    }),
  ]);
  assert.deepEqual(validateProduceRecords(blob), {
    ok: true,
    batchCount: 3,
    recordCount: 8,
    maxTimestamp: T0 + 103,
    codecMask: (1 << 0) | (1 << 3) | (1 << 4),
    compressed: true,
    transactional: true,
    idempotent: true,
  });
  const single = validateProduceRecords(encodeRecordBatch({ records: recs(2) }), { singleBatch: true });
  assert.deepEqual(single, {
    ok: true,
    batchCount: 1,
    recordCount: 2,
    maxTimestamp: T0 + 1,
    codecMask: 1,
    compressed: false,
    transactional: false,
    idempotent: false,
  });
});

test('nothing is decompressed: a CRC-valid batch with garbage compressed bytes passes', () => {
  const buf = encodeRecordBatch({ records: recs(3), compression: 1 });
  buf.fill(0x55, 61);
  updateCrc(buf);
  assert.equal(validateProduceRecords(buf).ok, true);
});

test('framing problems and bad CRCs are CORRUPT_MESSAGE', () => {
  const buf = encodeRecordBatch({ records: recs(3) });
  for (const cut of [5, 60, buf.length - 1]) {
    const p = problemOf(buf.subarray(0, cut));
    assert.equal(p.error, 'CORRUPT_MESSAGE');
    assert.equal(p.code, 2);
  }
  const shortLength = Buffer.from(buf);
  shortLength.writeInt32BE(20, 8);
  assert.equal(problemOf(shortLength).error, 'CORRUPT_MESSAGE');
  const flipped = Buffer.from(buf);
  flipped[buf.length - 1]! ^= 4;
  const first = encodeRecordBatch({ records: recs(1) });
  const p = problemOf(Buffer.concat([first, flipped]));
  assert.deepEqual([p.error, p.batchIndex, p.position], ['CORRUPT_MESSAGE', 1, first.length]);
  assert.match(p.reason, /CRC/);
});

test('forbidden but well-formed content is INVALID_RECORD', () => {
  const legacy = encodeMessageSet([{ key: null, value: Buffer.from('x'), timestamp: T0 }], { magic: 1 });
  assert.equal(problemOf(legacy).error, 'INVALID_RECORD');
  assert.equal(problemOf(legacy).code, 87);

  const mismatch = encodeRecordBatch({ records: recs(3), lastOffsetDelta: 5 });
  assert.match(problemOf(mismatch).reason, /lastOffsetDelta/);
  const empty = encodeRecordBatch({ records: [] });
  assert.equal(problemOf(empty).error, 'INVALID_RECORD');
  const inflated = encodeRecordBatch({ records: recs(2) });
  inflated.writeInt32BE(1000, 57);
  inflated.writeInt32BE(999, 23);
  updateCrc(inflated);
  assert.match(problemOf(inflated).reason, /cannot fit/);

  const control = encodeControlBatch({
    producerId: 1,
    producerEpoch: 0,
    type: ControlRecordType.ABORT,
    coordinatorEpoch: 0,
    timestamp: T0,
  });
  assert.match(problemOf(control).reason, /control/);
  assert.equal(validateProduceRecords(control, { allowControl: true }).ok, true);

  const two = Buffer.concat([encodeRecordBatch({ records: recs(1) }), encodeRecordBatch({ records: recs(1) })]);
  const p = problemOf(two, { singleBatch: true });
  assert.equal(p.error, 'INVALID_RECORD');
  assert.equal(p.position, encodeRecordBatch({ records: recs(1) }).length);
  assert.equal(problemOf(Buffer.alloc(0)).error, 'INVALID_RECORD');
});

test('codec problems are UNSUPPORTED_COMPRESSION_TYPE; oversize batches MESSAGE_TOO_LARGE', () => {
  const codec5 = encodeRecordBatch({ records: recs(2) });
  codec5.writeInt16BE(5, 21);
  updateCrc(codec5);
  assert.deepEqual([problemOf(codec5).error, problemOf(codec5).code], ['UNSUPPORTED_COMPRESSION_TYPE', 76]);
  const zstd = encodeRecordBatch({ records: recs(2), compression: 4 });
  assert.equal(validateProduceRecords(zstd).ok, true);
  assert.equal(problemOf(zstd, { allowZstd: false }).error, 'UNSUPPORTED_COMPRESSION_TYPE');
  const big = encodeRecordBatch({ records: [{ key: null, value: Buffer.alloc(2000), timestamp: T0 }] });
  assert.deepEqual(
    [problemOf(big, { maxBatchBytes: 1000 }).error, problemOf(big, { maxBatchBytes: 1000 }).code],
    ['MESSAGE_TOO_LARGE', 10],
  );
  assert.equal(validateProduceRecords(big, { maxBatchBytes: big.length }).ok, true);
});

test('the validator never throws on mutated input', () => {
  const r = rng(99);
  const original = Buffer.concat([
    encodeRecordBatch({ records: recs(5), compression: 2 }),
    encodeRecordBatch({ records: recs(2) }),
  ]);
  let problems = 0;
  for (let i = 0; i < 5000; i++) {
    const buf = Buffer.from(original);
    buf[Math.floor(r() * buf.length)]! ^= 1 << Math.floor(r() * 8);
    const input = r() < 0.3 ? buf.subarray(0, Math.floor(r() * buf.length)) : buf;
    const result = validateProduceRecords(input);
    if (!result.ok) problems++;
  }
  assert.ok(problems > 4000, `most mutations are caught (${problems})`);
});
