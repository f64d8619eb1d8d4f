import { randomUUID } from 'node:crypto';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { SERVER_ASSIGNORS, type Assignment, type AssignmentMemberSpec } from './assignors.js';
import {
  ConsumerGroup,
  ConsumerGroupMember,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  MemberState,
  assignmentsEqual,
  cloneAssignment,
  fromTopicPartitions,
  toTopicPartitions,
} from './consumer-group.js';
import {
  encodeGroupMetadataKey,
  type ConsumerGroupCurrentAssignmentValue,
  type ConsumerGroupMemberValue,
  type TopicPartitions,
} from './offsets-records.js';
import { appendErrorCode, type GroupRuntime, type OffsetsRecord } from './runtime.js';
import type { ClientInfo } from './types.js';

export interface ConsumerGroupHeartbeatParams {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  serverAssignor: string | null;
  topicPartitions: TopicPartitions[] | null;
}

export interface ConsumerGroupHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** null when unchanged since the member last heard it. */
  assignment: { topicPartitions: TopicPartitions[] } | null;
}

export interface DescribedConsumerGroupPartitions {
  topicId: string;
  topicName: string;
  partitions: number[];
}

export interface DescribedConsumerGroupMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  assignment: { topicPartitions: DescribedConsumerGroupPartitions[] };
  targetAssignment: { topicPartitions: DescribedConsumerGroupPartitions[] };
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: DescribedConsumerGroupMember[];
}

/** Consumer-group records read back from __consumer_offsets, before the group is rebuilt. */
export interface StagedConsumerGroup {
  groupEpoch: number | null;
  assignmentEpoch: number;
  members: Map<string, ConsumerGroupMemberValue>;
  current: Map<string, ConsumerGroupCurrentAssignmentValue>;
  target: Map<string, TopicPartitions[]>;
}

function fail(errorCode: number, errorMessage: string | null = null): ConsumerGroupHeartbeatResult {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((t) => s.has(t));
}

function ownsAny(owned: Assignment | null, partitions: Assignment): boolean {
  // Without an owned list the member may still hold them.
  if (owned === null) return true;
  for (const [t, parts] of partitions) {
    const o = owned.get(t);
    if (o === undefined) continue;
    for (const p of parts) if (o.has(p)) return true;
  }
  return false;
}

function isSubset(owned: Assignment | null, of: Assignment): boolean {
  if (owned === null) return false;
  for (const [t, parts] of owned) {
    const s = of.get(t);
    for (const p of parts) if (s === undefined || !s.has(p)) return false;
  }
  return true;
}

/**
 * The KIP-848 consumer group protocol: members heartbeat their subscriptions, the coordinator
 * computes a target assignment with a server-side assignor (uniform or range) whenever the group
 * epoch moves, and each member converges to its target by revoking first and then receiving
 * partitions once their previous owners have released them.
 */
export class ConsumerGroupProtocol {
  constructor(private readonly rt: GroupRuntime) {}

  async heartbeat(p: ConsumerGroupHeartbeatParams, client: ClientInfo): Promise<ConsumerGroupHeartbeatResult> {
    const rt = this.rt;
    if (rt.loading) return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    if (!rt.active) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!rt.config.rebalanceProtocols.includes('consumer'))
      return fail(ErrorCode.UNSUPPORTED_VERSION, 'the consumer group protocol is not enabled');
    const invalid = this.validate(p);
    if (invalid !== null) return fail(ErrorCode.INVALID_REQUEST, invalid);
    if (
      p.serverAssignor !== null &&
      (!rt.config.consumerAssignors.includes(p.serverAssignor) || !SERVER_ASSIGNORS.has(p.serverAssignor))
    ) {
      return fail(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `assignor ${p.serverAssignor} is not supported; use one of ${rt.config.consumerAssignors.join(', ')}`,
      );
    }
    try {
      const records: OffsetsRecord[] = [];
      const result =
        p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH
          ? this.leave(p, records)
          : this.beat(p, client, records);
      if (records.length > 0) {
        try {
          await rt.write(p.groupId, records);
        } catch (err) {
          return fail(appendErrorCode(err));
        }
      }
      return result;
    } catch (err) {
      if (err instanceof KafkaError) return fail(err.code, err.message);
      throw err;
    }
  }

  private validate(p: ConsumerGroupHeartbeatParams): string | null {
    if (p.groupId === '') return 'GroupId can not be empty.';
    if (p.instanceId === '') return 'InstanceId can not be empty.';
    if (p.rackId === '') return 'RackId can not be empty.';
    if (p.memberEpoch === 0) {
      if (p.rebalanceTimeoutMs === -1) return 'RebalanceTimeoutMs must be provided in first request.';
      if (p.subscribedTopicNames === null) return 'SubscribedTopicNames must be set in first request.';
      if (p.topicPartitions === null || p.topicPartitions.length > 0)
        return 'TopicPartitions must be empty when (re-)joining.';
    } else if (p.memberEpoch > 0) {
      if (p.memberId === '') return 'MemberId can not be empty.';
    } else if (p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH) {
      if (p.memberId === '') return 'MemberId can not be empty.';
    } else if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      if (p.memberId === '') return 'MemberId can not be empty.';
      if (p.instanceId === null) return 'InstanceId can not be null when a static member leaves temporarily.';
    } else {
      return `MemberEpoch ${p.memberEpoch} is invalid.`;
    }
    return null;
  }

  private groupFor(groupId: string, create: boolean, records: OffsetsRecord[]): ConsumerGroup {
    const rt = this.rt;
    const existing = rt.groups.get(groupId);
    if (existing?.type === 'consumer' && !existing.dead) return existing;
    if (existing?.type === 'classic') {
      const idle = existing.is('Empty') && existing.members.size === 0 && existing.pendingMembers.size === 0;
      if (!idle) throw new KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
    }
    if (!create) throw new KafkaError(ErrorCode.UNKNOWN_MEMBER_ID, `Group ${groupId} has no member with this id.`);
    // An idle classic group (offsets only) becomes a consumer group; its committed offsets carry over.
    if (existing?.type === 'classic') records.push({ key: encodeGroupMetadataKey(groupId), value: null });
    const group = new ConsumerGroup(groupId);
    rt.groups.set(groupId, group);
    return group;
  }

  private beat(
    p: ConsumerGroupHeartbeatParams,
    client: ClientInfo,
    records: OffsetsRecord[],
  ): ConsumerGroupHeartbeatResult {
    const rt = this.rt;
    const group = this.groupFor(p.groupId, p.memberEpoch === 0, records);
    const owned = p.topicPartitions === null ? null : fromTopicPartitions(p.topicPartitions);
    let member: ConsumerGroupMember | undefined;
    let isNew = false;
    if (p.memberEpoch === 0) {
      if (p.instanceId !== null) member = this.replaceStaticMember(group, p, records);
      if (member === undefined && p.memberId !== '') member = group.members.get(p.memberId);
      if (member === undefined) {
        if (group.members.size >= rt.config.consumerMaxSize)
          throw new KafkaError(
            ErrorCode.GROUP_MAX_SIZE_REACHED,
            `The consumer group has reached its maximum capacity of ${rt.config.consumerMaxSize} members.`,
          );
        member = new ConsumerGroupMember(p.memberId !== '' ? p.memberId : randomUUID());
        isNew = true;
      } else if (member.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
        member.memberEpoch = member.previousMemberEpoch;
      }
    } else {
      member = group.members.get(p.memberId);
      if (member === undefined)
        throw new KafkaError(
          ErrorCode.UNKNOWN_MEMBER_ID,
          `Member ${p.memberId} is not a member of group ${p.groupId}.`,
        );
      if (p.instanceId !== null && member.instanceId !== p.instanceId)
        throw new KafkaError(
          ErrorCode.FENCED_INSTANCE_ID,
          `Member ${p.memberId} does not own instance id ${p.instanceId}.`,
        );
      if (p.memberEpoch > member.memberEpoch) {
        throw new KafkaError(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The member epoch ${p.memberEpoch} is newer than the coordinator's ${member.memberEpoch}; rejoin.`,
        );
      }
      // A member one epoch behind whose owned partitions fit its assignment only lost our last response.
      if (
        p.memberEpoch < member.memberEpoch &&
        !(p.memberEpoch === member.previousMemberEpoch && isSubset(owned, member.assigned))
      ) {
        throw new KafkaError(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The member epoch ${p.memberEpoch} is older than the coordinator's ${member.memberEpoch}; rejoin.`,
        );
      }
    }

    const before = {
      assigned: cloneAssignment(member.assigned),
      pendingRevocation: cloneAssignment(member.pendingRevocation),
      memberEpoch: member.memberEpoch,
      state: member.state,
    };
    const prevTopics = member.subscribedTopicNames;
    const prevAssignor = member.serverAssignor;
    const prevRack = member.rackId;
    const prevInstance = member.instanceId;
    const prevTimeout = member.rebalanceTimeoutMs;
    if (p.memberEpoch === 0 && p.instanceId !== null) member.instanceId = p.instanceId;
    if (p.rackId !== null) member.rackId = p.rackId;
    if (p.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    if (p.subscribedTopicNames !== null) member.subscribedTopicNames = [...new Set(p.subscribedTopicNames)];
    if (p.serverAssignor !== null) member.serverAssignor = p.serverAssignor;
    const clientChanged = member.clientId !== client.clientId || member.clientHost !== client.clientHost;
    member.clientId = client.clientId;
    member.clientHost = client.clientHost;

    const subscriptionChanged =
      isNew || !sameTopics(prevTopics, member.subscribedTopicNames) || prevAssignor !== member.serverAssignor;
    if (isNew) group.updateMember(member);
    if (
      subscriptionChanged ||
      clientChanged ||
      prevRack !== member.rackId ||
      prevInstance !== member.instanceId ||
      prevTimeout !== member.rebalanceTimeoutMs
    ) {
      records.push(member.metadataRecord(group.groupId));
    }
    let bump = subscriptionChanged;
    const metadata = this.subscriptionMetadata(group);
    if (!mapsEqual(metadata, group.subscriptionMetadata)) {
      group.subscriptionMetadata = metadata;
      bump = true;
    }
    if (bump) {
      group.groupEpoch++;
      records.push(group.epochRecord());
    }
    if (group.groupEpoch > group.assignmentEpoch) records.push(...this.computeTargetAssignment(group));

    this.reconcile(group, member, owned);
    const changed =
      member.memberEpoch !== before.memberEpoch ||
      member.state !== before.state ||
      !assignmentsEqual(member.assigned, before.assigned) ||
      !assignmentsEqual(member.pendingRevocation, before.pendingRevocation);
    if (changed || isNew) {
      group.updateMember(member, before);
      records.push(member.currentAssignmentRecord(group.groupId));
    }
    const now = rt.now();
    if (member.state === MemberState.UNREVOKED_PARTITIONS) {
      if (before.state !== MemberState.UNREVOKED_PARTITIONS || member.revocationDeadline === 0) {
        member.revocationDeadline = member.rebalanceTimeoutMs > 0 ? now + member.rebalanceTimeoutMs : 0;
      }
    } else {
      member.revocationDeadline = 0;
    }
    member.sessionDeadline = now + rt.config.consumerSessionTimeoutMs;
    this.scheduleExpiry(group, member);

    const fullRequest =
      p.memberEpoch === 0 ||
      (p.rebalanceTimeoutMs !== -1 && p.subscribedTopicNames !== null && p.topicPartitions !== null);
    const sendAssignment = fullRequest || !assignmentsEqual(before.assigned, member.assigned);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: rt.config.consumerHeartbeatIntervalMs,
      assignment: sendAssignment ? { topicPartitions: toTopicPartitions(member.assigned) } : null,
    };
  }

  /**
   * A static member joining under an instance id: when the previous holder left temporarily
   * (epoch -2), the newcomer takes over its assignment without a rebalance; while the previous
   * holder is still active, the instance id is not free.
   */
  private replaceStaticMember(
    group: ConsumerGroup,
    p: ConsumerGroupHeartbeatParams,
    records: OffsetsRecord[],
  ): ConsumerGroupMember | undefined {
    const existingId = group.staticMembers.get(p.instanceId!);
    if (existingId === undefined || existingId === p.memberId) return undefined;
    const old = group.members.get(existingId)!;
    if (old.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      throw new KafkaError(
        ErrorCode.UNRELEASED_INSTANCE_ID,
        `Static member ${existingId} with instance id ${p.instanceId} is still active.`,
      );
    }
    const m = new ConsumerGroupMember(p.memberId !== '' ? p.memberId : randomUUID());
    m.instanceId = old.instanceId;
    m.rackId = old.rackId;
    m.subscribedTopicNames = old.subscribedTopicNames;
    m.serverAssignor = old.serverAssignor;
    m.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
    m.memberEpoch = old.previousMemberEpoch;
    m.previousMemberEpoch = old.previousMemberEpoch;
    m.state = old.state;
    m.assigned = cloneAssignment(old.assigned);
    m.pendingRevocation = cloneAssignment(old.pendingRevocation);
    const target = group.target.get(existingId);
    group.removeMember(existingId);
    records.push(...ConsumerGroup.memberTombstones(group.groupId, existingId));
    if (target !== undefined) group.target.set(m.memberId, target);
    group.updateMember(m);
    records.push(
      m.metadataRecord(group.groupId),
      m.currentAssignmentRecord(group.groupId),
      group.targetMemberRecord(m.memberId),
    );
    this.rt.log?.info(
      { groupId: group.groupId, instanceId: p.instanceId, oldMemberId: existingId, memberId: m.memberId },
      'static member rejoined',
    );
    return m;
  }

  private leave(p: ConsumerGroupHeartbeatParams, records: OffsetsRecord[]): ConsumerGroupHeartbeatResult {
    const existing = this.rt.groups.get(p.groupId);
    if (existing === undefined || existing.type !== 'consumer')
      throw new KafkaError(ErrorCode.UNKNOWN_MEMBER_ID, `Group ${p.groupId} has no member ${p.memberId}.`);
    const group = existing;
    let member = group.members.get(p.memberId);
    if (member === undefined && p.instanceId !== null) {
      const id = group.staticMembers.get(p.instanceId);
      if (id !== undefined) member = group.members.get(id);
    }
    if (member === undefined)
      throw new KafkaError(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${p.groupId}.`);
    const memberId = member.memberId;
    if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH && member.instanceId !== null) {
      // Keeps its partitions reserved until its session ends; a restart under the same instance id takes them back.
      if (member.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
        member.previousMemberEpoch = member.memberEpoch;
        member.memberEpoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
      }
      records.push(member.currentAssignmentRecord(group.groupId));
      this.rt.log?.info(
        { groupId: group.groupId, memberId, instanceId: member.instanceId },
        'static member left temporarily',
      );
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        memberId,
        memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH,
        heartbeatIntervalMs: 0,
        assignment: null,
      };
    }
    this.removeMember(group, member, records, 'left the group');
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId,
      memberEpoch: LEAVE_GROUP_MEMBER_EPOCH,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }

  private removeMember(group: ConsumerGroup, member: ConsumerGroupMember, records: OffsetsRecord[], why: string): void {
    group.removeMember(member.memberId);
    group.groupEpoch++;
    records.push(...ConsumerGroup.memberTombstones(group.groupId, member.memberId), group.epochRecord());
    this.rt.log?.info(
      { groupId: group.groupId, memberId: member.memberId, groupEpoch: group.groupEpoch },
      `consumer group member ${why}`,
    );
  }

  /** Subscribed topic name → "topicId/partitions" ("" when the topic does not exist). */
  private subscriptionMetadata(group: ConsumerGroup): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of group.subscribedTopicNames()) {
      const id = this.rt.topics.topicIdOf(name);
      const count = this.rt.topics.partitionCount(name);
      out.set(name, id === undefined || count === undefined ? '' : `${id}/${count}`);
    }
    return out;
  }

  preferredAssignor(group: ConsumerGroup): string {
    const votes = new Map<string, number>();
    for (const m of group.members.values())
      if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: string | null = null;
    for (const [name, n] of votes)
      if (best === null || n > votes.get(best)! || (n === votes.get(best)! && name < best)) best = name;
    return best ?? this.rt.config.consumerAssignors[0] ?? 'uniform';
  }

  /** Recomputes every member's target at the group epoch; returns the records of what changed. */
  private computeTargetAssignment(group: ConsumerGroup): OffsetsRecord[] {
    const topics = new Map<string, number>();
    const idsByName = new Map<string, string>();
    for (const [name, meta] of group.subscriptionMetadata) {
      if (meta === '') continue;
      const slash = meta.lastIndexOf('/');
      const id = meta.slice(0, slash);
      topics.set(id, Number(meta.slice(slash + 1)));
      idsByName.set(name, id);
    }
    const members = new Map<string, AssignmentMemberSpec>();
    for (const m of group.members.values()) {
      const ids = new Set<string>();
      for (const t of m.subscribedTopicNames) {
        const id = idsByName.get(t);
        if (id !== undefined) ids.add(id);
      }
      members.set(m.memberId, {
        subscribedTopicIds: ids,
        currentAssignment: group.target.get(m.memberId) ?? new Map(),
      });
    }
    const assignorName = this.preferredAssignor(group);
    const assignor = SERVER_ASSIGNORS.get(assignorName) ?? SERVER_ASSIGNORS.get('uniform')!;
    const result = assignor.assign({ members, topics });
    const changed: string[] = [];
    for (const [id, a] of result) {
      const old = group.target.get(id);
      if (old === undefined || !assignmentsEqual(old, a)) changed.push(id);
    }
    group.target.clear();
    for (const [id, a] of result) group.target.set(id, a);
    group.assignmentEpoch = group.groupEpoch;
    this.rt.log?.info(
      { groupId: group.groupId, assignor: assignor.name, groupEpoch: group.groupEpoch, members: members.size },
      'computed target assignment',
    );
    return [...changed.map((id) => group.targetMemberRecord(id)), group.targetMetadataRecord()];
  }

  /** Moves a member toward its target (Kafka's CurrentAssignmentBuilder). */
  private reconcile(group: ConsumerGroup, member: ConsumerGroupMember, owned: Assignment | null): void {
    switch (member.state) {
      case MemberState.STABLE:
        if (member.memberEpoch !== group.assignmentEpoch) this.computeNextAssignment(group, member, owned);
        return;
      case MemberState.UNREVOKED_PARTITIONS:
        // Until the member stops reporting the partitions it must revoke, nothing moves.
        if (ownsAny(owned, member.pendingRevocation)) return;
        this.computeNextAssignment(group, member, owned);
        return;
      case MemberState.UNRELEASED_PARTITIONS:
        this.computeNextAssignment(group, member, owned);
        return;
    }
  }

  private computeNextAssignment(group: ConsumerGroup, member: ConsumerGroupMember, owned: Assignment | null): void {
    const target = group.target.get(member.memberId) ?? new Map<string, Set<number>>();
    const newAssigned: Assignment = new Map();
    const newPendingRevocation: Assignment = new Map();
    const newPendingAssignment: Assignment = new Map();
    let hasUnreleased = false;
    for (const topicId of new Set([...target.keys(), ...member.assigned.keys()])) {
      const tgt = target.get(topicId) ?? new Set<number>();
      const cur = member.assigned.get(topicId) ?? new Set<number>();
      const assigned = new Set([...cur].filter((p) => tgt.has(p)));
      const revoke = new Set([...cur].filter((p) => !assigned.has(p)));
      const toAssign = new Set<number>();
      for (const p of tgt) {
        if (assigned.has(p)) continue;
        // Still held by another member (or by this one, pending revocation): wait for its release.
        if (group.partitionEpoch(topicId, p) !== -1) hasUnreleased = true;
        else toAssign.add(p);
      }
      if (assigned.size > 0) newAssigned.set(topicId, assigned);
      if (revoke.size > 0) newPendingRevocation.set(topicId, revoke);
      if (toAssign.size > 0) newPendingAssignment.set(topicId, toAssign);
    }
    const setEpoch = (epoch: number) => {
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = epoch;
    };
    if (newPendingRevocation.size > 0 && ownsAny(owned, newPendingRevocation)) {
      // Revoke first, at the current epoch; the member gets the rest once it confirms.
      member.state = MemberState.UNREVOKED_PARTITIONS;
      setEpoch(member.memberEpoch);
      member.assigned = newAssigned;
      member.pendingRevocation = newPendingRevocation;
      return;
    }
    for (const [t, parts] of newPendingAssignment) {
      let s = newAssigned.get(t);
      if (s === undefined) newAssigned.set(t, (s = new Set()));
      for (const p of parts) s.add(p);
    }
    member.state = hasUnreleased ? MemberState.UNRELEASED_PARTITIONS : MemberState.STABLE;
    setEpoch(group.assignmentEpoch);
    member.assigned = newAssigned;
    member.pendingRevocation = new Map();
  }

  // ---------------------------------------------------------------- expiry

  private scheduleExpiry(group: ConsumerGroup, member: ConsumerGroupMember): void {
    const due =
      member.revocationDeadline > 0
        ? Math.min(member.sessionDeadline, member.revocationDeadline)
        : member.sessionDeadline;
    if (member.expiryTask !== null && member.expiryTaskAt <= due) return;
    member.expiryTask?.cancel();
    member.expiryTaskAt = due;
    member.expiryTask = this.rt.scheduler.at(due, () => this.onExpiryCheck(group, member));
  }

  private onExpiryCheck(group: ConsumerGroup, member: ConsumerGroupMember): void {
    member.expiryTask = null;
    if (group.members.get(member.memberId) !== member || this.rt.groups.get(group.groupId) !== group) return;
    const now = this.rt.now();
    let why: string | null = null;
    if (now >= member.sessionDeadline) why = 'session expired';
    else if (
      member.revocationDeadline > 0 &&
      now >= member.revocationDeadline &&
      member.state === MemberState.UNREVOKED_PARTITIONS
    )
      why = 'did not revoke its partitions within the rebalance timeout';
    if (why === null) {
      this.scheduleExpiry(group, member);
      return;
    }
    const records: OffsetsRecord[] = [];
    this.removeMember(group, member, records, why);
    this.rt.writeInBackground(group.groupId, records, 'consumer group member removal');
  }

  // ---------------------------------------------------------------- describe, load, shutdown

  describe(groupId: string): DescribedConsumerGroup {
    const g = this.rt.groups.get(groupId);
    const base = { groupId, groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] };
    if (this.rt.loading) return { ...base, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, errorMessage: null };
    if (g === undefined || g.type !== 'consumer' || g.dead) {
      return {
        ...base,
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
        errorMessage: `Group ${groupId} is not a consumer group.`,
      };
    }
    const named = (a: Assignment): DescribedConsumerGroupPartitions[] =>
      toTopicPartitions(a).map((tp) => ({
        topicId: tp.topicId,
        topicName: this.rt.topics.topicNameOf(tp.topicId) ?? '',
        partitions: tp.partitions,
      }));
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      groupState: g.state(),
      groupEpoch: g.groupEpoch,
      assignmentEpoch: g.assignmentEpoch,
      assignorName: this.preferredAssignor(g),
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: [...m.subscribedTopicNames],
        subscribedTopicRegex: null,
        assignment: { topicPartitions: named(m.assigned) },
        targetAssignment: { topicPartitions: named(g.target.get(m.memberId) ?? new Map()) },
      })),
    };
  }

  /** Rebuilds a group from its records after a restart; members get one session to come back. */
  load(groupId: string, staged: StagedConsumerGroup): ConsumerGroup {
    const group = new ConsumerGroup(groupId);
    group.groupEpoch = staged.groupEpoch ?? 0;
    group.assignmentEpoch = Math.min(staged.assignmentEpoch, group.groupEpoch);
    for (const [id, tps] of staged.target) if (staged.members.has(id)) group.target.set(id, fromTopicPartitions(tps));
    const now = this.rt.now();
    for (const [id, v] of staged.members) {
      const m = new ConsumerGroupMember(id);
      m.instanceId = v.instanceId;
      m.rackId = v.rackId;
      m.clientId = v.clientId;
      m.clientHost = v.clientHost;
      m.subscribedTopicNames = v.subscribedTopicNames;
      m.serverAssignor = v.serverAssignor;
      m.rebalanceTimeoutMs = v.rebalanceTimeoutMs;
      const cur = staged.current.get(id);
      if (cur !== undefined) {
        m.memberEpoch = cur.memberEpoch;
        m.previousMemberEpoch = cur.previousMemberEpoch;
        m.state = cur.state === 1 || cur.state === 2 ? cur.state : MemberState.STABLE;
        m.assigned = fromTopicPartitions(cur.assignedPartitions);
        m.pendingRevocation = fromTopicPartitions(cur.partitionsPendingRevocation);
      }
      group.updateMember(m);
      m.sessionDeadline = now + this.rt.config.consumerSessionTimeoutMs;
      if (m.state === MemberState.UNREVOKED_PARTITIONS && m.rebalanceTimeoutMs > 0)
        m.revocationDeadline = now + m.rebalanceTimeoutMs;
      this.scheduleExpiry(group, m);
    }
    group.subscriptionMetadata = this.subscriptionMetadata(group);
    return group;
  }

  abort(group: ConsumerGroup): void {
    for (const m of group.members.values()) m.expiryTask?.cancel();
  }
}

function mapsEqual(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
