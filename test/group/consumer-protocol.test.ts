import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { ConsumerGroupHeartbeatParams, ConsumerGroupHeartbeatResult } from '../../src/group/group-coordinator.js';
import { rangeAssignor, uniformAssignor } from '../../src/group/assignors.js';
import { advance, harness, settle, subscription, track, type Harness } from './helpers.js';

/** A KIP-848 consumer as the protocol expects one to behave: revokes what it loses, reports what it owns. */
class Member {
  memberId = '';
  epoch = 0;
  owned = new Map<string, Set<number>>();
  last: ConsumerGroupHeartbeatResult | null = null;

  constructor(
    readonly h: Harness,
    readonly groupId: string,
    public topics: string[],
    readonly opts: { instanceId?: string; assignor?: string; rebalanceTimeoutMs?: number; clientId?: string } = {},
  ) {}

  ownedList() {
    return [...this.owned].map(([topicId, s]) => ({ topicId, partitions: [...s].sort((a, b) => a - b) }));
  }

  async heartbeat(over: Partial<ConsumerGroupHeartbeatParams> = {}): Promise<ConsumerGroupHeartbeatResult> {
    const joining = this.epoch === 0;
    const r = await this.h.coordinator.consumerGroupHeartbeat(
      {
        groupId: this.groupId,
        memberId: this.memberId,
        memberEpoch: this.epoch,
        instanceId: this.opts.instanceId ?? null,
        rackId: null,
        rebalanceTimeoutMs: joining ? (this.opts.rebalanceTimeoutMs ?? 30_000) : -1,
        subscribedTopicNames: joining ? this.topics : null,
        serverAssignor: joining ? (this.opts.assignor ?? null) : null,
        topicPartitions: joining ? [] : this.ownedList(),
        ...over,
      },
      { clientId: this.opts.clientId ?? 'kip848-client', clientHost: '/127.0.0.1' },
    );
    this.last = r;
    if (r.errorCode !== ErrorCode.NONE) return r;
    this.memberId = r.memberId!;
    this.epoch = r.memberEpoch;
    if (r.assignment !== null) {
      // Revoke what is gone (at once), take what is new.
      this.owned = new Map(r.assignment.topicPartitions.map((tp) => [tp.topicId, new Set(tp.partitions)]));
    }
    return r;
  }

  count(): number {
    let n = 0;
    for (const s of this.owned.values()) n += s.size;
    return n;
  }
}

/** No partition is ever owned by two members at once. */
function assertExclusive(members: Member[]): void {
  const seen = new Map<string, string>();
  for (const m of members) {
    for (const [t, parts] of m.owned) {
      for (const p of parts) {
        const k = `${t}:${p}`;
        assert.ok(!seen.has(k), `partition ${k} owned by ${seen.get(k)} and ${m.memberId}`);
        seen.set(k, m.memberId);
      }
    }
  }
}

/** Heartbeats every member in rounds until the group is Stable; checks exclusivity after every heartbeat. */
async function converge(h: Harness, groupId: string, members: Member[], maxRounds = 20): Promise<number> {
  for (let round = 1; round <= maxRounds; round++) {
    for (const m of members) {
      const r = await m.heartbeat();
      assert.equal(r.errorCode, ErrorCode.NONE, `heartbeat of ${m.memberId}: ${r.errorMessage}`);
      assertExclusive(members);
    }
    const d = h.coordinator.consumerGroupDescribe([groupId])[0]!;
    if (d.groupState === 'Stable') return round;
  }
  assert.fail('group did not become stable');
}

function coverage(members: Member[]): string[] {
  const out: string[] = [];
  for (const m of members) for (const [t, s] of m.owned) for (const p of s) out.push(`${t}:${p}`);
  return out.sort();
}

function allPartitions(h: Harness, topics: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [name, n] of Object.entries(topics))
    for (let p = 0; p < n; p++) out.push(`${h.topics.topicIdOf(name)}:${p}`);
  return out.sort();
}

test('first heartbeat: a member id, epoch 1 and every partition of its subscription', async () => {
  const h = await harness();
  h.topics.add('orders', 4);
  const m = new Member(h, 'k1', ['orders']);
  const r = await m.heartbeat();
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.match(r.memberId!, /^[0-9a-f-]{36}$/);
  assert.equal(r.memberEpoch, 1);
  assert.equal(r.heartbeatIntervalMs, 5000);
  assert.deepEqual(r.assignment, {
    topicPartitions: [{ topicId: h.topics.topicIdOf('orders')!, partitions: [0, 1, 2, 3] }],
  });
  // A heartbeat that changes nothing does not repeat the assignment.
  const again = await m.heartbeat({ topicPartitions: null });
  assert.equal(again.assignment, null);
  assert.equal(again.memberEpoch, 1);
  const d = h.coordinator.consumerGroupDescribe(['k1'])[0]!;
  assert.deepEqual(
    { state: d.groupState, epoch: d.groupEpoch, assignmentEpoch: d.assignmentEpoch, assignor: d.assignorName },
    { state: 'Stable', epoch: 1, assignmentEpoch: 1, assignor: 'uniform' },
  );
  assert.deepEqual(d.members[0]!.assignment.topicPartitions, [
    { topicId: h.topics.topicIdOf('orders'), topicName: 'orders', partitions: [0, 1, 2, 3] },
  ]);
  assert.equal(d.members[0]!.clientId, 'kip848-client');
});

for (const assignor of ['uniform', 'range']) {
  test(`${assignor} assignor: members joining and leaving converge without a partition ever owned twice`, async () => {
    const h = await harness();
    const topics = { a: 7, b: 5 };
    for (const [n, p] of Object.entries(topics)) h.topics.add(n, p);
    const members: Member[] = [];
    for (let i = 0; i < 3; i++) {
      members.push(new Member(h, 'conv', ['a', 'b'], { assignor }));
      await converge(h, 'conv', members);
      assert.deepEqual(
        coverage(members),
        allPartitions(h, topics),
        `all partitions owned with ${members.length} members`,
      );
    }
    const counts = members.map((m) => m.count()).sort();
    if (assignor === 'uniform') assert.deepEqual(counts, [4, 4, 4]);
    else assert.deepEqual(counts, [3, 4, 5], 'range: 7 → 3/2/2, 5 → 2/2/1');
    const epoch = h.coordinator.consumerGroupDescribe(['conv'])[0]!.groupEpoch;
    // One leaves; the other two take its partitions.
    const leaving = members.shift()!;
    const bye = await leaving.heartbeat({ memberEpoch: -1 });
    assert.equal(bye.memberEpoch, -1);
    await converge(h, 'conv', members);
    assert.deepEqual(coverage(members), allPartitions(h, topics));
    assert.equal(h.coordinator.consumerGroupDescribe(['conv'])[0]!.groupEpoch, epoch + 1);
    assert.equal(h.coordinator.consumerGroupDescribe(['conv'])[0]!.assignorName, assignor);
  });
}

test('a member must revoke before the partition moves: the newcomer waits for the release', async () => {
  const h = await harness();
  h.topics.add('t', 2);
  const a = new Member(h, 'rev', ['t']);
  await a.heartbeat();
  assert.equal(a.count(), 2);
  const b = new Member(h, 'rev', ['t']);
  const rb = await b.heartbeat();
  assert.equal(rb.memberEpoch, 2, 'b is at the new epoch...');
  assert.deepEqual(rb.assignment, { topicPartitions: [] }, '...but its partition is still held by a');
  assert.equal(h.coordinator.consumerGroupDescribe(['rev'])[0]!.groupState, 'Reconciling');
  // a hears it must give one up, still at epoch 1.
  const ra = await a.heartbeat({ topicPartitions: a.ownedList() });
  assert.equal(ra.memberEpoch, 1);
  assert.equal(a.count(), 1);
  // a now reports it no longer owns it: it moves to epoch 2; then b gets the released partition.
  assert.equal((await a.heartbeat()).memberEpoch, 2);
  const rb2 = await b.heartbeat();
  assert.equal(rb2.assignment!.topicPartitions[0]!.partitions.length, 1);
  assertExclusive([a, b]);
  assert.equal(h.coordinator.consumerGroupDescribe(['rev'])[0]!.groupState, 'Stable');
});

test('a member that does not revoke within its rebalance timeout is fenced', async () => {
  const h = await harness();
  h.topics.add('t', 2);
  const a = new Member(h, 'stubborn', ['t'], { rebalanceTimeoutMs: 10_000 });
  await a.heartbeat();
  const keep = a.ownedList();
  const b = new Member(h, 'stubborn', ['t']);
  await b.heartbeat();
  // a keeps reporting both partitions.
  for (let t = 0; t < 3; t++) {
    await a.heartbeat({ topicPartitions: keep });
    await b.heartbeat();
    await advance(h, 3000);
  }
  await advance(h, 1000);
  const r = await a.heartbeat({ topicPartitions: keep });
  assert.equal(r.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  await b.heartbeat();
  await b.heartbeat();
  assert.equal(b.count(), 2, 'b got everything once a was fenced');
});

test('session expiry removes a silent member; the survivors take its partitions', async () => {
  const h = await harness({ config: { consumerSessionTimeoutMs: 45_000 } });
  h.topics.add('t', 4);
  const a = new Member(h, 'exp', ['t']);
  const b = new Member(h, 'exp', ['t']);
  await converge(h, 'exp', [a, b]);
  for (let t = 0; t < 8; t++) {
    await advance(h, 5000);
    await a.heartbeat();
  }
  await advance(h, 4999);
  await a.heartbeat();
  assert.equal(a.count(), 2, 'b is still a member 1 ms before its session ends');
  await advance(h, 1);
  await a.heartbeat();
  assert.equal(a.count(), 4);
  assert.equal((await b.heartbeat()).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // The expelled member rejoins from scratch.
  b.epoch = 0;
  b.owned.clear();
  await converge(h, 'exp', [a, b]);
  assert.deepEqual([a.count(), b.count()], [2, 2]);
});

test('epoch checks: a newer epoch or an older one is fenced, a lost response (previous epoch) is tolerated', async () => {
  const h = await harness();
  h.topics.add('t', 2);
  const a = new Member(h, 'ep', ['t']);
  await a.heartbeat();
  const b = new Member(h, 'ep', ['t']);
  await b.heartbeat();
  await converge(h, 'ep', [a, b]);
  assert.equal(a.epoch, 2);
  const ahead = await a.heartbeat({ memberEpoch: 3 });
  assert.equal(ahead.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  // Epoch 1 is a's previous epoch and what it owns is inside its assignment: the bump response was lost.
  const lost = await a.heartbeat({ memberEpoch: 1 });
  assert.equal(lost.errorCode, ErrorCode.NONE);
  assert.equal(lost.memberEpoch, 2);
  const stale = await a.heartbeat({
    memberEpoch: 0,
    topicPartitions: a.ownedList(),
    subscribedTopicNames: null,
    rebalanceTimeoutMs: -1,
  });
  assert.equal(stale.errorCode, ErrorCode.INVALID_REQUEST, 'a rejoin must say what it subscribes to');
  const unknown = await a.heartbeat({ memberId: 'who' });
  assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // A fenced member rejoins with epoch 0 and its member id, and gets a full assignment back.
  const rejoin = await a.heartbeat({
    memberEpoch: 0,
    subscribedTopicNames: ['t'],
    rebalanceTimeoutMs: 30_000,
    topicPartitions: [],
  });
  assert.equal(rejoin.errorCode, ErrorCode.NONE);
  assert.equal(rejoin.memberId, a.memberId);
  assert.ok(rejoin.assignment !== null);
});

test('request validation: INVALID_REQUEST, UNSUPPORTED_ASSIGNOR, and a classic group with members is not a consumer group', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  const m = new Member(h, 'val', ['t']);
  assert.equal((await m.heartbeat({ groupId: '' })).errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal((await m.heartbeat({ rebalanceTimeoutMs: -1 })).errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal(
    (await m.heartbeat({ topicPartitions: [{ topicId: h.topics.topicIdOf('t')!, partitions: [0] }] })).errorCode,
    ErrorCode.INVALID_REQUEST,
  );
  assert.equal(
    (await m.heartbeat({ memberEpoch: 5 })).errorCode,
    ErrorCode.INVALID_REQUEST,
    'a member id is required past epoch 0',
  );
  assert.equal((await m.heartbeat({ memberEpoch: -3, memberId: 'x' })).errorCode, ErrorCode.INVALID_REQUEST);
  const bad = await m.heartbeat({ serverAssignor: 'sticky' });
  assert.equal(bad.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
  assert.match(bad.errorMessage!, /uniform, range/);
  void h.coordinator.join({
    groupId: 'classic',
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(['t']) }],
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    clientId: 'c',
    clientHost: '/h',
    requireKnownMemberId: false,
    supportSkippingAssignment: false,
  });
  await advance(h, 0);
  const clash = await new Member(h, 'classic', ['t']).heartbeat();
  assert.equal(clash.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  // And the other way round: classic members cannot join a consumer group that has members.
  await m.heartbeat();
  const j = await h.coordinator.join({
    groupId: 'val',
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(['t']) }],
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    clientId: 'c',
    clientHost: '/h',
    requireKnownMemberId: false,
    supportSkippingAssignment: false,
  });
  assert.equal(j.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal(h.coordinator.describeGroups(['val'])[0]!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal(h.coordinator.consumerGroupDescribe(['classic'])[0]!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.deepEqual(h.coordinator.listGroups([], ['consumer']).groups, [
    { groupId: 'val', protocolType: 'consumer', groupState: 'Stable', groupType: 'consumer' },
  ]);
});

test('an offsets-only classic group converts to a consumer group and keeps its offsets', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  await h.coordinator.commitOffsets({
    groupId: 'conv2',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: 't',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 12,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  const m = new Member(h, 'conv2', ['t']);
  assert.equal((await m.heartbeat()).errorCode, ErrorCode.NONE);
  assert.equal(
    h.coordinator.fetchOffsets({ groupId: 'conv2', topics: null, requireStable: false }).topics[0]!.partitions[0]!
      .committedOffset,
    12,
  );
});

test('static member: leaving with epoch -2 keeps its partitions for its next incarnation, no rebalance', async () => {
  const h = await harness();
  h.topics.add('t', 4);
  const a = new Member(h, 'st', ['t'], { instanceId: 'inst-a' });
  const b = new Member(h, 'st', ['t'], { instanceId: 'inst-b' });
  await converge(h, 'st', [a, b]);
  const epoch = h.coordinator.consumerGroupDescribe(['st'])[0]!.groupEpoch;
  const had = a.ownedList();
  // A second process claiming inst-a while a is active is refused.
  const dup = await new Member(h, 'st', ['t'], { instanceId: 'inst-a' }).heartbeat();
  assert.equal(dup.errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  const bye = await a.heartbeat({ memberEpoch: -2 });
  assert.equal(bye.memberEpoch, -2);
  await b.heartbeat();
  assert.equal(b.count(), 2, 'nothing moves while a is away');
  const a2 = new Member(h, 'st', ['t'], { instanceId: 'inst-a' });
  const r = await a2.heartbeat();
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.notEqual(r.memberId, a.memberId);
  assert.deepEqual(a2.ownedList(), had, 'the new incarnation gets the same partitions');
  assert.equal(h.coordinator.consumerGroupDescribe(['st'])[0]!.groupEpoch, epoch, 'no group epoch bump');
  assert.equal(
    (await a.heartbeat({ memberEpoch: r.memberEpoch })).errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
    'the old member id is gone',
  );
});

test('new partitions of a subscribed topic bump the epoch and get assigned', async () => {
  const h = await harness();
  h.topics.add('grow', 2);
  const a = new Member(h, 'grow', ['grow']);
  const b = new Member(h, 'grow', ['grow']);
  await converge(h, 'grow', [a, b]);
  const epoch = h.coordinator.consumerGroupDescribe(['grow'])[0]!.groupEpoch;
  h.topics.setPartitions('grow', 6);
  await converge(h, 'grow', [a, b]);
  assert.deepEqual([a.count(), b.count()], [3, 3]);
  assert.equal(h.coordinator.consumerGroupDescribe(['grow'])[0]!.groupEpoch, epoch + 1);
  // A topic that appears later is picked up too.
  const c = new Member(h, 'grow', ['grow', 'later']);
  await converge(h, 'grow', [a, b, c]);
  h.topics.add('later', 3);
  await converge(h, 'grow', [a, b, c]);
  assert.equal(coverage([a, b, c]).length, 9);
});

test('offset commits and fetches check the member epoch', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  const m = new Member(h, 'oc', ['t']);
  await m.heartbeat();
  const c = (gen: number, memberId: string) =>
    h.coordinator.commitOffsets({
      groupId: 'oc',
      generationIdOrMemberEpoch: gen,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [
        {
          name: 't',
          partitions: [
            {
              partitionIndex: 0,
              committedOffset: 3,
              committedLeaderEpoch: -1,
              commitTimestamp: -1,
              committedMetadata: null,
            },
          ],
        },
      ],
    });
  assert.equal((await c(m.epoch, m.memberId))[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  assert.equal((await c(m.epoch - 1, m.memberId))[0]!.partitions[0]!.errorCode, ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal(
    (await c(-1, ''))[0]!.partitions[0]!.errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
    'admin commits need an empty group',
  );
  assert.equal((await c(m.epoch, 'nobody'))[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const f = (memberId: string, memberEpoch: number) =>
    h.coordinator.fetchOffsets({ groupId: 'oc', topics: null, requireStable: true, memberId, memberEpoch });
  assert.equal(f(m.memberId, m.epoch).topics[0]!.partitions[0]!.committedOffset, 3);
  assert.equal(f(m.memberId, m.epoch + 1).errorCode, ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal(f('', -1).errorCode, ErrorCode.NONE, 'admin fetches are always fine');
  await m.heartbeat({ memberEpoch: -1 });
  assert.equal((await c(-1, ''))[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  const del = await h.coordinator.deleteGroups(['oc']);
  assert.equal(del[0]!.errorCode, ErrorCode.NONE);
  assert.equal(h.coordinator.consumerGroupDescribe(['oc'])[0]!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('durability: a consumer group restarts with its epochs and assignments; members continue without rejoining', async () => {
  const h = await harness();
  h.topics.add('t', 6);
  const members = [
    new Member(h, 'dur848', ['t']),
    new Member(h, 'dur848', ['t'], { instanceId: 'static-1', assignor: 'range' }),
  ];
  await converge(h, 'dur848', members);
  const before = h.coordinator.consumerGroupDescribe(['dur848'])[0]!;
  h.coordinator.shutdown();
  const h2 = await harness({ log: h.log, topics: h.topics, time: h.time });
  const after = h2.coordinator.consumerGroupDescribe(['dur848'])[0]!;
  assert.deepEqual(after, before);
  for (const m of members) {
    (m as { h: Harness }).h = h2;
    const r = await m.heartbeat();
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.memberEpoch, before.groupEpoch);
  }
  assert.equal(h2.coordinator.consumerGroupDescribe(['dur848'])[0]!.groupState, 'Stable');
  // Leaving after the restart is persisted too.
  await members[0]!.heartbeat({ memberEpoch: -1 });
  h2.coordinator.shutdown();
  const h3 = await harness({ log: h.log, topics: h.topics, time: h.time });
  assert.deepEqual(
    h3.coordinator.consumerGroupDescribe(['dur848'])[0]!.members.map((m) => m.instanceId),
    ['static-1'],
  );
  h3.coordinator.shutdown();
});

test('with group.coordinator.rebalance.protocols=classic the consumer protocol is refused', async () => {
  const h = await harness({ config: { rebalanceProtocols: ['classic'] } });
  h.topics.add('t', 1);
  const r = await new Member(h, 'off', ['t']).heartbeat();
  assert.equal(r.errorCode, ErrorCode.UNSUPPORTED_VERSION);
});

test('assignors: uniform balances mixed subscriptions, range keeps co-partitioned topics aligned', () => {
  const topics = new Map([
    ['A', 4],
    ['B', 4],
  ]);
  const spec = (subs: Record<string, string[]>) => ({
    topics,
    members: new Map(
      Object.entries(subs).map(([id, t]) => [id, { subscribedTopicIds: new Set(t), currentAssignment: new Map() }]),
    ),
  });
  const u = uniformAssignor.assign(spec({ m1: ['A'], m2: ['A', 'B'] }));
  const n = (a: Map<string, Set<number>> | undefined) => [...(a?.values() ?? [])].reduce((s, x) => s + x.size, 0);
  assert.deepEqual([n(u.get('m1')), n(u.get('m2'))], [4, 4]);
  assert.deepEqual([...u.get('m1')!.keys()], ['A']);
  const r = rangeAssignor.assign(spec({ m1: ['A', 'B'], m2: ['A', 'B'] }));
  assert.deepEqual([...r.get('m1')!.get('A')!], [0, 1]);
  assert.deepEqual([...r.get('m1')!.get('B')!], [0, 1]);
  assert.deepEqual([...r.get('m2')!.get('A')!], [2, 3]);
  // Uniform is sticky: a member keeps what it had when the group grows.
  const before = uniformAssignor.assign(spec({ m1: ['A', 'B'], m2: ['A', 'B'] }));
  const grown = uniformAssignor.assign({
    topics,
    members: new Map([
      ['m1', { subscribedTopicIds: new Set(['A', 'B']), currentAssignment: before.get('m1')! }],
      ['m2', { subscribedTopicIds: new Set(['A', 'B']), currentAssignment: before.get('m2')! }],
      ['m3', { subscribedTopicIds: new Set(['A', 'B']), currentAssignment: new Map() }],
    ]),
  });
  for (const id of ['m1', 'm2']) {
    for (const [t, parts] of grown.get(id)!)
      for (const p of parts) assert.ok(before.get(id)!.get(t)!.has(p), `${id} kept ${t}-${p}`);
  }
  assert.deepEqual(['m1', 'm2', 'm3'].map((id) => n(grown.get(id))).sort(), [2, 3, 3]);
});

test('a ConsumerGroupHeartbeat waits for its records to be written; a failed write is an error', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  h.log.failAppends = new Error('EIO');
  const r = track(new Member(h, 'w', ['t']).heartbeat());
  await settle();
  assert.equal(r.value!.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
});
