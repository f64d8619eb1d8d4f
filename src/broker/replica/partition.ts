import type { Logger } from 'pino';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import {
  RECORD_BATCH_OVERHEAD,
  baseOffset as batchBaseOffset,
  entrySize,
  producerEpoch as batchProducerEpoch,
  producerId as batchProducerId,
} from '../../protocol/records/batch-header.js';
import { ControlRecordType, encodeControlBatch } from '../../protocol/records/control.js';
import type { AbortedTxn, AppendResult, PartitionLog } from '../../storage/index.js';
import {
  DUPLICATE_BATCH,
  ProducerStateManager,
  type AppendOrigin,
  type CompletedTxn,
} from '../../txn/producer-state.js';

export interface LeaderAppendOptions {
  /** 'client' (default): full idempotence checks; 'coordinator': the group coordinator's offset commits. */
  origin?: AppendOrigin;
  /**
   * Asked when a transactional batch would begin a transaction on this partition: 0 when the
   * transaction coordinator has the partition in that producer's ongoing transaction, else the
   * error code to refuse the batch with (transaction.partition.verification.enable).
   */
  verifyTransaction?: (producerId: number, producerEpoch: number) => number;
}

export interface TxnMarker {
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  commit: boolean;
}

/** A follower's replica of a partition this broker leads, as its fetches report it (Kafka's Replica). */
export interface FollowerReplica {
  readonly brokerId: number;
  /** The follower's log end offset as of its last fetch. */
  logEndOffset: number;
  /** In the ISR: counts toward the high watermark. */
  inSync: boolean;
}

/** Waits for the high watermark to reach an offset (Kafka's DelayedProduce, one partition's share). */
interface DelayedProduce {
  offset: number;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * What the rest of the broker may see of a partition: its identity and offsets, its producer state
 * and a subscription to high-watermark advances. Its log is the replica layer's alone; every append
 * and read goes through the ReplicaManager.
 */
export interface PartitionView {
  readonly topic: string;
  readonly index: number;
  readonly topicId: string;
  readonly leaderEpoch: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly producers: ProducerStateManager;
  /** The in-sync replicas, this leader included (min.insync.replicas is checked against it). */
  readonly inSyncReplicaCount: number;
  onHighWatermark(listener: () => void): () => void;
}

/**
 * The broker's state for one partition it leads: the log plus what replication and transactions
 * add on top of it (leader epoch, high watermark, producer state, last stable offset, the produce
 * requests waiting for the high watermark). With a single broker every partition is led here at
 * epoch 0 and its replica set is this broker alone.
 *
 * `log` is public only for the replica layer and its tests: nothing else of the broker imports
 * this class (it gets a PartitionView), and the layer rules keep storage out of other files.
 */
export class Partition implements PartitionView {
  leaderEpoch = 0;
  /** Per producer id: epoch, last five batches, open transaction (see src/txn/producer-state.ts). */
  readonly producers: ProducerStateManager;
  /** The newest producer snapshot on disk holds entries (so an empty state must be written over it). */
  private snapshotHasEntries = false;
  private hw: number;
  /** The other replicas while this broker leads; empty with one broker. */
  readonly followers: FollowerReplica[] = [];
  /** Fetches waiting in the purgatory for the high watermark to move. */
  private readonly hwListeners = new Set<() => void>();
  private delayed: DelayedProduce[] = [];

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly topicId: string,
    readonly log: PartitionLog,
  ) {
    this.producers = new ProducerStateManager(`${topic}-${index}`);
    this.hw = log.highWatermark;
    log.ownHighWatermark(() => this.maybeIncrementHighWatermark());
    log.lastStableOffset = () => this.lastStableOffset;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get inSyncReplicaCount(): number {
    let n = 1;
    for (let i = 0; i < this.followers.length; i++) if (this.followers[i]!.inSync) n++;
    return n;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  /** Offsets below are committed: in every in-sync replica and durable on the leader per its flush policy. */
  get highWatermark(): number {
    return this.hw;
  }

  /**
   * Kafka's Partition.maybeIncrementLeaderHW: the minimum log end offset of the in-sync replicas,
   * the leader's own capped by what its log made durable per the flush policy (with the default
   * policy that is its log end offset once written). Called whenever the leader's durable offset
   * moves (and, later, when a follower's fetch reports a new log end offset), in the same tick, so
   * consumers see records at the moment the log acknowledges them.
   */
  maybeIncrementHighWatermark(): void {
    let hw = this.log.durableOffset;
    const followers = this.followers;
    for (let i = 0; i < followers.length; i++) {
      const f = followers[i]!;
      if (f.inSync && f.logEndOffset < hw) hw = f.logEndOffset;
    }
    if (hw <= this.hw) return;
    this.hw = hw;
    this.log.updateHighWatermark(hw);
    if (this.hwListeners.size > 0) for (const l of this.hwListeners) l();
    if (this.delayed.length > 0) this.completeDelayedProduces();
  }

  /** Called on every high-watermark advance (the fetch purgatory waits on it). Returns an unsubscribe. */
  onHighWatermark(listener: () => void): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }

  /**
   * Resolves true once the high watermark reaches `offset` (acks=all: every in-sync replica has the
   * append), false after `timeoutMs`. With one broker the leader's acknowledgement already moved it.
   */
  waitForHighWatermark(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.hw >= offset) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const op: DelayedProduce = {
        offset,
        resolve,
        timer: setTimeout(
          () => {
            this.delayed = this.delayed.filter((d) => d !== op);
            resolve(false);
          },
          Math.max(0, timeoutMs),
        ),
      };
      this.delayed.push(op);
    });
  }

  private completeDelayedProduces(): void {
    const still: DelayedProduce[] = [];
    for (const d of this.delayed) {
      if (d.offset <= this.hw) {
        clearTimeout(d.timer);
        d.resolve(true);
      } else still.push(d);
    }
    this.delayed = still;
  }

  /** Answers every waiting produce (the partition stops being served here: deletion, shutdown). */
  failDelayedProduces(): void {
    for (const d of this.delayed) {
      clearTimeout(d.timer);
      d.resolve(false);
    }
    this.delayed = [];
  }

  /**
   * First offset of the oldest open (or not yet replicated) transaction, or the high watermark;
   * never below the log start offset (retention may delete the start of an open transaction).
   */
  get lastStableOffset(): number {
    const hw = this.hw;
    if (this.producers.size === 0) return hw;
    return Math.max(this.producers.lastStableOffset(hw), Math.min(this.log.logStartOffset, hw));
  }

  /**
   * Appends as the leader after the producer-state checks (Kafka's analyzeAndValidateProducerState):
   * batches without a producer id go straight to the log; an idempotent or transactional batch is
   * checked from its header, a retry of a batch still remembered is answered with its original
   * offsets instead of being written twice, and the state is updated once the bytes are in the log.
   */
  appendRecordsAsLeader(records: Buffer, opts: LeaderAppendOptions = {}): Promise<AppendResult> {
    let idempotent = false;
    let batches = 0;
    for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= records.length; pos += entrySize(records, pos)) {
      batches++;
      if (batchProducerId(records, pos) >= 0) idempotent = true;
    }
    if (!idempotent) return this.appendToLog(records);
    if (batches !== 1) {
      return Promise.reject(
        new KafkaError(ErrorCode.INVALID_RECORD, 'an idempotent or transactional append must be exactly one batch'),
      );
    }
    const origin = opts.origin ?? 'client';
    const ps = this.producers;
    const code = ps.checkData(records, origin);
    if (code === DUPLICATE_BATCH) {
      return Promise.resolve({
        baseOffset: ps.duplicate.firstOffset,
        lastOffset: ps.duplicate.lastOffset,
        logAppendTime: -1,
        logStartOffset: this.log.logStartOffset,
      });
    }
    if (code !== 0) return Promise.reject(new KafkaError(code, ps.problem));
    if (opts.verifyTransaction && ps.beginsTransaction(records)) {
      const v = opts.verifyTransaction(batchProducerId(records), batchProducerEpoch(records));
      if (v !== 0)
        return Promise.reject(
          new KafkaError(v, `partition ${this.topic}-${this.index} is not part of the producer's ongoing transaction`),
        );
    }
    const leo = this.log.logEndOffset;
    const result = this.appendToLog(records);
    if (this.log.logEndOffset !== leo) ps.applyData(records, origin);
    return result;
  }

  /**
   * Writes a transaction's COMMIT or ABORT marker (a control batch) and ends the transaction in
   * the producer state; an abort also goes into the segment's aborted-transaction index, which
   * read_committed fetches consult.
   */
  appendTxnMarker(m: TxnMarker, now = Date.now()): Promise<AppendResult> {
    const ps = this.producers;
    const code = ps.checkMarker(m.producerId, m.producerEpoch, m.coordinatorEpoch);
    if (code !== 0) return Promise.reject(new KafkaError(code, ps.problem));
    const batch = encodeControlBatch({
      producerId: m.producerId,
      producerEpoch: m.producerEpoch,
      type: m.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
      coordinatorEpoch: m.coordinatorEpoch,
      timestamp: now,
    });
    const leo = this.log.logEndOffset;
    const result = this.appendToLog(batch);
    if (this.log.logEndOffset === leo) return result;
    const txn = ps.applyMarker(
      m.producerId,
      m.producerEpoch,
      m.coordinatorEpoch,
      batchBaseOffset(batch),
      !m.commit,
      now,
    );
    ps.trackUntilReplicated(txn, this.hw);
    if (txn.aborted) {
      try {
        this.log.appendAbortedTxn(this.abortedEntry(txn));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return result;
  }

  private abortedEntry(txn: CompletedTxn): AbortedTxn {
    return {
      producerId: txn.producerId,
      firstOffset: txn.firstOffset,
      lastOffset: txn.lastOffset,
      lastStableOffset: this.producers.stableOffsetAfter(txn),
    };
  }

  /**
   * One log append. Offsets are assigned from the log end offset synchronously, so whether the
   * bytes went in (the log end offset moved) is known before the promise settles: producer state
   * must be updated in the same tick, before the next request for this partition is checked.
   * A segment roll snapshots the producer state as of the new segment's base offset (this append
   * not yet applied), which bounds how much log a crash recovery has to replay.
   */
  private appendToLog(records: Buffer): Promise<AppendResult> {
    const log = this.log;
    const leo = log.logEndOffset;
    const active = log.segments[log.segments.length - 1];
    // Every caller hands over batches whose CRC is already checked (produce validation) or that it
    // built itself (markers, coordinator records): the log need not compute it a second time.
    const result = log.append(records, { leaderEpoch: this.leaderEpoch, verifyCrc: false });
    if (log.logEndOffset !== leo && log.segments[log.segments.length - 1] !== active) this.snapshotAt(leo);
    return result;
  }

  private snapshotAt(offset: number, logger?: Logger): void {
    try {
      this.log.writeProducerSnapshot(offset, this.producers.encodeSnapshot());
      this.snapshotHasEntries = this.producers.size > 0;
      this.producers.dirty = false;
    } catch (err) {
      // A missing snapshot only makes recovery replay more of the log.
      logger?.warn({ err, partition: `${this.topic}-${this.index}` }, 'could not write a producer snapshot');
    }
  }

  /**
   * Producer state at shutdown, so a clean restart replays nothing. Skipped when the state is
   * empty and no snapshot with entries exists (a clean start then knows the state is empty).
   */
  snapshotForShutdown(logger?: Logger): void {
    if (this.log.isClosed) return;
    const leo = this.log.logEndOffset;
    if (this.producers.size === 0 && !this.snapshotHasEntries) return;
    const offsets = this.log.producerSnapshotOffsets();
    if (!this.producers.dirty && offsets[offsets.length - 1] === leo) return;
    this.snapshotAt(leo, logger);
  }

  /**
   * Rebuilds the producer state at start-up: the newest snapshot at or below the log end offset,
   * then every batch after it (headers, plus the control record of markers). After a clean
   * shutdown with no snapshot at the log end offset the state was empty. Replayed aborts are
   * written again to the aborted-transaction index, which a crash may have left short or long.
   */
  async loadProducerState(cleanShutdown: boolean, logger?: Logger): Promise<void> {
    const log = this.log;
    const ps = this.producers;
    ps.clear();
    const leo = log.logEndOffset;
    const snap = log.latestProducerSnapshot(leo);
    // A clean shutdown writes a snapshot at the log end offset whenever the state is not empty.
    if (cleanShutdown && (snap === null || snap.offset !== leo)) {
      this.snapshotHasEntries = false;
      ps.dirty = false;
      return;
    }
    let from = log.logStartOffset;
    if (snap && ps.loadSnapshot(snap.data)) {
      from = snap.offset;
      this.snapshotHasEntries = ps.size > 0;
    } else if (snap) {
      logger?.warn(
        { partition: `${this.topic}-${this.index}`, offset: snap.offset },
        'ignoring a damaged producer snapshot',
      );
    }
    ps.dirty = false;
    if (from >= leo) return;
    const aborted: AbortedTxn[] = [];
    let replayed = 0;
    await log.scanBatches(from, (batch) => {
      replayed++;
      const txn = ps.replay(batch);
      if (txn?.aborted) aborted.push(this.abortedEntry(txn));
    });
    log.replaceAbortedTxns(from, aborted);
    logger?.debug(
      { partition: `${this.topic}-${this.index}`, from, replayed, producers: ps.size },
      'producer state rebuilt from the log',
    );
  }
}
