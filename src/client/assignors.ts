import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import {
  readConsumerProtocolAssignment,
  writeConsumerProtocolAssignment,
} from '../protocol/messages/consumer-protocol-assignment.js';
import {
  readConsumerProtocolSubscription,
  writeConsumerProtocolSubscription,
} from '../protocol/messages/consumer-protocol-subscription.js';
import type { TopicPartition } from './cluster.js';

/** A member's subscription as the group leader sees it (the "consumer" protocol metadata). */
export interface MemberSubscription {
  memberId: string;
  groupInstanceId: string | null;
  topics: string[];
  /** Partitions the member owns now (sent by cooperative members). */
  ownedPartitions: TopicPartition[];
  /** Generation in which it owned them; -1 when unknown. */
  generationId: number;
  userData: Buffer | null;
}

/**
 * A partition assignor for the classic group protocol. Eager assignors expect members to give up
 * everything before a rebalance; cooperative ones keep partitions that do not move (KIP-429).
 */
export interface Assignor {
  readonly name: string;
  readonly protocol: 'eager' | 'cooperative';
  assign(members: MemberSubscription[], partitionsPerTopic: ReadonlyMap<string, number>): Map<string, TopicPartition[]>;
}

/** Order in which members are dealt partitions: static members by instance id, others by member id. */
function memberOrder(a: MemberSubscription, b: MemberSubscription): number {
  const ka = a.groupInstanceId ?? a.memberId;
  const kb = b.groupInstanceId ?? b.memberId;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function emptyAssignment(members: MemberSubscription[]): Map<string, TopicPartition[]> {
  return new Map(members.map((m) => [m.memberId, [] as TopicPartition[]]));
}

/**
 * Kafka's RangeAssignor: per topic, the subscribed members in order each take a contiguous range;
 * the first (partitions % members) members take one extra.
 */
export const rangeAssignor: Assignor = {
  name: 'range',
  protocol: 'eager',
  assign(members, partitionsPerTopic) {
    const out = emptyAssignment(members);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const n = partitionsPerTopic.get(topic);
      if (n === undefined) continue;
      const subscribers = members.filter((m) => m.topics.includes(topic)).sort(memberOrder);
      const per = Math.floor(n / subscribers.length);
      const extra = n % subscribers.length;
      let next = 0;
      subscribers.forEach((m, i) => {
        const count = per + (i < extra ? 1 : 0);
        for (let p = next; p < next + count; p++) out.get(m.memberId)!.push({ topic, partition: p });
        next += count;
      });
    }
    return out;
  },
};

/** Kafka's RoundRobinAssignor: all partitions, sorted, dealt to subscribed members in turn. */
export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  protocol: 'eager',
  assign(members, partitionsPerTopic) {
    const out = emptyAssignment(members);
    const sorted = [...members].sort(memberOrder);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    let i = 0;
    for (const topic of topics) {
      const n = partitionsPerTopic.get(topic) ?? 0;
      for (let p = 0; p < n; p++) {
        for (let tries = 0; tries < sorted.length; tries++) {
          const m = sorted[i++ % sorted.length]!;
          if (m.topics.includes(topic)) {
            out.get(m.memberId)!.push({ topic, partition: p });
            break;
          }
        }
      }
    }
    return out;
  },
};

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A sticky, balanced assignment: members keep the partitions they own (up to their fair share),
 * the rest go to the least loaded subscribed member. With `cooperative`, a partition that changes
 * owner is left out of this round: its current owner revokes it, rejoins, and the follow-up
 * rebalance hands it over (KIP-429), so no partition is ever owned twice.
 */
export function stickyAssign(
  members: MemberSubscription[],
  partitionsPerTopic: ReadonlyMap<string, number>,
  cooperative: boolean,
): Map<string, TopicPartition[]> {
  const out = emptyAssignment(members);
  const sorted = [...members].sort(memberOrder);
  const all: TopicPartition[] = [];
  for (const topic of [...new Set(members.flatMap((m) => m.topics))].sort()) {
    const n = partitionsPerTopic.get(topic) ?? 0;
    for (let p = 0; p < n; p++) all.push({ topic, partition: p });
  }
  const total = all.length;
  const minQuota = Math.floor(total / Math.max(1, sorted.length));
  let extraSlots = total - minQuota * sorted.length;

  // Current owners: the claim from the newest generation wins when two members claim a partition.
  const owner = new Map<string, { memberId: string; generation: number }>();
  for (const m of sorted) {
    for (const tp of m.ownedPartitions) {
      const k = tpKey(tp.topic, tp.partition);
      const prev = owner.get(k);
      if (prev === undefined || m.generationId > prev.generation)
        owner.set(k, { memberId: m.memberId, generation: m.generationId });
    }
  }

  const assigned = new Set<string>();
  const load = new Map<string, number>(sorted.map((m) => [m.memberId, 0]));
  // 1. Keep owned partitions, up to the member's quota.
  for (const m of sorted) {
    const keep = m.ownedPartitions
      .filter(
        (tp) =>
          m.topics.includes(tp.topic) &&
          tp.partition < (partitionsPerTopic.get(tp.topic) ?? 0) &&
          owner.get(tpKey(tp.topic, tp.partition))?.memberId === m.memberId,
      )
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    let quota = minQuota;
    if (keep.length > minQuota && extraSlots > 0) {
      quota++;
      extraSlots--;
    }
    for (const tp of keep.slice(0, quota)) {
      out.get(m.memberId)!.push(tp);
      assigned.add(tpKey(tp.topic, tp.partition));
    }
    load.set(m.memberId, Math.min(keep.length, quota));
  }
  // 2. Everything else to the least loaded subscribed member.
  for (const tp of all) {
    if (assigned.has(tpKey(tp.topic, tp.partition))) continue;
    let best: MemberSubscription | undefined;
    for (const m of sorted) {
      if (!m.topics.includes(tp.topic)) continue;
      if (best === undefined || load.get(m.memberId)! < load.get(best.memberId)!) best = m;
    }
    if (best === undefined) continue;
    out.get(best.memberId)!.push(tp);
    load.set(best.memberId, load.get(best.memberId)! + 1);
  }
  if (cooperative) {
    for (const [memberId, tps] of out) {
      out.set(
        memberId,
        tps.filter((tp) => {
          const o = owner.get(tpKey(tp.topic, tp.partition));
          return o === undefined || o.memberId === memberId || !sorted.some((m) => m.memberId === o.memberId);
        }),
      );
    }
  }
  return out;
}

/** Kafka's CooperativeStickyAssignor: sticky and balanced, with incremental (cooperative) rebalancing. */
export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  protocol: 'cooperative',
  assign: (members, partitionsPerTopic) => stickyAssign(members, partitionsPerTopic, true),
};

export const ASSIGNORS: Record<string, Assignor> = {
  range: rangeAssignor,
  roundrobin: roundRobinAssignor,
  'cooperative-sticky': cooperativeStickyAssignor,
};

/** The consumer protocol version this client writes (Kafka 3.9 writes 3). */
const SUBSCRIPTION_VERSION = 3;
const ASSIGNMENT_VERSION = 3;

function groupByTopic(tps: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const tp of tps) {
    let l = m.get(tp.topic);
    if (l === undefined) m.set(tp.topic, (l = []));
    l.push(tp.partition);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
}

/** JoinGroup metadata for the "consumer" protocol type: int16 version, then the subscription. */
export function encodeSubscription(
  topics: string[],
  owned: readonly TopicPartition[],
  generationId: number,
  rackId: string | null = null,
): Buffer {
  const w = new Writer(64);
  w.int16(SUBSCRIPTION_VERSION);
  writeConsumerProtocolSubscription(w, SUBSCRIPTION_VERSION, {
    topics: [...topics].sort(),
    userData: null,
    ownedPartitions: groupByTopic(owned),
    generationId,
    rackId,
  });
  return w.toBuffer();
}

/** Reads a member's subscription; newer versions only append fields, so they are read as the newest known. */
export function decodeSubscription(memberId: string, groupInstanceId: string | null, data: Buffer): MemberSubscription {
  const r = new Reader(data);
  const version = r.int16();
  const s = readConsumerProtocolSubscription(r, Math.min(Math.max(version, 0), SUBSCRIPTION_VERSION));
  return {
    memberId,
    groupInstanceId,
    topics: s.topics,
    ownedPartitions: s.ownedPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition }))),
    generationId: s.generationId,
    userData: s.userData,
  };
}

export function encodeAssignment(tps: readonly TopicPartition[]): Buffer {
  const w = new Writer(64);
  w.int16(ASSIGNMENT_VERSION);
  writeConsumerProtocolAssignment(w, ASSIGNMENT_VERSION, { assignedPartitions: groupByTopic(tps), userData: null });
  return w.toBuffer();
}

/** An empty buffer (a member with nothing assigned, or a failed sync) decodes to no partitions. */
export function decodeAssignment(data: Buffer): TopicPartition[] {
  if (data.length === 0) return [];
  const r = new Reader(data);
  const version = r.int16();
  const a = readConsumerProtocolAssignment(r, Math.min(Math.max(version, 0), ASSIGNMENT_VERSION));
  return a.assignedPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
}
