import { ErrorCode } from '../protocol/errors.js';
import { ZERO_UUID } from '../protocol/messages/support.js';
import type { FetchResponse } from '../protocol/messages/fetch-response.js';
import { RecordCursor } from '../protocol/records/record-cursor.js';
import { ControlRecordType, parseControlRecordKey } from '../protocol/records/control.js';
import {
  BATCH_LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  baseOffset as batchBaseOffset,
  isControl as batchIsControl,
  isTransactional as batchIsTransactional,
  lastOffsetDelta as batchLastOffsetDelta,
  partitionLeaderEpoch as batchLeaderEpoch,
  producerId as batchProducerId,
} from '../protocol/records/batch-header.js';
import { Cluster, backoff, type ClientOptions, type TopicPartition } from './cluster.js';
import { ClientClosedError, KafkaError, isRetriableError, kafkaError } from './errors.js';
import type { RecordHeader } from './headers.js';
import { ASSIGNORS, type Assignor } from './assignors.js';
import { ClassicMembership, ConsumerProtocolMembership, type GroupMembership, type MembershipHooks } from './group.js';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  REBALANCE_ERRORS,
  commitOffsets,
  fetchCommittedOffsets,
  isolationLevelCode,
  listOffsets,
  type CommittedOffset,
  type IsolationLevel,
} from './offsets.js';
import { bytesDeserializer, type Deserializer } from './serializers.js';
import type { ConsumerGroupMetadata, OffsetToCommit } from './transactions.js';

export type AutoOffsetReset = 'earliest' | 'latest' | 'none';

export interface ConsumerRecord<K = Buffer | null, V = Buffer | null> {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: K;
  value: V;
  headers: RecordHeader[];
  /** Leader epoch of the batch, -1 when unknown. */
  leaderEpoch: number;
}

export interface ConsumerOptions<K = Buffer | null, V = Buffer | null> extends ClientOptions {
  /** Consumer group; needed for subscribe() and for committing offsets. */
  groupId?: string;
  /** Static membership (KIP-345): a restart with the same id keeps the assignment. */
  groupInstanceId?: string;
  /** 'classic' (JoinGroup/SyncGroup, client-side assignors) or 'consumer' (KIP-848). Default 'classic'. */
  groupProtocol?: 'classic' | 'consumer';
  /** Classic protocol assignors in preference order. Default ['range', 'cooperative-sticky'], as Kafka 3.x. */
  assignors?: (Assignor | 'range' | 'roundrobin' | 'cooperative-sticky')[];
  /** KIP-848 server-side assignor name ('uniform', 'range'); the broker's default when unset. */
  groupRemoteAssignor?: string;
  /** Default 45000. */
  sessionTimeoutMs?: number;
  /** Default 3000. */
  heartbeatIntervalMs?: number;
  /** How long the group waits for members to rejoin (max.poll.interval.ms). Default 300000. */
  rebalanceTimeoutMs?: number;
  /** Where to start without a committed offset, or after an out-of-range one. Default 'latest'. */
  autoOffsetReset?: AutoOffsetReset;
  /** Commit consumed offsets periodically and on close/rebalance. Default true with a groupId. */
  enableAutoCommit?: boolean;
  /** Default 5000. */
  autoCommitIntervalMs?: number;
  /** 'read_committed' hides aborted and open transactions. Default 'read_uncommitted', as Kafka. */
  isolationLevel?: IsolationLevel;
  /** Default 1. */
  fetchMinBytes?: number;
  /** Default 52428800. */
  fetchMaxBytes?: number;
  /** Default 500. */
  fetchMaxWaitMs?: number;
  /** Default 1048576. */
  maxPartitionFetchBytes?: number;
  /** Records returned by one poll(). Default 500. */
  maxPollRecords?: number;
  rackId?: string;
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
  onPartitionsAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  onPartitionsRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Partitions taken away without a chance to commit (the member was fenced). */
  onPartitionsLost?: (partitions: TopicPartition[]) => void | Promise<void>;
}

const EMPTY_HEADERS: RecordHeader[] = [];
Object.freeze(EMPTY_HEADERS);

class PartitionState<K, V> {
  /** Next offset to hand to the application; -1 until known. */
  position = -1;
  /** Next offset to fetch (ahead of position while records are buffered). */
  fetchOffset = -1;
  /** Pending reset: where to go when position is unknown (undefined: the committed offset first). */
  reset: 'earliest' | 'latest' | undefined;
  paused = false;
  buffer: ConsumerRecord<K, V>[] = [];
  bufferIndex = 0;
  highWatermark = -1;
  lastStableOffset = -1;
  logStartOffset = -1;
  /** Offset after the last processed record, committed by commit()/auto-commit; -1 when nothing new. */
  committable = -1;
  committableMetadata: string | null = null;
  committableEpoch = -1;
  leaderEpoch = -1;
  /** Bumped by seek and reset so in-flight fetch results for the old position are dropped. */
  epoch = 0;
  retryAt = 0;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get buffered(): number {
    return this.buffer.length - this.bufferIndex;
  }

  clearBuffer(): void {
    this.buffer = [];
    this.bufferIndex = 0;
  }
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A Kafka consumer: subscribe() with a group (classic or KIP-848 protocol) or assign() partitions
 * yourself; poll(), `for await (const record of consumer)` or `consumer.batches()`; commits
 * (automatic or manual, with metadata), seek, pause/resume, and a close() that commits and leaves
 * the group.
 */
export class Consumer<K = Buffer | null, V = Buffer | null> implements AsyncIterable<ConsumerRecord<K, V>> {
  readonly cluster: Cluster;
  private readonly opts: ConsumerOptions<K, V>;
  private readonly groupId: string | undefined;
  private readonly autoOffsetReset: AutoOffsetReset;
  private readonly autoCommit: boolean;
  private readonly autoCommitIntervalMs: number;
  private readonly isolation: IsolationLevel;
  private readonly maxPollRecords: number;
  private readonly keyDeserializer: Deserializer<K>;
  private readonly valueDeserializer: Deserializer<V>;
  private readonly states = new Map<string, PartitionState<K, V>>();
  private subscription: string[] | undefined;
  private membership: GroupMembership | undefined;
  private readonly fetching = new Set<number>();
  private waiter: (() => void) | undefined;
  private nextAutoCommit = 0;
  private closed = false;
  private pendingError: Error | undefined;
  private readonly cursor = new RecordCursor();
  private rotation = 0;
  private pollLock: Promise<void> = Promise.resolve();
  private rebalancing = false;

  constructor(opts: ConsumerOptions<K, V> = {}) {
    this.opts = opts;
    this.cluster = new Cluster(opts);
    this.groupId = opts.groupId;
    this.autoOffsetReset = opts.autoOffsetReset ?? 'latest';
    this.autoCommit = opts.groupId !== undefined && (opts.enableAutoCommit ?? true);
    this.autoCommitIntervalMs = opts.autoCommitIntervalMs ?? 5000;
    this.isolation = opts.isolationLevel ?? 'read_uncommitted';
    this.maxPollRecords = opts.maxPollRecords ?? 500;
    this.keyDeserializer = opts.keyDeserializer ?? (bytesDeserializer as Deserializer<K>);
    this.valueDeserializer = opts.valueDeserializer ?? (bytesDeserializer as Deserializer<V>);
    this.nextAutoCommit = Date.now() + this.autoCommitIntervalMs;
  }

  // ---- subscription and assignment ----

  /** Joins the group and consumes the partitions it assigns from these topics. */
  subscribe(topics: string | string[]): void {
    this.checkOpen();
    if (this.groupId === undefined)
      throw new TypeError('subscribe() needs a groupId; use assign() to read without a group');
    const list = Array.isArray(topics) ? topics : [topics];
    if (list.length === 0) throw new TypeError('subscribe() needs at least one topic');
    this.subscription = [...new Set(list)];
    if (this.membership === undefined) this.membership = this.createMembership();
    else this.membership.requestRejoin();
  }

  private createMembership(): GroupMembership {
    const hooks: MembershipHooks = {
      revoke: (tps, lost) => this.onRevoke(tps, lost),
      assign: (tps) => this.onAssign(tps),
      wake: () => {
        this.wake();
        this.rebalanceInBackground();
      },
    };
    const mopts = {
      groupId: this.groupId!,
      groupInstanceId: this.opts.groupInstanceId ?? null,
      sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 45_000,
      rebalanceTimeoutMs: this.opts.rebalanceTimeoutMs ?? 300_000,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs ?? 3_000,
      rackId: this.opts.rackId ?? null,
    };
    if (this.opts.groupProtocol === 'consumer')
      return new ConsumerProtocolMembership(this.cluster, mopts, this.opts.groupRemoteAssignor ?? null, hooks);
    const assignors = (this.opts.assignors ?? ['range', 'cooperative-sticky']).map((a) => {
      if (typeof a !== 'string') return a;
      const found = ASSIGNORS[a];
      if (found === undefined) throw new TypeError(`unknown assignor "${a}"`);
      return found;
    });
    return new ClassicMembership(this.cluster, mopts, assignors, hooks);
  }

  /** Reads exactly these partitions, without group membership (offsets can still be committed with a groupId). */
  assign(partitions: TopicPartition[]): void {
    this.checkOpen();
    if (this.subscription !== undefined)
      throw new TypeError('this consumer subscribed to topics; it cannot also assign partitions');
    const keep = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
    for (const k of [...this.states.keys()]) if (!keep.has(k)) this.states.delete(k);
    for (const p of partitions)
      if (!this.states.has(tpKey(p.topic, p.partition)))
        this.states.set(tpKey(p.topic, p.partition), new PartitionState(p.topic, p.partition));
  }

  /** The partitions this consumer reads now. */
  assignment(): TopicPartition[] {
    return [...this.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** Group identity for sendOffsetsToTransaction (zombie fencing, KIP-447). */
  groupMetadata(): ConsumerGroupMetadata {
    if (this.groupId === undefined) throw new TypeError('this consumer has no groupId');
    return {
      groupId: this.groupId,
      generationId: this.membership?.generationId ?? -1,
      memberId: this.membership?.memberId ?? '',
      groupInstanceId: this.opts.groupInstanceId ?? null,
    };
  }

  private async onAssign(tps: TopicPartition[]): Promise<void> {
    for (const tp of tps) {
      const k = tpKey(tp.topic, tp.partition);
      if (!this.states.has(k)) this.states.set(k, new PartitionState(tp.topic, tp.partition));
    }
    await this.opts.onPartitionsAssigned?.(tps);
  }

  private async onRevoke(tps: TopicPartition[], lost: boolean): Promise<void> {
    if (!lost && this.autoCommit) {
      try {
        await this.commitStates(
          tps.map((tp) => this.states.get(tpKey(tp.topic, tp.partition))).filter((s) => s !== undefined),
        );
      } catch (err) {
        this.cluster.logger.warn({ err }, 'commit before giving up partitions failed');
      }
    }
    for (const tp of tps) this.states.delete(tpKey(tp.topic, tp.partition));
    if (lost) await this.opts.onPartitionsLost?.(tps);
    else await this.opts.onPartitionsRevoked?.(tps);
  }

  // ---- positions ----

  private state(tp: TopicPartition): PartitionState<K, V> {
    const s = this.states.get(tpKey(tp.topic, tp.partition));
    if (s === undefined)
      throw new KafkaError(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `${tp.topic}-${tp.partition} is not assigned to this consumer`,
      );
    return s;
  }

  /** Continues from `offset` on the next poll. */
  seek(tp: TopicPartition & { offset: number }): void {
    const s = this.state(tp);
    if (!Number.isInteger(tp.offset) || tp.offset < 0)
      throw new RangeError(`seek offset must be a non-negative integer, got ${tp.offset}`);
    s.position = s.fetchOffset = tp.offset;
    s.reset = undefined;
    s.epoch++;
    s.clearBuffer();
    this.wake();
  }

  /** Continues from the first retained record (all assigned partitions when none are given). */
  seekToBeginning(tps?: TopicPartition[]): void {
    this.resetTo(tps, 'earliest');
  }

  /** Continues after the last record (only new records). */
  seekToEnd(tps?: TopicPartition[]): void {
    this.resetTo(tps, 'latest');
  }

  private resetTo(tps: TopicPartition[] | undefined, where: 'earliest' | 'latest'): void {
    const list = tps === undefined ? [...this.states.values()] : tps.map((tp) => this.state(tp));
    for (const s of list) {
      s.position = s.fetchOffset = -1;
      s.reset = where;
      s.epoch++;
      s.clearBuffer();
    }
    this.wake();
  }

  /** The offset of the next record poll() will return for a partition (resolving it if needed). */
  async position(tp: TopicPartition): Promise<number> {
    const s = this.state(tp);
    if (s.position < 0) await this.updatePositions();
    return s.position;
  }

  /** Stops returning records from these partitions until resume(); the group membership stays. */
  pause(tps: TopicPartition[]): void {
    for (const tp of tps) this.state(tp).paused = true;
  }

  resume(tps: TopicPartition[]): void {
    for (const tp of tps) this.state(tp).paused = false;
    this.wake();
  }

  paused(): TopicPartition[] {
    return [...this.states.values()].filter((s) => s.paused).map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** Latest known high watermark minus position; undefined before the first fetch of the partition. */
  lag(tp: TopicPartition): number | undefined {
    const s = this.state(tp);
    if (s.highWatermark < 0 || s.position < 0) return undefined;
    return Math.max(0, (this.isolation === 'read_committed' ? s.lastStableOffset : s.highWatermark) - s.position);
  }

  /** Gives positions to partitions that have none: committed offsets first, then auto.offset.reset. */
  private async updatePositions(): Promise<void> {
    const unknown = [...this.states.values()].filter((s) => s.position < 0);
    if (unknown.length === 0) return;
    const needCommitted = unknown.filter((s) => s.reset === undefined);
    if (needCommitted.length > 0 && this.groupId !== undefined) {
      const committed = await fetchCommittedOffsets(
        this.cluster,
        this.groupId,
        needCommitted.map((s) => ({ topic: s.topic, partition: s.partition })),
        {
          member:
            this.membership === undefined
              ? undefined
              : {
                  generationId: this.membership.generationId,
                  memberId: this.membership.memberId,
                  groupInstanceId: this.membership.groupInstanceId,
                },
        },
      );
      for (const c of committed) {
        const s = this.states.get(tpKey(c.topic, c.partition));
        if (s !== undefined && s.position < 0 && c.offset >= 0) {
          s.position = s.fetchOffset = c.offset;
          s.epoch++;
        }
      }
    }
    const toReset = unknown.filter((s) => s.position < 0);
    if (toReset.length === 0) return;
    const lookups = [];
    for (const s of toReset) {
      const where = s.reset ?? this.autoOffsetReset;
      if (where === 'none') {
        throw new KafkaError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `${s.topic}-${s.partition} has no committed offset and autoOffsetReset is 'none'`,
        );
      }
      lookups.push({
        topic: s.topic,
        partition: s.partition,
        timestamp: where === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP,
      });
    }
    const offsets = await listOffsets(this.cluster, lookups, this.isolation);
    for (const o of offsets) {
      const s = this.states.get(tpKey(o.topic, o.partition));
      if (s === undefined || s.position >= 0) continue;
      s.position = s.fetchOffset = o.offset;
      s.reset = undefined;
      s.epoch++;
    }
  }

  /** The group's committed offsets for these partitions (default: the current assignment). */
  async committed(tps?: TopicPartition[]): Promise<CommittedOffset[]> {
    if (this.groupId === undefined) throw new TypeError('committed() needs a groupId');
    return fetchCommittedOffsets(this.cluster, this.groupId, tps ?? this.assignment());
  }

  // ---- fetching ----

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private waitForData(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const prev = this.waiter;
      this.waiter = prev === undefined ? done : () => (prev(), done());
    });
  }

  /** Sends a Fetch to every leader that has partitions ready to fetch and no fetch in flight. */
  private sendFetches(): void {
    const now = Date.now();
    const byLeader = new Map<number, PartitionState<K, V>[]>();
    for (const s of this.states.values()) {
      if (s.position < 0 || s.paused || s.buffered > 0 || s.retryAt > now) continue;
      const info = this.cluster.cachedTopic(s.topic);
      const leader = info?.partitions[s.partition]?.leader ?? -1;
      if (leader < 0) {
        void this.cluster.refreshMetadata([s.topic]).then(
          () => this.wake(),
          () => undefined,
        );
        s.retryAt = now + this.cluster.opts.retryBackoffMs;
        continue;
      }
      if (this.fetching.has(leader)) continue;
      let list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, (list = []));
      list.push(s);
    }
    for (const [leader, list] of byLeader) void this.fetchFrom(leader, list);
  }

  private async fetchFrom(leader: number, list: PartitionState<K, V>[]): Promise<void> {
    this.fetching.add(leader);
    const epochs = list.map((s) => s.epoch);
    const offsets = list.map((s) => s.fetchOffset);
    const maxWaitMs = this.opts.fetchMaxWaitMs ?? 500;
    try {
      const conn = await this.cluster.broker(leader, 'fetch');
      const byTopic = new Map<
        string,
        {
          partition: number;
          currentLeaderEpoch: number;
          fetchOffset: number;
          lastFetchedEpoch: number;
          logStartOffset: number;
          partitionMaxBytes: number;
          replicaDirectoryId: string;
        }[]
      >();
      list.forEach((s, i) => {
        let l = byTopic.get(s.topic);
        if (l === undefined) byTopic.set(s.topic, (l = []));
        l.push({
          partition: s.partition,
          currentLeaderEpoch: -1,
          fetchOffset: offsets[i]!,
          lastFetchedEpoch: -1,
          logStartOffset: -1,
          partitionMaxBytes: this.opts.maxPartitionFetchBytes ?? 1_048_576,
          replicaDirectoryId: ZERO_UUID,
        });
      });
      const res = await conn.request(
        'Fetch',
        () => ({
          clusterId: null,
          replicaId: -1,
          replicaState: { replicaId: -1, replicaEpoch: -1 },
          maxWaitMs,
          minBytes: this.opts.fetchMinBytes ?? 1,
          maxBytes: this.opts.fetchMaxBytes ?? 52_428_800,
          isolationLevel: isolationLevelCode(this.isolation),
          sessionId: 0,
          sessionEpoch: -1,
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, topicId: ZERO_UUID, partitions })),
          forgottenTopicsData: [],
          rackId: this.opts.rackId ?? '',
        }),
        { timeoutMs: this.cluster.opts.requestTimeoutMs + maxWaitMs },
      );
      this.onFetchResponse(res, list, epochs, offsets);
    } catch (err) {
      if (!this.closed) {
        this.cluster.logger.debug({ err, leader }, 'fetch failed');
        const retryAt = Date.now() + backoff(0, this.cluster.opts.retryBackoffMs, this.cluster.opts.retryBackoffMaxMs);
        for (const s of list) {
          s.retryAt = retryAt;
          this.cluster.invalidateTopic(s.topic);
        }
        if (!isRetriableError(err)) this.pendingError ??= err as Error;
      }
    } finally {
      this.fetching.delete(leader);
      this.wake();
    }
  }

  private onFetchResponse(res: FetchResponse, list: PartitionState<K, V>[], epochs: number[], offsets: number[]): void {
    if (res.errorCode !== ErrorCode.NONE) {
      this.pendingError ??= kafkaError(res.errorCode, 'Fetch');
      return;
    }
    const index = new Map<string, number>();
    list.forEach((s, i) => index.set(tpKey(s.topic, s.partition), i));
    for (const t of res.responses) {
      for (const p of t.partitions) {
        const i = index.get(tpKey(t.topic, p.partitionIndex));
        if (i === undefined) continue;
        const s = list[i]!;
        // A seek, reset or revocation while the fetch was out makes its data stale.
        if (s.epoch !== epochs[i] || this.states.get(tpKey(s.topic, s.partition)) !== s) continue;
        this.onPartitionData(s, p, offsets[i]!);
      }
    }
  }

  private onPartitionData(
    s: PartitionState<K, V>,
    p: FetchResponse['responses'][number]['partitions'][number],
    fetchOffset: number,
  ): void {
    switch (p.errorCode) {
      case ErrorCode.NONE:
        break;
      case ErrorCode.OFFSET_OUT_OF_RANGE:
        if (this.autoOffsetReset === 'none') {
          this.pendingError ??= kafkaError(p.errorCode, `${s.topic}-${s.partition} offset ${fetchOffset}`);
        } else {
          this.cluster.logger.info(
            { topic: s.topic, partition: s.partition, offset: fetchOffset },
            `offset out of range; resetting to ${this.autoOffsetReset}`,
          );
          s.position = s.fetchOffset = -1;
          s.reset = this.autoOffsetReset;
          s.epoch++;
        }
        return;
      case ErrorCode.NOT_LEADER_OR_FOLLOWER:
      case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      case ErrorCode.LEADER_NOT_AVAILABLE:
      case ErrorCode.FENCED_LEADER_EPOCH:
      case ErrorCode.UNKNOWN_LEADER_EPOCH:
      case ErrorCode.KAFKA_STORAGE_ERROR:
      case ErrorCode.OFFSET_NOT_AVAILABLE:
        this.cluster.invalidateTopic(s.topic);
        s.retryAt = Date.now() + this.cluster.opts.retryBackoffMs;
        return;
      default:
        if (isRetriableError(kafkaError(p.errorCode))) {
          s.retryAt = Date.now() + this.cluster.opts.retryBackoffMs;
          return;
        }
        this.pendingError ??= kafkaError(p.errorCode, `fetch ${s.topic}-${s.partition}`);
        return;
    }
    s.highWatermark = p.highWatermark;
    s.lastStableOffset = p.lastStableOffset;
    s.logStartOffset = p.logStartOffset;
    if (p.records !== null && p.records.length > 0) this.decode(s, p.records, fetchOffset, p.abortedTransactions);
  }

  /**
   * Turns fetched batches into records, skipping what is below the fetch offset, control batches
   * and (read_committed) batches of aborted transactions: the aborted list says from which offset a
   * producer's data is aborted, until that producer's ABORT marker.
   */
  private decode(
    s: PartitionState<K, V>,
    buf: Buffer,
    fetchOffset: number,
    aborted: { producerId: number; firstOffset: number }[] | null,
  ): void {
    const readCommitted = this.isolation === 'read_committed';
    const abortedList =
      readCommitted && aborted !== null && aborted.length > 0
        ? [...aborted].sort((a, b) => a.firstOffset - b.firstOffset)
        : undefined;
    let abortedIndex = 0;
    const abortedProducers = new Set<number>();
    const cursor = this.cursor;
    const out = s.buffer;
    let next = fetchOffset;
    let pos = 0;
    while (pos + LOG_OVERHEAD <= buf.length) {
      const size = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
      if (pos + size > buf.length) break; // partial trailing batch, cut by the size limit
      if (buf.readInt8(pos + MAGIC_OFFSET) !== 2) {
        this.pendingError ??= new KafkaError(
          ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
          `${s.topic}-${s.partition}: message format v${buf.readInt8(pos + MAGIC_OFFSET)} at offset ${batchBaseOffset(buf, pos)} is not supported by this client`,
        );
        break;
      }
      const base = batchBaseOffset(buf, pos);
      const last = base + batchLastOffsetDelta(buf, pos);
      if (last < fetchOffset) {
        pos += size;
        continue;
      }
      if (abortedList !== undefined) {
        while (abortedIndex < abortedList.length && abortedList[abortedIndex]!.firstOffset <= last)
          abortedProducers.add(abortedList[abortedIndex++]!.producerId);
      }
      const control = batchIsControl(buf, pos);
      const pid = batchProducerId(buf, pos);
      if (control) {
        if (abortedProducers.has(pid)) {
          cursor.reset(buf, pos);
          if (cursor.next() && parseControlRecordKey(cursor.key()).type === ControlRecordType.ABORT)
            abortedProducers.delete(pid);
        }
      } else if (!(readCommitted && batchIsTransactional(buf, pos) && abortedProducers.has(pid))) {
        const epoch = batchLeaderEpoch(buf, pos);
        cursor.reset(buf, pos);
        while (cursor.next()) {
          const offset = cursor.offset;
          if (offset < fetchOffset) continue;
          const key = cursor.key();
          const value = cursor.value();
          out.push({
            topic: s.topic,
            partition: s.partition,
            offset,
            timestamp: cursor.timestamp,
            key: this.keyDeserializer(key, s.topic),
            value: this.valueDeserializer(value, s.topic),
            headers: cursor.headerCount === 0 ? EMPTY_HEADERS : cursor.headers(),
            leaderEpoch: epoch,
          });
        }
        s.leaderEpoch = epoch;
      }
      next = last + 1;
      pos += size;
    }
    if (next > s.fetchOffset) s.fetchOffset = next;
  }

  // ---- polling ----

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('consumer');
  }

  /**
   * Waits up to `timeoutMs` for records and returns them (at most maxPollRecords). Records returned
   * count as consumed: commit() and auto-commit (which runs inside poll) commit past them.
   */
  async poll(timeoutMs = 1000, opts: { maxRecords?: number } = {}): Promise<ConsumerRecord<K, V>[]> {
    this.checkOpen();
    return this.pollInternal(
      timeoutMs,
      Math.max(1, Math.min(opts.maxRecords ?? this.maxPollRecords, this.maxPollRecords)),
      true,
    );
  }

  private async pollInternal(timeoutMs: number, max: number, markConsumed: boolean): Promise<ConsumerRecord<K, V>[]> {
    return this.exclusive(() => this.pollOnce(timeoutMs, max, markConsumed));
  }

  /** One poll or rebalance at a time: an iterator, a direct poll() and a background rejoin must not interleave. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.pollLock;
    let release!: () => void;
    this.pollLock = new Promise((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Rejoins as soon as the group asks, even when the application is not polling right now (it may
   * be polling another consumer, or processing): the rest of the group waits for every member to
   * rejoin. A poll in progress is woken and runs the rebalance itself.
   */
  private rebalanceInBackground(): void {
    if (this.rebalancing || this.closed || this.membership === undefined || this.subscription === undefined) return;
    this.rebalancing = true;
    setImmediate(() => {
      void this.exclusive(async () => {
        if (!this.closed && this.membership!.needsRebalance) await this.membership!.ensureActive(this.subscription!);
      })
        .catch((err: Error) => {
          this.pendingError ??= err;
        })
        .finally(() => {
          this.rebalancing = false;
        });
    });
  }

  private async pollOnce(timeoutMs: number, max: number, markConsumed: boolean): Promise<ConsumerRecord<K, V>[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) return [];
      if (this.membership !== undefined && this.subscription !== undefined)
        await this.membership.ensureActive(this.subscription);
      await this.maybeAutoCommit();
      await this.updatePositions();
      if (this.pendingError !== undefined) {
        const err = this.pendingError;
        this.pendingError = undefined;
        throw err;
      }
      const records = this.collect(max, markConsumed);
      this.sendFetches();
      if (records.length > 0) return records;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      let wait = left;
      if (this.autoCommit) wait = Math.min(wait, Math.max(1, this.nextAutoCommit - Date.now()));
      await this.waitForData(wait);
    }
  }

  /** Takes buffered records, rotating the starting partition so none starves. */
  private collect(max: number, markConsumed: boolean): ConsumerRecord<K, V>[] {
    const out: ConsumerRecord<K, V>[] = [];
    const states = [...this.states.values()];
    const n = states.length;
    if (n === 0) return out;
    const start = this.rotation++ % n;
    for (let i = 0; i < n && out.length < max; i++) {
      const s = states[(start + i) % n]!;
      if (s.paused || s.buffered === 0) continue;
      while (s.bufferIndex < s.buffer.length && out.length < max) {
        const r = s.buffer[s.bufferIndex++]!;
        out.push(r);
        s.position = r.offset + 1;
        if (markConsumed) this.markConsumed(s, r);
      }
      if (s.bufferIndex >= s.buffer.length) {
        s.clearBuffer();
        if (s.fetchOffset > s.position) s.position = s.fetchOffset;
      }
    }
    return out;
  }

  private markConsumed(s: PartitionState<K, V>, r: ConsumerRecord<K, V>): void {
    s.committable = r.offset + 1;
    s.committableEpoch = r.leaderEpoch;
    s.committableMetadata = null;
  }

  /** Marks a record as processed: commit() and auto-commit will commit past it. */
  markProcessed(
    record: Pick<ConsumerRecord<unknown, unknown>, 'topic' | 'partition' | 'offset' | 'leaderEpoch'>,
  ): void {
    const s = this.states.get(tpKey(record.topic, record.partition));
    if (s === undefined) return;
    if (record.offset + 1 > s.committable) {
      s.committable = record.offset + 1;
      s.committableEpoch = record.leaderEpoch;
      s.committableMetadata = null;
    }
  }

  private async maybeAutoCommit(): Promise<void> {
    if (!this.autoCommit || Date.now() < this.nextAutoCommit) return;
    this.nextAutoCommit = Date.now() + this.autoCommitIntervalMs;
    try {
      await this.commitStates([...this.states.values()]);
    } catch (err) {
      this.cluster.logger.warn({ err }, 'auto-commit failed');
    }
  }

  // ---- commits ----

  /**
   * Commits offsets. Without arguments: for each partition, the offset after the last record
   * processed (returned by poll(), or reached by the iterator). With a list: exactly those offsets,
   * with optional metadata text.
   */
  async commit(offsets?: OffsetToCommit[]): Promise<void> {
    this.checkOpen();
    if (this.groupId === undefined) throw new TypeError('commit() needs a groupId');
    if (offsets === undefined) return this.commitStates([...this.states.values()]);
    await this.commitList(offsets);
  }

  private async commitStates(states: PartitionState<K, V>[]): Promise<void> {
    const list: OffsetToCommit[] = [];
    const committedStates: [PartitionState<K, V>, number][] = [];
    for (const s of states) {
      if (s.committable < 0) continue;
      list.push({
        topic: s.topic,
        partition: s.partition,
        offset: s.committable,
        metadata: s.committableMetadata,
        leaderEpoch: s.committableEpoch,
      });
      committedStates.push([s, s.committable]);
    }
    if (list.length === 0) return;
    await this.commitList(list);
    for (const [s, off] of committedStates) if (s.committable === off) s.committable = -1;
  }

  private async commitList(list: OffsetToCommit[]): Promise<void> {
    const m = this.membership;
    try {
      await commitOffsets(
        this.cluster,
        this.groupId!,
        list,
        m === undefined
          ? undefined
          : { generationId: m.generationId, memberId: m.memberId, groupInstanceId: m.groupInstanceId },
      );
    } catch (err) {
      if (err instanceof KafkaError && REBALANCE_ERRORS.has(err.code)) m?.requestRejoin();
      throw err;
    }
  }

  // ---- iteration ----

  /**
   * `for await (const record of consumer)`: records one at a time, following new records until the
   * consumer is closed. A record counts as processed once the loop body finishes (or breaks).
   */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord<K, V>> {
    let batch: ConsumerRecord<K, V>[] = [];
    let epochs = new Map<string, number>();
    let i = 0;
    let last: ConsumerRecord<K, V> | undefined;
    // Records taken from a partition before a seek (or a revocation) are stale: skip them.
    const current = (r: ConsumerRecord<K, V>) =>
      this.states.get(tpKey(r.topic, r.partition))?.epoch === epochs.get(tpKey(r.topic, r.partition));
    return {
      next: async () => {
        if (last !== undefined) this.markProcessed(last);
        last = undefined;
        for (;;) {
          while (i < batch.length && !current(batch[i]!)) i++;
          if (i < batch.length) break;
          if (this.closed) return { done: true, value: undefined };
          batch = await this.pollInternal(1000, this.maxPollRecords, false);
          epochs = new Map([...this.states].map(([k, s]) => [k, s.epoch]));
          i = 0;
        }
        last = batch[i++]!;
        return { done: false, value: last };
      },
      return: async () => {
        if (last !== undefined) this.markProcessed(last);
        last = undefined;
        // Unread records of the batch go back so the next poll returns them.
        this.unread(batch.slice(i).filter(current));
        batch = [];
        i = 0;
        return { done: true, value: undefined };
      },
    };
  }

  /** Batches as poll() returns them; a batch counts as processed when the next one is asked for. */
  batches(opts: { maxRecords?: number; timeoutMs?: number } = {}): AsyncIterable<ConsumerRecord<K, V>[]> {
    const max = opts.maxRecords ?? this.maxPollRecords;
    const timeoutMs = opts.timeoutMs ?? 1000;
    return {
      [Symbol.asyncIterator]: () => {
        let last: ConsumerRecord<K, V>[] = [];
        const done = () => {
          for (const r of last) this.markProcessed(r);
          last = [];
        };
        return {
          next: async () => {
            done();
            for (;;) {
              if (this.closed) return { done: true, value: undefined };
              const b = await this.pollInternal(timeoutMs, max, false);
              if (b.length > 0) {
                last = b;
                return { done: false, value: b };
              }
            }
          },
          return: async () => {
            done();
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  /** Puts records handed out but not consumed back in front of their partitions' buffers. */
  private unread(records: ConsumerRecord<K, V>[]): void {
    const byState = new Map<PartitionState<K, V>, ConsumerRecord<K, V>[]>();
    for (const r of records) {
      const s = this.states.get(tpKey(r.topic, r.partition));
      if (s === undefined) continue;
      let l = byState.get(s);
      if (l === undefined) byState.set(s, (l = []));
      l.push(r);
    }
    for (const [s, l] of byState) {
      s.buffer = [...l, ...s.buffer.slice(s.bufferIndex)];
      s.bufferIndex = 0;
      s.position = l[0]!.offset;
    }
  }

  // ---- close ----

  /** Commits (with auto-commit on), leaves the group and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    try {
      if (this.autoCommit && this.groupId !== undefined) {
        try {
          await this.commitStates([...this.states.values()]);
        } catch (err) {
          this.cluster.logger.warn({ err }, 'final commit failed');
        }
      }
      if (this.membership !== undefined) {
        this.membership.stop();
        await this.membership.leave('the consumer is closing');
      }
    } finally {
      this.cluster.close();
    }
  }
}
