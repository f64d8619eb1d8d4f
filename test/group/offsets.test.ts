import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import { encodeControlBatch } from '../../src/protocol/records/control.js';
import { decodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { ControlRecordType } from '../../src/protocol/records/control.js';
import type { OffsetCommitParams } from '../../src/group/group-coordinator.js';
import {
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeOffsetsKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  partitionForGroup,
} from '../../src/group/offsets-records.js';
import {
  FakeTopics,
  MemoryOffsetsLog,
  advance,
  harness,
  settle,
  subscription,
  track,
  type Harness,
} from './helpers.js';

function commit(
  groupId: string,
  offsets: Record<string, Record<number, number | [number, string]>>,
  over: Partial<OffsetCommitParams> = {},
): OffsetCommitParams {
  return {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: Object.entries(offsets).map(([name, parts]) => ({
      name,
      partitions: Object.entries(parts).map(([p, v]) => ({
        partitionIndex: Number(p),
        committedOffset: Array.isArray(v) ? v[0] : v,
        committedLeaderEpoch: 7,
        commitTimestamp: -1,
        committedMetadata: Array.isArray(v) ? v[1] : null,
      })),
    })),
    ...over,
  };
}

function fetched(
  h: Harness,
  groupId: string,
  topics: Array<{ name: string; partitionIndexes: number[] }> | null = null,
) {
  const r = h.coordinator.fetchOffsets({ groupId, topics, requireStable: false });
  assert.equal(r.errorCode, ErrorCode.NONE);
  return r.topics.map((t) => [
    t.name,
    t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata, p.errorCode]),
  ]);
}

/** A fresh coordinator reading the same __consumer_offsets (a broker restart). */
async function restart(h: Harness): Promise<Harness> {
  h.coordinator.shutdown();
  return harness({ log: h.log, topics: h.topics, time: h.time });
}

test('Kafka places groups with Java String.hashCode, abs(MIN_VALUE) = 0', () => {
  // Expected values printed by a JVM: String.hashCode, Kafka's Utils.abs, % 50.
  assert.equal(partitionForGroup('polygenelubricants', 50), 0, 'hashCode is Integer.MIN_VALUE');
  assert.equal(partitionForGroup('hello', 50), 22);
  assert.equal(partitionForGroup('my-group', 50), 12);
  assert.equal(partitionForGroup('\u03a9-group', 50), 35);
  assert.equal(partitionForGroup('\u{1F600}group', 50), 32, 'UTF-16 surrogate pairs count as two code units');
  assert.equal(partitionForGroup('', 50), 0);
});

test('offset commit records use Kafka schemas: key v1, value v3 (v1 with an expire timestamp)', () => {
  const key = encodeOffsetCommitKey('g', 'tp', 2);
  assert.deepEqual(key, Buffer.from([0, 1, 0, 1, 0x67, 0, 2, 0x74, 0x70, 0, 0, 0, 2]));
  assert.deepEqual(decodeOffsetsKey(key), { kind: 'offset', group: 'g', topic: 'tp', partition: 2 });
  const v3 = encodeOffsetCommitValue({
    offset: 5,
    leaderEpoch: 1,
    metadata: 'm',
    commitTimestamp: 9,
    expireTimestamp: -1,
  });
  assert.deepEqual(v3, Buffer.from([0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 0x6d, 0, 0, 0, 0, 0, 0, 0, 9]));
  const v1 = encodeOffsetCommitValue({
    offset: 5,
    leaderEpoch: 1,
    metadata: '',
    commitTimestamp: 9,
    expireTimestamp: 10,
  });
  assert.equal(v1.readInt16BE(0), 1);
  assert.deepEqual(decodeOffsetCommitValue(v1), {
    offset: 5,
    leaderEpoch: -1,
    metadata: '',
    commitTimestamp: 9,
    expireTimestamp: 10,
  });
  const gm = {
    protocolType: 'consumer',
    generation: 4,
    protocol: 'range',
    leader: 'm1',
    currentStateTimestamp: 1234,
    members: [
      {
        memberId: 'm1',
        groupInstanceId: 'i1',
        clientId: 'c',
        clientHost: '/1.2.3.4',
        rebalanceTimeoutMs: 300,
        sessionTimeoutMs: 100,
        subscription: Buffer.from([1, 2]),
        assignment: Buffer.from([3]),
      },
    ],
  };
  const encoded = encodeGroupMetadataValue(gm);
  assert.equal(encoded.readInt16BE(0), 3);
  assert.deepEqual(decodeGroupMetadataValue(encoded), gm);
});

test('commit, fetch with metadata and leader epochs; unknown partitions read as -1; null topics = all', async () => {
  const h = await harness();
  h.topics.add('orders', 3);
  h.topics.add('refunds', 1);
  const r = await h.coordinator.commitOffsets(
    commit('app', { orders: { 0: [10, 'procesado exitosamente'], 2: 7 }, refunds: { 0: 1 } }),
  );
  assert.deepEqual(
    r.map((t) => t.partitions.map((p) => p.errorCode)),
    [[0, 0], [0]],
  );
  assert.deepEqual(fetched(h, 'app', [{ name: 'orders', partitionIndexes: [0, 1, 2] }]), [
    [
      'orders',
      [
        [0, 10, 'procesado exitosamente', 0],
        [1, -1, '', 0],
        [2, 7, '', 0],
      ],
    ],
  ]);
  assert.deepEqual(fetched(h, 'app'), [
    [
      'orders',
      [
        [0, 10, 'procesado exitosamente', 0],
        [2, 7, '', 0],
      ],
    ],
    ['refunds', [[0, 1, '', 0]]],
  ]);
  const epoch = h.coordinator.fetchOffsets({
    groupId: 'app',
    topics: [{ name: 'orders', partitionIndexes: [0] }],
    requireStable: false,
  }).topics[0]!.partitions[0]!.committedLeaderEpoch;
  assert.equal(epoch, 7);
  assert.deepEqual(fetched(h, 'nobody', [{ name: 'orders', partitionIndexes: [0] }]), [['orders', [[0, -1, '', 0]]]]);
  assert.deepEqual(fetched(h, 'nobody'), []);
});

test('fan-out: each group has its own offsets', async () => {
  const h = await harness();
  h.topics.add('events', 2);
  await h.coordinator.commitOffsets(commit('analytics', { events: { 0: 40, 1: 40 } }));
  await h.coordinator.commitOffsets(commit('fraud-detection', { events: { 0: 3 } }));
  assert.deepEqual(fetched(h, 'analytics'), [
    [
      'events',
      [
        [0, 40, '', 0],
        [1, 40, '', 0],
      ],
    ],
  ]);
  assert.deepEqual(fetched(h, 'fraud-detection'), [['events', [[0, 3, '', 0]]]]);
});

test('commit errors: unknown topic per partition, oversized metadata, unknown group with a generation', async () => {
  const h = await harness({ config: { offsetMetadataMaxBytes: 8 } });
  h.topics.add('known', 1);
  const r = await h.coordinator.commitOffsets(
    commit('e', { known: { 0: [1, 'way too long metadata'] }, missing: { 0: 1, 1: 2 } }),
  );
  assert.deepEqual(r, [
    { name: 'known', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE }] },
    {
      name: 'missing',
      partitions: [
        { partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
        { partitionIndex: 1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      ],
    },
  ]);
  const gen = await h.coordinator.commitOffsets(
    commit('never-joined', { known: { 0: 1 } }, { generationIdOrMemberEpoch: 3, memberId: 'm' }),
  );
  assert.equal(gen[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.deepEqual(fetched(h, 'e'), []);
});

test('an admin commit (generation -1) to a group with members is refused; to an empty group it is accepted', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  const join = track(
    h.coordinator.join({
      groupId: 'busy',
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
    }),
  );
  await advance(h, 0);
  const m = join.value!;
  await h.coordinator.sync({
    groupId: 'busy',
    generationId: m.generationId,
    memberId: m.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [],
  });
  const admin = await h.coordinator.commitOffsets(commit('busy', { t: { 0: 5 } }));
  assert.equal(admin[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const stale = await h.coordinator.commitOffsets(
    commit('busy', { t: { 0: 5 } }, { generationIdOrMemberEpoch: m.generationId + 1, memberId: m.memberId }),
  );
  assert.equal(stale[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
  const ok = await h.coordinator.commitOffsets(
    commit('busy', { t: { 0: 5 } }, { generationIdOrMemberEpoch: m.generationId, memberId: m.memberId }),
  );
  assert.equal(ok[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  h.coordinator.leave('busy', [{ memberId: m.memberId, groupInstanceId: null }]);
  await settle();
  const after = await h.coordinator.commitOffsets(commit('busy', { t: { 0: 9 } }));
  assert.equal(after[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual(fetched(h, 'busy'), [['t', [[0, 9, '', 0]]]]);
});

test('a failed append is reported per partition and the offset stays unchanged', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  await h.coordinator.commitOffsets(commit('f', { t: { 0: 1 } }));
  h.log.failAppends = new Error('EIO');
  const r = await h.coordinator.commitOffsets(commit('f', { t: { 0: 2 } }));
  assert.equal(r[0]!.partitions[0]!.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.deepEqual(fetched(h, 'f'), [['t', [[0, 1, '', 0]]]]);
});

test('durability: offsets, metadata and a stable group survive a restart; members carry on without rejoining', async () => {
  const h = await harness();
  h.topics.add('orders', 2);
  const j = track(
    h.coordinator.join({
      groupId: 'dur',
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(['orders']) }],
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      clientId: 'c1',
      clientHost: '/10.0.0.1',
      requireKnownMemberId: false,
      supportSkippingAssignment: false,
    }),
  );
  await advance(h, 0);
  const m = j.value!;
  const a = Buffer.from('assignment-bytes');
  await h.coordinator.sync({
    groupId: 'dur',
    generationId: m.generationId,
    memberId: m.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [{ memberId: m.memberId, assignment: a }],
  });
  await h.coordinator.commitOffsets(
    commit(
      'dur',
      { orders: { 0: [100, 'checkpoint-1'], 1: 50 } },
      { generationIdOrMemberEpoch: m.generationId, memberId: m.memberId },
    ),
  );
  await h.coordinator.commitOffsets(
    commit(
      'dur',
      { orders: { 0: [120, 'checkpoint-2'] } },
      { generationIdOrMemberEpoch: m.generationId, memberId: m.memberId },
    ),
  );
  await h.coordinator.commitOffsets(commit('simple', { orders: { 1: 3 } }));

  const h2 = await restart(h);
  assert.deepEqual(fetched(h2, 'dur'), [
    [
      'orders',
      [
        [0, 120, 'checkpoint-2', 0],
        [1, 50, '', 0],
      ],
    ],
  ]);
  assert.deepEqual(fetched(h2, 'simple'), [['orders', [[1, 3, '', 0]]]]);
  const d = h2.coordinator.describeGroups(['dur'])[0]!;
  assert.equal(d.groupState, 'Stable');
  assert.equal(d.members[0]!.memberId, m.memberId);
  assert.equal(d.members[0]!.clientHost, '/10.0.0.1');
  assert.deepEqual(d.members[0]!.memberAssignment, a);
  // The member keeps its generation across the restart...
  assert.equal(
    h2.coordinator.heartbeat({
      groupId: 'dur',
      generationId: m.generationId,
      memberId: m.memberId,
      groupInstanceId: null,
    }),
    ErrorCode.NONE,
  );
  const s = await h2.coordinator.sync({
    groupId: 'dur',
    generationId: m.generationId,
    memberId: m.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [],
  });
  assert.deepEqual(s.assignment, a);
  // ...and a member that does not come back expires, leaving a clean Empty group that rebalances normally.
  await advance(h2, 9_999);
  assert.equal(h2.coordinator.describeGroups(['dur'])[0]!.groupState, 'Stable');
  await advance(h2, 1);
  assert.equal(
    h2.coordinator.describeGroups(['dur'])[0]!.groupState,
    'Empty',
    'its only member expired: an empty generation',
  );
  const h3 = await restart(h2);
  assert.equal(h3.coordinator.describeGroups(['dur'])[0]!.groupState, 'Empty', 'the empty generation was persisted');
  assert.deepEqual(fetched(h3, 'dur'), [
    [
      'orders',
      [
        [0, 120, 'checkpoint-2', 0],
        [1, 50, '', 0],
      ],
    ],
  ]);
  h3.coordinator.shutdown();
});

test('DeleteGroups refuses groups with members, erases empty ones for good', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  await h.coordinator.commitOffsets(commit('old', { t: { 0: 4 } }));
  void h.coordinator.join({
    groupId: 'live',
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
  const r = await h.coordinator.deleteGroups(['old', 'live', 'ghost']);
  assert.deepEqual(r, [
    { groupId: 'old', errorCode: ErrorCode.NONE },
    { groupId: 'live', errorCode: ErrorCode.NON_EMPTY_GROUP },
    { groupId: 'ghost', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
  ]);
  assert.deepEqual(fetched(h, 'old'), []);
  assert.deepEqual(
    h.coordinator.listGroups().groups.map((g) => g.groupId),
    ['live'],
  );
  const h2 = await restart(h);
  assert.deepEqual(fetched(h2, 'old'), [], 'tombstones keep it deleted after a restart');
  assert.equal(h2.coordinator.describeGroups(['old'])[0]!.groupState, 'Dead');
  h2.coordinator.shutdown();
});

test('OffsetDelete: partitions of consumed topics are protected, others deleted', async () => {
  const h = await harness();
  h.topics.add('consumed', 1);
  h.topics.add('abandoned', 2);
  const j = track(
    h.coordinator.join({
      groupId: 'od',
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(['consumed']) }],
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      clientId: 'c',
      clientHost: '/h',
      requireKnownMemberId: false,
      supportSkippingAssignment: false,
    }),
  );
  await advance(h, 0);
  const m = j.value!;
  await h.coordinator.sync({
    groupId: 'od',
    generationId: m.generationId,
    memberId: m.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [],
  });
  await h.coordinator.commitOffsets(
    commit(
      'od',
      { consumed: { 0: 1 }, abandoned: { 0: 2, 1: 3 } },
      { generationIdOrMemberEpoch: m.generationId, memberId: m.memberId },
    ),
  );
  const r = await h.coordinator.deleteOffsets('od', [
    { name: 'consumed', partitions: [0] },
    { name: 'abandoned', partitions: [0, 1] },
    { name: 'nope', partitions: [0] },
  ]);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(
    r.topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode)]),
    [
      ['consumed', [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC]],
      ['abandoned', [0, 0]],
      ['nope', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
    ],
  );
  assert.deepEqual(fetched(h, 'od'), [['consumed', [[0, 1, '', 0]]]]);
  assert.equal((await h.coordinator.deleteOffsets('ghost', [])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  // A non-consumer group with members cannot lose offsets at all.
  void h.coordinator.join({
    groupId: 'conn',
    memberId: '',
    groupInstanceId: null,
    protocolType: 'connect',
    protocols: [{ name: 'x', metadata: Buffer.alloc(0) }],
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    clientId: 'c',
    clientHost: '/h',
    requireKnownMemberId: false,
    supportSkippingAssignment: false,
  });
  await advance(h, 0);
  assert.equal(
    (await h.coordinator.deleteOffsets('conn', [{ name: 'abandoned', partitions: [0] }])).errorCode,
    ErrorCode.NON_EMPTY_GROUP,
  );
});

test('offsets.retention.minutes: offsets of an empty group expire, then the group goes; tombstones persist it', async () => {
  const h = await harness({ config: { offsetsRetentionMinutes: 10, offsetsRetentionCheckIntervalMs: 60_000 } });
  h.topics.add('t', 2);
  await h.coordinator.commitOffsets(commit('idle', { t: { 0: 1 } }));
  await advance(h, 5 * 60_000, 60_000);
  await h.coordinator.commitOffsets(commit('idle', { t: { 1: 2 } }));
  await advance(h, 5 * 60_000, 60_000);
  // Offsets-only group: each offset expires 10 minutes after its own commit.
  assert.deepEqual(fetched(h, 'idle'), [['t', [[1, 2, '', 0]]]]);
  await advance(h, 5 * 60_000, 60_000);
  assert.deepEqual(fetched(h, 'idle'), []);
  assert.deepEqual(h.coordinator.listGroups().groups, [], 'the group without offsets is removed');
  const h2 = await restart(h);
  assert.deepEqual(fetched(h2, 'idle'), []);
  h2.coordinator.shutdown();
});

test('a commit with its own retention (OffsetCommit v2-v4) expires at that time, even in a live group', async () => {
  const h = await harness({ config: { offsetsRetentionCheckIntervalMs: 1000 } });
  h.topics.add('t', 1);
  await h.coordinator.commitOffsets(commit('r', { t: { 0: 5 } }, { retentionTimeMs: 3000 }));
  await advance(h, 2000, 1000);
  assert.deepEqual(fetched(h, 'r'), [['t', [[0, 5, '', 0]]]]);
  await advance(h, 2000, 1000);
  assert.deepEqual(fetched(h, 'r'), []);
});

test('offsets of a stable consumer group do not expire for subscribed topics', async () => {
  const h = await harness({ config: { offsetsRetentionMinutes: 1, offsetsRetentionCheckIntervalMs: 10_000 } });
  h.topics.add('sub', 1);
  h.topics.add('other', 1);
  const j = track(
    h.coordinator.join({
      groupId: 'keep',
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(['sub']) }],
      sessionTimeoutMs: 60_000,
      rebalanceTimeoutMs: 60_000,
      clientId: 'c',
      clientHost: '/h',
      requireKnownMemberId: false,
      supportSkippingAssignment: false,
    }),
  );
  await advance(h, 0);
  const m = j.value!;
  await h.coordinator.sync({
    groupId: 'keep',
    generationId: m.generationId,
    memberId: m.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [],
  });
  await h.coordinator.commitOffsets(
    commit(
      'keep',
      { sub: { 0: 1 }, other: { 0: 1 } },
      { generationIdOrMemberEpoch: m.generationId, memberId: m.memberId },
    ),
  );
  for (let t = 0; t < 12; t++) {
    await advance(h, 10_000);
    h.coordinator.heartbeat({
      groupId: 'keep',
      generationId: m.generationId,
      memberId: m.memberId,
      groupInstanceId: null,
    });
  }
  assert.deepEqual(fetched(h, 'keep'), [['sub', [[0, 1, '', 0]]]]);
});

test('transactional offsets stay pending until the transaction ends; requireStable reports UNSTABLE_OFFSET_COMMIT', async () => {
  const h = await harness();
  h.topics.add('t', 2);
  await h.coordinator.commitOffsets(commit('tx', { t: { 0: 1 } }));
  const r = await h.coordinator.commitTransactionalOffsets({
    transactionalId: 'tid',
    groupId: 'tx',
    producerId: 77,
    producerEpoch: 0,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [
      {
        name: 't',
        partitions: [{ partitionIndex: 0, committedOffset: 9, committedLeaderEpoch: -1, committedMetadata: null }],
      },
    ],
  });
  assert.equal(r[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual(fetched(h, 'tx'), [['t', [[0, 1, '', 0]]]], 'not visible before the commit marker');
  const stable = h.coordinator.fetchOffsets({
    groupId: 'tx',
    topics: [{ name: 't', partitionIndexes: [0, 1] }],
    requireStable: true,
  });
  assert.deepEqual(
    stable.topics[0]!.partitions.map((p) => p.errorCode),
    [ErrorCode.UNSTABLE_OFFSET_COMMIT, ErrorCode.NONE],
  );
  // The batch in __consumer_offsets is transactional, with the producer's id.
  const p = h.coordinator.partitionFor('tx');
  const last = decodeRecordBatch(h.log.partitions[p]!.at(-1)!);
  assert.equal(last.isTransactional, true);
  assert.equal(last.producerId, 77);
  // Restart before the marker: still pending. Then the marker arrives and is applied on reload too.
  const h2 = await restart(h);
  assert.deepEqual(fetched(h2, 'tx'), [['t', [[0, 1, '', 0]]]]);
  await h.log.append(
    p,
    encodeControlBatch({
      type: ControlRecordType.COMMIT,
      producerId: 77,
      producerEpoch: 0,
      coordinatorEpoch: 0,
      timestamp: h.time.now(),
    }),
  );
  h2.coordinator.completeTransaction(77, true, [p]);
  assert.deepEqual(fetched(h2, 'tx'), [['t', [[0, 9, '', 0]]]]);
  const h3 = await restart(h2);
  assert.deepEqual(fetched(h3, 'tx'), [['t', [[0, 9, '', 0]]]]);
  // An aborted transaction leaves the offsets as they were.
  await h3.coordinator.commitTransactionalOffsets({
    transactionalId: 'tid',
    groupId: 'tx',
    producerId: 78,
    producerEpoch: 0,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [
      {
        name: 't',
        partitions: [{ partitionIndex: 0, committedOffset: 99, committedLeaderEpoch: -1, committedMetadata: null }],
      },
    ],
  });
  await h.log.append(
    p,
    encodeControlBatch({
      type: ControlRecordType.ABORT,
      producerId: 78,
      producerEpoch: 0,
      coordinatorEpoch: 0,
      timestamp: h.time.now(),
    }),
  );
  h3.coordinator.completeTransaction(78, false);
  assert.deepEqual(fetched(h3, 'tx'), [['t', [[0, 9, '', 0]]]]);
  const h4 = await restart(h3);
  assert.deepEqual(fetched(h4, 'tx'), [['t', [[0, 9, '', 0]]]]);
  h4.coordinator.shutdown();
});

test('lag: committed offset, log end offset and lag per partition, with the owning member', async () => {
  const h = await harness();
  h.topics.add('t', 3);
  h.topics.setEnd('t', 0, 100);
  h.topics.setEnd('t', 1, 50);
  h.topics.setEnd('t', 2, 7);
  const { assignment } = await import('./helpers.js');
  const j = track(
    h.coordinator.join({
      groupId: 'lag',
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(['t']) }],
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      clientId: 'worker',
      clientHost: '/h',
      requireKnownMemberId: false,
      supportSkippingAssignment: false,
    }),
  );
  await advance(h, 0);
  const m = j.value!;
  await h.coordinator.sync({
    groupId: 'lag',
    generationId: m.generationId,
    memberId: m.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [{ memberId: m.memberId, assignment: assignment([{ topic: 't', partitions: [0, 1, 2] }]) }],
  });
  await h.coordinator.commitOffsets(
    commit('lag', { t: { 0: 90, 1: 50 } }, { generationIdOrMemberEpoch: m.generationId, memberId: m.memberId }),
  );
  const d = h.coordinator.describeGroupOffsets('lag')!;
  assert.equal(d.state, 'Stable');
  assert.deepEqual(
    d.partitions.map((p) => [p.topic, p.partition, p.committedOffset, p.logEndOffset, p.lag, p.owner?.clientId]),
    [
      ['t', 0, 90, 100, 10, 'worker'],
      ['t', 1, 50, 50, 0, 'worker'],
      ['t', 2, null, 7, null, 'worker'],
    ],
  );
  assert.equal(d.totalLag, 10);
  assert.equal(h.coordinator.groupLag('lag'), 10);
  assert.equal(h.coordinator.describeGroupOffsets('none'), null);
});

test('ListGroups: state and type filters are case-insensitive; offsets-only groups are listed', async () => {
  const h = await harness();
  h.topics.add('t', 1);
  await h.coordinator.commitOffsets(commit('simple', { t: { 0: 1 } }));
  void h.coordinator.join({
    groupId: 'joining',
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
  const all = h.coordinator.listGroups();
  assert.deepEqual(all.groups.map((g) => [g.groupId, g.groupState, g.protocolType]).sort(), [
    ['joining', 'CompletingRebalance', 'consumer'],
    ['simple', 'Empty', ''],
  ]);
  assert.deepEqual(
    h.coordinator.listGroups(['empty']).groups.map((g) => g.groupId),
    ['simple'],
  );
  assert.deepEqual(
    h.coordinator.listGroups(['COMPLETINGREBALANCE'], ['Classic']).groups.map((g) => g.groupId),
    ['joining'],
  );
  assert.deepEqual(h.coordinator.listGroups([], ['consumer']).groups, []);
});

test('records written for a commit land in the group partition, readable by any Kafka tool', async () => {
  const log = new MemoryOffsetsLog(50);
  const topics = new FakeTopics();
  topics.add('orders', 1);
  const h = await harness({ log, topics });
  await h.coordinator.commitOffsets(commit('hello', { orders: { 0: [3, 'x'] } }));
  const batches = log.partitions[99162322 % 50]!;
  assert.equal(batches.length, 1);
  const rec = decodeRecordBatch(batches[0]!).records[0]!;
  assert.deepEqual(decodeOffsetsKey(rec.key!), { kind: 'offset', group: 'hello', topic: 'orders', partition: 0 });
  assert.equal(decodeOffsetCommitValue(rec.value!).offset, 3);
});
