import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  APIS,
  responseHeaderVersion,
  requestHeaderVersion,
  type ApiMessages,
  type ApiName,
} from '../../src/protocol/apis.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { readResponseHeader, writeRequestHeader } from '../../src/protocol/headers.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { KafkaRequestProcessor } from '../../src/broker/request-processor.js';
import type { Connection } from '../../src/broker/network/connection.js';
import { groupHandlers } from '../../src/broker/handlers/groups.js';
import { MemoryOffsetsLog, advance, harness, settle, subscription, track, type Harness } from './helpers.js';

interface Wire {
  h: Harness;
  processor: KafkaRequestProcessor;
  call<K extends ApiName>(
    api: K,
    version: number,
    request: ApiMessages[K]['request'],
  ): Promise<ApiMessages[K]['response']>;
}

async function wire(config = {}, log?: MemoryOffsetsLog): Promise<Wire> {
  const h = await harness({ config, log, awaitStartup: log === undefined });
  const processor = new KafkaRequestProcessor(groupHandlers(h.coordinator), pino({ level: 'silent' }));
  const conn = { clientId: null, remoteAddress: '127.0.0.1:54321' } as unknown as Connection;
  let correlationId = 1;
  return {
    h,
    processor,
    async call(api, version, request) {
      const def = APIS[api];
      const w = new Writer(256);
      const cid = correlationId++;
      writeRequestHeader(
        w,
        { requestApiKey: def.key, requestApiVersion: version, correlationId: cid, clientId: 'wire-test' },
        requestHeaderVersion(def.key, version),
      );
      (def.writeRequest as (w: Writer, v: number, m: unknown) => void)(w, version, request);
      const outcome = await processor.process(conn, w.toBuffer());
      assert.equal(outcome.kind, 'response', `${api} v${version} answered`);
      const frame = Buffer.concat((outcome as { buffers: Buffer[] }).buffers);
      const r = new Reader(frame, 4);
      assert.equal(readResponseHeader(r, responseHeaderVersion(def.key, version)).correlationId, cid);
      const body = (def.readResponse as (r: Reader, v: number) => ApiMessages[typeof api]['response'])(r, version);
      assert.equal(r.remaining(), 0, `${api} v${version} response has no trailing bytes`);
      return body;
    },
  };
}

// Requests with each field set only where the version has it (the codecs refuse the rest).
const joinReq = (
  v: number,
  groupId: string,
  memberId: string,
  instance: string | null = null,
): ApiMessages['JoinGroup']['request'] => ({
  groupId,
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: v >= 1 ? 20_000 : -1,
  memberId,
  groupInstanceId: v >= 5 ? instance : null,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: subscription(['t']) }],
  reason: null,
});

const commitReq = (
  v: number,
  groupId: string,
  gen: number,
  memberId: string,
  offset: number,
  metadata: string,
): ApiMessages['OffsetCommit']['request'] => ({
  groupId,
  generationIdOrMemberEpoch: v >= 1 ? gen : -1,
  memberId: v >= 1 ? memberId : '',
  groupInstanceId: null,
  retentionTimeMs: -1,
  topics: [
    {
      name: 't',
      partitions: [
        {
          partitionIndex: 0,
          committedOffset: offset,
          committedLeaderEpoch: v >= 6 ? 4 : -1,
          commitTimestamp: -1,
          committedMetadata: metadata,
        },
      ],
    },
  ],
});

const fetchReq = (v: number, groupId: string, topics: string[] | null): ApiMessages['OffsetFetch']['request'] =>
  v >= 8
    ? {
        groupId: '',
        topics: [],
        groups: [
          {
            groupId,
            memberId: null,
            memberEpoch: -1,
            topics: topics === null ? null : topics.map((name) => ({ name, partitionIndexes: [0] })),
          },
        ],
        requireStable: false,
      }
    : {
        groupId,
        topics: topics === null ? null : topics.map((name) => ({ name, partitionIndexes: [0] })),
        groups: [],
        requireStable: false,
      };

test('librdkafka needs min version 0 on every group API; versions advertised as Kafka 3.9', async () => {
  const w = await wire();
  const byKey = new Map(w.processor.supportedApis().map((a) => [a.apiKey, a]));
  const want: Record<string, [number, number]> = {
    FindCoordinator: [0, 6],
    JoinGroup: [0, 9],
    SyncGroup: [0, 5],
    Heartbeat: [0, 4],
    LeaveGroup: [0, 5],
    OffsetCommit: [0, 9],
    OffsetFetch: [0, 9],
    ListGroups: [0, 5],
    DescribeGroups: [0, 5],
    DeleteGroups: [0, 2],
    OffsetDelete: [0, 0],
    ConsumerGroupHeartbeat: [0, 0],
    ConsumerGroupDescribe: [0, 0],
  };
  for (const [api, [min, max]] of Object.entries(want)) {
    const a = byKey.get(APIS[api as ApiName].key);
    assert.deepEqual([a?.minVersion, a?.maxVersion], [min, max], api);
  }
  const classicOnly = await wire({ rebalanceProtocols: ['classic'] });
  assert.equal(
    classicOnly.processor.supportedApis().some((a) => a.apiKey === APIS.ConsumerGroupHeartbeat.key),
    false,
  );
});

test('FindCoordinator v0-v6: this node for groups and transactional ids, batched keys from v4', async () => {
  const w = await wire();
  for (let v = 0; v <= 3; v++) {
    const r = await w.call('FindCoordinator', v, { key: 'g', keyType: 0, coordinatorKeys: [] });
    assert.deepEqual([r.errorCode, r.nodeId, r.host, r.port], [0, 1, '127.0.0.1', 9092], `v${v}`);
    if (v >= 1) {
      const t = await w.call('FindCoordinator', v, { key: 'txn-1', keyType: 1, coordinatorKeys: [] });
      assert.deepEqual([t.errorCode, t.nodeId], [0, 1]);
      const bad = await w.call('FindCoordinator', v, { key: 'x', keyType: 2, coordinatorKeys: [] });
      assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
      assert.match(bad.errorMessage!, /key type/);
    }
  }
  for (let v = 4; v <= 6; v++) {
    const r = await w.call('FindCoordinator', v, { key: '', keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(
      r.coordinators.map((c) => [c.key, c.nodeId, c.host, c.port, c.errorCode]),
      [
        ['a', 1, '127.0.0.1', 9092, 0],
        ['b', 1, '127.0.0.1', 9092, 0],
      ],
    );
  }
});

for (let v = 0; v <= 9; v++) {
  test(`classic group lifecycle over the wire at JoinGroup v${v}`, async () => {
    const w = await wire();
    w.h.topics.add('t', 1);
    const g = `wire-${v}`;
    let memberId = '';
    if (v >= 4) {
      const first = await w.call('JoinGroup', v, joinReq(v, g, ''));
      assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
      assert.equal(first.protocolName, v >= 7 ? null : '');
      memberId = first.memberId;
      assert.match(memberId, /^wire-test-/, 'member ids start with the client id');
    }
    const pending = track(w.call('JoinGroup', v, joinReq(v, g, memberId)));
    await advance(w.h, 0);
    await settle();
    const join = pending.value!;
    assert.equal(join.errorCode, 0);
    assert.equal(join.generationId, 1);
    assert.equal(join.protocolName, 'range');
    assert.equal(join.protocolType, v >= 7 ? 'consumer' : null);
    assert.equal(join.leader, join.memberId);
    assert.deepEqual(
      join.members.map((m) => m.memberId),
      [join.memberId],
    );
    memberId = join.memberId;
    const sv = Math.min(v, 5);
    const a = Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const sync = await w.call('SyncGroup', sv, {
      groupId: g,
      generationId: 1,
      memberId,
      groupInstanceId: null,
      protocolType: sv >= 5 ? 'consumer' : null,
      protocolName: sv >= 5 ? 'range' : null,
      assignments: [{ memberId, assignment: a }],
    });
    assert.equal(sync.errorCode, 0);
    assert.deepEqual(sync.assignment, a);
    assert.equal(sync.protocolName, sv >= 5 ? 'range' : null);
    const hv = Math.min(v, 4);
    assert.equal(
      (await w.call('Heartbeat', hv, { groupId: g, generationId: 1, memberId, groupInstanceId: null })).errorCode,
      0,
    );
    assert.equal(
      (await w.call('Heartbeat', hv, { groupId: g, generationId: 9, memberId, groupInstanceId: null })).errorCode,
      ErrorCode.ILLEGAL_GENERATION,
    );
    const commit = await w.call('OffsetCommit', v, commitReq(v, g, 1, memberId, 17, 'm'));
    // OffsetCommit v0 carries no member: refused while the group has members, as Kafka does.
    assert.equal(commit.topics[0]!.partitions[0]!.errorCode, v === 0 ? ErrorCode.UNKNOWN_MEMBER_ID : 0);
    const fetched = await w.call('OffsetFetch', v, fetchReq(v, g, ['t']));
    const part = v >= 8 ? fetched.groups[0]!.topics[0]!.partitions[0]! : fetched.topics[0]!.partitions[0]!;
    assert.equal(part.committedOffset, v === 0 ? -1 : 17);
    const lv = Math.min(v, 5);
    const leave = await w.call(
      'LeaveGroup',
      lv,
      lv <= 2
        ? { groupId: g, memberId, members: [] }
        : {
            groupId: g,
            memberId: '',
            members: [{ memberId, groupInstanceId: null, reason: lv >= 5 ? 'test done' : null }],
          },
    );
    assert.equal(leave.errorCode, 0);
    if (lv >= 3)
      assert.deepEqual(
        leave.members.map((m) => [m.memberId, m.errorCode]),
        [[memberId, 0]],
      );
    await settle();
    const dv = Math.min(v, 5);
    const d = await w.call('DescribeGroups', dv, { groups: [g], includeAuthorizedOperations: dv >= 3 });
    assert.equal(d.groups[0]!.groupState, 'Empty');
    assert.equal(d.groups[0]!.authorizedOperations, dv >= 3 ? (1 << 3) | (1 << 6) | (1 << 8) : -2147483648);
  });
}

test('OffsetCommit v0-v9 and OffsetFetch v0-v9 read the same store, metadata and leader epochs included', async () => {
  const w = await wire();
  w.h.topics.add('t', 1);
  for (let cv = 0; cv <= 9; cv++) {
    const g = `oc-${cv}`;
    const c = await w.call('OffsetCommit', cv, commitReq(cv, g, -1, '', 100 + cv, `meta-${cv}`));
    assert.equal(c.topics[0]!.partitions[0]!.errorCode, 0, `commit v${cv}`);
    for (let fv = 0; fv <= 9; fv++) {
      const f = await w.call('OffsetFetch', fv, fetchReq(fv, g, ['t']));
      const p = fv >= 8 ? f.groups[0]!.topics[0]!.partitions[0]! : f.topics[0]!.partitions[0]!;
      assert.deepEqual(
        [p.committedOffset, p.metadata, p.errorCode],
        [100 + cv, `meta-${cv}`, 0],
        `commit v${cv} fetch v${fv}`,
      );
      assert.equal(p.committedLeaderEpoch, fv >= 5 && cv >= 6 ? 4 : -1, `leader epoch commit v${cv} fetch v${fv}`);
    }
  }
  // v2+: null topics mean every partition with an offset; v8+: several groups in one request.
  const all = await w.call('OffsetFetch', 2, fetchReq(2, 'oc-3', null));
  assert.deepEqual(
    all.topics.map((t) => [t.name, t.partitions.map((p) => p.committedOffset)]),
    [['t', [103]]],
  );
  const multi = await w.call('OffsetFetch', 8, {
    groupId: '',
    topics: [],
    requireStable: true,
    groups: [
      { groupId: 'oc-1', memberId: null, memberEpoch: -1, topics: null },
      { groupId: 'oc-9', memberId: null, memberEpoch: -1, topics: [{ name: 't', partitionIndexes: [0] }] },
      { groupId: 'none', memberId: null, memberEpoch: -1, topics: null },
    ],
  });
  assert.deepEqual(
    multi.groups.map((g) => [g.groupId, g.errorCode, g.topics.map((t) => t.partitions.map((p) => p.committedOffset))]),
    [
      ['oc-1', 0, [[101]]],
      ['oc-9', 0, [[109]]],
      ['none', 0, []],
    ],
  );
  // Unknown topics are refused per partition.
  const unknown = await w.call('OffsetCommit', 2, {
    ...commitReq(2, 'oc-x', -1, '', 1, ''),
    topics: [
      {
        name: 'nope',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 1,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  assert.equal(unknown.topics[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

test('OffsetCommit v1 keeps the commit timestamp; v2-v4 retention expires the offset', async () => {
  const w = await wire({ offsetsRetentionCheckIntervalMs: 1000 });
  w.h.topics.add('t', 1);
  const r = await w.call('OffsetCommit', 3, { ...commitReq(3, 'ret', -1, '', 5, ''), retentionTimeMs: 2000 });
  assert.equal(r.topics[0]!.partitions[0]!.errorCode, 0);
  const v1 = await w.call('OffsetCommit', 1, {
    ...commitReq(1, 'ts', -1, '', 6, ''),
    topics: [
      {
        name: 't',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 6,
            committedLeaderEpoch: -1,
            commitTimestamp: 1234,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  assert.equal(v1.topics[0]!.partitions[0]!.errorCode, 0);
  await advance(w.h, 3000, 1000);
  assert.deepEqual(
    (await w.call('OffsetFetch', 1, fetchReq(1, 'ret', ['t']))).topics[0]!.partitions[0]!.committedOffset,
    -1,
  );
});

test('group-level errors: OffsetFetch v0/v1 put them on each partition, v2+ at the top', async () => {
  // A coordinator still reading __consumer_offsets answers COORDINATOR_LOAD_IN_PROGRESS.
  const log = new MemoryOffsetsLog(3);
  let open!: () => void;
  log.readGate = new Promise<void>((r) => (open = r));
  const w = await wire({}, log);
  await settle();
  assert.equal(w.h.coordinator.isLoading, true);
  const v1 = await w.call('OffsetFetch', 1, fetchReq(1, 'g', ['t']));
  assert.deepEqual(
    v1.topics.map((t) => [t.name, t.partitions.map((p) => [p.committedOffset, p.errorCode])]),
    [['t', [[-1, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]]]],
  );
  const v2 = await w.call('OffsetFetch', 2, fetchReq(2, 'g', ['t']));
  assert.deepEqual([v2.errorCode, v2.topics], [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, []]);
  const v8 = await w.call('OffsetFetch', 8, fetchReq(8, 'g', ['t']));
  assert.equal(v8.groups[0]!.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  const commit = await w.call('OffsetCommit', 2, commitReq(2, 'g', -1, '', 1, ''));
  assert.equal(commit.topics[0]!.partitions[0]!.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  const find = await w.call('FindCoordinator', 2, { key: 'g', keyType: 0, coordinatorKeys: [] });
  assert.equal(find.errorCode, 0, 'FindCoordinator still answers: this node is the coordinator, just not ready');
  open();
  await w.h.started;
  assert.equal((await w.call('OffsetFetch', 2, fetchReq(2, 'g', ['t']))).errorCode, 0);
});

test('ListGroups v0-v5 with filters, DeleteGroups v0-v2 and OffsetDelete v0 over the wire', async () => {
  const w = await wire();
  w.h.topics.add('t', 1);
  for (const g of ['a', 'b', 'c']) await w.call('OffsetCommit', 2, commitReq(2, g, -1, '', 1, ''));
  for (let v = 0; v <= 5; v++) {
    const r = await w.call('ListGroups', v, {
      statesFilter: v >= 4 ? ['Empty'] : [],
      typesFilter: v >= 5 ? ['classic'] : [],
    });
    assert.deepEqual(r.groups.map((g) => g.groupId).sort(), ['a', 'b', 'c']);
    if (v >= 4) assert.equal(r.groups[0]!.groupState, 'Empty');
    if (v >= 5) assert.equal(r.groups[0]!.groupType, 'classic');
  }
  assert.deepEqual((await w.call('ListGroups', 4, { statesFilter: ['Stable'], typesFilter: [] })).groups, []);
  const od = await w.call('OffsetDelete', 0, {
    groupId: 'c',
    topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }],
  });
  assert.deepEqual([od.errorCode, od.topics[0]!.partitions[0]!.errorCode], [0, 0]);
  assert.equal((await w.call('OffsetFetch', 1, fetchReq(1, 'c', ['t']))).topics[0]!.partitions[0]!.committedOffset, -1);
  for (let v = 0; v <= 2; v++) {
    const g = ['a', 'b', 'zzz'][v]!;
    const r = await w.call('DeleteGroups', v, { groupsNames: [g] });
    assert.deepEqual(r.results, [{ groupId: g, errorCode: g === 'zzz' ? ErrorCode.GROUP_ID_NOT_FOUND : 0 }]);
  }
  assert.deepEqual(
    (await w.call('ListGroups', 0, { statesFilter: [], typesFilter: [] })).groups.map((g) => g.groupId),
    ['c'],
  );
});

test('DescribeGroups of an unknown group is Dead with no error (what admin clients expect)', async () => {
  const w = await wire();
  for (let v = 0; v <= 5; v++) {
    const r = await w.call('DescribeGroups', v, { groups: ['ghost'], includeAuthorizedOperations: false });
    assert.deepEqual([r.groups[0]!.errorCode, r.groups[0]!.groupState, r.groups[0]!.members.length], [0, 'Dead', 0]);
  }
});

test('ConsumerGroupHeartbeat and ConsumerGroupDescribe v0 over the wire', async () => {
  const w = await wire();
  const topicId = w.h.topics.add('t', 2);
  const r = await w.call('ConsumerGroupHeartbeat', 0, {
    groupId: 'k',
    memberId: '',
    memberEpoch: 0,
    instanceId: null,
    rackId: 'rack-1',
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: ['t'],
    serverAssignor: 'range',
    topicPartitions: [],
  });
  assert.equal(r.errorCode, 0);
  assert.equal(r.memberEpoch, 1);
  assert.deepEqual(r.assignment, { topicPartitions: [{ topicId, partitions: [0, 1] }] });
  const bad = await w.call('ConsumerGroupHeartbeat', 0, {
    groupId: 'k',
    memberId: 'nope',
    memberEpoch: 3,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    serverAssignor: null,
    topicPartitions: null,
  });
  assert.equal(bad.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.ok(bad.errorMessage);
  const d = await w.call('ConsumerGroupDescribe', 0, { groupIds: ['k', 'missing'], includeAuthorizedOperations: true });
  const k = d.groups[0]!;
  assert.deepEqual([k.errorCode, k.groupState, k.groupEpoch, k.assignorName], [0, 'Stable', 1, 'range']);
  assert.equal(k.members[0]!.rackId, 'rack-1');
  assert.equal(k.members[0]!.clientId, 'wire-test');
  assert.equal(k.members[0]!.clientHost, '/127.0.0.1');
  assert.deepEqual(k.members[0]!.assignment.topicPartitions, [{ topicId, topicName: 't', partitions: [0, 1] }]);
  assert.equal(k.authorizedOperations, (1 << 3) | (1 << 6) | (1 << 8));
  assert.equal(d.groups[1]!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('a waiting JoinGroup is answered when another member completes the rebalance (static members, v5+)', async () => {
  const w = await wire();
  const a = track(w.call('JoinGroup', 5, joinReq(5, 'st', '', 'instance-a')));
  const b = track(w.call('JoinGroup', 5, joinReq(5, 'st', '', 'instance-b')));
  await advance(w.h, 0);
  await settle();
  assert.equal(a.value!.errorCode, 0);
  assert.equal(b.value!.errorCode, 0);
  const leader = [a.value!, b.value!].find((r) => r.leader === r.memberId)!;
  assert.deepEqual(leader.members.map((m) => m.groupInstanceId).sort(), ['instance-a', 'instance-b']);
});
