import type { Logger } from 'pino';
import type { AppendResult, LogConfig, LogManager, ReadResult, TimestampOffset } from '../../storage/index.js';
import type { AppendOrigin } from '../../txn/producer-state.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { Partition, type LeaderAppendOptions, type PartitionView, type TxnMarker } from './partition.js';

export type { AppendResult, ReadResult, TimestampOffset } from '../../storage/index.js';
export type { PartitionView, TxnMarker } from './partition.js';

/** A consumer's replica id in Fetch (followers send their broker id). */
export const CONSUMER_REPLICA_ID = -1;
const READ_COMMITTED = 1;

/** One partition's share of an appendRecords call. */
export interface AppendEntry {
  partition: PartitionView;
  /** Batches validated by the caller (CRC, framing); offsets are assigned here. */
  records: Buffer;
  /** See LeaderAppendOptions.verifyTransaction. */
  verifyTransaction?: (producerId: number, producerEpoch: number) => number;
}

export interface AppendRecordsParams {
  /** 0, 1 or -1 (all): -1 also waits for the high watermark to pass the append (delayed produce). */
  acks: number;
  /** How long an acks=all append may wait for the in-sync replicas. */
  timeoutMs: number;
  /** 'client' (Produce) or 'coordinator' (the group and transaction coordinators' own records). */
  origin?: AppendOrigin;
  entries: readonly AppendEntry[];
}

/** What a fetch reads, fixed for the whole request (allocated once, not per partition). */
export interface FetchParams {
  /** CONSUMER_REPLICA_ID for consumers; a follower's broker id reads up to the log end offset. */
  replicaId: number;
  /** 0 read_uncommitted (up to the high watermark), 1 read_committed (up to the last stable offset). */
  isolationLevel: number;
  /** Where read buffers come from; the caller releases the returned records to them. */
  buffers?: { acquire(size: number): Buffer; release(buf: Buffer): void };
}

const NO_OPTIONS: LeaderAppendOptions = {};
const COORDINATOR: LeaderAppendOptions = { origin: 'coordinator' };

/**
 * Kafka's ReplicaManager: the partitions this broker hosts and the only way the rest of the broker
 * appends to or reads from their logs. Handlers and coordinators hold PartitionViews and pass them
 * back here; with one broker every partition is a leader here. Replication plugs in at
 * fetchMessages (follower reads), the partitions' follower replicas (high watermark) and the
 * delayed produce of acks=all.
 */
export class ReplicaManager {
  /** Partitions this broker leads, by topic and index (a hole where another broker leads). */
  private readonly partitions = new Map<string, Partition[]>();
  /** Partitions this broker holds but does not lead (followers once replication exists). */
  private readonly following = new Map<string, Partition>();

  constructor(
    private readonly logs: LogManager,
    readonly localBrokerId: number,
  ) {}

  // ================================================================ partitions

  /**
   * The metadata names this broker leader of a partition at `leaderEpoch`: open (or create) its log
   * and lead it. A partition already led at that epoch is left alone.
   */
  becomeLeader(topic: string, topicId: string, index: number, leaderEpoch: number, config: () => LogConfig): void {
    const list = this.partitions.get(topic) ?? [];
    this.partitions.set(topic, list);
    const key = `${topic}-${index}`;
    let p = list[index] ?? this.following.get(key);
    this.following.delete(key);
    if (p === undefined) {
      const log = this.logs.getLog(topic, index) ?? this.logs.createLog(topic, index, config());
      p = new Partition(topic, index, topicId, log);
    } else if (p.leaderEpoch === leaderEpoch && list[index] === p) {
      return;
    }
    list[index] = p;
    p.leaderEpoch = leaderEpoch;
    // Becoming leader records where the leader epoch starts, so OffsetForLeaderEpoch answers
    // (epoch, end) even for an empty partition, as a Kafka leader does.
    p.log.assignEpochStartOffset(p.leaderEpoch, p.log.logEndOffset);
  }

  /**
   * Another broker leads the partition now: stop taking appends here (waiting acks=all produces
   * fail). The log stays open for the follower fetcher that replication adds.
   */
  becomeFollower(topic: string, index: number): void {
    const list = this.partitions.get(topic);
    const p = list?.[index];
    if (p === undefined) return;
    delete list![index];
    p.failDelayedProduces();
    this.following.set(`${topic}-${index}`, p);
  }

  /** Stops serving a partition; `deleted`: its topic (or this replica) is gone, so its log is deleted too. */
  async stopReplica(topic: string, index: number, deleted: boolean): Promise<void> {
    const list = this.partitions.get(topic);
    const p = list?.[index] ?? this.following.get(`${topic}-${index}`);
    if (list?.[index] !== undefined) delete list[index];
    this.following.delete(`${topic}-${index}`);
    if (list !== undefined && list.every((x) => x === undefined)) this.partitions.delete(topic);
    p?.failDelayedProduces();
    if (deleted) await this.logs.deleteLog(topic, index);
  }

  /** Deletes the logs on disk that no topic owns (a crash between metadata and log changes). */
  async removeStrayLogs(owned: (topic: string, partition: number) => boolean, logger: Logger): Promise<void> {
    for (const l of this.logs.logs()) {
      if (owned(l.topic, l.partition)) continue;
      logger.warn({ topic: l.topic, partition: l.partition }, 'removing a partition log that no topic owns');
      await this.logs.deleteLog(l.topic, l.partition);
    }
  }

  /** Applies a topic's effective log config to its partitions' logs. */
  updateLogConfig(topic: string, config: LogConfig): void {
    for (const p of this.partitions.get(topic) ?? []) p?.log.updateConfig(config);
    for (const p of this.following.values()) if (p.topic === topic) p.log.updateConfig(config);
  }

  getPartition(topic: string, index: number): PartitionView | undefined {
    return this.partitions.get(topic)?.[index];
  }

  partitionsOf(topic: string): readonly PartitionView[] | undefined {
    return this.partitions.get(topic);
  }

  /** Every partition this broker leads (holes, led elsewhere, skipped). */
  allPartitions(): PartitionView[] {
    return [...this.partitions.values()].flat();
  }

  /** Every partition with a log here, led or followed (the leader lists have holes: skip them). */
  private *hosted(): IterableIterator<Partition> {
    for (const list of this.partitions.values()) for (const p of list) if (p !== undefined) yield p;
    yield* this.following.values();
  }

  /** Only this layer creates partitions, so a view handed back here is always one of them. */
  private own(p: PartitionView): Partition {
    return p as Partition;
  }

  // ================================================================ appends

  /**
   * Appends each entry as the leader, in order, and returns one promise per entry. Each settles
   * when its log acknowledges the append per the flush policy (every acks value, as before), and
   * for acks=all once the high watermark has passed it too (REQUEST_TIMED_OUT after timeoutMs).
   */
  appendRecords(params: AppendRecordsParams): Promise<AppendResult>[] {
    const entries = params.entries;
    const out: Promise<AppendResult>[] = new Array<Promise<AppendResult>>(entries.length);
    const base = params.origin === 'coordinator' ? COORDINATOR : NO_OPTIONS;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const p = this.own(e.partition);
      const opts = e.verifyTransaction ? { origin: base.origin, verifyTransaction: e.verifyTransaction } : base;
      const appended = p.appendRecordsAsLeader(e.records, opts);
      // The common case (one replica, acks written or synced already) adds no promise.
      out[i] =
        params.acks === -1 && p.highWatermark < p.logEndOffset ? this.delayedProduce(p, appended, params) : appended;
    }
    return out;
  }

  /** Kafka's DelayedProduce for one partition: the append, then the high watermark past it. */
  private async delayedProduce(
    p: Partition,
    appended: Promise<AppendResult>,
    params: AppendRecordsParams,
  ): Promise<AppendResult> {
    const r = await appended;
    if (!(await p.waitForHighWatermark(r.lastOffset + 1, params.timeoutMs))) {
      throw new KafkaError(
        ErrorCode.REQUEST_TIMED_OUT,
        `the in-sync replicas of ${p.topic}-${p.index} did not reach offset ${r.lastOffset} in time`,
      );
    }
    return r;
  }

  /** A transaction marker from the transaction coordinator (see Partition.appendTxnMarker). */
  appendTxnMarker(partition: PartitionView, marker: TxnMarker): Promise<AppendResult> {
    return this.own(partition).appendTxnMarker(marker);
  }

  // ================================================================ reads

  /**
   * Reads whole batches from `fetchOffset`: a consumer up to the high watermark (read_committed:
   * the last stable offset), a follower up to the log end offset. Errors are the log's
   * (OffsetOutOfRange, storage errors).
   */
  fetchMessages(
    partition: PartitionView,
    params: FetchParams,
    fetchOffset: number,
    maxBytes: number,
    minOneMessage: boolean,
  ): Promise<ReadResult> {
    const p = this.own(partition);
    const maxOffset =
      params.replicaId >= 0
        ? p.logEndOffset
        : params.isolationLevel === READ_COMMITTED
          ? p.lastStableOffset
          : p.highWatermark;
    // The log's promise as is: no wrapper promise per partition read on the fetch path.
    return p.log.read(fetchOffset, maxBytes, { maxOffset, minOneMessage, buffers: params.buffers });
  }

  /** Aborted transactions overlapping [from, upTo) for a read_committed fetch. */
  abortedTransactions(
    partition: PartitionView,
    from: number,
    upTo: number,
  ): { producerId: number; firstOffset: number }[] {
    return this.own(partition)
      .log.collectAbortedTxns(from, upTo)
      .map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
  }

  /** ListOffsets by timestamp: the first record at or after `timestamp`. */
  offsetForTimestamp(partition: PartitionView, timestamp: number): Promise<TimestampOffset | null> {
    return this.own(partition).log.offsetForTimestamp(timestamp);
  }

  /** ListOffsets MAX_TIMESTAMP. */
  maxTimestampOffset(partition: PartitionView): Promise<TimestampOffset | null> {
    return this.own(partition).log.maxTimestampOffset();
  }

  /** OffsetForLeaderEpoch: the largest epoch <= `epoch` and where it ends. */
  endOffsetForEpoch(partition: PartitionView, epoch: number): { epoch: number; endOffset: number } {
    return this.own(partition).log.endOffsetForEpoch(epoch);
  }

  /** Bytes of the partition's log (DescribeLogDirs, fetch min-bytes estimates). */
  logSize(partition: PartitionView): number {
    return this.own(partition).log.size;
  }

  /** DeleteRecords: returns the new log start offset. */
  deleteRecords(partition: PartitionView, offset: number): Promise<number> {
    return this.own(partition).log.deleteRecordsBefore(offset);
  }

  /** Every batch from `fromOffset` (coordinators loading their state from their topics). */
  scanBatches(
    partition: PartitionView,
    fromOffset: number,
    visitor: (batch: Buffer) => boolean | void | Promise<boolean | void>,
  ): Promise<void> {
    const p = this.own(partition);
    return p.log.scanBatches(Math.max(fromOffset, p.logStartOffset), visitor);
  }

  // ================================================================ producer state

  /** Rebuilds every partition's producer state at start-up, a few partitions at a time. */
  async loadProducerStates(cleanShutdown: boolean, logger: Logger): Promise<void> {
    const pending = [...this.partitions.values()].flat();
    const worker = async () => {
      for (let p = pending.pop(); p; p = pending.pop()) await p.loadProducerState(cleanShutdown, logger);
    };
    // Each replay reads its log tail in 1 MiB chunks.
    await Promise.all(Array.from({ length: 8 }, worker));
  }

  /** Producer snapshots at each log end offset, and waiting produces answered (before the logs close). */
  shutdown(logger: Logger): void {
    for (const p of this.hosted()) {
      p.failDelayedProduces();
      p.snapshotForShutdown(logger);
    }
  }
}
