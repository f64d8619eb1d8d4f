import { ErrorCode } from '../protocol/errors.js';
import type { Cluster } from './cluster.js';
import { KafkaError, kafkaError } from './errors.js';

/** An offset to commit: the next offset the group should read (last processed + 1). */
export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  /** Free text stored with the offset (OffsetCommit's committed metadata). */
  metadata?: string | null;
  leaderEpoch?: number;
}

/** Identifies a group member so the coordinator can fence zombie transactional commits (KIP-447). */
export interface ConsumerGroupMetadata {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

type State = 'ready' | 'in_transaction' | 'ending';

interface Deferred {
  topic: string;
  partition: number;
  resolve: () => void;
  reject: (e: Error) => void;
  promise: Promise<void>;
}

/** Groups offsets by topic in request shape. */
export function offsetsByTopic<T>(
  offsets: OffsetToCommit[],
  map: (o: OffsetToCommit) => T,
): { name: string; partitions: T[] }[] {
  const byTopic = new Map<string, T[]>();
  for (const o of offsets) {
    let list = byTopic.get(o.topic);
    if (list === undefined) byTopic.set(o.topic, (list = []));
    list.push(map(o));
  }
  return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
}

const COORDINATOR_MOVED = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]);

/**
 * The client side of Kafka transactions: partitions join the transaction (AddPartitionsToTxn)
 * before their first batch is sent, consumer offsets join it (AddOffsetsToTxn + TxnOffsetCommit),
 * and EndTxn commits or aborts. The coordinator is found with FindCoordinator key type 1.
 */
export class TransactionManager {
  private state: State = 'ready';
  private readonly added = new Set<string>();
  private pending = new Map<string, Deferred>();
  private adding = false;
  private started = false;
  private failure: Error | undefined;

  constructor(
    private readonly cluster: Cluster,
    readonly transactionalId: string,
    private readonly producer: () => { producerId: number; producerEpoch: number },
  ) {}

  get inTransaction(): boolean {
    return this.state === 'in_transaction';
  }

  begin(): void {
    if (this.state !== 'ready')
      throw new KafkaError(
        ErrorCode.INVALID_TXN_STATE,
        `cannot begin a transaction: one is already ${this.state === 'ending' ? 'ending' : 'open'}`,
      );
    this.state = 'in_transaction';
    this.started = false;
    this.failure = undefined;
    this.added.clear();
  }

  isPartitionAdded(topic: string, partition: number): boolean {
    return this.added.has(`${topic}\u0000${partition}`);
  }

  /** Adds a partition to the open transaction; concurrent adds travel in one request. */
  addPartition(topic: string, partition: number): Promise<void> {
    const key = `${topic}\u0000${partition}`;
    if (this.added.has(key)) return Promise.resolve();
    let d = this.pending.get(key);
    if (d === undefined) {
      let resolve!: () => void, reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      d = { topic, partition, resolve, reject, promise };
      this.pending.set(key, d);
      setImmediate(() => void this.flushAdds());
    }
    return d.promise;
  }

  private async flushAdds(): Promise<void> {
    if (this.adding || this.pending.size === 0) return;
    this.adding = true;
    const batch = this.pending;
    this.pending = new Map();
    try {
      const topics = new Map<string, number[]>();
      for (const d of batch.values()) {
        let list = topics.get(d.topic);
        if (list === undefined) topics.set(d.topic, (list = []));
        list.push(d.partition);
      }
      await this.coordinatorCall('AddPartitionsToTxn', async (conn) => {
        const { producerId, producerEpoch } = this.producer();
        const res = await conn.request('AddPartitionsToTxn', () => ({
          transactions: [],
          v3AndBelowTransactionalId: this.transactionalId,
          v3AndBelowProducerId: producerId,
          v3AndBelowProducerEpoch: producerEpoch,
          v3AndBelowTopics: [...topics].map(([name, partitions]) => ({ name, partitions })),
        }));
        let first: number = ErrorCode.NONE;
        for (const t of res.resultsByTopicV3AndBelow) {
          for (const p of t.resultsByPartition) {
            if (
              p.partitionErrorCode !== ErrorCode.NONE &&
              p.partitionErrorCode !== ErrorCode.OPERATION_NOT_ATTEMPTED &&
              first === ErrorCode.NONE
            )
              first = p.partitionErrorCode;
          }
        }
        return first;
      });
      this.started = true;
      for (const [key, d] of batch) {
        this.added.add(key);
        d.resolve();
      }
    } catch (err) {
      this.failure ??= err as Error;
      for (const d of batch.values()) d.reject(err as Error);
    } finally {
      this.adding = false;
    }
    if (this.pending.size > 0) void this.flushAdds();
  }

  /**
   * Runs a request against the transaction coordinator, retrying while the coordinator moves, loads
   * or is busy finishing the previous transaction (CONCURRENT_TRANSACTIONS).
   */
  private async coordinatorCall(
    what: string,
    call: (conn: Awaited<ReturnType<Cluster['coordinator']>>) => Promise<number>,
  ): Promise<void> {
    await this.cluster.retry(what, async () => {
      const conn = await this.cluster.coordinator('transaction', this.transactionalId);
      const code = await call(conn);
      if (code === ErrorCode.NONE) return;
      if (COORDINATOR_MOVED.has(code)) this.cluster.invalidateCoordinator('transaction', this.transactionalId);
      throw kafkaError(code, `${what} for transactional id "${this.transactionalId}"`);
    });
  }

  /** AddOffsetsToTxn to the transaction coordinator, then TxnOffsetCommit to the group coordinator. */
  async sendOffsets(offsets: OffsetToCommit[], group: ConsumerGroupMetadata): Promise<void> {
    if (this.state !== 'in_transaction')
      throw new KafkaError(ErrorCode.INVALID_TXN_STATE, 'sendOffsetsToTransaction needs an open transaction');
    await this.coordinatorCall('AddOffsetsToTxn', async (conn) => {
      const { producerId, producerEpoch } = this.producer();
      const res = await conn.request('AddOffsetsToTxn', () => ({
        transactionalId: this.transactionalId,
        producerId,
        producerEpoch,
        groupId: group.groupId,
      }));
      return res.errorCode;
    });
    this.started = true;
    await this.cluster.retry('TxnOffsetCommit', async () => {
      const conn = await this.cluster.coordinator('group', group.groupId);
      const { producerId, producerEpoch } = this.producer();
      const res = await conn.request('TxnOffsetCommit', (v) => ({
        transactionalId: this.transactionalId,
        groupId: group.groupId,
        producerId,
        producerEpoch,
        // Member identity travels from v3 on; older versions must leave the defaults.
        generationId: v >= 3 ? group.generationId : -1,
        memberId: v >= 3 ? group.memberId : '',
        groupInstanceId: v >= 3 ? group.groupInstanceId : null,
        topics: offsetsByTopic(offsets, (o) => ({
          partitionIndex: o.partition,
          committedOffset: o.offset,
          committedLeaderEpoch: o.leaderEpoch ?? -1,
          committedMetadata: o.metadata ?? null,
        })),
      }));
      for (const t of res.topics) {
        for (const p of t.partitions) {
          if (p.errorCode === ErrorCode.NONE) continue;
          if (COORDINATOR_MOVED.has(p.errorCode)) this.cluster.invalidateCoordinator('group', group.groupId);
          throw kafkaError(p.errorCode, `TxnOffsetCommit ${t.name}-${p.partitionIndex} for group "${group.groupId}"`);
        }
      }
    });
  }

  recordFailure(err: Error): void {
    this.failure ??= err;
  }

  /** The error that makes the open transaction abortable, if any (cleared). */
  takeFailure(): Error | undefined {
    const f = this.failure;
    this.failure = undefined;
    return f;
  }

  /** EndTxn: commit or abort. A transaction that never touched a partition or group ends locally. */
  async end(commit: boolean): Promise<void> {
    if (this.state !== 'in_transaction')
      throw new KafkaError(ErrorCode.INVALID_TXN_STATE, `no open transaction to ${commit ? 'commit' : 'abort'}`);
    this.state = 'ending';
    try {
      if (this.started) {
        await this.coordinatorCall('EndTxn', async (conn) => {
          const { producerId, producerEpoch } = this.producer();
          const res = await conn.request('EndTxn', () => ({
            transactionalId: this.transactionalId,
            producerId,
            producerEpoch,
            committed: commit,
          }));
          return res.errorCode;
        });
      }
      this.state = 'ready';
      this.added.clear();
    } catch (err) {
      // Still open: the application may retry the commit or abort.
      this.state = 'in_transaction';
      throw err;
    }
  }
}
