import { ErrorCode } from '../protocol/errors.js';
import type { Cluster, TopicPartition } from './cluster.js';
import { type KafkaError, kafkaError } from './errors.js';
import { offsetsByTopic, type OffsetToCommit } from './transactions.js';

/** ListOffsets special timestamps. */
export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;

export type IsolationLevel = 'read_uncommitted' | 'read_committed';

export function isolationLevelCode(level: IsolationLevel): number {
  return level === 'read_committed' ? 1 : 0;
}

export interface OffsetLookup extends TopicPartition {
  /** A timestamp in ms, or EARLIEST_TIMESTAMP / LATEST_TIMESTAMP. */
  timestamp: number;
}

export interface ListedOffset extends TopicPartition {
  /** -1 when no record has a timestamp at or after the one asked for. */
  offset: number;
  timestamp: number;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

const METADATA_ERRORS = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFSET_NOT_AVAILABLE,
]);

/**
 * ListOffsets for many partitions: one request per leader, retried on leadership changes. A
 * request names each partition once, so several lookups of one partition go in separate rounds.
 */
export async function listOffsets(
  cluster: Cluster,
  lookups: OffsetLookup[],
  isolation: IsolationLevel = 'read_uncommitted',
): Promise<ListedOffset[]> {
  const rounds: { index: number; lookup: OffsetLookup }[][] = [];
  const seen = new Map<string, number>();
  lookups.forEach((lookup, index) => {
    const k = key(lookup.topic, lookup.partition);
    const round = seen.get(k) ?? 0;
    seen.set(k, round + 1);
    (rounds[round] ??= []).push({ index, lookup });
  });
  const out: ListedOffset[] = new Array(lookups.length);
  await Promise.all(
    rounds.map(async (round) => {
      const res = await listOffsetsOnce(
        cluster,
        round.map((r) => r.lookup),
        isolation,
      );
      round.forEach((r, i) => (out[r.index] = res[i]!));
    }),
  );
  return out;
}

async function listOffsetsOnce(
  cluster: Cluster,
  lookups: OffsetLookup[],
  isolation: IsolationLevel,
): Promise<ListedOffset[]> {
  const results = new Map<string, ListedOffset>();
  let todo = lookups;
  await cluster.retry('ListOffsets', async () => {
    const byLeader = new Map<number, OffsetLookup[]>();
    for (const l of todo) {
      const leader = await cluster.leader(l.topic, l.partition);
      let list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, (list = []));
      list.push(l);
    }
    const failed: OffsetLookup[] = [];
    let firstError: KafkaError | undefined;
    await Promise.all(
      [...byLeader].map(async ([leader, list]) => {
        const conn = await cluster.broker(leader);
        const res = await conn.request('ListOffsets', (v) => ({
          replicaId: -1,
          isolationLevel: v >= 2 ? isolationLevelCode(isolation) : 0,
          topics: groupLookups(list).map(([name, parts]) => ({
            name,
            partitions: parts.map((p) => ({
              partitionIndex: p.partition,
              currentLeaderEpoch: -1,
              timestamp: p.timestamp,
              maxNumOffsets: 1,
            })),
          })),
        }));
        for (const t of res.topics) {
          for (const p of t.partitions) {
            const lookup = list.find((l) => l.topic === t.name && l.partition === p.partitionIndex);
            if (lookup === undefined) continue;
            if (p.errorCode !== ErrorCode.NONE) {
              if (METADATA_ERRORS.has(p.errorCode)) cluster.invalidateTopic(t.name);
              failed.push(lookup);
              firstError ??= kafkaError(p.errorCode, `ListOffsets ${t.name}-${p.partitionIndex}`);
              continue;
            }
            results.set(key(t.name, p.partitionIndex), {
              topic: t.name,
              partition: p.partitionIndex,
              offset: p.offset,
              timestamp: p.timestamp,
            });
          }
        }
      }),
    );
    todo = failed;
    if (firstError !== undefined) throw firstError;
  });
  return lookups.map((l) => results.get(key(l.topic, l.partition))!);
}

function groupLookups<T extends TopicPartition>(list: T[]): [string, T[]][] {
  const m = new Map<string, T[]>();
  for (const l of list) {
    let x = m.get(l.topic);
    if (x === undefined) m.set(l.topic, (x = []));
    x.push(l);
  }
  return [...m];
}

export interface CommittedOffset extends TopicPartition {
  /** -1 when the group has no committed offset for the partition. */
  offset: number;
  metadata: string | null;
  leaderEpoch: number;
}

export interface MemberIdentity {
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

const NO_MEMBER: MemberIdentity = { generationId: -1, memberId: '', groupInstanceId: null };

const COORDINATOR_MOVED = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]);

/**
 * OffsetFetch: the group's committed offsets for `partitions` (null: every partition it has
 * offsets for). With requireStable, partitions with pending transactional commits are retried
 * (UNSTABLE_OFFSET_COMMIT) rather than answered with a stale offset.
 */
export async function fetchCommittedOffsets(
  cluster: Cluster,
  groupId: string,
  partitions: TopicPartition[] | null,
  opts: { requireStable?: boolean; member?: MemberIdentity } = {},
): Promise<CommittedOffset[]> {
  const requireStable = opts.requireStable ?? true;
  return cluster.retry('OffsetFetch', async () => {
    const conn = await cluster.coordinator('group', groupId);
    const topics =
      partitions === null
        ? null
        : groupLookups(partitions).map(([name, tps]) => ({ name, partitionIndexes: tps.map((t) => t.partition) }));
    const res = await conn.request('OffsetFetch', (v) =>
      v >= 8
        ? {
            groupId: '',
            topics: [],
            groups: [
              {
                groupId,
                memberId: opts.member?.memberId || null,
                memberEpoch: opts.member?.generationId ?? -1,
                topics: topics?.map((t) => ({ name: t.name, partitionIndexes: t.partitionIndexes })) ?? null,
              },
            ],
            requireStable,
          }
        : {
            groupId,
            topics: topics ?? (v >= 2 ? null : []),
            groups: [],
            requireStable: v >= 7 ? requireStable : false,
          },
    );
    let groupError: number;
    let resultTopics: {
      name: string;
      partitions: {
        partitionIndex: number;
        committedOffset: number;
        committedLeaderEpoch: number;
        metadata: string | null;
        errorCode: number;
      }[];
    }[];
    if (res.groups.length > 0) {
      const g = res.groups[0]!;
      groupError = g.errorCode;
      resultTopics = g.topics;
    } else {
      groupError = res.errorCode;
      resultTopics = res.topics;
    }
    if (groupError !== ErrorCode.NONE) {
      if (COORDINATOR_MOVED.has(groupError)) cluster.invalidateCoordinator('group', groupId);
      throw kafkaError(groupError, `OffsetFetch for group "${groupId}"`);
    }
    const out: CommittedOffset[] = [];
    for (const t of resultTopics) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) {
          if (p.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
            out.push({ topic: t.name, partition: p.partitionIndex, offset: -1, metadata: null, leaderEpoch: -1 });
            continue;
          }
          throw kafkaError(p.errorCode, `OffsetFetch ${t.name}-${p.partitionIndex} for group "${groupId}"`);
        }
        out.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          metadata: p.metadata,
          leaderEpoch: p.committedLeaderEpoch,
        });
      }
    }
    return out;
  });
}

/** Errors that mean this member's generation is over; the commit must not be retried as is. */
export const REBALANCE_ERRORS = new Set<number>([
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.STALE_MEMBER_EPOCH,
  ErrorCode.FENCED_MEMBER_EPOCH,
]);

/** OffsetCommit with the member's identity (or none, for groups used without membership). */
export async function commitOffsets(
  cluster: Cluster,
  groupId: string,
  offsets: OffsetToCommit[],
  member: MemberIdentity = NO_MEMBER,
): Promise<void> {
  if (offsets.length === 0) return;
  await cluster.retry('OffsetCommit', async () => {
    const conn = await cluster.coordinator('group', groupId);
    const res = await conn.request('OffsetCommit', (v) => ({
      groupId,
      generationIdOrMemberEpoch: member.generationId,
      memberId: member.memberId,
      groupInstanceId: v >= 7 ? member.groupInstanceId : null,
      retentionTimeMs: -1,
      topics: offsetsByTopic(offsets, (o) => ({
        partitionIndex: o.partition,
        committedOffset: o.offset,
        committedLeaderEpoch: o.leaderEpoch ?? -1,
        commitTimestamp: -1,
        committedMetadata: o.metadata ?? null,
      })),
    }));
    for (const t of res.topics) {
      for (const p of t.partitions) {
        if (p.errorCode === ErrorCode.NONE) continue;
        if (COORDINATOR_MOVED.has(p.errorCode)) cluster.invalidateCoordinator('group', groupId);
        throw kafkaError(p.errorCode, `OffsetCommit ${t.name}-${p.partitionIndex} for group "${groupId}"`);
      }
    }
  });
}
