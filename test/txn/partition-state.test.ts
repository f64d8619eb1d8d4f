import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { defaultLogConfig, resolveLogConfig, type LogConfig } from '../../src/storage/config.js';
import { FilePool } from '../../src/storage/file-pool.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { Partition } from '../../src/broker/replica/partition.js';

const pool = new FilePool(64);

function openPartition(dir: string, clean: boolean, config: Partial<LogConfig> = {}): Partition {
  const log = PartitionLog.open({
    topic: 't',
    partition: 0,
    dir,
    config: resolveLogConfig(defaultLogConfig(), config),
    pool,
    cleanShutdown: clean,
  });
  return new Partition('t', 0, '00000000-0000-0000-0000-000000000001', log);
}

function batch(pid: number, epoch: number, seq: number, count: number, txn = false, size = 20): Buffer {
  return encodeRecordBatch({
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: seq,
    transactional: txn,
    records: Array.from({ length: count }, (_, i) => ({
      key: null,
      value: Buffer.alloc(size, 97 + ((seq + i) % 26)),
      timestamp: Date.now(),
    })),
  });
}

function plain(count: number): Buffer {
  return encodeRecordBatch({
    records: Array.from({ length: count }, () => ({ key: null, value: Buffer.from('x'), timestamp: Date.now() })),
  });
}

async function rejectsWith(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof KafkaError && err.code === code);
}

/** What a read_committed consumer and DescribeProducers would see of the state. */
function stateView(p: Partition) {
  return {
    lso: p.lastStableOffset,
    hw: p.highWatermark,
    producers: [...p.producers.producers.values()]
      .map((e) => ({
        pid: e.producerId,
        epoch: e.producerEpoch,
        lastSeq: e.lastSeq,
        txn: e.currentTxnFirstOffset,
        ce: e.coordinatorEpoch,
        batches: e.batches(),
      }))
      .sort((a, b) => a.pid - b.pid),
    aborted: p.log.collectAbortedTxns(0, p.logEndOffset + 1),
  };
}

async function allOffsets(p: Partition): Promise<number[]> {
  const r = await p.log.read(p.logStartOffset, 64 * 1024 * 1024);
  return decodeRecordBatches(r.records).flatMap((b) => (b.isControl ? [] : b.records.map((x) => x.offset)));
}

test('a retried produce is answered with the original offsets and written once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-txn-'));
  try {
    const p = openPartition(dir, true);
    assert.equal((await p.appendRecordsAsLeader(plain(2))).baseOffset, 0);
    const first = await p.appendRecordsAsLeader(batch(10, 0, 0, 3));
    assert.deepEqual([first.baseOffset, first.lastOffset], [2, 4]);
    const second = await p.appendRecordsAsLeader(batch(10, 0, 3, 2));
    assert.equal(second.baseOffset, 5);
    const retry = await p.appendRecordsAsLeader(batch(10, 0, 0, 3));
    assert.deepEqual([retry.baseOffset, retry.lastOffset, retry.logAppendTime], [2, 4, -1]);
    assert.equal(p.logEndOffset, 7);
    assert.deepEqual(await allOffsets(p), [0, 1, 2, 3, 4, 5, 6]);
    await rejectsWith(p.appendRecordsAsLeader(batch(10, 0, 9, 1)), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    await rejectsWith(
      p.appendRecordsAsLeader(Buffer.concat([batch(11, 0, 0, 1), batch(11, 0, 1, 1)])),
      ErrorCode.INVALID_RECORD,
    );
    assert.equal(p.logEndOffset, 7, 'refused batches leave the log alone');
    await p.log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transaction markers end transactions, index aborts and move the last stable offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-txn-'));
  try {
    const p = openPartition(dir, true);
    await p.appendRecordsAsLeader(batch(1, 0, 0, 2, true)); // 0-1
    await p.appendRecordsAsLeader(plain(1)); // 2
    await p.appendRecordsAsLeader(batch(2, 0, 0, 1, true)); // 3
    assert.equal(p.lastStableOffset, 0);
    assert.equal(p.highWatermark, 4);
    await p.appendTxnMarker({ producerId: 1, producerEpoch: 0, coordinatorEpoch: 0, commit: false }); // 4
    assert.equal(p.lastStableOffset, 3);
    assert.deepEqual(p.log.collectAbortedTxns(0, 10), [
      { producerId: 1, firstOffset: 0, lastOffset: 4, lastStableOffset: 3 },
    ]);
    await p.appendTxnMarker({ producerId: 2, producerEpoch: 0, coordinatorEpoch: 0, commit: true }); // 5
    assert.equal(p.lastStableOffset, 6);
    assert.equal(p.log.collectAbortedTxns(0, 10).length, 1, 'commits are not indexed');
    // Verification: a transactional batch that would begin a transaction asks the coordinator.
    const asked: Array<[number, number]> = [];
    await rejectsWith(
      p.appendRecordsAsLeader(batch(3, 5, 0, 1, true), {
        verifyTransaction: (pid, epoch) => {
          asked.push([pid, epoch]);
          return ErrorCode.INVALID_TXN_STATE;
        },
      }),
      ErrorCode.INVALID_TXN_STATE,
    );
    assert.deepEqual(asked, [[3, 5]]);
    await p.appendRecordsAsLeader(batch(3, 5, 0, 1, true), { verifyTransaction: () => 0 }); // 6
    await p.appendRecordsAsLeader(batch(3, 5, 1, 1, true), {
      verifyTransaction: () => assert.fail('not asked again within a transaction'),
    });
    await rejectsWith(
      p.appendTxnMarker({ producerId: 3, producerEpoch: 4, coordinatorEpoch: 0, commit: true }),
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    assert.equal(p.lastStableOffset, 6);
    await p.log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Writes a mixed history over several small segments; returns the partition (still open). */
async function history(dir: string): Promise<Partition> {
  const p = openPartition(dir, true, { segmentBytes: 600 });
  let seq1 = 0;
  for (let round = 0; round < 6; round++) {
    await p.appendRecordsAsLeader(batch(1, 0, seq1, 2)); // idempotent producer
    seq1 += 2;
    await p.appendRecordsAsLeader(batch(2, 0, round * 2, 2, true)); // a transaction per round
    await p.appendRecordsAsLeader(plain(1));
    await p.appendTxnMarker({ producerId: 2, producerEpoch: 0, coordinatorEpoch: 1, commit: round % 2 === 0 });
  }
  await p.appendRecordsAsLeader(batch(3, 1, 0, 1, true)); // left open
  await p.appendRecordsAsLeader(batch(1, 0, seq1, 1));
  assert.ok(p.log.segments.length > 3, 'the history spans several segments');
  return p;
}

test('segment rolls leave producer snapshots; a crash rebuilds the state from the last one and the log tail', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-txn-'));
  try {
    const p = await history(dir);
    const before = stateView(p);
    assert.equal(before.aborted.length, 3);
    const snaps = p.log.producerSnapshotOffsets();
    assert.deepEqual(
      snaps,
      p.log.segments.slice(1).map((s) => s.baseOffset),
      'one snapshot per roll, at the new base offset',
    );
    p.log.abandon(); // like a kill: no snapshot at shutdown, no clean marker
    const q = openPartition(dir, false, { segmentBytes: 600 });
    await q.loadProducerState(false);
    assert.deepEqual(stateView(q), before);
    // The rebuilt state still recognises a retry and still fences.
    const lastOffsetOfPid1 = before.producers.find((x) => x.pid === 1)!.batches.at(-1)!;
    const dup = await q.appendRecordsAsLeader(batch(1, 0, lastOffsetOfPid1.firstSeq, 1));
    assert.equal(dup.baseOffset, lastOffsetOfPid1.firstOffset);
    await rejectsWith(q.appendRecordsAsLeader(batch(3, 0, 1, 1, true)), ErrorCode.INVALID_PRODUCER_EPOCH);
    await q.log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a clean shutdown snapshots at the log end offset and a restart replays nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-txn-'));
  try {
    const p = await history(dir);
    const before = stateView(p);
    p.snapshotForShutdown();
    assert.equal(p.log.producerSnapshotOffsets().at(-1), p.logEndOffset);
    await p.log.close();
    // The snapshot at the log end offset is enough: not a single batch is read back.
    const q = openPartition(dir, true, { segmentBytes: 600 });
    let scanned = 0;
    const scan = q.log.scanBatches.bind(q.log);
    q.log.scanBatches = async (from, visitor, opts) => {
      await scan(
        from,
        (b) => {
          scanned++;
          return visitor(b);
        },
        opts,
      );
    };
    await q.loadProducerState(true);
    assert.equal(scanned, 0);
    assert.deepEqual(stateView(q), before);
    await q.log.close();
    // A partition with no producers writes no snapshot at shutdown and starts empty after a clean stop.
    const emptyDir = join(dir, 'empty');
    const e = openPartition(emptyDir, true);
    await e.appendRecordsAsLeader(plain(3));
    e.snapshotForShutdown();
    assert.deepEqual(e.log.producerSnapshotOffsets(), []);
    await e.log.close();
    const e2 = openPartition(emptyDir, true);
    await e2.loadProducerState(true);
    assert.equal(e2.producers.size, 0);
    assert.equal(e2.lastStableOffset, 3);
    await e2.log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recovery repairs the aborted-transaction index: entries lost in a crash come back, entries past the log end go', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-txn-'));
  try {
    const p = await history(dir);
    const before = stateView(p);
    p.log.abandon();
    // Lose every .txnindex (an fsync that never happened) and every snapshot (recovery from the log start).
    for (const f of fs.readdirSync(dir))
      if (f.endsWith('.txnindex') || f.endsWith('.snapshot')) fs.unlinkSync(join(dir, f));
    const q = openPartition(dir, false, { segmentBytes: 600 });
    await q.loadProducerState(false);
    assert.deepEqual(stateView(q), before);
    const lastAbort = before.aborted.at(-1)!;
    q.log.abandon();
    // Now cut the log just before the last abort marker: its index entry must not survive.
    const r = openPartition(dir, true, { segmentBytes: 600 });
    await r.log.truncateTo(lastAbort.lastOffset);
    assert.equal(r.log.collectAbortedTxns(0, 1e9).length, 2, 'truncation trims the index (storage)');
    // Put the stale entry back by hand, as a torn recovery could leave it, then recover.
    const holder = r.log.segments[r.log.segmentIndexFor(lastAbort.lastOffset)]!;
    holder.txnIndex.append(lastAbort);
    r.log.abandon();
    const s = openPartition(dir, false, { segmentBytes: 600 });
    await s.loadProducerState(false);
    assert.deepEqual(s.log.collectAbortedTxns(0, 1e9), before.aborted.slice(0, 2));
    assert.equal(
      s.producers.entry(2)!.currentTxnFirstOffset >= 0,
      true,
      'the transaction whose abort was cut is open again',
    );
    await s.log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
