import { ErrorCode } from '../protocol/errors.js';
import {
  RECORD_BATCH_OVERHEAD,
  baseOffset as batchBaseOffset,
  baseSequence as batchBaseSequence,
  isControl as batchIsControl,
  isTransactional as batchIsTransactional,
  lastOffsetDelta as batchLastOffsetDelta,
  maxTimestamp as batchMaxTimestamp,
  producerEpoch as batchProducerEpoch,
  producerId as batchProducerId,
} from '../protocol/records/batch-header.js';
import { ControlRecordType, readEndTxnMarker } from '../protocol/records/control.js';
import { crc32c } from '../protocol/records/crc.js';

/** Kafka keeps the sequence ranges of a producer's last five batches per partition (max.in.flight = 5). */
export const PRODUCER_BATCHES_RETAINED = 5;

const INT32_MAX = 0x7fffffff;

/** Who is appending: clients get sequence checks, the group coordinator's offset commits only epoch checks. */
export type AppendOrigin = 'client' | 'coordinator';

/** `checkData` result for a retried batch already in the log (see `duplicate`). */
export const DUPLICATE_BATCH = -2;

/** Last sequence of a batch, wrapping past Int32.MAX_VALUE to 0 as producers do. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return baseSequence > INT32_MAX - lastOffsetDelta
    ? lastOffsetDelta - (INT32_MAX - baseSequence) - 1
    : baseSequence + lastOffsetDelta;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

/**
 * One producer id on one partition: its epoch, the sequence ranges and offsets of its last
 * batches (a ring of five, in typed arrays so an append allocates nothing), the coordinator
 * epoch of its last marker and the first offset of its open transaction here.
 */
export class ProducerStateEntry {
  coordinatorEpoch = -1;
  /** First offset of the producer's open transaction on this partition, -1 when none. */
  currentTxnFirstOffset = -1;
  /** Max timestamp of its last batch or marker; producer.id.expiration.ms counts from here. */
  lastTimestamp = -1;
  private count = 0;
  /** Slot the next batch goes to; the newest is the one before it. */
  private next = 0;
  private readonly firstSeqs = new Int32Array(PRODUCER_BATCHES_RETAINED);
  private readonly lastSeqs = new Int32Array(PRODUCER_BATCHES_RETAINED);
  private readonly firstOffsets = new Float64Array(PRODUCER_BATCHES_RETAINED);
  private readonly lastOffsets = new Float64Array(PRODUCER_BATCHES_RETAINED);

  constructor(
    readonly producerId: number,
    public producerEpoch: number,
  ) {}

  get batchCount(): number {
    return this.count;
  }

  private slot(i: number): number {
    // i = 0 is the oldest retained batch.
    return (this.next - this.count + i + PRODUCER_BATCHES_RETAINED * 2) % PRODUCER_BATCHES_RETAINED;
  }

  /** Last sequence of the newest batch, or -1. */
  get lastSeq(): number {
    return this.count === 0 ? -1 : this.lastSeqs[this.slot(this.count - 1)]!;
  }

  /** Last offset of the newest data batch, or -1. */
  get lastDataOffset(): number {
    return this.count === 0 ? -1 : this.lastOffsets[this.slot(this.count - 1)]!;
  }

  /** Retained batch with exactly this sequence range, as its slot, or -1. */
  findBatch(firstSeq: number, lastSeq: number): number {
    for (let i = 0; i < this.count; i++) {
      const s = this.slot(i);
      if (this.firstSeqs[s] === firstSeq && this.lastSeqs[s] === lastSeq) return s;
    }
    return -1;
  }

  firstOffsetAt(slot: number): number {
    return this.firstOffsets[slot]!;
  }

  lastOffsetAt(slot: number): number {
    return this.lastOffsets[slot]!;
  }

  addBatch(firstSeq: number, lastSeq: number, firstOffset: number, lastOffset: number): void {
    const s = this.next;
    this.firstSeqs[s] = firstSeq;
    this.lastSeqs[s] = lastSeq;
    this.firstOffsets[s] = firstOffset;
    this.lastOffsets[s] = lastOffset;
    this.next = (s + 1) % PRODUCER_BATCHES_RETAINED;
    if (this.count < PRODUCER_BATCHES_RETAINED) this.count++;
  }

  clearBatches(): void {
    this.count = 0;
    this.next = 0;
  }

  /** A new epoch starts a new sequence space: the old batches can no longer be duplicates. */
  updateEpoch(epoch: number): void {
    if (epoch !== this.producerEpoch) {
      this.producerEpoch = epoch;
      this.clearBatches();
    }
  }

  /** Retained batches oldest first, for snapshots and tests. */
  batches(): Array<{ firstSeq: number; lastSeq: number; firstOffset: number; lastOffset: number }> {
    const out = [];
    for (let i = 0; i < this.count; i++) {
      const s = this.slot(i);
      out.push({
        firstSeq: this.firstSeqs[s]!,
        lastSeq: this.lastSeqs[s]!,
        firstOffset: this.firstOffsets[s]!,
        lastOffset: this.lastOffsets[s]!,
      });
    }
    return out;
  }
}

/** A transaction ended on this partition by a marker at `lastOffset`. */
export interface CompletedTxn {
  producerId: number;
  /** First offset of its data here (the marker's own offset when it wrote nothing here). */
  firstOffset: number;
  lastOffset: number;
  aborted: boolean;
}

const SNAPSHOT_VERSION = 1;
const SNAPSHOT_HEADER = 2 + 4 + 4;

/**
 * Producer state of one partition (Kafka's ProducerStateManager): checks each idempotent or
 * transactional batch from its header before it is appended (duplicate, sequence gap, stale
 * epoch, transaction state), records it after, and tracks open transactions so the partition
 * can tell its last stable offset. Only headers are read; nothing here decodes records except
 * the one control record of a marker during recovery.
 */
export class ProducerStateManager {
  readonly producers = new Map<number, ProducerStateEntry>();
  /** Open transactions on this partition: producer id -> first offset. */
  private readonly ongoing = new Map<number, number>();
  private firstOngoing = -1;
  private firstOngoingStale = false;
  /** Transactions whose marker is not yet below the high watermark: their data stays unstable. */
  private unreplicated: CompletedTxn[] = [];
  /** Set by checkData when it returns DUPLICATE_BATCH: the original offsets of that batch. */
  duplicate = { firstOffset: -1, lastOffset: -1 };
  /** Why the last check failed, for the error message. */
  problem = '';
  /** Changed since the last snapshot (writing one again at the same offset is then pointless). */
  dirty = false;

  constructor(readonly name: string) {}

  get size(): number {
    return this.producers.size;
  }

  get ongoingCount(): number {
    return this.ongoing.size;
  }

  entry(producerId: number): ProducerStateEntry | undefined {
    return this.producers.get(producerId);
  }

  /**
   * Checks the single idempotent batch at the start of `batch` before it is appended. Returns 0
   * when it may be appended, DUPLICATE_BATCH when it is a retry of a batch already in the log
   * (offsets in `duplicate`), or a Kafka error code (reason in `problem`).
   */
  checkData(batch: Buffer, origin: AppendOrigin): number {
    const pid = batchProducerId(batch);
    const epoch = batchProducerEpoch(batch);
    const firstSeq = batchBaseSequence(batch);
    const e = this.producers.get(pid);
    const transactional = batchIsTransactional(batch);
    if (e !== undefined) {
      // The next batch in sequence (the common case) cannot be a retry: skip the search.
      if (origin === 'client' && epoch === e.producerEpoch && e.batchCount > 0 && !inSequence(e.lastSeq, firstSeq)) {
        const slot = e.findBatch(firstSeq, lastSequenceOf(firstSeq, batchLastOffsetDelta(batch)));
        if (slot >= 0) {
          this.duplicate.firstOffset = e.firstOffsetAt(slot);
          this.duplicate.lastOffset = e.lastOffsetAt(slot);
          return DUPLICATE_BATCH;
        }
      }
      if (epoch < e.producerEpoch) {
        this.problem = `Epoch of producer ${pid} at ${this.name} is ${epoch}, which is smaller than the last seen epoch ${e.producerEpoch}`;
        return ErrorCode.INVALID_PRODUCER_EPOCH;
      }
      if (origin === 'client') {
        if (epoch !== e.producerEpoch) {
          if (firstSeq !== 0 && e.producerEpoch >= 0) {
            this.problem = `Invalid sequence number for new epoch ${epoch} of producer ${pid} at ${this.name}: ${firstSeq} (must be 0)`;
            return ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER;
          }
        } else if (e.producerEpoch >= 0 && !inSequence(e.lastSeq, firstSeq)) {
          this.problem = `Out of order sequence number for producer ${pid} at ${this.name}: ${firstSeq} (incoming seq. number), ${e.lastSeq} (current end sequence number)`;
          return ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER;
        }
      }
      if (!transactional && e.currentTxnFirstOffset >= 0) {
        this.problem = `Expected a transactional write from producer ${pid} at ${this.name}, which has an open transaction`;
        return ErrorCode.INVALID_TXN_STATE;
      }
    }
    // An unknown producer (new, or expired here) may start at any sequence, as in Kafka since KIP-360.
    return 0;
  }

  /** True when this transactional batch would begin a transaction here (the coordinator must confirm it). */
  beginsTransaction(batch: Buffer): boolean {
    if (!batchIsTransactional(batch)) return false;
    const e = this.producers.get(batchProducerId(batch));
    return e === undefined || e.currentTxnFirstOffset < 0;
  }

  /** Records a data batch that is now in the log (its base offset stamped). */
  applyData(batch: Buffer, origin: AppendOrigin | 'recovery'): void {
    const pid = batchProducerId(batch);
    const epoch = batchProducerEpoch(batch);
    const base = batchBaseOffset(batch);
    const delta = batchLastOffsetDelta(batch);
    let e = this.producers.get(pid);
    if (e === undefined) {
      e = new ProducerStateEntry(pid, epoch);
      this.producers.set(pid, e);
    } else e.updateEpoch(epoch);
    const firstSeq = batchBaseSequence(batch);
    // The group coordinator writes every offset commit with sequence 0; those are not a sequence.
    if (origin !== 'coordinator' && firstSeq >= 0)
      e.addBatch(firstSeq, lastSequenceOf(firstSeq, delta), base, base + delta);
    e.lastTimestamp = batchMaxTimestamp(batch);
    if (batchIsTransactional(batch) && e.currentTxnFirstOffset < 0) {
      e.currentTxnFirstOffset = base;
      this.ongoing.set(pid, base);
      if (this.firstOngoing < 0 || base < this.firstOngoing) this.firstOngoing = base;
    }
    this.dirty = true;
  }

  /** Checks a COMMIT/ABORT marker before it is appended: stale producer epoch or coordinator epoch. */
  checkMarker(producerId: number, producerEpoch: number, coordinatorEpoch: number): number {
    const e = this.producers.get(producerId);
    if (e === undefined) return 0;
    if (producerEpoch < e.producerEpoch) {
      this.problem = `Transaction marker epoch ${producerEpoch} of producer ${producerId} at ${this.name} is older than the current epoch ${e.producerEpoch}`;
      return ErrorCode.INVALID_PRODUCER_EPOCH;
    }
    if (coordinatorEpoch < e.coordinatorEpoch) {
      this.problem = `Transaction marker of producer ${producerId} at ${this.name} has coordinator epoch ${coordinatorEpoch}, older than ${e.coordinatorEpoch}`;
      return ErrorCode.TRANSACTION_COORDINATOR_FENCED;
    }
    return 0;
  }

  /** Records a marker now in the log at `offset`; returns the transaction it ends here. */
  applyMarker(
    producerId: number,
    producerEpoch: number,
    coordinatorEpoch: number,
    offset: number,
    aborted: boolean,
    timestamp: number,
  ): CompletedTxn {
    let e = this.producers.get(producerId);
    if (e === undefined) {
      e = new ProducerStateEntry(producerId, producerEpoch);
      this.producers.set(producerId, e);
    } else e.updateEpoch(producerEpoch);
    e.coordinatorEpoch = coordinatorEpoch;
    e.lastTimestamp = timestamp;
    const firstOffset = e.currentTxnFirstOffset >= 0 ? e.currentTxnFirstOffset : offset;
    if (e.currentTxnFirstOffset >= 0) {
      this.ongoing.delete(producerId);
      if (firstOffset === this.firstOngoing) this.firstOngoingStale = true;
      e.currentTxnFirstOffset = -1;
    }
    this.dirty = true;
    return { producerId, firstOffset, lastOffset: offset, aborted };
  }

  /** Keeps a completed transaction unstable until the high watermark passes its marker. */
  trackUntilReplicated(txn: CompletedTxn, highWatermark: number): void {
    if (txn.lastOffset >= highWatermark) this.unreplicated.push(txn);
  }

  private firstOngoingOffset(): number {
    if (this.firstOngoingStale) {
      this.firstOngoingStale = false;
      let min = -1;
      for (const o of this.ongoing.values()) if (min < 0 || o < min) min = o;
      this.firstOngoing = min;
    }
    return this.ongoing.size === 0 ? -1 : this.firstOngoing;
  }

  /**
   * Last stable offset for a high watermark: the first offset of the oldest transaction that is
   * open, or whose marker is not yet below the high watermark; the high watermark when none is.
   */
  lastStableOffset(highWatermark: number): number {
    let lso = highWatermark;
    if (this.ongoing.size > 0) {
      const first = this.firstOngoingOffset();
      if (first >= 0 && first < lso) lso = first;
    }
    if (this.unreplicated.length > 0) {
      this.unreplicated = this.unreplicated.filter((t) => t.lastOffset >= highWatermark);
      for (const t of this.unreplicated) if (t.firstOffset < lso) lso = t.firstOffset;
    }
    return lso;
  }

  /** Kafka's lastStableOffset of an aborted-transaction index entry: where reading may stop. */
  stableOffsetAfter(txn: CompletedTxn): number {
    const first = this.firstOngoingOffset();
    return first >= 0 && first < txn.lastOffset + 1 ? first : txn.lastOffset + 1;
  }

  /**
   * Forgets producers idle for `expirationMs` (producer.id.expiration.ms) with no open
   * transaction here. Returns how many were removed.
   */
  removeExpired(now: number, expirationMs: number): number {
    let n = 0;
    for (const [pid, e] of this.producers) {
      if (e.currentTxnFirstOffset < 0 && now - e.lastTimestamp >= expirationMs) {
        this.producers.delete(pid);
        n++;
      }
    }
    if (n > 0) this.dirty = true;
    return n;
  }

  clear(): void {
    this.producers.clear();
    this.ongoing.clear();
    this.firstOngoing = -1;
    this.firstOngoingStale = false;
    this.unreplicated = [];
    this.dirty = true;
  }

  /**
   * Applies a batch read back from the log (recovery): no checks, data batches and markers
   * alike. Returns the transaction a marker completes, or null.
   */
  replay(batch: Buffer): CompletedTxn | null {
    if (batch.length < RECORD_BATCH_OVERHEAD) return null;
    const pid = batchProducerId(batch);
    if (pid < 0) return null;
    if (!batchIsControl(batch)) {
      this.applyData(batch, 'recovery');
      return null;
    }
    let marker: { type: number; coordinatorEpoch: number };
    try {
      marker = readEndTxnMarker(batch, 0, { verifyCrc: false });
    } catch {
      return null; // other control types carry no transaction
    }
    return this.applyMarker(
      pid,
      batchProducerEpoch(batch),
      marker.coordinatorEpoch,
      batchBaseOffset(batch),
      marker.type === ControlRecordType.ABORT,
      batchMaxTimestamp(batch),
    );
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * Brook's producer snapshot (`<offset>.snapshot` beside the segments): int16 version (1),
   * uint32 CRC-32C of everything after it, int32 producer count, then per producer: int64
   * producerId, int16 epoch, int32 coordinatorEpoch, int64 currentTxnFirstOffset, int64
   * lastTimestamp, int8 batch count, and per retained batch (oldest first) int32 firstSeq,
   * int32 lastSeq, int64 firstOffset, int64 lastOffset.
   */
  encodeSnapshot(): Buffer {
    let size = SNAPSHOT_HEADER;
    for (const e of this.producers.values()) size += 8 + 2 + 4 + 8 + 8 + 1 + e.batchCount * 24;
    const b = Buffer.alloc(size);
    let at = 0;
    b.writeInt16BE(SNAPSHOT_VERSION, at);
    at += 2 + 4;
    b.writeInt32BE(this.producers.size, at);
    at += 4;
    const int64 = (v: number) => {
      b.writeBigInt64BE(BigInt(v), at);
      at += 8;
    };
    for (const e of this.producers.values()) {
      int64(e.producerId);
      b.writeInt16BE(e.producerEpoch, at);
      at += 2;
      b.writeInt32BE(e.coordinatorEpoch, at);
      at += 4;
      int64(e.currentTxnFirstOffset);
      int64(e.lastTimestamp);
      const batches = e.batches();
      b.writeInt8(batches.length, at);
      at += 1;
      for (const x of batches) {
        b.writeInt32BE(x.firstSeq, at);
        b.writeInt32BE(x.lastSeq, at + 4);
        at += 8;
        int64(x.firstOffset);
        int64(x.lastOffset);
      }
    }
    b.writeUInt32BE(crc32c(b.subarray(6)), 2);
    return b;
  }

  /** Replaces the state with a snapshot's; false (state untouched) when it is damaged or unknown. */
  loadSnapshot(b: Buffer): boolean {
    if (b.length < SNAPSHOT_HEADER || b.readInt16BE(0) !== SNAPSHOT_VERSION) return false;
    if (b.readUInt32BE(2) !== crc32c(b.subarray(6))) return false;
    const loaded = new Map<number, ProducerStateEntry>();
    try {
      let at = 6;
      const n = b.readInt32BE(at);
      at += 4;
      const int64 = () => {
        const v = Number(b.readBigInt64BE(at));
        at += 8;
        return v;
      };
      for (let i = 0; i < n; i++) {
        const pid = int64();
        const e = new ProducerStateEntry(pid, b.readInt16BE(at));
        e.coordinatorEpoch = b.readInt32BE(at + 2);
        at += 6;
        e.currentTxnFirstOffset = int64();
        e.lastTimestamp = int64();
        const count = b.readInt8(at);
        at += 1;
        for (let j = 0; j < count; j++) {
          const firstSeq = b.readInt32BE(at);
          const lastSeq = b.readInt32BE(at + 4);
          at += 8;
          const firstOffset = int64();
          e.addBatch(firstSeq, lastSeq, firstOffset, int64());
        }
        loaded.set(pid, e);
      }
      if (at !== b.length) return false;
    } catch {
      return false; // RangeError: shorter than its counts say
    }
    this.clear();
    for (const [pid, e] of loaded) {
      this.producers.set(pid, e);
      if (e.currentTxnFirstOffset >= 0) this.ongoing.set(pid, e.currentTxnFirstOffset);
    }
    this.firstOngoingStale = true;
    this.dirty = false;
    return true;
  }
}
