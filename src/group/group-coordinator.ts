import { ErrorCode } from '../protocol/errors.js';
import { Reader } from '../protocol/reader.js';
import { readConsumerProtocolAssignment } from '../protocol/messages/consumer-protocol-assignment.js';
import { ControlRecordType, parseControlRecordKey } from '../protocol/records/control.js';
import { decodeRecordBatch } from '../protocol/records/record-batch.js';
import { ClassicGroup, type JoinGroupResult, type SyncGroupResult } from './classic-group.js';
import {
  ClassicGroupProtocol,
  type HeartbeatParams,
  type JoinGroupParams,
  type LeaveGroupResult,
  type LeavingMember,
  type SyncGroupParams,
} from './classic-protocol.js';
import {
  ConsumerGroupProtocol,
  type ConsumerGroupHeartbeatParams,
  type ConsumerGroupHeartbeatResult,
  type DescribedConsumerGroup,
  type StagedConsumerGroup,
} from './consumer-protocol.js';
import type { CommittedOffset } from './offset-store.js';
import {
  decodeConsumerGroupMemberValue,
  decodeCurrentAssignmentValue,
  decodeEpochValue,
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeOffsetsKey,
  decodeTargetAssignmentValue,
  encodeGroupMetadataKey,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  type GroupMetadataValue,
} from './offsets-records.js';
import { appendErrorCode, GroupRuntime, type Group, type OffsetsRecord } from './runtime.js';
import type { ScheduledTask } from './scheduler.js';
import type { ClientInfo, CoordinatorNode, GroupCoordinatorDeps } from './types.js';

export type {
  JoinGroupParams,
  SyncGroupParams,
  HeartbeatParams,
  LeavingMember,
  LeaveGroupResult,
} from './classic-protocol.js';
export type { JoinGroupResult, SyncGroupResult } from './classic-group.js';
export type {
  ConsumerGroupHeartbeatParams,
  ConsumerGroupHeartbeatResult,
  DescribedConsumerGroup,
} from './consumer-protocol.js';

export interface OffsetCommitPartitionParams {
  partitionIndex: number;
  committedOffset: number;
  /** -1 when absent (before OffsetCommit v6). */
  committedLeaderEpoch: number;
  /** OffsetCommit v1 only; -1 means "now". */
  commitTimestamp: number;
  committedMetadata: string | null;
}

export interface OffsetCommitParams {
  groupId: string;
  /** -1 for a commit from outside group management (admin, simple consumer). */
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4: -1 for the broker's retention. */
  retentionTimeMs: number;
  topics: Array<{ name: string; partitions: OffsetCommitPartitionParams[] }>;
}

export interface TxnOffsetCommitParams {
  transactionalId: string;
  groupId: string;
  producerId: number;
  producerEpoch: number;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: Array<{
    name: string;
    partitions: Array<{
      partitionIndex: number;
      committedOffset: number;
      committedLeaderEpoch: number;
      committedMetadata: string | null;
    }>;
  }>;
}

export interface OffsetCommitTopicResult {
  name: string;
  partitions: Array<{ partitionIndex: number; errorCode: number }>;
}

export interface OffsetFetchParams {
  groupId: string;
  /** null: every partition the group has an offset for. */
  topics: Array<{ name: string; partitionIndexes: number[] }> | null;
  requireStable: boolean;
  /** OffsetFetch v9+: the KIP-848 member asking (validated against its epoch when memberEpoch >= 0). */
  memberId?: string | null;
  memberEpoch?: number;
}

export interface FetchedPartitionOffset {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchResult {
  errorCode: number;
  topics: Array<{ name: string; partitions: FetchedPartitionOffset[] }>;
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: string;
  groupType: string;
}

export interface DescribedGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  memberMetadata: Buffer;
  memberAssignment: Buffer;
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: DescribedGroupMember[];
}

export interface OffsetDeleteResult {
  errorCode: number;
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** null when the group has no committed offset for an assigned partition. */
  committedOffset: number | null;
  leaderEpoch: number;
  metadata: string;
  /** null when the partition no longer exists. */
  logEndOffset: number | null;
  /** logEndOffset - committedOffset (never negative); null when either is unknown. */
  lag: number | null;
  /** The member the partition is assigned to, when the group reports assignments. */
  owner: { memberId: string; clientId: string; clientHost: string } | null;
}

export interface GroupOffsetsDescription {
  groupId: string;
  groupType: 'classic' | 'consumer';
  state: string;
  protocolType: string;
  partitions: PartitionLag[];
  /** Sum of the known per-partition lags. */
  totalLag: number;
}

const NO_OFFSET: Omit<FetchedPartitionOffset, 'partitionIndex'> = {
  committedOffset: -1,
  committedLeaderEpoch: -1,
  metadata: '',
  errorCode: ErrorCode.NONE,
};

/**
 * The group coordinator of a single-node broker: every group and every committed offset lives
 * here, persisted in __consumer_offsets. Classic groups (JoinGroup/SyncGroup) and KIP-848 consumer
 * groups (ConsumerGroupHeartbeat) share one namespace and one offset store.
 */
export class GroupCoordinator {
  private readonly rt: GroupRuntime;
  readonly classic: ClassicGroupProtocol;
  readonly consumer: ConsumerGroupProtocol;
  private retentionTask: ScheduledTask | null = null;
  private started = false;
  private cleaning = false;

  constructor(private readonly deps: GroupCoordinatorDeps) {
    this.rt = new GroupRuntime(deps);
    this.classic = new ClassicGroupProtocol(this.rt);
    this.consumer = new ConsumerGroupProtocol(this.rt);
  }

  /** True until start-up has read __consumer_offsets. */
  get isLoading(): boolean {
    return this.rt.loading;
  }

  get isActive(): boolean {
    return this.rt.active;
  }

  /** The coordinator of every group and transactional id. */
  node(): CoordinatorNode {
    return this.deps.node();
  }

  /** The __consumer_offsets partition that holds a group (also the one TxnOffsetCommit markers go to). */
  partitionFor(groupId: string): number {
    return this.rt.partitionFor(groupId);
  }

  get config() {
    return this.rt.config;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Creates __consumer_offsets if needed and loads every group and offset from it. */
  async startup(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const rt = this.rt;
    rt.loading = true;
    rt.active = true;
    const t0 = Date.now();
    await rt.offsetsLog.ensureCreated();
    const classic = new Map<string, GroupMetadataValue | null>();
    const consumer = new Map<string, StagedConsumerGroup>();
    let records = 0;
    for (let p = 0; p < rt.partitionCount; p++) records += await this.loadPartition(p, classic, consumer);
    for (const [id, staged] of consumer) {
      if (staged.groupEpoch === null && staged.members.size === 0) continue;
      rt.groups.set(id, this.consumer.load(id, staged));
    }
    for (const [id, v] of classic) {
      if (v === null || rt.groups.has(id)) continue;
      rt.groups.set(id, this.classic.loadGroup(id, v));
    }
    // Groups known only by their committed offsets (simple consumers, admin commits).
    for (const id of rt.offsets.groupIds()) if (!rt.groups.has(id)) rt.groups.set(id, new ClassicGroup(id, rt.now()));
    rt.loading = false;
    rt.log?.info(
      { groups: rt.groups.size, records, ms: Date.now() - t0 },
      'group coordinator loaded __consumer_offsets',
    );
    this.scheduleRetention();
  }

  private async loadPartition(
    partition: number,
    classic: Map<string, GroupMetadataValue | null>,
    consumer: Map<string, StagedConsumerGroup>,
  ): Promise<number> {
    const rt = this.rt;
    let count = 0;
    // Groups with transactional offsets still open in this partition, by producer id.
    const openTxn = new Map<number, Set<string>>();
    const stagedOf = (group: string): StagedConsumerGroup => {
      let s = consumer.get(group);
      if (s === undefined)
        consumer.set(
          group,
          (s = { groupEpoch: null, assignmentEpoch: 0, members: new Map(), current: new Map(), target: new Map() }),
        );
      return s;
    };
    await rt.offsetsLog.read(partition, 0, (buf) => {
      let batch;
      try {
        batch = decodeRecordBatch(buf);
      } catch (err) {
        rt.log?.error({ err, partition }, 'skipping an unreadable batch of __consumer_offsets');
        return;
      }
      if (batch.isControl) {
        if (!batch.isTransactional || batch.records.length === 0) return;
        let type: number;
        try {
          type = parseControlRecordKey(batch.records[0]!.key).type;
        } catch {
          return;
        }
        const groups = openTxn.get(batch.producerId);
        openTxn.delete(batch.producerId);
        if (groups !== undefined)
          rt.offsets.completeTransaction(batch.producerId, type === ControlRecordType.COMMIT, groups);
        return;
      }
      for (const rec of batch.records) {
        if (rec.key === null) continue;
        count++;
        try {
          const key = decodeOffsetsKey(rec.key);
          if (key === null) continue;
          const v = rec.value;
          switch (key.kind) {
            case 'offset':
              if (batch.isTransactional) {
                if (v === null) break;
                let s = openTxn.get(batch.producerId);
                if (s === undefined) openTxn.set(batch.producerId, (s = new Set()));
                s.add(key.group);
                rt.offsets.addPendingTransactionalOffset(
                  key.group,
                  batch.producerId,
                  key.topic,
                  key.partition,
                  decodeOffsetCommitValue(v),
                );
              } else if (v === null) rt.offsets.delete(key.group, key.topic, key.partition);
              else rt.offsets.put(key.group, key.topic, key.partition, decodeOffsetCommitValue(v));
              break;
            case 'group':
              classic.set(key.group, v === null ? null : decodeGroupMetadataValue(v));
              break;
            case 'cgMetadata':
              if (v === null) consumer.delete(key.group);
              else stagedOf(key.group).groupEpoch = decodeEpochValue(v);
              break;
            case 'cgTargetMetadata':
              if (v !== null) stagedOf(key.group).assignmentEpoch = decodeEpochValue(v);
              break;
            case 'cgMember':
              if (v === null) consumer.get(key.group)?.members.delete(key.memberId);
              else stagedOf(key.group).members.set(key.memberId, decodeConsumerGroupMemberValue(v));
              break;
            case 'cgTargetMember':
              if (v === null) consumer.get(key.group)?.target.delete(key.memberId);
              else stagedOf(key.group).target.set(key.memberId, decodeTargetAssignmentValue(v));
              break;
            case 'cgCurrentAssignment':
              if (v === null) consumer.get(key.group)?.current.delete(key.memberId);
              else stagedOf(key.group).current.set(key.memberId, decodeCurrentAssignmentValue(v));
              break;
          }
        } catch (err) {
          rt.log?.error({ err, partition, offset: rec.offset }, 'skipping an unreadable record of __consumer_offsets');
        }
      }
    });
    return count;
  }

  /** Stops every timer and answers waiting JoinGroup/SyncGroup requests with NOT_COORDINATOR. */
  shutdown(): void {
    const rt = this.rt;
    rt.active = false;
    this.retentionTask?.cancel();
    this.retentionTask = null;
    for (const g of rt.groups.values()) {
      if (g.type === 'classic') this.classic.abort(g, ErrorCode.NOT_COORDINATOR);
      else this.consumer.abort(g);
    }
    rt.scheduler.close();
  }

  private scheduleRetention(): void {
    if (!this.rt.active) return;
    this.retentionTask = this.rt.scheduler.after(this.rt.config.offsetsRetentionCheckIntervalMs, () => {
      // Fixed rate: the next run is booked before this one's writes finish; a slow run skips a turn.
      this.scheduleRetention();
      if (this.cleaning) return;
      this.cleaning = true;
      this.cleanupExpiredOffsets()
        .catch((err: unknown) => this.rt.log?.warn({ err }, 'offset expiration failed'))
        .finally(() => {
          this.cleaning = false;
        });
    });
  }

  // ---------------------------------------------------------------- classic protocol

  join(p: JoinGroupParams): Promise<JoinGroupResult> {
    return this.classic.join(p);
  }

  sync(p: SyncGroupParams): Promise<SyncGroupResult> {
    return this.classic.sync(p);
  }

  heartbeat(p: HeartbeatParams): number {
    return this.classic.heartbeat(p);
  }

  leave(groupId: string, members: LeavingMember[]): LeaveGroupResult {
    return this.classic.leave(groupId, members);
  }

  // ---------------------------------------------------------------- KIP-848

  consumerGroupHeartbeat(p: ConsumerGroupHeartbeatParams, client: ClientInfo): Promise<ConsumerGroupHeartbeatResult> {
    return this.consumer.heartbeat(p, client);
  }

  consumerGroupDescribe(groupIds: string[]): DescribedConsumerGroup[] {
    return groupIds.map((id) => this.consumer.describe(id));
  }

  // ---------------------------------------------------------------- offsets

  /** OffsetCommit: validates the committer against the group, writes the offsets, then makes them visible. */
  async commitOffsets(p: OffsetCommitParams): Promise<OffsetCommitTopicResult[]> {
    const rt = this.rt;
    const { results, valid } = this.precheckCommit(p.topics);
    if (valid.length === 0) return results;
    const groupError = this.validateCommit(
      p.groupId,
      p.generationIdOrMemberEpoch,
      p.memberId,
      p.groupInstanceId,
      false,
    );
    if (groupError !== ErrorCode.NONE) {
      for (const v of valid) v.result.errorCode = groupError;
      return results;
    }
    const now = rt.now();
    const expireTimestamp = p.retentionTimeMs >= 0 ? now + p.retentionTimeMs : -1;
    const entries = valid.map((v) => ({
      ...v,
      offset: {
        offset: v.partition.committedOffset,
        leaderEpoch: v.partition.committedLeaderEpoch,
        metadata: v.partition.committedMetadata ?? '',
        commitTimestamp: v.partition.commitTimestamp >= 0 ? v.partition.commitTimestamp : now,
        expireTimestamp,
      } satisfies CommittedOffset,
    }));
    try {
      await rt.write(
        p.groupId,
        entries.map((e) => ({
          key: encodeOffsetCommitKey(p.groupId, e.topic, e.partition.partitionIndex),
          value: encodeOffsetCommitValue(e.offset),
        })),
      );
    } catch (err) {
      const code = appendErrorCode(err);
      for (const e of entries) e.result.errorCode = code;
      return results;
    }
    for (const e of entries) rt.offsets.put(p.groupId, e.topic, e.partition.partitionIndex, e.offset);
    if (!rt.groups.has(p.groupId)) rt.groups.set(p.groupId, new ClassicGroup(p.groupId, now));
    return results;
  }

  /**
   * TxnOffsetCommit: writes the offsets as part of the producer's transaction; they stay pending
   * (invisible to OffsetFetch, UNSTABLE_OFFSET_COMMIT with requireStable) until completeTransaction.
   */
  async commitTransactionalOffsets(p: TxnOffsetCommitParams): Promise<OffsetCommitTopicResult[]> {
    const rt = this.rt;
    const { results, valid } = this.precheckCommit(
      p.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((x) => ({ ...x, commitTimestamp: -1 })) })),
    );
    if (valid.length === 0) return results;
    const groupError = this.validateCommit(p.groupId, p.generationId, p.memberId, p.groupInstanceId, true);
    if (groupError !== ErrorCode.NONE) {
      for (const v of valid) v.result.errorCode = groupError;
      return results;
    }
    const now = rt.now();
    const entries = valid.map((v) => ({
      ...v,
      offset: {
        offset: v.partition.committedOffset,
        leaderEpoch: v.partition.committedLeaderEpoch,
        metadata: v.partition.committedMetadata ?? '',
        commitTimestamp: now,
        expireTimestamp: -1,
      },
    }));
    try {
      await rt.write(
        p.groupId,
        entries.map((e) => ({
          key: encodeOffsetCommitKey(p.groupId, e.topic, e.partition.partitionIndex),
          value: encodeOffsetCommitValue(e.offset),
        })),
        { producerId: p.producerId, producerEpoch: p.producerEpoch },
      );
    } catch (err) {
      const code = appendErrorCode(err);
      for (const e of entries) e.result.errorCode = code;
      return results;
    }
    for (const e of entries)
      rt.offsets.addPendingTransactionalOffset(p.groupId, p.producerId, e.topic, e.partition.partitionIndex, e.offset);
    if (!rt.groups.has(p.groupId)) rt.groups.set(p.groupId, new ClassicGroup(p.groupId, now));
    return results;
  }

  /**
   * Called once the transaction's end marker is durable in __consumer_offsets: committed
   * transactional offsets become the group's offsets, aborted ones are dropped. `offsetsPartitions`
   * limits it to groups on those partitions of __consumer_offsets (default: all).
   */
  completeTransaction(producerId: number, commit: boolean, offsetsPartitions?: readonly number[]): void {
    const rt = this.rt;
    const groups =
      offsetsPartitions === undefined
        ? undefined
        : rt.offsets
            .groupsWithPendingTransaction(producerId)
            .filter((g) => offsetsPartitions.includes(rt.partitionFor(g)));
    rt.offsets.completeTransaction(producerId, commit, groups);
  }

  private precheckCommit(topics: OffsetCommitParams['topics']) {
    const rt = this.rt;
    const results: OffsetCommitTopicResult[] = [];
    const valid: Array<{
      topic: string;
      partition: OffsetCommitPartitionParams;
      result: { partitionIndex: number; errorCode: number };
    }> = [];
    const blanket: number = rt.loading
      ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
      : !rt.active
        ? ErrorCode.COORDINATOR_NOT_AVAILABLE
        : ErrorCode.NONE;
    for (const t of topics) {
      const exists = rt.topics.partitionCount(t.name) !== undefined;
      const out = { name: t.name, partitions: [] as Array<{ partitionIndex: number; errorCode: number }> };
      results.push(out);
      for (const p of t.partitions) {
        let errorCode = blanket;
        if (errorCode === ErrorCode.NONE && !exists) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (
          errorCode === ErrorCode.NONE &&
          p.committedMetadata !== null &&
          Buffer.byteLength(p.committedMetadata) > rt.config.offsetMetadataMaxBytes
        ) {
          errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        }
        const result = { partitionIndex: p.partitionIndex, errorCode };
        out.partitions.push(result);
        if (errorCode === ErrorCode.NONE) valid.push({ topic: t.name, partition: p, result });
      }
    }
    return { results, valid };
  }

  /** Kafka's offset commit validation: who may commit for this group right now. */
  private validateCommit(
    groupId: string,
    generation: number,
    memberId: string,
    instanceId: string | null,
    transactional: boolean,
  ): number {
    const rt = this.rt;
    const group = rt.groups.get(groupId);
    if (group === undefined) {
      if (transactional) return ErrorCode.NONE;
      if (generation >= 0) return ErrorCode.ILLEGAL_GENERATION;
      if (memberId !== '' || instanceId !== null) return ErrorCode.UNKNOWN_MEMBER_ID;
      return ErrorCode.NONE;
    }
    if (group.type === 'consumer') {
      // An admin or a consumer outside group management may commit only for an empty group.
      if (generation < 0 && (transactional || group.members.size === 0)) return ErrorCode.NONE;
      const m = group.members.get(memberId);
      if (m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (generation !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
      return ErrorCode.NONE;
    }
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (generation >= 0 || memberId !== '' || instanceId !== null) {
      const err = this.classic.validateCurrentMember(group, memberId, instanceId);
      if (err !== ErrorCode.NONE) return err;
      if (generation !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!transactional && !group.is('Empty')) {
      // While the group has members, only they may commit.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    if (transactional) return ErrorCode.NONE;
    switch (group.state) {
      case 'CompletingRebalance':
        // The member knows the new generation but has no assignment yet.
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'Stable':
      case 'PreparingRebalance': {
        // A commit counts as a sign of life; the heartbeat response still reports a pending rebalance.
        const m = group.members.get(memberId);
        if (m !== undefined) this.classic.touchHeartbeat(group, m);
        return ErrorCode.NONE;
      }
      default:
        return ErrorCode.NONE;
    }
  }

  /** OffsetFetch for one group. Partitions without a committed offset report -1 and no error. */
  fetchOffsets(p: OffsetFetchParams): OffsetFetchResult {
    const rt = this.rt;
    if (rt.loading) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, topics: [] };
    if (!rt.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] };
    const group = rt.groups.get(p.groupId);
    if (group?.type === 'consumer' && p.memberEpoch !== undefined && p.memberEpoch >= 0) {
      const m = p.memberId ? group.members.get(p.memberId) : undefined;
      if (m === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, topics: [] };
      if (m.memberEpoch !== p.memberEpoch) return { errorCode: ErrorCode.STALE_MEMBER_EPOCH, topics: [] };
    }
    const one = (topic: string, partition: number): FetchedPartitionOffset => {
      if (p.requireStable && rt.offsets.hasPendingTransactionalOffset(p.groupId, topic, partition)) {
        return {
          partitionIndex: partition,
          committedOffset: -1,
          committedLeaderEpoch: -1,
          metadata: '',
          errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
        };
      }
      const c = rt.offsets.get(p.groupId, topic, partition);
      if (c === undefined) return { partitionIndex: partition, ...NO_OFFSET };
      return {
        partitionIndex: partition,
        committedOffset: c.offset,
        committedLeaderEpoch: c.leaderEpoch,
        metadata: c.metadata,
        errorCode: ErrorCode.NONE,
      };
    };
    if (p.topics !== null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: p.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((i) => one(t.name, i)) })),
      };
    }
    const topics: OffsetFetchResult['topics'] = [];
    for (const [name, parts] of rt.offsets.committed(p.groupId)) {
      topics.push({ name, partitions: [...parts.keys()].sort((a, b) => a - b).map((i) => one(name, i)) });
    }
    topics.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { errorCode: ErrorCode.NONE, topics };
  }

  // ---------------------------------------------------------------- admin

  listGroups(statesFilter: string[] = [], typesFilter: string[] = []): { errorCode: number; groups: ListedGroup[] } {
    const rt = this.rt;
    if (rt.loading) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, groups: [] };
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(typesFilter.map((s) => s.toLowerCase()));
    const groups: ListedGroup[] = [];
    for (const g of rt.groups.values()) {
      const listed =
        g.type === 'classic'
          ? { groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state, groupType: 'classic' }
          : { groupId: g.groupId, protocolType: 'consumer', groupState: g.state(), groupType: 'consumer' };
      if (listed.groupState === 'Dead') continue;
      if (states.size > 0 && !states.has(listed.groupState.toLowerCase())) continue;
      if (types.size > 0 && !types.has(listed.groupType)) continue;
      groups.push(listed);
    }
    return { errorCode: ErrorCode.NONE, groups };
  }

  describeGroups(groupIds: string[]): DescribedGroup[] {
    const rt = this.rt;
    return groupIds.map((groupId): DescribedGroup => {
      const base = { groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
      if (rt.loading) return { ...base, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
      const g = rt.groups.get(groupId);
      if (g === undefined || (g.type === 'classic' && g.is('Dead')))
        return { ...base, errorCode: ErrorCode.NONE, groupState: 'Dead' };
      if (g.type === 'consumer') return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
      const stable = g.is('Stable');
      const protocol = stable ? (g.protocolName ?? '') : '';
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: g.state,
        protocolType: g.protocolType ?? '',
        protocolData: protocol,
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          // Metadata and assignment are only meaningful for a stable generation.
          memberMetadata: stable ? m.metadataFor(protocol) : Buffer.alloc(0),
          memberAssignment: stable ? m.assignment : Buffer.alloc(0),
        })),
      };
    });
  }

  /** DeleteGroups: only groups without members; their offsets and metadata are erased. */
  async deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    const rt = this.rt;
    return Promise.all(
      groupIds.map(async (groupId) => {
        if (rt.loading) return { groupId, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
        if (!rt.active) return { groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
        const g = rt.groups.get(groupId);
        if (g === undefined || (g.type === 'classic' && g.is('Dead')) || (g.type === 'consumer' && g.dead))
          return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
        const empty = g.type === 'classic' ? g.is('Empty') : g.members.size === 0;
        if (!empty) return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
        const records = this.removeGroup(g);
        try {
          await rt.write(groupId, records);
          return { groupId, errorCode: ErrorCode.NONE };
        } catch (err) {
          return { groupId, errorCode: appendErrorCode(err) };
        }
      }),
    );
  }

  /** Marks a group dead and forgets it and its offsets; returns the tombstones that erase it. */
  private removeGroup(g: Group): OffsetsRecord[] {
    const rt = this.rt;
    const records: OffsetsRecord[] = rt.offsets
      .deleteGroup(g.groupId)
      .map(([t, p]) => ({ key: encodeOffsetCommitKey(g.groupId, t, p), value: null }));
    if (g.type === 'classic') {
      this.classic.abort(g, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      g.transitionTo('Dead', rt.now());
      records.push({ key: encodeGroupMetadataKey(g.groupId), value: null });
    } else {
      this.consumer.abort(g);
      g.dead = true;
      records.push(...g.tombstones());
    }
    rt.groups.delete(g.groupId);
    return records;
  }

  /** OffsetDelete: removes committed offsets of partitions the group does not consume. */
  async deleteOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<OffsetDeleteResult> {
    const rt = this.rt;
    const top = (errorCode: number): OffsetDeleteResult => ({ errorCode, topics: [] });
    if (rt.loading) return top(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    if (!rt.active) return top(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const g = rt.groups.get(groupId);
    if (g === undefined || (g.type === 'classic' && g.is('Dead')) || (g.type === 'consumer' && g.dead))
      return top(ErrorCode.GROUP_ID_NOT_FOUND);
    let subscribed: (topic: string) => boolean;
    if (g.type === 'classic') {
      if (g.is('Empty')) subscribed = () => false;
      else if (g.protocolType === 'consumer') subscribed = (t) => g.isSubscribedToTopic(t);
      else return top(ErrorCode.NON_EMPTY_GROUP);
    } else {
      const names = g.subscribedTopicNames();
      subscribed = (t) => names.has(t);
    }
    const result: OffsetDeleteResult = { errorCode: ErrorCode.NONE, topics: [] };
    const deletions: Array<[string, number]> = [];
    for (const t of topics) {
      const exists = rt.topics.partitionCount(t.name) !== undefined;
      const code = !exists
        ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        : subscribed(t.name)
          ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC
          : ErrorCode.NONE;
      result.topics.push({
        name: t.name,
        partitions: t.partitions.map((partitionIndex) => ({ partitionIndex, errorCode: code })),
      });
      if (code === ErrorCode.NONE)
        for (const p of t.partitions) if (rt.offsets.get(groupId, t.name, p) !== undefined) deletions.push([t.name, p]);
    }
    if (deletions.length > 0) {
      try {
        await rt.write(
          groupId,
          deletions.map(([t, p]) => ({ key: encodeOffsetCommitKey(groupId, t, p), value: null })),
        );
      } catch (err) {
        const code = appendErrorCode(err);
        for (const t of result.topics)
          for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = code;
        return result;
      }
      for (const [t, p] of deletions) rt.offsets.delete(groupId, t, p);
    }
    return result;
  }

  /**
   * Removes offsets past their retention (offsets.retention.minutes) and then empty groups that
   * have none left, as Kafka's periodic cleanup does. Returns how many offsets were removed.
   */
  async cleanupExpiredOffsets(): Promise<number> {
    const rt = this.rt;
    if (rt.loading || !rt.active) return 0;
    const now = rt.now();
    const retentionMs = rt.config.offsetsRetentionMinutes * 60_000;
    let removed = 0;
    const writes: Promise<void>[] = [];
    for (const id of new Set([...rt.groups.keys(), ...rt.offsets.groupIds()])) {
      const g = rt.groups.get(id);
      let expired: Array<[string, number]> = [];
      if (g === undefined || (g.type === 'classic' && g.protocolType === null)) {
        // Offsets-only group: each offset lives retention past its own commit.
        expired = rt.offsets.expired(id, now, retentionMs, null);
      } else if (g.type === 'classic') {
        if (g.is('Empty')) expired = rt.offsets.expired(id, now, retentionMs, g.currentStateTimestamp);
        else if (g.is('Stable') && g.protocolType === 'consumer' && g.subscribedTopics !== null) {
          expired = rt.offsets.expired(id, now, retentionMs, null, g.subscribedTopics);
        }
      } else if (g.members.size === 0) {
        expired = rt.offsets.expired(id, now, retentionMs, null);
      } else {
        expired = rt.offsets.expired(id, now, retentionMs, null, g.subscribedTopicNames());
      }
      const records: OffsetsRecord[] = expired.map(([t, p]) => ({ key: encodeOffsetCommitKey(id, t, p), value: null }));
      for (const [t, p] of expired) rt.offsets.delete(id, t, p);
      removed += expired.length;
      const idle =
        g === undefined || (g.type === 'classic' ? g.is('Empty') && g.pendingMembers.size === 0 : g.members.size === 0);
      if (idle && !rt.offsets.hasOffsets(id)) {
        if (g !== undefined) records.push(...this.removeGroup(g));
        rt.log?.info({ groupId: id }, 'removed empty group without offsets');
      }
      if (records.length > 0)
        writes.push(
          rt
            .write(id, records)
            .catch((err: unknown) => rt.log?.warn({ err, groupId: id }, 'failed to write expired offsets')),
        );
    }
    await Promise.all(writes);
    if (removed > 0) rt.log?.info({ removed }, 'expired committed offsets');
    return removed;
  }

  // ---------------------------------------------------------------- lag

  /**
   * Committed offset, log end offset and lag of every partition the group has an offset for or
   * is assigned; null when the group does not exist.
   */
  describeGroupOffsets(groupId: string): GroupOffsetsDescription | null {
    const rt = this.rt;
    const g = rt.groups.get(groupId);
    const committed = rt.offsets.committed(groupId);
    if (g === undefined && committed.size === 0) return null;
    const owners = new Map<string, PartitionLag['owner']>();
    const key = (t: string, p: number) => `${p}\u0000${t}`;
    if (g?.type === 'classic' && g.is('Stable') && g.protocolType === 'consumer') {
      for (const m of g.members.values()) {
        for (const tp of parseAssignment(m.assignment)) {
          for (const p of tp.partitions)
            owners.set(key(tp.topic, p), { memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost });
        }
      }
    } else if (g?.type === 'consumer') {
      for (const m of g.members.values()) {
        for (const [topicId, parts] of m.assigned) {
          const topic = rt.topics.topicNameOf(topicId);
          if (topic === undefined) continue;
          for (const p of parts)
            owners.set(key(topic, p), { memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost });
        }
      }
    }
    const seen = new Set<string>();
    const partitions: PartitionLag[] = [];
    const add = (topic: string, partition: number) => {
      const k = key(topic, partition);
      if (seen.has(k)) return;
      seen.add(k);
      const c = rt.offsets.get(groupId, topic, partition);
      const leo = rt.topics.logEndOffset(topic, partition) ?? null;
      partitions.push({
        topic,
        partition,
        committedOffset: c?.offset ?? null,
        leaderEpoch: c?.leaderEpoch ?? -1,
        metadata: c?.metadata ?? '',
        logEndOffset: leo,
        lag: c !== undefined && c.offset >= 0 && leo !== null ? Math.max(0, leo - c.offset) : null,
        owner: owners.get(k) ?? null,
      });
    };
    for (const [topic, parts] of committed) for (const p of parts.keys()) add(topic, p);
    for (const k of owners.keys()) {
      const sep = k.indexOf('\u0000');
      add(k.slice(sep + 1), Number(k.slice(0, sep)));
    }
    partitions.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const totalLag = partitions.reduce((s, x) => s + (x.lag ?? 0), 0);
    if (g === undefined)
      return { groupId, groupType: 'classic', state: 'Empty', protocolType: '', partitions, totalLag };
    return g.type === 'classic'
      ? { groupId, groupType: 'classic', state: g.state, protocolType: g.protocolType ?? '', partitions, totalLag }
      : { groupId, groupType: 'consumer', state: g.state(), protocolType: 'consumer', partitions, totalLag };
  }

  /** Total lag of a group (sum over its partitions), or null when the group does not exist. */
  groupLag(groupId: string): number | null {
    return this.describeGroupOffsets(groupId)?.totalLag ?? null;
  }
}

function parseAssignment(buf: Buffer): Array<{ topic: string; partitions: number[] }> {
  if (buf.length < 2) return [];
  try {
    const r = new Reader(buf);
    const version = r.int16();
    return readConsumerProtocolAssignment(r, Math.min(Math.max(version, 0), 3)).assignedPartitions;
  } catch {
    return [];
  }
}

/** Kafka's clientHost form ("/" + address) from a "host:port" remote address. */
export function clientHostOf(remoteAddress: string): string {
  const i = remoteAddress.lastIndexOf(':');
  const host = i > 0 ? remoteAddress.slice(0, i) : remoteAddress;
  return `/${host.startsWith('::ffff:') ? host.slice(7) : host}`;
}
