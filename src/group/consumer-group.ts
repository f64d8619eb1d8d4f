import type { Assignment } from './assignors.js';
import {
  KeyVersion,
  encodeConsumerGroupKey,
  encodeConsumerGroupMemberValue,
  encodeCurrentAssignmentValue,
  encodeEpochValue,
  encodeTargetAssignmentValue,
  type TopicPartitions,
} from './offsets-records.js';
import type { OffsetsRecord } from './types.js';
import type { ScheduledTask } from './scheduler.js';

/** Reconciliation state of a KIP-848 member (Kafka's MemberState). */
export const MemberState = {
  STABLE: 0,
  /** Must give up partitions (they are still in its owned list) before it moves to the next epoch. */
  UNREVOKED_PARTITIONS: 1,
  /** At the target epoch but waiting for partitions other members still own. */
  UNRELEASED_PARTITIONS: 2,
} as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

export const MEMBER_STATE_NAMES = ['stable', 'unrevoked_partitions', 'unreleased_partitions'] as const;

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

/** Epoch a static member sends when it leaves for a while and keeps its assignment (KIP-848). */
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;
export const LEAVE_GROUP_MEMBER_EPOCH = -1;

export class ConsumerGroupMember {
  instanceId: string | null = null;
  rackId: string | null = null;
  clientId = '';
  clientHost = '';
  subscribedTopicNames: string[] = [];
  serverAssignor: string | null = null;
  rebalanceTimeoutMs = -1;
  memberEpoch = 0;
  previousMemberEpoch = -1;
  state: MemberState = MemberState.STABLE;
  assigned: Assignment = new Map();
  pendingRevocation: Assignment = new Map();
  sessionDeadline = 0;
  /** Set while the member must revoke: past it, the member is fenced. */
  revocationDeadline = 0;
  expiryTask: ScheduledTask | null = null;
  expiryTaskAt = 0;

  constructor(readonly memberId: string) {}

  metadataRecord(groupId: string): OffsetsRecord {
    return {
      key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupMember, groupId, this.memberId),
      value: encodeConsumerGroupMemberValue({
        instanceId: this.instanceId,
        rackId: this.rackId,
        clientId: this.clientId,
        clientHost: this.clientHost,
        subscribedTopicNames: this.subscribedTopicNames,
        serverAssignor: this.serverAssignor,
        rebalanceTimeoutMs: this.rebalanceTimeoutMs,
      }),
    };
  }

  currentAssignmentRecord(groupId: string): OffsetsRecord {
    return {
      key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupCurrentAssignment, groupId, this.memberId),
      value: encodeCurrentAssignmentValue({
        memberEpoch: this.memberEpoch,
        previousMemberEpoch: this.previousMemberEpoch,
        state: this.state,
        assignedPartitions: toTopicPartitions(this.assigned),
        partitionsPendingRevocation: toTopicPartitions(this.pendingRevocation),
      }),
    };
  }
}

/** A group of the KIP-848 consumer protocol: the coordinator computes assignments and members reconcile to them. */
export class ConsumerGroup {
  readonly type = 'consumer' as const;
  groupEpoch = 0;
  assignmentEpoch = 0;
  dead = false;
  readonly members = new Map<string, ConsumerGroupMember>();
  /** instance id → member id */
  readonly staticMembers = new Map<string, string>();
  /** member id → its target assignment at assignmentEpoch */
  readonly target = new Map<string, Assignment>();
  /** topic id → partition → epoch of the member holding it (assigned or pending revocation). */
  private readonly partitionEpochs = new Map<string, Map<number, number>>();
  /** Subscribed topic name → "topicId/partitionCount" the target was computed for ("" when missing). */
  subscriptionMetadata = new Map<string, string>();

  constructor(readonly groupId: string) {}

  state(): ConsumerGroupState {
    if (this.dead) return 'Dead';
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch !== this.assignmentEpoch || m.state !== MemberState.STABLE) return 'Reconciling';
    }
    return 'Stable';
  }

  /** Epoch of the member holding a partition, or -1 when it is free. */
  partitionEpoch(topicId: string, partition: number): number {
    return this.partitionEpochs.get(topicId)?.get(partition) ?? -1;
  }

  private setPartitionEpochs(a: Assignment, epoch: number | null): void {
    for (const [t, parts] of a) {
      let m = this.partitionEpochs.get(t);
      if (m === undefined) {
        if (epoch === null) continue;
        this.partitionEpochs.set(t, (m = new Map()));
      }
      for (const p of parts) {
        if (epoch === null) m.delete(p);
        else m.set(p, epoch);
      }
      if (m.size === 0) this.partitionEpochs.delete(t);
    }
  }

  /** Installs a member (or its new state) and keeps the partition ownership index in step. */
  updateMember(m: ConsumerGroupMember, previous?: { assigned: Assignment; pendingRevocation: Assignment }): void {
    if (previous !== undefined) {
      this.setPartitionEpochs(previous.assigned, null);
      this.setPartitionEpochs(previous.pendingRevocation, null);
    }
    this.members.set(m.memberId, m);
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, m.memberId);
    this.setPartitionEpochs(m.assigned, m.memberEpoch);
    this.setPartitionEpochs(m.pendingRevocation, m.memberEpoch);
  }

  removeMember(memberId: string): ConsumerGroupMember | undefined {
    const m = this.members.get(memberId);
    if (m === undefined) return undefined;
    this.members.delete(memberId);
    this.target.delete(memberId);
    if (m.instanceId !== null && this.staticMembers.get(m.instanceId) === memberId)
      this.staticMembers.delete(m.instanceId);
    this.setPartitionEpochs(m.assigned, null);
    this.setPartitionEpochs(m.pendingRevocation, null);
    m.expiryTask?.cancel();
    m.expiryTask = null;
    return m;
  }

  /** Topics any member subscribes to. */
  subscribedTopicNames(): Set<string> {
    const out = new Set<string>();
    for (const m of this.members.values()) for (const t of m.subscribedTopicNames) out.add(t);
    return out;
  }

  epochRecord(): OffsetsRecord {
    return {
      key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupMetadata, this.groupId),
      value: encodeEpochValue(this.groupEpoch),
    };
  }

  targetMemberRecord(memberId: string): OffsetsRecord {
    return {
      key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupTargetAssignmentMember, this.groupId, memberId),
      value: encodeTargetAssignmentValue(toTopicPartitions(this.target.get(memberId) ?? new Map())),
    };
  }

  targetMetadataRecord(): OffsetsRecord {
    return {
      key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupTargetAssignmentMetadata, this.groupId),
      value: encodeEpochValue(this.assignmentEpoch),
    };
  }

  static memberTombstones(groupId: string, memberId: string): OffsetsRecord[] {
    return [
      { key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupCurrentAssignment, groupId, memberId), value: null },
      { key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupTargetAssignmentMember, groupId, memberId), value: null },
      { key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupMember, groupId, memberId), value: null },
    ];
  }

  /** Records that erase the whole group from __consumer_offsets (members first, the epoch record last). */
  tombstones(): OffsetsRecord[] {
    const out: OffsetsRecord[] = [];
    for (const id of new Set([...this.members.keys(), ...this.target.keys()]))
      out.push(...ConsumerGroup.memberTombstones(this.groupId, id));
    out.push({
      key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupTargetAssignmentMetadata, this.groupId),
      value: null,
    });
    out.push({ key: encodeConsumerGroupKey(KeyVersion.ConsumerGroupMetadata, this.groupId), value: null });
    return out;
  }
}

export function toTopicPartitions(a: Assignment): TopicPartitions[] {
  const out: TopicPartitions[] = [];
  for (const [topicId, parts] of a)
    if (parts.size > 0) out.push({ topicId, partitions: [...parts].sort((x, y) => x - y) });
  out.sort((x, y) => (x.topicId < y.topicId ? -1 : x.topicId > y.topicId ? 1 : 0));
  return out;
}

export function fromTopicPartitions(tps: ReadonlyArray<{ topicId: string; partitions: number[] }>): Assignment {
  const a: Assignment = new Map();
  for (const tp of tps) {
    if (tp.partitions.length === 0) continue;
    let s = a.get(tp.topicId);
    if (s === undefined) a.set(tp.topicId, (s = new Set()));
    for (const p of tp.partitions) s.add(p);
  }
  return a;
}

export function assignmentsEqual(a: Assignment, b: Assignment): boolean {
  if (a.size !== b.size) return false;
  for (const [t, s] of a) {
    const o = b.get(t);
    if (o === undefined || o.size !== s.size) return false;
    for (const p of s) if (!o.has(p)) return false;
  }
  return true;
}

export function cloneAssignment(a: Assignment): Assignment {
  const out: Assignment = new Map();
  for (const [t, s] of a) out.set(t, new Set(s));
  return out;
}
