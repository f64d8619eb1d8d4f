import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import { setBaseOffset } from '../../src/protocol/records/batch-header.js';
import { encodeControlBatch, ControlRecordType } from '../../src/protocol/records/control.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { DUPLICATE_BATCH, ProducerStateManager, lastSequenceOf } from '../../src/txn/producer-state.js';

interface B {
  pid: number;
  epoch: number;
  seq: number;
  count?: number;
  txn?: boolean;
  ts?: number;
}

function batch(b: B): Buffer {
  const ts = b.ts ?? 1_000;
  return encodeRecordBatch({
    producerId: b.pid,
    producerEpoch: b.epoch,
    baseSequence: b.seq,
    transactional: b.txn ?? false,
    records: Array.from({ length: b.count ?? 1 }, (_, i) => ({
      key: null,
      value: Buffer.from(`v${i}`),
      timestamp: ts,
    })),
  });
}

/** A tiny log: offsets assigned in order, state checked and applied as the partition does. */
class Harness {
  readonly ps = new ProducerStateManager('t-0');
  next = 0;

  /** Returns the base offset written, DUPLICATE's original offset as {dup}, or the error code. */
  append(b: B, origin: 'client' | 'coordinator' = 'client'): { offset: number } | { dup: number } | { error: number } {
    const buf = batch(b);
    const code = this.ps.checkData(buf, origin);
    if (code === DUPLICATE_BATCH) return { dup: this.ps.duplicate.firstOffset };
    if (code !== 0) return { error: code };
    setBaseOffset(buf, 0, this.next);
    const offset = this.next;
    this.next += b.count ?? 1;
    this.ps.applyData(buf, origin);
    return { offset };
  }

  marker(pid: number, epoch: number, commit: boolean, coordinatorEpoch = 0) {
    const code = this.ps.checkMarker(pid, epoch, coordinatorEpoch);
    if (code !== 0) return { error: code };
    const txn = this.ps.applyMarker(pid, epoch, coordinatorEpoch, this.next, !commit, 2_000);
    this.next++;
    return txn;
  }
}

test('a retried batch is answered with its original offset, even among the last five', () => {
  const h = new Harness();
  assert.deepEqual(h.append({ pid: 7, epoch: 0, seq: 0, count: 3 }), { offset: 0 });
  assert.deepEqual(h.append({ pid: 7, epoch: 0, seq: 3, count: 2 }), { offset: 3 });
  assert.deepEqual(h.append({ pid: 9, epoch: 0, seq: 0, count: 1 }), { offset: 5 });
  assert.deepEqual(h.append({ pid: 7, epoch: 0, seq: 5, count: 1 }), { offset: 6 });
  // Retries of any retained batch: original offsets, nothing appended.
  assert.deepEqual(h.append({ pid: 7, epoch: 0, seq: 0, count: 3 }), { dup: 0 });
  assert.deepEqual(h.append({ pid: 7, epoch: 0, seq: 3, count: 2 }), { dup: 3 });
  assert.deepEqual(h.append({ pid: 7, epoch: 0, seq: 5, count: 1 }), { dup: 6 });
  assert.equal(h.next, 7);
  // A batch overlapping but not equal to a retained one is not a duplicate: it is out of order.
  assert.deepEqual(h.append({ pid: 7, epoch: 0, seq: 4, count: 2 }), { error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
});

test('only the last five batches are remembered; an older retry is out of order', () => {
  const h = new Harness();
  for (let i = 0; i < 6; i++) assert.deepEqual(h.append({ pid: 1, epoch: 0, seq: i * 2, count: 2 }), { offset: i * 2 });
  assert.equal(h.ps.entry(1)!.batchCount, 5);
  assert.deepEqual(h.append({ pid: 1, epoch: 0, seq: 2, count: 2 }), { dup: 2 }, 'second batch still retained');
  assert.deepEqual(
    h.append({ pid: 1, epoch: 0, seq: 0, count: 2 }),
    { error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER },
    'first batch evicted',
  );
});

test('a gap in sequence numbers is OUT_OF_ORDER_SEQUENCE_NUMBER and leaves the state unchanged', () => {
  const h = new Harness();
  h.append({ pid: 3, epoch: 0, seq: 0, count: 5 });
  assert.deepEqual(h.append({ pid: 3, epoch: 0, seq: 6 }), { error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
  assert.match(h.ps.problem, /6 \(incoming seq\. number\), 4/);
  assert.deepEqual(h.append({ pid: 3, epoch: 0, seq: 5 }), { offset: 5 }, 'the expected sequence still goes in');
});

test('epochs: an older epoch is INVALID_PRODUCER_EPOCH, a newer one must restart at sequence 0', () => {
  const h = new Harness();
  h.append({ pid: 4, epoch: 2, seq: 0, count: 2 });
  assert.deepEqual(h.append({ pid: 4, epoch: 1, seq: 2 }), { error: ErrorCode.INVALID_PRODUCER_EPOCH });
  assert.deepEqual(h.append({ pid: 4, epoch: 3, seq: 2 }), { error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
  assert.deepEqual(h.append({ pid: 4, epoch: 3, seq: 0 }), { offset: 2 });
  // After the bump the old epoch's batches are gone: the same range at the old epoch is fenced, not a duplicate.
  assert.deepEqual(h.append({ pid: 4, epoch: 2, seq: 0, count: 2 }), { error: ErrorCode.INVALID_PRODUCER_EPOCH });
  assert.equal(h.ps.entry(4)!.producerEpoch, 3);
});

test('an unknown producer may start at any sequence; sequences wrap past Int32.MAX_VALUE to 0', () => {
  const h = new Harness();
  assert.deepEqual(h.append({ pid: 5, epoch: 0, seq: 2147483646, count: 2 }), { offset: 0 });
  assert.equal(lastSequenceOf(2147483646, 1), 2147483647);
  assert.equal(lastSequenceOf(2147483647, 2), 1);
  assert.deepEqual(h.append({ pid: 5, epoch: 0, seq: 0, count: 3 }), { offset: 2 });
  assert.deepEqual(h.append({ pid: 5, epoch: 0, seq: 3 }), { offset: 5 });
  assert.deepEqual(h.append({ pid: 6, epoch: 0, seq: 2147483647, count: 3 }), { offset: 6 });
  assert.equal(h.ps.entry(6)!.lastSeq, 1);
  assert.deepEqual(h.append({ pid: 6, epoch: 0, seq: 2147483647, count: 3 }), { dup: 6 });
});

test('the group coordinator may write offset commits with sequence 0 every time; only epochs are checked', () => {
  const h = new Harness();
  assert.deepEqual(h.append({ pid: 8, epoch: 1, seq: 0, txn: true }, 'coordinator'), { offset: 0 });
  assert.deepEqual(h.append({ pid: 8, epoch: 1, seq: 0, txn: true }, 'coordinator'), { offset: 1 });
  assert.deepEqual(h.append({ pid: 8, epoch: 0, seq: 0, txn: true }, 'coordinator'), {
    error: ErrorCode.INVALID_PRODUCER_EPOCH,
  });
});

test('last stable offset: the first offset of the oldest open transaction, else the high watermark', () => {
  const h = new Harness();
  h.append({ pid: 1, epoch: 0, seq: 0, count: 2 }); // 0-1, idempotent only
  assert.equal(h.ps.lastStableOffset(2), 2);
  h.append({ pid: 2, epoch: 0, seq: 0, count: 2, txn: true }); // 2-3 open
  h.append({ pid: 3, epoch: 0, seq: 0, count: 1, txn: true }); // 4 open
  h.append({ pid: 2, epoch: 0, seq: 2, count: 1, txn: true }); // 5, same transaction
  assert.equal(h.ps.lastStableOffset(6), 2);
  assert.equal(h.ps.lastStableOffset(1), 1, 'never above the high watermark');
  const t2 = h.marker(2, 0, true); // offset 6
  assert.deepEqual(t2, { producerId: 2, firstOffset: 2, lastOffset: 6, aborted: false });
  assert.equal(h.ps.lastStableOffset(7), 4, 'producer 3 still open');
  const t3 = h.marker(3, 0, false); // offset 7
  assert.deepEqual(t3, { producerId: 3, firstOffset: 4, lastOffset: 7, aborted: true });
  assert.equal(h.ps.lastStableOffset(8), 8);
  // A non-transactional write from a producer with an open transaction is refused.
  h.append({ pid: 2, epoch: 0, seq: 3, txn: true }); // 8 opens a new transaction
  assert.deepEqual(h.append({ pid: 2, epoch: 0, seq: 4 }), { error: ErrorCode.INVALID_TXN_STATE });
  // A completed transaction stays unstable until the high watermark passes its marker.
  const t = h.marker(2, 0, true); // 9
  h.ps.trackUntilReplicated(t as never, 9);
  assert.equal(h.ps.lastStableOffset(9), 8);
  assert.equal(h.ps.lastStableOffset(10), 10);
});

test('markers: an older producer epoch or coordinator epoch is refused; a newer epoch fences old data', () => {
  const h = new Harness();
  h.append({ pid: 1, epoch: 3, seq: 0, txn: true });
  assert.deepEqual(h.marker(1, 2, false), { error: ErrorCode.INVALID_PRODUCER_EPOCH });
  h.marker(1, 4, false, 5); // the coordinator aborted with a bumped epoch
  assert.deepEqual(h.marker(1, 4, true, 4), { error: ErrorCode.TRANSACTION_COORDINATOR_FENCED });
  assert.deepEqual(h.append({ pid: 1, epoch: 3, seq: 1, txn: true }), { error: ErrorCode.INVALID_PRODUCER_EPOCH });
  assert.equal(h.ps.lastStableOffset(100), 100);
});

test('producer ids expire after producer.id.expiration.ms unless a transaction is open', () => {
  const h = new Harness();
  h.append({ pid: 1, epoch: 0, seq: 0, ts: 1_000 });
  h.append({ pid: 2, epoch: 0, seq: 0, ts: 1_000, txn: true });
  h.append({ pid: 3, epoch: 0, seq: 0, ts: 5_000 });
  assert.equal(h.ps.removeExpired(5_999, 5_000), 0);
  assert.equal(h.ps.removeExpired(6_000, 5_000), 1);
  assert.deepEqual([...h.ps.producers.keys()].sort(), [2, 3]);
  // Once expired, a retry is no longer recognised: the producer is new again and any sequence goes.
  assert.deepEqual(h.append({ pid: 1, epoch: 0, seq: 0 }), { offset: 3 });
});

test('snapshots round-trip every field; a damaged snapshot is refused and leaves the state alone', () => {
  const h = new Harness();
  h.append({ pid: 11, epoch: 2, seq: 0, count: 3 });
  h.append({ pid: 11, epoch: 2, seq: 3, count: 1 });
  h.append({ pid: 12, epoch: 0, seq: 10, count: 2, txn: true });
  h.marker(13, 1, false, 7);
  const snap = h.ps.encodeSnapshot();
  const copy = new ProducerStateManager('t-0');
  assert.equal(copy.loadSnapshot(snap), true);
  const view = (ps: ProducerStateManager) =>
    [...ps.producers.values()].map((e) => ({
      pid: e.producerId,
      epoch: e.producerEpoch,
      ce: e.coordinatorEpoch,
      txn: e.currentTxnFirstOffset,
      ts: e.lastTimestamp,
      batches: e.batches(),
    }));
  assert.deepEqual(view(copy), view(h.ps));
  assert.equal(copy.lastStableOffset(50), 4, 'the open transaction comes back with the snapshot');
  for (const at of [0, 3, 10, snap.length - 1]) {
    const bad = Buffer.from(snap);
    bad[at]! ^= 0x40;
    assert.equal(copy.loadSnapshot(bad), false, `flip at byte ${at}`);
  }
  assert.equal(copy.loadSnapshot(snap.subarray(0, snap.length - 3)), false);
  assert.deepEqual(view(copy), view(h.ps));
});

test('replay from the log rebuilds what live appends built, markers included', () => {
  const h = new Harness();
  const log: Buffer[] = [];
  const add = (b: B) => {
    const buf = batch(b);
    setBaseOffset(buf, 0, h.next);
    h.append(b);
    log.push(buf);
  };
  add({ pid: 21, epoch: 0, seq: 0, count: 2, txn: true });
  add({ pid: 22, epoch: 0, seq: 0, count: 1 });
  const marker = encodeControlBatch({
    producerId: 21,
    producerEpoch: 0,
    type: ControlRecordType.ABORT,
    coordinatorEpoch: 3,
    timestamp: 2_000,
  });
  setBaseOffset(marker, 0, h.next);
  h.marker(21, 0, false, 3);
  log.push(marker);
  add({ pid: 21, epoch: 0, seq: 2, count: 1, txn: true });
  const r = new ProducerStateManager('t-0');
  const completed = log.map((b) => r.replay(b)).filter((x) => x !== null);
  assert.deepEqual(completed, [{ producerId: 21, firstOffset: 0, lastOffset: 3, aborted: true }]);
  assert.equal(r.entry(21)!.coordinatorEpoch, 3);
  assert.equal(r.entry(21)!.currentTxnFirstOffset, 4);
  assert.equal(r.entry(22)!.lastSeq, 0);
  assert.equal(r.lastStableOffset(5), 4);
});
