import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { JoinGroupParams } from '../../src/group/group-coordinator.js';
import { NEW_MEMBER_JOIN_TIMEOUT_MS } from '../../src/group/classic-protocol.js';
import {
  MemoryOffsetsLog,
  advance,
  assignment,
  harness,
  settle,
  subscription,
  track,
  type Harness,
} from './helpers.js';

const SESSION = 10_000;
const REBALANCE = 30_000;

function params(groupId: string, over: Partial<JoinGroupParams> = {}): JoinGroupParams {
  return {
    groupId,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(['orders']) }],
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: true,
    supportSkippingAssignment: false,
    ...over,
  };
}

/** First JoinGroup of a v4+ dynamic member: MEMBER_ID_REQUIRED hands out the id to use. */
async function memberId(h: Harness, groupId: string, over: Partial<JoinGroupParams> = {}): Promise<string> {
  const r = await h.coordinator.join(params(groupId, over));
  assert.equal(r.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.ok(r.memberId.startsWith(`${over.clientId ?? 'client'}-`));
  return r.memberId;
}

interface Member {
  memberId: string;
  generationId: number;
  leader: boolean;
  instanceId: string | null;
}

/** Builds a Stable group of n members (the leader assigns partition i to member i). */
async function stableGroup(
  h: Harness,
  groupId: string,
  n: number,
  over: (i: number) => Partial<JoinGroupParams> = () => ({}),
): Promise<Member[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = over(i);
    ids.push(o.groupInstanceId ? '' : await memberId(h, groupId, o));
  }
  const joins = ids.map((id, i) => track(h.coordinator.join(params(groupId, { ...over(i), memberId: id }))));
  await advance(h, 0);
  const results = joins.map((j) => {
    assert.ok(j.done, 'join answered once the join phase completes');
    return j.value!;
  });
  for (const r of results) assert.equal(r.errorCode, ErrorCode.NONE);
  const members = results.map((r, i) => ({
    memberId: r.memberId,
    generationId: r.generationId,
    leader: r.leader === r.memberId,
    instanceId: over(i).groupInstanceId ?? null,
  }));
  const leader = results.find((r) => r.leader === r.memberId)!;
  assert.equal(leader.members.length, n, 'the leader gets every member');
  const syncs = members.map((m) =>
    h.coordinator.sync({
      groupId,
      generationId: m.generationId,
      memberId: m.memberId,
      groupInstanceId: m.instanceId,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: m.leader
        ? leader.members.map((x, k) => ({
            memberId: x.memberId,
            assignment: assignment([{ topic: 'orders', partitions: [k] }]),
          }))
        : [],
    }),
  );
  const synced = await Promise.all(syncs);
  for (const s of synced) assert.equal(s.errorCode, ErrorCode.NONE);
  return members;
}

function hb(h: Harness, groupId: string, m: Member): number {
  return h.coordinator.heartbeat({
    groupId,
    generationId: m.generationId,
    memberId: m.memberId,
    groupInstanceId: m.instanceId,
  });
}

function state(h: Harness, groupId: string): string {
  return h.coordinator.describeGroups([groupId])[0]!.groupState;
}

test('MEMBER_ID_REQUIRED, then join, sync and a stable generation with the leader assignment', async () => {
  const h = await harness();
  h.topics.add('orders', 3);
  const id = await memberId(h, 'g1');
  assert.equal(state(h, 'g1'), 'Empty', 'a pending member id does not start a rebalance');
  const join = track(h.coordinator.join(params('g1', { memberId: id })));
  await settle();
  assert.equal(join.done, false, 'the join waits for the join phase');
  assert.equal(state(h, 'g1'), 'PreparingRebalance');
  await advance(h, 0);
  const r = join.value!;
  assert.deepEqual(
    {
      errorCode: r.errorCode,
      generationId: r.generationId,
      protocolName: r.protocolName,
      protocolType: r.protocolType,
      leader: r.leader,
      memberId: r.memberId,
    },
    { errorCode: 0, generationId: 1, protocolName: 'range', protocolType: 'consumer', leader: id, memberId: id },
  );
  assert.equal(r.members.length, 1);
  assert.deepEqual(r.members[0]!.metadata, subscription(['orders']));
  assert.equal(state(h, 'g1'), 'CompletingRebalance');
  const mine = assignment([{ topic: 'orders', partitions: [0, 1, 2] }]);
  const s = await h.coordinator.sync({
    groupId: 'g1',
    generationId: 1,
    memberId: id,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [{ memberId: id, assignment: mine }],
  });
  assert.equal(s.errorCode, ErrorCode.NONE);
  assert.deepEqual(s.assignment, mine);
  assert.equal(s.protocolName, 'range');
  const d = h.coordinator.describeGroups(['g1'])[0]!;
  assert.equal(d.groupState, 'Stable');
  assert.equal(d.protocolData, 'range');
  assert.deepEqual(d.members[0]!.memberAssignment, mine);
  assert.equal(d.members[0]!.clientHost, '/127.0.0.1');
});

test('JoinGroup v0-v3 style (no known member id required) joins at once', async () => {
  const h = await harness();
  const join = track(h.coordinator.join(params('old', { requireKnownMemberId: false })));
  await advance(h, 0);
  assert.equal(join.value!.errorCode, ErrorCode.NONE);
  assert.equal(join.value!.generationId, 1);
  assert.equal(join.value!.leader, join.value!.memberId);
});

test('a pending member id that never comes back expires after the session timeout', async () => {
  const h = await harness();
  await memberId(h, 'pend');
  assert.deepEqual(
    h.coordinator.listGroups().groups.map((g) => g.groupId),
    ['pend'],
  );
  await advance(h, SESSION);
  assert.deepEqual(h.coordinator.listGroups().groups, [], 'the group that never got a member is forgotten');
});

test('group.initial.rebalance.delay.ms gathers members joining a new group into one generation', async () => {
  const h = await harness({ config: { groupInitialRebalanceDelayMs: 3000 } });
  const a = track(h.coordinator.join(params('late', { requireKnownMemberId: false, clientId: 'a' })));
  await advance(h, 2000);
  const b = track(h.coordinator.join(params('late', { requireKnownMemberId: false, clientId: 'b' })));
  await advance(h, 1000);
  // b arrived during the delay, so the delay is extended once more.
  assert.equal(a.done, false);
  await advance(h, 2500);
  const c = track(h.coordinator.join(params('late', { requireKnownMemberId: false, clientId: 'c' })));
  await advance(h, 500);
  assert.equal(a.done, false, 'c arrived during the extension: another delay');
  await advance(h, 3000);
  for (const j of [a, b, c]) {
    assert.equal(j.value!.errorCode, ErrorCode.NONE);
    assert.equal(j.value!.generationId, 1);
  }
  assert.equal(a.value!.leader, a.value!.memberId, 'the first member leads');
  assert.equal(a.value!.members.length, 3);
});

test('the initial delay never extends beyond the rebalance timeout', async () => {
  const h = await harness({ config: { groupInitialRebalanceDelayMs: 3000 } });
  const first = track(h.coordinator.join(params('bounded', { requireKnownMemberId: false, rebalanceTimeoutMs: 7000 })));
  // A new member every 2.5 s keeps extending the delay, but only up to the 7 s rebalance timeout.
  for (let t = 0; t < 7; t++) {
    await advance(h, 1000);
    if (t % 2 === 0)
      void h.coordinator.join(params('bounded', { requireKnownMemberId: false, rebalanceTimeoutMs: 7000 }));
  }
  assert.equal(first.done, true, 'the join phase ended at the rebalance timeout');
  assert.equal(first.value!.generationId, 1);
});

test('protocol selection: the common protocol most members prefer; incompatible members are refused', async () => {
  const h = await harness();
  const meta = subscription(['t']);
  const a = await memberId(h, 'sel');
  const b = await memberId(h, 'sel');
  const c = await memberId(h, 'sel');
  const ja = track(
    h.coordinator.join(
      params('sel', {
        memberId: a,
        protocols: [
          { name: 'range', metadata: meta },
          { name: 'roundrobin', metadata: meta },
          { name: 'sticky', metadata: meta },
        ],
      }),
    ),
  );
  const jb = track(
    h.coordinator.join(
      params('sel', {
        memberId: b,
        protocols: [
          { name: 'roundrobin', metadata: meta },
          { name: 'range', metadata: meta },
        ],
      }),
    ),
  );
  const jc = track(
    h.coordinator.join(
      params('sel', {
        memberId: c,
        protocols: [
          { name: 'roundrobin', metadata: meta },
          { name: 'range', metadata: meta },
        ],
      }),
    ),
  );
  await settle();
  // No protocol in common with the group, or another protocol type: refused, group unaffected.
  const bad = await h.coordinator.join(
    params('sel', { requireKnownMemberId: false, protocols: [{ name: 'cooperative-sticky', metadata: meta }] }),
  );
  assert.equal(bad.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const connect = await h.coordinator.join(
    params('sel', {
      requireKnownMemberId: false,
      protocolType: 'connect',
      protocols: [{ name: 'range', metadata: meta }],
    }),
  );
  assert.equal(connect.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  await advance(h, 0);
  for (const j of [ja, jb, jc])
    assert.equal(j.value!.protocolName, 'roundrobin', 'sticky is not common; roundrobin has two first votes');
  assert.equal(ja.value!.members.length, 3);
});

test('any protocol type works: a Kafka Connect style group', async () => {
  const h = await harness();
  const j = track(
    h.coordinator.join(
      params('connect-cluster', {
        requireKnownMemberId: false,
        protocolType: 'connect',
        protocols: [{ name: 'sessioned', metadata: Buffer.from('worker-1') }],
      }),
    ),
  );
  await advance(h, 0);
  assert.equal(j.value!.protocolType, 'connect');
  const s = await h.coordinator.sync({
    groupId: 'connect-cluster',
    generationId: 1,
    memberId: j.value!.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [{ memberId: j.value!.memberId, assignment: Buffer.from('all') }],
  });
  assert.deepEqual(s.assignment, Buffer.from('all'));
  assert.deepEqual(h.coordinator.listGroups().groups, [
    { groupId: 'connect-cluster', protocolType: 'connect', groupState: 'Stable', groupType: 'classic' },
  ]);
});

test('session timeout out of the broker bounds is refused', async () => {
  const h = await harness();
  assert.equal(
    (await h.coordinator.join(params('s', { sessionTimeoutMs: 1000 }))).errorCode,
    ErrorCode.INVALID_SESSION_TIMEOUT,
  );
  assert.equal(
    (await h.coordinator.join(params('s', { sessionTimeoutMs: 2_000_000 }))).errorCode,
    ErrorCode.INVALID_SESSION_TIMEOUT,
  );
  assert.equal((await h.coordinator.join(params(''))).errorCode, ErrorCode.INVALID_GROUP_ID);
});

test('heartbeats: NONE when stable, REBALANCE_IN_PROGRESS during a rebalance, ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID otherwise', async () => {
  const h = await harness();
  const [a, b] = await stableGroup(h, 'hb', 2);
  assert.equal(hb(h, 'hb', a!), ErrorCode.NONE);
  assert.equal(hb(h, 'hb', { ...a!, generationId: 0 }), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(hb(h, 'hb', { ...a!, memberId: 'nobody' }), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(
    h.coordinator.heartbeat({ groupId: 'nope', generationId: 1, memberId: a!.memberId, groupInstanceId: null }),
    ErrorCode.UNKNOWN_MEMBER_ID,
  );
  // A third member starts a rebalance: the others learn it from their heartbeat.
  const c = await memberId(h, 'hb');
  const jc = track(h.coordinator.join(params('hb', { memberId: c })));
  await settle();
  assert.equal(state(h, 'hb'), 'PreparingRebalance');
  assert.equal(hb(h, 'hb', a!), ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(hb(h, 'hb', b!), ErrorCode.REBALANCE_IN_PROGRESS);
  // Sync in PreparingRebalance also says so.
  const s = await h.coordinator.sync({
    groupId: 'hb',
    generationId: a!.generationId,
    memberId: a!.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [],
  });
  assert.equal(s.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  const ja = track(h.coordinator.join(params('hb', { memberId: a!.memberId })));
  const jb = track(h.coordinator.join(params('hb', { memberId: b!.memberId })));
  await settle();
  for (const j of [ja, jb, jc])
    assert.equal(j.value!.generationId, 2, 'all three complete the join phase as soon as everyone rejoined');
  assert.equal(state(h, 'hb'), 'CompletingRebalance');
  // Heartbeats between JoinGroup and SyncGroup are fine; the old generation is not.
  assert.equal(hb(h, 'hb', { ...a!, generationId: 2 }), ErrorCode.NONE);
  assert.equal(hb(h, 'hb', a!), ErrorCode.ILLEGAL_GENERATION);
});

test('a follower rejoining a stable group with unchanged metadata gets the current generation, no rebalance', async () => {
  const h = await harness();
  const [a, b] = await stableGroup(h, 'rejoin', 2);
  const follower = a!.leader ? b! : a!;
  const r = await h.coordinator.join(params('rejoin', { memberId: follower.memberId }));
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.generationId, 1);
  assert.deepEqual(r.members, []);
  assert.equal(state(h, 'rejoin'), 'Stable');
  // With new metadata it does trigger a rebalance.
  const changed = track(
    h.coordinator.join(
      params('rejoin', {
        memberId: follower.memberId,
        protocols: [{ name: 'range', metadata: subscription(['orders', 'refunds']) }],
      }),
    ),
  );
  await settle();
  assert.equal(state(h, 'rejoin'), 'PreparingRebalance');
  assert.equal(changed.done, false);
});

test('joins racing with leaves: a member leaving mid-rebalance lets the join phase complete without it', async () => {
  const h = await harness();
  const [a, b] = await stableGroup(h, 'race', 2);
  const c = await memberId(h, 'race');
  const jc = track(h.coordinator.join(params('race', { memberId: c })));
  await settle();
  const ja = track(h.coordinator.join(params('race', { memberId: a!.memberId })));
  await settle();
  assert.equal(jc.done, false, 'b has not rejoined yet');
  // b leaves instead of rejoining; the join phase completes at once with a and c.
  const leave = h.coordinator.leave('race', [{ memberId: b!.memberId, groupInstanceId: null }]);
  assert.deepEqual(
    leave.members.map((m) => m.errorCode),
    [ErrorCode.NONE],
  );
  await settle();
  assert.equal(ja.value!.generationId, 2);
  assert.equal(jc.value!.generationId, 2);
  const leaderResult = [ja.value!, jc.value!].find((r) => r.leader === r.memberId)!;
  assert.deepEqual(leaderResult.members.map((m) => m.memberId).sort(), [a!.memberId, c].sort());
  // A leave of a member that is waiting in JoinGroup answers that JoinGroup too.
  const d = await memberId(h, 'race');
  const jd = track(h.coordinator.join(params('race', { memberId: d })));
  await settle();
  h.coordinator.leave('race', [{ memberId: d, groupInstanceId: null }]);
  await settle();
  assert.equal(jd.value!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // Leaving twice, or an unknown member: UNKNOWN_MEMBER_ID for that member only.
  const again = h.coordinator.leave('race', [
    { memberId: b!.memberId, groupInstanceId: null },
    { memberId: a!.memberId, groupInstanceId: null },
  ]);
  assert.deepEqual(
    again.members.map((m) => m.errorCode),
    [ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.NONE],
  );
});

test('the leader leaving mid-rebalance hands leadership to a member that rejoined', async () => {
  const h = await harness();
  const members = await stableGroup(h, 'lead', 3);
  const leader = members.find((m) => m.leader)!;
  const others = members.filter((m) => !m.leader);
  const joins = others.map((m) =>
    track(
      h.coordinator.join(
        params('lead', {
          memberId: m.memberId,
          protocols: [{ name: 'range', metadata: subscription(['orders', 'x']) }],
        }),
      ),
    ),
  );
  await settle();
  h.coordinator.leave('lead', [{ memberId: leader.memberId, groupInstanceId: null }]);
  await settle();
  const results = joins.map((j) => j.value!);
  const newLeader = results[0]!.leader;
  assert.ok(
    others.some((m) => m.memberId === newLeader),
    'a rejoined member leads',
  );
  assert.equal(results.find((r) => r.memberId === newLeader)!.members.length, 2);
  assert.ok(results.every((r) => r.generationId === 2 && r.leader === newLeader));
});

test('session expiry removes a silent member and the group rebalances without it', async () => {
  const h = await harness();
  const [a, b] = await stableGroup(h, 'expire', 2);
  await advance(h, SESSION / 2);
  assert.equal(hb(h, 'expire', a!), ErrorCode.NONE, 'a keeps heartbeating');
  await advance(h, SESSION / 2 - 1);
  assert.equal(hb(h, 'expire', a!), ErrorCode.NONE, 'b is still a member 1 ms before its session ends');
  await advance(h, 1);
  // b has been silent for a whole session: it is gone and a rebalance is on.
  assert.equal(hb(h, 'expire', b!), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(hb(h, 'expire', a!), ErrorCode.REBALANCE_IN_PROGRESS);
  const ja = await h.coordinator.join(params('expire', { memberId: a!.memberId }));
  assert.equal(ja.generationId, 2);
  assert.deepEqual(
    ja.members.map((m) => m.memberId),
    [a!.memberId],
  );
});

test('rebalance timeout: a member that keeps heartbeating but never rejoins is dropped when the join phase times out', async () => {
  const h = await harness();
  const [a, b] = await stableGroup(h, 'slow', 2);
  const c = await memberId(h, 'slow');
  const jc = track(h.coordinator.join(params('slow', { memberId: c })));
  const ja = track(h.coordinator.join(params('slow', { memberId: a!.memberId })));
  for (let t = 0; t < REBALANCE / 5000 - 1; t++) {
    await advance(h, 5000);
    assert.equal(hb(h, 'slow', b!), ErrorCode.REBALANCE_IN_PROGRESS);
  }
  assert.equal(ja.done, false);
  await advance(h, 5000);
  assert.equal(ja.value!.generationId, 2);
  assert.equal(jc.value!.generationId, 2);
  assert.equal(hb(h, 'slow', b!), ErrorCode.UNKNOWN_MEMBER_ID, 'b was removed at the rebalance timeout');
});

test('a member that never sends SyncGroup is removed after the rebalance timeout and the group rebalances', async () => {
  const h = await harness();
  const ida = await memberId(h, 'nosync');
  const idb = await memberId(h, 'nosync');
  const ja = track(h.coordinator.join(params('nosync', { memberId: ida })));
  const jb = track(h.coordinator.join(params('nosync', { memberId: idb })));
  await advance(h, 0);
  const leader = [ja.value!, jb.value!].find((r) => r.leader === r.memberId)!;
  const follower = [ja.value!, jb.value!].find((r) => r.leader !== r.memberId)!;
  const s = await h.coordinator.sync({
    groupId: 'nosync',
    generationId: 1,
    memberId: leader.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: leader.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.from(m.memberId) })),
  });
  assert.equal(s.errorCode, ErrorCode.NONE);
  assert.equal(state(h, 'nosync'), 'Stable');
  // The follower heartbeats but never syncs.
  for (let t = 0; t < REBALANCE / 5000; t++) {
    await advance(h, 5000);
    h.coordinator.heartbeat({ groupId: 'nosync', generationId: 1, memberId: leader.memberId, groupInstanceId: null });
    h.coordinator.heartbeat({ groupId: 'nosync', generationId: 1, memberId: follower.memberId, groupInstanceId: null });
  }
  assert.equal(state(h, 'nosync'), 'PreparingRebalance');
  assert.equal(
    h.coordinator.heartbeat({ groupId: 'nosync', generationId: 1, memberId: follower.memberId, groupInstanceId: null }),
    ErrorCode.UNKNOWN_MEMBER_ID,
  );
});

test('members of a completing rebalance that resync after a new rebalance starts get REBALANCE_IN_PROGRESS', async () => {
  const h = await harness();
  const ida = await memberId(h, 'cr');
  const idb = await memberId(h, 'cr');
  const ja = track(h.coordinator.join(params('cr', { memberId: ida })));
  const jb = track(h.coordinator.join(params('cr', { memberId: idb })));
  await advance(h, 0);
  const follower = [ja.value!, jb.value!].find((r) => r.leader !== r.memberId)!;
  const waiting = track(
    h.coordinator.sync({
      groupId: 'cr',
      generationId: 1,
      memberId: follower.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    }),
  );
  await settle();
  assert.equal(waiting.done, false, 'the follower waits for the leader');
  // A commit from a member in CompletingRebalance is refused with REBALANCE_IN_PROGRESS.
  h.topics.add('orders', 1);
  const commit = await h.coordinator.commitOffsets({
    groupId: 'cr',
    generationIdOrMemberEpoch: 1,
    memberId: follower.memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: 'orders',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 5,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  assert.equal(commit[0]!.partitions[0]!.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  // A new member arrives before the leader syncs.
  void h.coordinator.join(params('cr', { requireKnownMemberId: false }));
  await settle();
  assert.equal(waiting.value!.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(state(h, 'cr'), 'PreparingRebalance');
});

test('static membership: a restarted member takes its place back without a rebalance; the old incarnation is fenced', async () => {
  const h = await harness();
  h.topics.add('orders', 2);
  const members = await stableGroup(h, 'static', 2, (i) => ({ groupInstanceId: `instance-${i}`, clientId: `c${i}` }));
  const follower = members.find((m) => !m.leader)!;
  const other = members.find((m) => m.leader)!;
  const before = h.coordinator
    .describeGroups(['static'])[0]!
    .members.find((m) => m.memberId === follower.memberId)!.memberAssignment;
  // The follower's process restarts: it joins with no member id but the same instance id.
  const r = await h.coordinator.join(
    params('static', { groupInstanceId: follower.instanceId, clientId: 'c-restarted' }),
  );
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.notEqual(r.memberId, follower.memberId);
  assert.equal(r.generationId, follower.generationId, 'same generation: no rebalance');
  assert.equal(state(h, 'static'), 'Stable');
  assert.equal(hb(h, 'static', other), ErrorCode.NONE, 'the other member is undisturbed');
  const s = await h.coordinator.sync({
    groupId: 'static',
    generationId: r.generationId,
    memberId: r.memberId,
    groupInstanceId: follower.instanceId,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [],
  });
  assert.deepEqual(s.assignment, before, 'the new incarnation gets the old assignment');
  // The old member id is fenced.
  assert.equal(hb(h, 'static', follower), ErrorCode.FENCED_INSTANCE_ID);
  const commit = await h.coordinator.commitOffsets({
    groupId: 'static',
    generationIdOrMemberEpoch: follower.generationId,
    memberId: follower.memberId,
    groupInstanceId: follower.instanceId,
    retentionTimeMs: -1,
    topics: [
      {
        name: 'orders',
        partitions: [
          {
            partitionIndex: 1,
            committedOffset: 1,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  assert.equal(commit[0]!.partitions[0]!.errorCode, ErrorCode.FENCED_INSTANCE_ID);
  assert.equal(
    h.coordinator.leave('static', [{ memberId: follower.memberId, groupInstanceId: follower.instanceId }]).members[0]!
      .errorCode,
    ErrorCode.FENCED_INSTANCE_ID,
  );
});

test('static leader restart: v9 tells it to skip the assignment, older versions report the previous leader id', async () => {
  const h = await harness();
  const members = await stableGroup(h, 'sl', 2, (i) => ({ groupInstanceId: `i${i}` }));
  const leader = members.find((m) => m.leader)!;
  const v9 = await h.coordinator.join(
    params('sl', { groupInstanceId: leader.instanceId, supportSkippingAssignment: true }),
  );
  assert.equal(v9.skipAssignment, true);
  assert.equal(v9.leader, v9.memberId, 'it is told it leads');
  assert.equal(v9.members.length, 2);
  const old = await h.coordinator.join(
    params('sl', { groupInstanceId: leader.instanceId, supportSkippingAssignment: false }),
  );
  assert.equal(old.skipAssignment, false);
  assert.equal(old.leader, v9.memberId, 'the previous leader id, so the client does not assign');
  assert.notEqual(old.memberId, v9.memberId);
  assert.deepEqual(old.members, []);
  assert.equal(state(h, 'sl'), 'Stable');
});

test('a static member rejoining with a different protocol forces a rebalance', async () => {
  const h = await harness();
  const [m] = await stableGroup(h, 'sp', 1, () => ({ groupInstanceId: 'x' }));
  const j = track(
    h.coordinator.join(
      params('sp', {
        groupInstanceId: 'x',
        protocols: [
          { name: 'roundrobin', metadata: subscription(['orders']) },
          { name: 'range', metadata: subscription(['orders']) },
        ],
      }),
    ),
  );
  await advance(h, 0);
  assert.equal(j.value!.errorCode, ErrorCode.NONE);
  assert.equal(j.value!.generationId, m!.generationId + 1);
  assert.equal(j.value!.protocolName, 'roundrobin');
});

test('a static member whose session ends is removed and the group rebalances', async () => {
  const h = await harness();
  const [a, b] = await stableGroup(h, 'sx', 2, (i) => ({ groupInstanceId: `s${i}` }));
  for (let t = 0; t < 4; t++) {
    await advance(h, SESSION / 4);
    hb(h, 'sx', a!);
  }
  await advance(h, 1);
  assert.equal(hb(h, 'sx', b!), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(hb(h, 'sx', a!), ErrorCode.REBALANCE_IN_PROGRESS);
});

test('two processes with one instance id: the older waiting JoinGroup is fenced', async () => {
  const h = await harness();
  const j1 = track(h.coordinator.join(params('dup', { groupInstanceId: 'same', requireKnownMemberId: true })));
  await settle();
  assert.equal(j1.done, false, 'static members skip MEMBER_ID_REQUIRED and wait in the join phase');
  const j2 = track(h.coordinator.join(params('dup', { groupInstanceId: 'same' })));
  await settle();
  assert.equal(j1.value!.errorCode, ErrorCode.FENCED_INSTANCE_ID);
  await advance(h, 0);
  assert.equal(j2.value!.errorCode, ErrorCode.NONE);
});

test('LeaveGroup v3+ batch: static members by instance id, unknown members reported one by one', async () => {
  const h = await harness();
  const members = await stableGroup(h, 'batch', 3, (i) => (i === 0 ? { groupInstanceId: 'static-0' } : {}));
  const dynamic = members.filter((m) => m.instanceId === null);
  const r = h.coordinator.leave('batch', [
    { memberId: '', groupInstanceId: 'static-0' },
    { memberId: dynamic[0]!.memberId, groupInstanceId: null },
    { memberId: 'ghost', groupInstanceId: null },
    { memberId: '', groupInstanceId: 'no-such-instance' },
  ]);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(
    r.members.map((m) => [m.memberId, m.groupInstanceId, m.errorCode]),
    [
      ['', 'static-0', ErrorCode.NONE],
      [dynamic[0]!.memberId, null, ErrorCode.NONE],
      ['ghost', null, ErrorCode.UNKNOWN_MEMBER_ID],
      ['', 'no-such-instance', ErrorCode.UNKNOWN_MEMBER_ID],
    ],
  );
  assert.equal(h.coordinator.describeGroups(['batch'])[0]!.members.length, 1);
  assert.deepEqual(
    h.coordinator.leave('unknown-group', [{ memberId: 'm', groupInstanceId: null }]).members[0]!.errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
  );
});

test('the last member leaving empties the group; its offsets stay and it can start again', async () => {
  const h = await harness();
  h.topics.add('orders', 1);
  const [a] = await stableGroup(h, 'bye', 1);
  const c = await h.coordinator.commitOffsets({
    groupId: 'bye',
    generationIdOrMemberEpoch: a!.generationId,
    memberId: a!.memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: 'orders',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 42,
            committedLeaderEpoch: 3,
            commitTimestamp: -1,
            committedMetadata: 'meta',
          },
        ],
      },
    ],
  });
  assert.equal(c[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  h.coordinator.leave('bye', [{ memberId: a!.memberId, groupInstanceId: null }]);
  await settle();
  const d = h.coordinator.describeGroups(['bye'])[0]!;
  assert.equal(d.groupState, 'Empty');
  assert.deepEqual(d.members, []);
  assert.equal(
    h.coordinator.fetchOffsets({ groupId: 'bye', topics: null, requireStable: false }).topics[0]!.partitions[0]!
      .committedOffset,
    42,
  );
  // Stale generation heartbeats get UNKNOWN_MEMBER_ID in an empty group.
  assert.equal(hb(h, 'bye', a!), ErrorCode.UNKNOWN_MEMBER_ID);
  const again = await stableGroup(h, 'bye', 1);
  assert.equal(again[0]!.generationId, 3, 'generation 2 was the empty one');
});

test('group.max.size refuses members beyond the limit', async () => {
  const h = await harness({ config: { groupMaxSize: 2 } });
  await stableGroup(h, 'small', 2);
  const r = await h.coordinator.join(params('small', { requireKnownMemberId: false }));
  assert.equal(r.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
  assert.equal(state(h, 'small'), 'Stable');
});

test('new members whose join phase never finishes expire after the new-member timeout', async () => {
  const h = await harness();
  // A static member that never rejoins keeps the join phase open until its session ends;
  // here we instead check a new member stuck behind a join phase that cannot complete.
  const [a] = await stableGroup(h, 'stuck', 1, () => ({
    groupInstanceId: 'keeps-silent',
    sessionTimeoutMs: 1_800_000,
    rebalanceTimeoutMs: 1_800_000,
  }));
  const n = track(h.coordinator.join(params('stuck', { requireKnownMemberId: false, rebalanceTimeoutMs: 1_800_000 })));
  for (let t = 0; t < NEW_MEMBER_JOIN_TIMEOUT_MS / 60_000; t++) {
    await advance(h, 60_000);
    hb(h, 'stuck', a!);
  }
  await advance(h, 1);
  assert.equal(n.value!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('while __consumer_offsets loads, group requests get COORDINATOR_LOAD_IN_PROGRESS', async () => {
  const log = new MemoryOffsetsLog(3);
  let release!: () => void;
  log.readGate = new Promise<void>((r) => (release = r));
  const { GroupCoordinator } = await import('../../src/group/group-coordinator.js');
  const { ManualTime } = await import('../../src/group/time.js');
  const { DEFAULT_GROUP_CONFIG } = await import('../../src/group/types.js');
  const { FakeTopics } = await import('./helpers.js');
  const c = new GroupCoordinator({
    node: () => ({ nodeId: 1, host: 'h', port: 1 }),
    config: DEFAULT_GROUP_CONFIG,
    offsetsTopicPartitionCount: 3,
    offsetsLog: log,
    topics: new FakeTopics(),
    time: new ManualTime(),
  });
  const started = c.startup();
  await settle();
  assert.equal(c.isLoading, true);
  assert.equal((await c.join(params('g'))).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  assert.equal(
    c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }),
    ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  );
  assert.equal(
    (
      await c.sync({
        groupId: 'g',
        generationId: 1,
        memberId: 'm',
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments: [],
      })
    ).errorCode,
    ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  );
  assert.equal(
    c.fetchOffsets({ groupId: 'g', topics: null, requireStable: false }).errorCode,
    ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  );
  assert.equal(c.listGroups().errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  assert.equal(c.leave('g', []).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  release();
  await started;
  assert.equal(c.isLoading, false);
  assert.equal(log.created, true, 'start-up creates the internal topic');
  const j = await c.join(params('g'));
  assert.equal(j.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  c.shutdown();
});

test('a failed write of the leader assignment fails the sync and restarts the rebalance', async () => {
  const h = await harness();
  const id = await memberId(h, 'wfail');
  const j = track(h.coordinator.join(params('wfail', { memberId: id })));
  await advance(h, 0);
  h.log.failAppends = new Error('disk full');
  const s = await h.coordinator.sync({
    groupId: 'wfail',
    generationId: j.value!.generationId,
    memberId: id,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [{ memberId: id, assignment: Buffer.from('x') }],
  });
  assert.equal(s.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(state(h, 'wfail'), 'PreparingRebalance');
  h.log.failAppends = null;
  const again = await h.coordinator.join(params('wfail', { memberId: id }));
  assert.equal(again.generationId, 2);
});

test('shutdown answers waiting joins with NOT_COORDINATOR and stops all timers', async () => {
  const h = await harness({ config: { groupInitialRebalanceDelayMs: 3000 } });
  const j = track(h.coordinator.join(params('down', { requireKnownMemberId: false })));
  await settle();
  h.coordinator.shutdown();
  await settle();
  assert.equal(j.value!.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(h.time.pendingTimers(), 0);
});

test('thousands of groups share one host timer', async () => {
  const h = await harness();
  for (let g = 0; g < 2000; g++) void h.coordinator.join(params(`many-${g}`, { requireKnownMemberId: false }));
  await advance(h, 0);
  // Each member has a session deadline, but only the earliest is armed on the clock.
  assert.equal(h.time.pendingTimers(), 1);
  assert.equal(h.coordinator.listGroups(['CompletingRebalance']).groups.length, 2000);
});
