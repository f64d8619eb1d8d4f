import type { Logger } from 'pino';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { decodeRecordBatch, encodeRecordBatch } from '../protocol/records/record-batch.js';
import {
  TxnState,
  decodeTxnLogKey,
  decodeTxnLogValue,
  encodeTxnLogKey,
  encodeTxnLogValue,
  partitionForTransactionalId,
  txnStateByName,
  txnStateName,
  type TxnLogValue,
} from './txn-log.js';

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
const EPOCH_MAX = 32767;

/** Kafka leaves the last epoch value unused so a fenced producer can always be bumped past. */
export function isEpochExhausted(epoch: number): boolean {
  return epoch >= EPOCH_MAX - 1;
}

/** The internal topic holding the coordinator's state, through the partition log. */
export interface TxnStateLog {
  /** Partition count of __transaction_state, or undefined while it does not exist. */
  partitionCount(): number | undefined;
  /** Creates __transaction_state (compacted) when missing; resolves with its partition count. */
  ensureCreated(): Promise<number>;
  /** Appends one batch; resolves once durable per the topic's flush policy. */
  append(partition: number, batch: Buffer): Promise<void>;
  /** Visits every batch of a partition in offset order. */
  read(partition: number, visitor: (batch: Buffer) => void): Promise<void>;
  /** The partition's leader epoch: the coordinator epoch stamped into markers. */
  coordinatorEpoch(partition: number): number;
}

export interface TxnMarkerSpec {
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  commit: boolean;
}

/** Writes COMMIT/ABORT markers into data partitions (and __consumer_offsets). */
export interface TxnMarkerWriter {
  /** Resolves when the marker is durable; rejects with a KafkaError (UNKNOWN_TOPIC_OR_PARTITION when the partition is gone). */
  writeMarker(topic: string, partition: number, marker: TxnMarkerSpec): Promise<void>;
}

export interface TxnCoordinatorConfig {
  /** transaction.max.timeout.ms */
  transactionMaxTimeoutMs: number;
  /** transactional.id.expiration.ms */
  transactionalIdExpirationMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  abortTimedOutTransactionsIntervalMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  removeExpiredTransactionalIdsIntervalMs: number;
}

export interface TxnCoordinatorDeps {
  stateLog: TxnStateLog;
  markers: TxnMarkerWriter;
  /** Whether a topic partition exists (AddPartitionsToTxn refuses others). */
  partitionExists(topic: string, partition: number): boolean;
  /** The __consumer_offsets partition of a group (AddOffsetsToTxn). */
  offsetsPartitionFor(groupId: string): number;
  /** Topic name of the group offsets. */
  offsetsTopic: string;
  /** A new producer id, or -1 while none can be handed out yet (COORDINATOR_LOAD_IN_PROGRESS). */
  generateProducerId(): number;
  config: TxnCoordinatorConfig;
  time?: () => number;
  logger?: Logger;
}

/** One transactional id as the coordinator keeps it in memory. */
export class TransactionMetadata {
  producerId = NO_PRODUCER_ID;
  lastProducerId = NO_PRODUCER_ID;
  producerEpoch = NO_PRODUCER_EPOCH;
  lastProducerEpoch = NO_PRODUCER_EPOCH;
  txnTimeoutMs = 0;
  state: TxnState = TxnState.Empty;
  partitions = new Map<string, Set<number>>();
  txnStartTimestamp = -1;
  txnLastUpdateTimestamp = -1;
  /** A state write is in flight: other requests get CONCURRENT_TRANSACTIONS. */
  pending = false;
  /** Markers of the prepared transaction being written (PrepareCommit/PrepareAbort). */
  completion: Promise<void> | null = null;

  constructor(readonly transactionalId: string) {}

  hasPartition(topic: string, partition: number): boolean {
    return this.partitions.get(topic)?.has(partition) ?? false;
  }

  partitionCount(): number {
    let n = 0;
    for (const s of this.partitions.values()) n += s.size;
    return n;
  }

  toValue(): TxnLogValue {
    const partitions = new Map<string, number[]>();
    for (const [t, s] of this.partitions)
      partitions.set(
        t,
        [...s].sort((a, b) => a - b),
      );
    return {
      producerId: this.producerId,
      lastProducerId: this.lastProducerId,
      producerEpoch: this.producerEpoch,
      lastProducerEpoch: this.lastProducerEpoch,
      txnTimeoutMs: this.txnTimeoutMs,
      state: this.state,
      partitions,
      txnLastUpdateTimestamp: this.txnLastUpdateTimestamp,
      txnStartTimestamp: this.txnStartTimestamp,
    };
  }

  apply(v: TxnLogValue): void {
    this.producerId = v.producerId;
    this.lastProducerId = v.lastProducerId;
    this.producerEpoch = v.producerEpoch;
    this.lastProducerEpoch = v.lastProducerEpoch;
    this.txnTimeoutMs = v.txnTimeoutMs;
    this.state = v.state;
    this.partitions = new Map([...v.partitions].map(([t, ps]) => [t, new Set(ps)]));
    this.txnLastUpdateTimestamp = v.txnLastUpdateTimestamp;
    this.txnStartTimestamp = v.txnStartTimestamp;
  }
}

export interface InitProducerIdResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export interface TopicPartitionsResult {
  /** topic -> partition -> error code */
  results: Map<string, Map<number, number>>;
}

export interface DescribedTransaction {
  errorCode: number;
  transactionalId: string;
  transactionState: string;
  transactionTimeoutMs: number;
  transactionStartTimeMs: number;
  producerId: number;
  producerEpoch: number;
  topics: Array<{ topic: string; partitions: number[] }>;
}

export interface ListedTransaction {
  transactionalId: string;
  producerId: number;
  transactionState: string;
}

/** The error a state write failure becomes for the client, as Kafka maps them. */
function stateWriteError(err: unknown): number {
  if (err instanceof KafkaError) {
    switch (err.code) {
      case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      case ErrorCode.NOT_ENOUGH_REPLICAS:
      case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      case ErrorCode.REQUEST_TIMED_OUT:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      case ErrorCode.NOT_LEADER_OR_FOLLOWER:
      case ErrorCode.KAFKA_STORAGE_ERROR:
        return ErrorCode.NOT_COORDINATOR;
      case ErrorCode.MESSAGE_TOO_LARGE:
      case ErrorCode.RECORD_LIST_TOO_LARGE:
        return ErrorCode.UNKNOWN_SERVER_ERROR;
      default:
        return err.code;
    }
  }
  return ErrorCode.NOT_COORDINATOR;
}

/** Marker failures that no retry can fix: the transaction is done with that partition. */
function markerGivesUp(code: number): boolean {
  return (
    code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
    code === ErrorCode.INVALID_PRODUCER_EPOCH ||
    code === ErrorCode.TRANSACTION_COORDINATOR_FENCED
  );
}

const MARKER_RETRY_MIN_MS = 50;
const MARKER_RETRY_MAX_MS = 5000;
/** EndTxn answers once the markers are written, or after this long while they are still retried. */
const END_TXN_WAIT_MS = 5000;

/**
 * The transaction coordinator (Kafka's TransactionCoordinator + TransactionStateManager +
 * marker channel, on one node): transactional ids, their producer id and epoch, the state
 * machine Empty -> Ongoing -> PrepareCommit/PrepareAbort -> CompleteCommit/CompleteAbort, every
 * transition written to __transaction_state before it takes effect, markers written into each
 * partition of a transaction once its outcome is durable, timed-out transactions aborted with a
 * bumped epoch (fencing the producer), idle transactional ids expired.
 */
export class TransactionCoordinator {
  private readonly txns = new Map<string, TransactionMetadata>();
  private readonly byProducerId = new Map<number, TransactionMetadata>();
  private partitionCount = 1;
  /** Until the first transactional id is used the topic does not exist (created lazily, as Kafka does). */
  private created: Promise<void> | null = null;
  private loading = true;
  private active = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;
  private readonly log: Logger | undefined;

  constructor(private readonly deps: TxnCoordinatorDeps) {
    this.now = deps.time ?? Date.now;
    this.log = deps.logger;
  }

  get isLoading(): boolean {
    return this.loading;
  }

  /** Reads __transaction_state (when it exists), then finishes the transactions a crash left prepared. */
  async startup(): Promise<void> {
    this.loading = true;
    this.active = true;
    const t0 = this.now();
    const existing = this.deps.stateLog.partitionCount();
    if (existing !== undefined) {
      this.partitionCount = existing;
      this.created = Promise.resolve();
    }
    const c = this.deps.config;
    this.every(c.abortTimedOutTransactionsIntervalMs, () => this.abortTimedOutTransactions());
    this.every(c.removeExpiredTransactionalIdsIntervalMs, () => this.removeExpiredTransactionalIds());
    if (existing === undefined) {
      this.loading = false;
      return;
    }
    const values = new Map<string, TxnLogValue | null>();
    let records = 0;
    for (let p = 0; p < this.partitionCount; p++) {
      await this.deps.stateLog.read(p, (buf) => {
        let batch;
        try {
          batch = decodeRecordBatch(buf);
        } catch (err) {
          this.log?.error({ err, partition: p }, 'skipping an unreadable batch of __transaction_state');
          return;
        }
        if (batch.isControl) return;
        for (const r of batch.records) {
          if (r.key === null) continue;
          try {
            const id = decodeTxnLogKey(r.key);
            values.set(id, r.value === null ? null : decodeTxnLogValue(r.value));
            records++;
          } catch (err) {
            this.log?.warn({ err, partition: p }, 'skipping an unreadable __transaction_state record');
          }
        }
      });
    }
    for (const [id, v] of values) {
      if (v === null || v.state === TxnState.Dead) continue;
      const m = new TransactionMetadata(id);
      m.apply(v);
      this.txns.set(id, m);
      this.byProducerId.set(m.producerId, m);
    }
    this.loading = false;
    this.log?.info(
      { transactionalIds: this.txns.size, records, ms: this.now() - t0 },
      'transaction coordinator loaded __transaction_state',
    );
    // A crash between the decision and the last marker: write the markers again (they are idempotent).
    for (const m of this.txns.values()) {
      if (m.state === TxnState.PrepareCommit || m.state === TxnState.PrepareAbort) {
        this.startCompletion(m).catch((err: unknown) =>
          this.log?.error({ err, transactionalId: m.transactionalId }, 'completing a prepared transaction failed'),
        );
      }
    }
  }

  /** Creates __transaction_state on first use; concurrent callers share one creation. */
  private ensureCreated(): Promise<void> {
    this.created ??= this.deps.stateLog.ensureCreated().then(
      (n) => {
        this.partitionCount = n;
      },
      (err: unknown) => {
        this.created = null;
        throw err;
      },
    );
    return this.created;
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      if (!this.active) return;
      Promise.resolve()
        .then(fn)
        .catch((err: unknown) => this.log?.error({ err }, 'transaction coordinator task failed'));
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Stops timers and marker retries; what is durable stays so for the next start. */
  shutdown(): void {
    this.active = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Partition of __transaction_state holding a transactional id. */
  partitionFor(transactionalId: string): number {
    return partitionForTransactionalId(transactionalId, this.partitionCount);
  }

  metadata(transactionalId: string): TransactionMetadata | undefined {
    return this.txns.get(transactionalId);
  }

  // ---------------------------------------------------------------- state writes

  /** Writes `next` for `m` to __transaction_state and applies it once durable. */
  private async persist(m: TransactionMetadata, next: TxnLogValue | null): Promise<void> {
    if (!this.active)
      throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'transaction coordinator is not active');
    const batch = encodeRecordBatch({
      records: [
        {
          key: encodeTxnLogKey(m.transactionalId),
          value: next === null ? null : encodeTxnLogValue(next),
          timestamp: this.now(),
        },
      ],
    });
    m.pending = true;
    try {
      await this.deps.stateLog.append(this.partitionFor(m.transactionalId), batch);
    } finally {
      m.pending = false;
    }
    if (next === null) return;
    if (m.producerId !== next.producerId && this.byProducerId.get(m.producerId) === m)
      this.byProducerId.delete(m.producerId);
    m.apply(next);
    this.byProducerId.set(m.producerId, m);
  }

  private async transit(m: TransactionMetadata, change: Partial<TxnLogValue>): Promise<number> {
    try {
      await this.persist(m, { ...m.toValue(), ...change });
      return ErrorCode.NONE;
    } catch (err) {
      const code = stateWriteError(err);
      this.log?.warn({ err, transactionalId: m.transactionalId }, 'could not write transaction state');
      return code;
    }
  }

  // ---------------------------------------------------------------- InitProducerId

  /**
   * InitProducerId. Without a transactional id: a fresh producer id at epoch 0 (idempotence
   * only). With one: bump the epoch (fencing older instances), or rotate to a new producer id
   * when the epoch is exhausted; an open transaction is first aborted with a fenced epoch and the
   * caller told to retry. `expected` (v3+, KIP-360) lets a producer resume after an error.
   */
  async initProducerId(
    transactionalId: string | null,
    txnTimeoutMs: number,
    expected: { producerId: number; producerEpoch: number } | null,
  ): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({
      errorCode,
      producerId: NO_PRODUCER_ID,
      producerEpoch: NO_PRODUCER_EPOCH,
    });
    if (transactionalId === null) {
      const producerId = this.deps.generateProducerId();
      if (producerId < 0) return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
    }
    if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
    if (txnTimeoutMs <= 0 || txnTimeoutMs > this.deps.config.transactionMaxTimeoutMs)
      return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    if (this.loading) return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    if (!this.active) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    try {
      await this.ensureCreated();
    } catch (err) {
      this.log?.warn({ err }, 'could not create __transaction_state');
      return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    let m = this.txns.get(transactionalId);
    if (m === undefined) {
      const newId = this.deps.generateProducerId();
      if (newId < 0) return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      m = new TransactionMetadata(transactionalId);
      m.producerId = newId;
      m.txnTimeoutMs = txnTimeoutMs;
      m.txnLastUpdateTimestamp = this.now();
      this.txns.set(transactionalId, m);
      this.byProducerId.set(m.producerId, m);
    }
    if (m.pending) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
    if (
      expected !== null &&
      !(
        m.producerEpoch === NO_PRODUCER_EPOCH ||
        expected.producerId === m.producerId ||
        (expected.producerId === m.lastProducerId && isEpochExhausted(expected.producerEpoch))
      )
    ) {
      return fail(ErrorCode.PRODUCER_FENCED);
    }
    const now = this.now();
    switch (m.state) {
      case TxnState.PrepareCommit:
      case TxnState.PrepareAbort:
      case TxnState.PrepareEpochFence:
      case TxnState.Dead:
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      case TxnState.Ongoing: {
        // Fence the running instance and abort its transaction; the caller retries and then gets
        // an epoch bumped once more.
        await this.fenceAndAbort(m);
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      }
      default:
        break;
    }
    let producerId = m.producerId;
    let lastProducerId = m.lastProducerId;
    let epoch: number;
    let lastEpoch: number;
    if (isEpochExhausted(m.producerEpoch) && (expected === null || expected.producerEpoch === m.producerEpoch)) {
      lastProducerId = m.producerId;
      lastEpoch = expected === null ? NO_PRODUCER_EPOCH : m.producerEpoch;
      producerId = this.deps.generateProducerId();
      if (producerId < 0) return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      epoch = 0;
    } else if (expected === null) {
      epoch = m.producerEpoch + 1;
      lastEpoch = NO_PRODUCER_EPOCH;
    } else if (m.producerEpoch === NO_PRODUCER_EPOCH || expected.producerEpoch === m.producerEpoch) {
      epoch = m.producerEpoch + 1;
      lastEpoch = m.producerEpoch;
    } else if (expected.producerEpoch === m.lastProducerEpoch) {
      // A retry of a bump whose answer was lost: hand out the same epoch again.
      epoch = m.producerEpoch;
      lastEpoch = m.lastProducerEpoch;
    } else {
      return fail(ErrorCode.PRODUCER_FENCED);
    }
    const code = await this.transit(m, {
      producerId,
      lastProducerId,
      producerEpoch: epoch,
      lastProducerEpoch: lastEpoch,
      txnTimeoutMs,
      state: TxnState.Empty,
      partitions: new Map(),
      txnStartTimestamp: -1,
      txnLastUpdateTimestamp: now,
    });
    if (code !== ErrorCode.NONE) return fail(code);
    return { errorCode: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch };
  }

  // ---------------------------------------------------------------- AddPartitionsToTxn / AddOffsetsToTxn

  /** Checks a client's claim to the transactional id; 0 when it holds the current epoch. */
  private checkProducer(m: TransactionMetadata | undefined, producerId: number, producerEpoch: number): number {
    if (this.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (m === undefined || m.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (m.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    return ErrorCode.NONE;
  }

  /**
   * AddPartitionsToTxn: makes the partitions part of the producer's transaction (starting it).
   * Unknown partitions fail with UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED.
   */
  async addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: Array<[string, number]>,
  ): Promise<Map<string, Map<number, number>>> {
    const results = new Map<string, Map<number, number>>();
    const all = (code: number) => {
      for (const [t, p] of partitions) {
        let r = results.get(t);
        if (r === undefined) results.set(t, (r = new Map()));
        r.set(p, code);
      }
      return results;
    };
    const unknown = partitions.filter(([t, p]) => !this.deps.partitionExists(t, p));
    if (unknown.length > 0) {
      all(ErrorCode.OPERATION_NOT_ATTEMPTED);
      for (const [t, p] of unknown) results.get(t)!.set(p, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      return results;
    }
    const m = this.txns.get(transactionalId);
    const code = this.checkProducer(m, producerId, producerEpoch);
    if (code !== ErrorCode.NONE) return all(code);
    if (
      m!.pending ||
      m!.state === TxnState.PrepareCommit ||
      m!.state === TxnState.PrepareAbort ||
      m!.state === TxnState.PrepareEpochFence
    ) {
      return all(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    const meta = m!;
    if (meta.state === TxnState.Ongoing && partitions.every(([t, p]) => meta.hasPartition(t, p)))
      return all(ErrorCode.NONE);
    const now = this.now();
    const next = meta.toValue();
    for (const [t, p] of partitions) {
      const list = next.partitions.get(t) ?? [];
      if (!list.includes(p)) list.push(p);
      next.partitions.set(t, list);
    }
    const starting = meta.state !== TxnState.Ongoing;
    return all(
      await this.transit(meta, {
        state: TxnState.Ongoing,
        partitions: next.partitions,
        txnStartTimestamp: starting ? now : meta.txnStartTimestamp,
        txnLastUpdateTimestamp: now,
      }),
    );
  }

  /** AddOffsetsToTxn: adds the group's __consumer_offsets partition to the transaction. */
  async addOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
  ): Promise<number> {
    const partition = this.deps.offsetsPartitionFor(groupId);
    // Only while the group coordinator is still creating __consumer_offsets: retriable.
    if (!this.deps.partitionExists(this.deps.offsetsTopic, partition)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const r = await this.addPartitions(transactionalId, producerId, producerEpoch, [
      [this.deps.offsetsTopic, partition],
    ]);
    return r.get(this.deps.offsetsTopic)!.get(partition)!;
  }

  /**
   * AddPartitionsToTxn v4+ with VerifyOnly (KIP-890): whether each partition is already in the
   * producer's ongoing transaction (INVALID_TXN_STATE when not).
   */
  verifyPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: Array<[string, number]>,
  ): Map<string, Map<number, number>> {
    const results = new Map<string, Map<number, number>>();
    const m = this.txns.get(transactionalId);
    let code = this.checkProducer(m, producerId, producerEpoch);
    if (code === ErrorCode.NONE && (m!.state === TxnState.PrepareCommit || m!.state === TxnState.PrepareAbort))
      code = ErrorCode.CONCURRENT_TRANSACTIONS;
    for (const [t, p] of partitions) {
      let r = results.get(t);
      if (r === undefined) results.set(t, (r = new Map()));
      const inTxn = code === ErrorCode.NONE && m!.state === TxnState.Ongoing && m!.hasPartition(t, p);
      r.set(p, code !== ErrorCode.NONE ? code : inTxn ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE);
    }
    return results;
  }

  /**
   * The produce path's transaction verification (transaction.partition.verification.enable): a
   * transactional batch may begin a transaction on a partition only if the coordinator has that
   * partition in the producer's ongoing transaction at that epoch. Synchronous: the check and the
   * append happen in one tick.
   */
  verifyProduce(
    transactionalId: string | null,
    producerId: number,
    producerEpoch: number,
    topic: string,
    partition: number,
  ): number {
    const m = transactionalId !== null ? this.txns.get(transactionalId) : this.byProducerId.get(producerId);
    if (m === undefined || m.producerId !== producerId) return ErrorCode.INVALID_TXN_STATE;
    if (producerEpoch < m.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (producerEpoch !== m.producerEpoch || m.state !== TxnState.Ongoing || !m.hasPartition(topic, partition))
      return ErrorCode.INVALID_TXN_STATE;
    return ErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit's check against the transaction: the producer holds the current epoch and
   * the group's offsets partition was added with AddOffsetsToTxn (otherwise no marker would
   * ever settle these offsets).
   */
  checkTxnOffsetCommit(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): number {
    const m = this.txns.get(transactionalId);
    if (this.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (m === undefined || m.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch !== m.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (m.state !== TxnState.Ongoing || !m.hasPartition(this.deps.offsetsTopic, this.deps.offsetsPartitionFor(groupId)))
      return ErrorCode.INVALID_TXN_STATE;
    return ErrorCode.NONE;
  }

  /**
   * For a transaction found open on a partition at start-up: null while the coordinator still
   * owns it (open or being completed with this partition), else an ABORT marker to end it. That
   * happens only when a marker was lost with unflushed data in a machine crash, or for a write
   * no coordinator knows (verification off); the partition's data cannot tell which transaction
   * of its epoch it belonged to, and aborting is what Kafka's tooling does with a hanging
   * transaction. Without it the partition's last stable offset would never move again.
   */
  danglingTransactionMarker(
    producerId: number,
    producerEpoch: number,
    topic: string,
    partition: number,
  ): TxnMarkerSpec | null {
    const m = this.byProducerId.get(producerId);
    const owned =
      m !== undefined &&
      m.hasPartition(topic, partition) &&
      (m.state === TxnState.Ongoing || m.state === TxnState.PrepareCommit || m.state === TxnState.PrepareAbort);
    if (owned) return null;
    return {
      producerId,
      producerEpoch: Math.max(producerEpoch, m?.producerEpoch ?? producerEpoch),
      coordinatorEpoch: m ? this.deps.stateLog.coordinatorEpoch(this.partitionFor(m.transactionalId)) : 0,
      commit: false,
    };
  }

  // ---------------------------------------------------------------- EndTxn

  /**
   * EndTxn: records the decision (PrepareCommit/PrepareAbort) durably, writes the markers, then
   * CompleteCommit/CompleteAbort. Answers once the markers are in (or after END_TXN_WAIT_MS of
   * retrying them; the outcome is already decided and durable by then).
   */
  async endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    const m = this.txns.get(transactionalId);
    const code = this.checkProducer(m, producerId, producerEpoch);
    if (code !== ErrorCode.NONE) return code;
    const meta = m!;
    if (meta.pending) return ErrorCode.CONCURRENT_TRANSACTIONS;
    switch (meta.state) {
      case TxnState.Ongoing:
        break;
      case TxnState.CompleteCommit:
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case TxnState.CompleteAbort:
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case TxnState.PrepareCommit:
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
      case TxnState.PrepareAbort:
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
      default:
        return ErrorCode.INVALID_TXN_STATE;
    }
    const written = await this.transit(meta, {
      state: commit ? TxnState.PrepareCommit : TxnState.PrepareAbort,
      txnLastUpdateTimestamp: this.now(),
    });
    if (written !== ErrorCode.NONE) return written;
    await this.waitBounded(this.startCompletion(meta), END_TXN_WAIT_MS);
    return ErrorCode.NONE;
  }

  private waitBounded(p: Promise<void>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }

  /** Epoch bump + abort, for a new instance of the producer or a timed-out transaction. */
  private async fenceAndAbort(m: TransactionMetadata): Promise<void> {
    const bumped = isEpochExhausted(m.producerEpoch) ? m.producerEpoch : m.producerEpoch + 1;
    const code = await this.transit(m, {
      producerEpoch: bumped,
      lastProducerEpoch: NO_PRODUCER_EPOCH,
      state: TxnState.PrepareAbort,
      txnLastUpdateTimestamp: this.now(),
    });
    if (code !== ErrorCode.NONE) return;
    await this.waitBounded(this.startCompletion(m), END_TXN_WAIT_MS);
  }

  /** Writes the markers of a prepared transaction (retrying), then its Complete state. */
  private startCompletion(m: TransactionMetadata): Promise<void> {
    m.completion ??= this.complete(m).finally(() => {
      m.completion = null;
    });
    return m.completion;
  }

  private async complete(m: TransactionMetadata): Promise<void> {
    const commit = m.state === TxnState.PrepareCommit;
    const marker: TxnMarkerSpec = {
      producerId: m.producerId,
      producerEpoch: m.producerEpoch,
      coordinatorEpoch: this.deps.stateLog.coordinatorEpoch(this.partitionFor(m.transactionalId)),
      commit,
    };
    const targets: Array<[string, number]> = [];
    for (const [t, ps] of m.partitions) for (const p of ps) targets.push([t, p]);
    await Promise.all(targets.map(([t, p]) => this.writeMarkerUntilDone(m, t, p, marker)));
    for (let delay = MARKER_RETRY_MIN_MS; this.active; delay = Math.min(delay * 2, MARKER_RETRY_MAX_MS)) {
      if (m.state !== (commit ? TxnState.PrepareCommit : TxnState.PrepareAbort)) return;
      if (!m.pending) {
        const code = await this.transit(m, {
          state: commit ? TxnState.CompleteCommit : TxnState.CompleteAbort,
          partitions: new Map(),
          txnLastUpdateTimestamp: this.now(),
        });
        if (code === ErrorCode.NONE) return;
      }
      await sleep(delay);
    }
  }

  private async writeMarkerUntilDone(
    m: TransactionMetadata,
    topic: string,
    partition: number,
    marker: TxnMarkerSpec,
  ): Promise<void> {
    for (let delay = MARKER_RETRY_MIN_MS; this.active; delay = Math.min(delay * 2, MARKER_RETRY_MAX_MS)) {
      try {
        await this.deps.markers.writeMarker(topic, partition, marker);
        return;
      } catch (err) {
        const code = err instanceof KafkaError ? err.code : ErrorCode.UNKNOWN_SERVER_ERROR;
        if (markerGivesUp(code)) {
          this.log?.warn(
            { err, transactionalId: m.transactionalId, topic, partition },
            'transaction marker not written; giving up on this partition',
          );
          return;
        }
        this.log?.warn(
          { err, transactionalId: m.transactionalId, topic, partition, retryInMs: delay },
          'transaction marker write failed; retrying',
        );
      }
      await sleep(delay);
    }
  }

  // ---------------------------------------------------------------- timers

  /** Aborts (with an epoch bump that fences the producer) transactions open longer than their timeout. */
  async abortTimedOutTransactions(): Promise<number> {
    const now = this.now();
    const due = [...this.txns.values()].filter(
      (m) => m.state === TxnState.Ongoing && !m.pending && m.txnStartTimestamp + m.txnTimeoutMs < now,
    );
    for (const m of due) {
      this.log?.info(
        { transactionalId: m.transactionalId, producerId: m.producerId, epoch: m.producerEpoch },
        'aborting a timed-out transaction',
      );
    }
    await Promise.all(due.map((m) => this.fenceAndAbort(m)));
    return due.length;
  }

  /** Forgets transactional ids idle for transactional.id.expiration.ms (a tombstone in the log). */
  async removeExpiredTransactionalIds(): Promise<number> {
    const now = this.now();
    const expiration = this.deps.config.transactionalIdExpirationMs;
    let n = 0;
    for (const m of [...this.txns.values()]) {
      const idle =
        m.state === TxnState.Empty || m.state === TxnState.CompleteCommit || m.state === TxnState.CompleteAbort;
      if (!idle || m.pending || now - m.txnLastUpdateTimestamp < expiration) continue;
      try {
        await this.persist(m, null);
      } catch (err) {
        this.log?.warn({ err, transactionalId: m.transactionalId }, 'could not expire a transactional id');
        continue;
      }
      if (this.txns.get(m.transactionalId) === m) this.txns.delete(m.transactionalId);
      if (this.byProducerId.get(m.producerId) === m) this.byProducerId.delete(m.producerId);
      n++;
    }
    return n;
  }

  // ---------------------------------------------------------------- describe / list

  describe(transactionalId: string): DescribedTransaction {
    const base = {
      transactionalId,
      transactionState: '',
      transactionTimeoutMs: 0,
      transactionStartTimeMs: -1,
      producerId: NO_PRODUCER_ID,
      producerEpoch: NO_PRODUCER_EPOCH,
      topics: [],
    };
    if (this.loading) return { ...base, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
    const m = this.txns.get(transactionalId);
    if (m === undefined) return { ...base, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
    return {
      errorCode: ErrorCode.NONE,
      transactionalId,
      transactionState: txnStateName(m.state),
      transactionTimeoutMs: m.txnTimeoutMs,
      transactionStartTimeMs: m.txnStartTimestamp,
      producerId: m.producerId,
      producerEpoch: m.producerEpoch,
      topics: [...m.partitions].map(([topic, ps]) => ({ topic, partitions: [...ps].sort((a, b) => a - b) })),
    };
  }

  /**
   * ListTransactions: every transactional id matching the filters (states by name, producer
   * ids, and v1's minimum running time in ms). Unknown state names come back separately.
   */
  list(
    stateFilters: string[],
    producerIdFilters: number[],
    durationFilterMs: number,
  ): { errorCode: number; unknownStateFilters: string[]; transactions: ListedTransaction[] } {
    if (this.loading)
      return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, unknownStateFilters: [], transactions: [] };
    const states = new Set<TxnState>();
    const unknownStateFilters: string[] = [];
    for (const name of stateFilters) {
      const s = txnStateByName(name);
      if (s === undefined) unknownStateFilters.push(name);
      else states.add(s);
    }
    const pids = new Set(producerIdFilters);
    const now = this.now();
    const transactions: ListedTransaction[] = [];
    for (const m of this.txns.values()) {
      if (m.state === TxnState.Dead) continue;
      if (pids.size > 0 && !pids.has(m.producerId)) continue;
      if (stateFilters.length > 0 && !states.has(m.state)) continue;
      if (durationFilterMs >= 0 && now - m.txnStartTimestamp <= durationFilterMs) continue;
      transactions.push({
        transactionalId: m.transactionalId,
        producerId: m.producerId,
        transactionState: txnStateName(m.state),
      });
    }
    return { errorCode: ErrorCode.NONE, unknownStateFilters, transactions };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
