import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  baseOffset as batchBaseOffset,
  lastOffset as batchLastOffset,
  maxTimestamp as batchMaxTimestamp,
  partitionLeaderEpoch,
  isCrcValid,
  TIMESTAMP_TYPE_MASK,
  attributes,
} from '../../src/protocol/records/batch-header.js';
import { defaultLogConfig, resolveLogConfig, type LogConfig } from '../../src/storage/config.js';
import {
  CorruptRecordError,
  InvalidRecordError,
  OffsetOutOfRangeError,
  RecordBatchTooLargeError,
} from '../../src/storage/errors.js';
import { FilePool } from '../../src/storage/file-pool.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { buildBatch, decodeRecords, filledBatch, splitBatches, tempDir } from './helpers.js';

function openLog(
  dir: string,
  config: Partial<LogConfig> = {},
  extra: { clean?: boolean; time?: () => number; pool?: FilePool } = {},
): PartitionLog {
  return PartitionLog.open({
    topic: 't',
    partition: 0,
    dir: join(dir, 't-0'),
    config: resolveLogConfig(defaultLogConfig(), config),
    pool: extra.pool ?? new FilePool(64),
    cleanShutdown: extra.clean ?? true,
    time: extra.time,
  });
}

function kv(i: number, ts = 1_700_000_000_000 + i): Buffer {
  return buildBatch([{ key: `k${i}`, value: `v${i}`, timestamp: ts }]);
}

describe('PartitionLog append and read', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  it('assigns offsets batch by batch and reads back the same bytes', async () => {
    const log = openLog(t.dir);
    const a = buildBatch([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
      { key: 'c', value: '3' },
    ]);
    const b = buildBatch([{ key: 'd', value: '4' }]);
    const r1 = await log.append(Buffer.concat([a, b]));
    assert.deepEqual([r1.baseOffset, r1.lastOffset], [0, 3]);
    const r2 = await log.append(kv(9));
    assert.equal(r2.baseOffset, 4);
    assert.equal(log.logEndOffset, 5);
    assert.equal(log.highWatermark, 5);
    const read = await log.read(0, 1 << 20);
    const batches = splitBatches(read.records);
    assert.deepEqual(
      batches.map((x) => batchBaseOffset(x)),
      [0, 3, 4],
    );
    assert.ok(
      batches.every((x) => isCrcValid(x)),
      'stamping the base offset must not break the CRC',
    );
    const recs = await decodeRecords(read.records);
    assert.deepEqual(
      recs.map((r) => [r.offset, r.key, r.value]),
      [
        [0, 'a', '1'],
        [1, 'b', '2'],
        [2, 'c', '3'],
        [3, 'd', '4'],
        [4, 'k9', 'v9'],
      ],
    );
    await log.close();
  });

  it('returns the whole batch when the fetch offset is inside it, and at least one batch beyond maxBytes', async () => {
    const log = openLog(t.dir);
    await log.append(filledBatch(10, 100));
    await log.append(filledBatch(10, 100));
    const mid = await log.read(5, 1);
    assert.equal(mid.firstOffset, 0);
    assert.equal(splitBatches(mid.records).length, 1);
    const none = await log.read(5, 1, { minOneMessage: false });
    assert.equal(none.records.length, 0);
    const second = await log.read(10, 1 << 20);
    assert.equal(second.firstOffset, 10);
    const capped = await log.read(0, 1 << 20, { maxOffset: 10 });
    assert.equal(splitBatches(capped.records).length, 1, 'maxOffset stops before the batch starting at 10');
    const atEnd = await log.read(20, 1000);
    assert.equal(atEnd.records.length, 0);
    assert.equal(atEnd.logEndOffset, 20);
    await assert.rejects(log.read(21, 1000), (e: unknown) => e instanceof OffsetOutOfRangeError && e.code === 1);
    await log.close();
  });

  it('finds every offset through the sparse index across rolled segments', async () => {
    const log = openLog(t.dir, { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 });
    const sizes: number[] = [];
    for (let i = 0; i < 400; i++) {
      const n = 1 + (i % 7);
      sizes.push(n);
      await log.append(filledBatch(n, 50 + (i % 13) * 20, 1_700_000_000_000 + i, i));
    }
    assert.ok(log.segments.length > 3, `expected several segments, got ${log.segments.length}`);
    const end = log.logEndOffset;
    for (let off = 0; off < end; off += 3) {
      const r = await log.read(off, 1);
      const [first] = splitBatches(r.records);
      assert.ok(first, `no batch for ${off}`);
      assert.ok(batchBaseOffset(first) <= off && batchLastOffset(first) >= off, `offset ${off} not in returned batch`);
    }
    // Reading everything batch by batch visits each offset exactly once.
    let next = 0;
    let seen = 0;
    for await (const b of log.batches(0)) {
      assert.equal(batchBaseOffset(b), next);
      next = batchLastOffset(b) + 1;
      seen++;
    }
    assert.equal(seen, 400);
    await log.close();
  });

  it('rejects corrupt, oversized and empty appends without changing the log', async () => {
    const log = openLog(t.dir, { segmentBytes: 4096 });
    await log.append(kv(1));
    const bad = kv(2);
    bad[bad.length - 1] ^= 0xff;
    await assert.rejects(log.append(Buffer.concat([kv(3), bad])), CorruptRecordError);
    await assert.rejects(
      log.append(filledBatch(10, 500)),
      (e: unknown) => e instanceof RecordBatchTooLargeError && e.code === 18,
    );
    await assert.rejects(log.append(Buffer.alloc(0)), InvalidRecordError);
    const torn = kv(4).subarray(0, 40);
    await assert.rejects(log.append(torn), CorruptRecordError);
    assert.equal(log.logEndOffset, 1);
    assert.equal(log.size, kv(1).length);
    await log.close();
  });

  it('stamps the leader epoch and LogAppendTime and records epoch start offsets', async () => {
    const log = openLog(t.dir);
    await log.append(kv(1), { leaderEpoch: 0 });
    const r = await log.append(kv(2), { leaderEpoch: 3, logAppendTime: 1_800_000_000_000 });
    assert.equal(r.logAppendTime, 1_800_000_000_000);
    const read = await log.read(1, 1000);
    const b = read.records;
    assert.equal(partitionLeaderEpoch(b), 3);
    assert.ok(attributes(b) & TIMESTAMP_TYPE_MASK);
    assert.equal(batchMaxTimestamp(b), 1_800_000_000_000);
    assert.ok(isCrcValid(b));
    assert.deepEqual(log.endOffsetForEpoch(0), { epoch: 0, endOffset: 1 });
    assert.deepEqual(log.endOffsetForEpoch(2), { epoch: 0, endOffset: 1 });
    assert.deepEqual(log.endOffsetForEpoch(3), { epoch: 3, endOffset: 2 });
    await log.close();
    const again = openLog(t.dir);
    assert.deepEqual(again.endOffsetForEpoch(3), { epoch: 3, endOffset: 2 }, 'epochs survive a restart');
    // Above every known epoch the end offset is undefined, as in Kafka's LeaderEpochFileCache.
    assert.deepEqual(again.endOffsetForEpoch(5), { epoch: -1, endOffset: -1 });
    await again.close();
  });

  it('appendWithOffsets keeps offsets, allows gaps and refuses going backwards', async () => {
    const log = openLog(t.dir);
    await log.appendWithOffsets(buildBatch([{ key: 'a', value: '1' }], { baseOffset: 5 }));
    await log.appendWithOffsets(
      buildBatch(
        [
          { key: 'b', value: '2' },
          { key: 'c', value: '3' },
        ],
        { baseOffset: 10 },
      ),
    );
    assert.equal(log.logEndOffset, 12);
    await assert.rejects(
      log.appendWithOffsets(buildBatch([{ key: 'x', value: '1' }], { baseOffset: 11 })),
      InvalidRecordError,
    );
    const r = await log.read(6, 1000);
    assert.equal(r.firstOffset, 10, 'a read inside a gap starts at the next batch');
    const recs = await decodeRecords((await log.read(5, 1000)).records);
    assert.deepEqual(
      recs.map((x) => x.offset),
      [5, 10, 11],
    );
    await log.close();
  });

  it('looks up offsets by timestamp and the offset of the largest timestamp', async () => {
    const log = openLog(t.dir, { segmentBytes: 8 * 1024, indexIntervalBytes: 256 });
    const base = 1_700_000_000_000;
    for (let i = 0; i < 200; i++) {
      await log.append(
        buildBatch([
          { key: `a${i}`, value: 'x'.repeat(40), timestamp: base + i * 10 },
          { key: `b${i}`, value: 'y'.repeat(40), timestamp: base + i * 10 + 5 },
        ]),
      );
    }
    assert.ok(log.segments.length > 2);
    assert.deepEqual(await log.offsetForTimestamp(base), { offset: 0, timestamp: base });
    assert.deepEqual(await log.offsetForTimestamp(base + 1), { offset: 1, timestamp: base + 5 });
    assert.deepEqual(await log.offsetForTimestamp(base + 1234), { offset: 247, timestamp: base + 1235 });
    assert.deepEqual(await log.offsetForTimestamp(base + 1990), { offset: 398, timestamp: base + 1990 });
    assert.equal(await log.offsetForTimestamp(base + 5000), null);
    assert.deepEqual(await log.maxTimestampOffset(), { offset: 399, timestamp: base + 1995 });
    await log.close();
    // After a clean reopen the closed segments answer from their time indexes on disk.
    const again = openLog(t.dir, { segmentBytes: 8 * 1024, indexIntervalBytes: 256 });
    assert.deepEqual(await again.offsetForTimestamp(base + 1234), { offset: 247, timestamp: base + 1235 });
    assert.deepEqual(await again.maxTimestampOffset(), { offset: 399, timestamp: base + 1995 });
    await again.close();
  });

  it('reopens after a clean close with the same end offset and contents, reading indexes from disk', async () => {
    const cfg = { segmentBytes: 32 * 1024, indexIntervalBytes: 512 };
    const log = openLog(t.dir, cfg);
    for (let i = 0; i < 300; i++) await log.append(kv(i));
    const before = (await log.read(0, 1 << 20)).records;
    await log.close();
    const files = fs.readdirSync(join(t.dir, 't-0'));
    assert.ok(files.some((f) => f.endsWith('.index')) && files.some((f) => f.endsWith('.timeindex')));
    const again = openLog(t.dir, cfg);
    assert.equal(again.logEndOffset, 300);
    assert.equal(again.recovery.segmentsScanned, 0);
    assert.deepEqual((await again.read(0, 1 << 20)).records, before);
    const r = await again.append(kv(300));
    assert.equal(r.baseOffset, 300);
    await again.close();
  });

  it('strict mode acknowledges only after fdatasync and shares one sync among concurrent appends', async () => {
    const log = openLog(t.dir, { flushMessages: 1 });
    const waits = [];
    for (let i = 0; i < 200; i++) waits.push(log.append(kv(i)));
    assert.equal(log.highWatermark, 0, 'nothing is acknowledged before the sync');
    const results = await Promise.all(waits);
    assert.deepEqual(
      results.map((r) => r.baseOffset),
      [...Array(200).keys()],
    );
    assert.equal(log.highWatermark, 200);
    assert.ok(log.flushCount < 20, `group commit should need few fdatasyncs, used ${log.flushCount}`);
    await log.close();
  });

  it('flush.messages=N makes every Nth record wait for a sync', async () => {
    const log = openLog(t.dir, { flushMessages: 5 });
    for (let i = 0; i < 4; i++) await log.append(kv(i));
    assert.equal(log.flushCount, 0);
    assert.equal(log.highWatermark, 4, 'below the threshold appends are acknowledged once written');
    await log.append(kv(4));
    assert.equal(log.flushCount, 1);
    assert.equal(log.unflushedOffsets, 0);
    await log.close();
  });

  it('notifies listeners when the high watermark advances', async () => {
    const log = openLog(t.dir);
    const seen: number[] = [];
    const off = log.onAppend((l) => seen.push(l.highWatermark));
    await log.append(kv(0));
    await log.append(Buffer.concat([kv(1), kv(2)]));
    off();
    await log.append(kv(3));
    assert.deepEqual(seen, [1, 3]);
    await log.close();
  });

  it('truncateTo removes whole batches, rolls back segments, epochs and snapshots', async () => {
    const log = openLog(t.dir, { segmentBytes: 2048 });
    for (let i = 0; i < 100; i++) await log.append(kv(i), { leaderEpoch: i < 50 ? 0 : 1 });
    log.writeProducerSnapshot(40, Buffer.from('at-40'));
    log.writeProducerSnapshot(80, Buffer.from('at-80'));
    const segsBefore = log.segments.length;
    await log.truncateTo(45);
    assert.equal(log.logEndOffset, 45);
    assert.ok(log.segments.length < segsBefore);
    assert.deepEqual(
      log.endOffsetForEpoch(0),
      { epoch: 0, endOffset: 45 },
      'epoch 0 is the latest again after truncation',
    );
    assert.deepEqual(
      log.endOffsetForEpoch(1),
      { epoch: -1, endOffset: -1 },
      'epoch 1 started past the truncation point',
    );
    assert.deepEqual(log.producerSnapshotOffsets(), [40]);
    assert.equal(log.latestProducerSnapshot()?.data.toString(), 'at-40');
    const r = await log.append(kv(999));
    assert.equal(r.baseOffset, 45);
    const recs = await decodeRecords((await log.read(40, 1 << 20)).records);
    assert.deepEqual(
      recs.map((x) => x.key),
      ['k40', 'k41', 'k42', 'k43', 'k44', 'k999'],
    );
    await log.close();
    const again = openLog(t.dir, { segmentBytes: 2048 }, { clean: false });
    assert.equal(again.logEndOffset, 46);
    await again.close();
  });

  it('deleteRecordsBefore moves the log start offset and drops whole segments below it', async () => {
    const log = openLog(t.dir, { segmentBytes: 1024 });
    for (let i = 0; i < 60; i++) await log.append(kv(i));
    const segs = log.segments.length;
    const lso = await log.deleteRecordsBefore(33);
    assert.equal(lso, 33);
    assert.equal(log.logStartOffset, 33);
    assert.ok(log.segments.length < segs);
    assert.ok(log.segments[0]!.baseOffset <= 33);
    await assert.rejects(log.read(32, 100), OffsetOutOfRangeError);
    const r = await log.read(33, 100);
    assert.ok(r.firstOffset <= 33);
    await assert.rejects(log.deleteRecordsBefore(61), OffsetOutOfRangeError);
    await log.close();
  });

  it('keeps aborted transactions in the txn index, per segment, across restarts', async () => {
    const log = openLog(t.dir, { segmentBytes: 1024 });
    for (let i = 0; i < 10; i++) await log.append(kv(i));
    log.appendAbortedTxn({ producerId: 7, firstOffset: 2, lastOffset: 9, lastStableOffset: 2 });
    for (let i = 10; i < 40; i++) await log.append(kv(i));
    log.appendAbortedTxn({ producerId: 8, firstOffset: 20, lastOffset: 39, lastStableOffset: 20 });
    assert.deepEqual(
      log.collectAbortedTxns(0, 15).map((e) => e.producerId),
      [7],
    );
    assert.deepEqual(
      log.collectAbortedTxns(10, 40).map((e) => e.producerId),
      [8],
    );
    await log.close();
    const again = openLog(t.dir, { segmentBytes: 1024 });
    assert.deepEqual(
      again.collectAbortedTxns(0, 40).map((e) => e.producerId),
      [7, 8],
    );
    await again.truncateTo(30);
    assert.deepEqual(
      again.collectAbortedTxns(0, 40).map((e) => e.producerId),
      [7],
    );
    await again.close();
  });
});
