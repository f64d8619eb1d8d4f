/**
 * One behavioural check per API the broker advertises, run at a given version: what a client
 * relies on from the answer (the produced record comes back, the created topic exists, the
 * committed offset is returned...), not just that the answer decodes. Each check works on names
 * of its own (suffix `-v<version>`), so the checks of one broker never disturb one another.
 */
import assert from 'node:assert/strict';
import type { BrokerHandle } from '../../src/broker/start.js';
import type { ApiName } from '../../src/protocol/apis.js';
import { decodeMessageSet, encodeMessageSet } from '../../src/protocol/records/legacy.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import { RawTxnProducer, deliveredValues, producerBatch } from '../txn/helpers.js';
import {
  ErrorCode,
  NO_TOPIC_ID,
  Resource,
  type WireClient,
  assertCode,
  batch,
  createTopic,
  describeConfigs,
  fetchRequest,
  listOffset,
  metadata,
  produceValues,
  topicConfig,
} from './support.js';

export interface CheckContext {
  b: BrokerHandle;
  c: WireClient;
  /** A topic with 2 partitions; partition 0 holds the records 'r0', 'r1', 'r2'. */
  topic: string;
  topicId: string;
}

export type Check = (x: CheckContext, v: number) => Promise<void>;

const GROUP_PROTOCOL = [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]) }];

/** The values of a fetched records blob, whichever format (magic 0/1 message sets before Fetch v4). */
function fetchedValues(blob: Buffer | null): string[] {
  if (!blob || blob.length === 0) return [];
  const magic = blob[16];
  const values =
    magic === 2
      ? decodeRecordBatches(blob)
          .filter((b) => !b.isControl)
          .flatMap((b) => b.records.map((r) => r.value))
      : decodeMessageSet(blob).map((m) => m.value);
  return values.map((v) => (v === null ? '<null>' : v.toString()));
}

async function fetchValues(x: CheckContext, topic: string, partition: number, v = 12, isolationLevel = 0) {
  const id = v >= 13 ? (await metadata(x.c, [topic])).topics[0]!.topicId : undefined;
  const res = await x.c.request(
    'Fetch',
    v,
    fetchRequest([id ? { topicId: id, partition, fetchOffset: 0 } : { topic, partition, fetchOffset: 0 }], {
      isolationLevel,
    }),
  );
  const p = res.responses[0]!.partitions[0]!;
  assertCode(p.errorCode, ErrorCode.NONE, `Fetch v${v} ${topic}-${partition}`);
  return isolationLevel === 1 ? deliveredValues(p) : fetchedValues(p.records);
}

async function committed(c: WireClient, group: string, topic: string, partition: number, v = 7): Promise<number> {
  // v8 moved the request into a list of groups; each version carries one form only.
  const topics = [{ name: topic, partitionIndexes: [partition] }];
  const r = await c.request('OffsetFetch', v, {
    groupId: v < 8 ? group : '',
    topics: v < 8 ? topics : [],
    groups: v < 8 ? [] : [{ groupId: group, memberId: null, memberEpoch: -1, topics }],
    requireStable: false,
  });
  const answered = v >= 8 ? r.groups[0]!.topics : r.topics;
  const p = answered.find((t) => t.name === topic)!.partitions.find((q) => q.partitionIndex === partition)!;
  assertCode(p.errorCode, ErrorCode.NONE, `OffsetFetch v${v}`);
  return p.committedOffset;
}

async function commit(c: WireClient, group: string, topic: string, partition: number, offset: number, v = 8) {
  const r = await c.request('OffsetCommit', v, {
    groupId: group,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: topic,
        partitions: [
          {
            partitionIndex: partition,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: 'checked',
          },
        ],
      },
    ],
  });
  assertCode(r.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE, `OffsetCommit v${v}`);
}

/** Joins `group` as its only member (JoinGroup v4+ asks for a member id first) and syncs. */
async function joinAndSync(c: WireClient, group: string, o: { join?: number; sync?: number } = {}) {
  const jv = o.join ?? 5;
  const request = (memberId: string) => ({
    groupId: group,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: GROUP_PROTOCOL,
    reason: null,
  });
  let j = await c.request('JoinGroup', jv, request(''));
  if (j.errorCode === ErrorCode.MEMBER_ID_REQUIRED) j = await c.request('JoinGroup', jv, request(j.memberId));
  assertCode(j.errorCode, ErrorCode.NONE, `JoinGroup v${jv}`);
  const assignment = Buffer.from(`assignment-${group}`);
  const s = await c.request('SyncGroup', o.sync ?? 3, {
    groupId: group,
    generationId: j.generationId,
    memberId: j.memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [{ memberId: j.memberId, assignment }],
  });
  assertCode(s.errorCode, ErrorCode.NONE, `SyncGroup v${o.sync ?? 3}`);
  return { join: j, sync: s, assignment };
}

async function describeGroup(c: WireClient, group: string, v = 5) {
  const r = await c.request('DescribeGroups', v, { groups: [group], includeAuthorizedOperations: false });
  return r.groups[0]!;
}

/** Creates a fresh topic named for the check and version. */
async function freshTopic(x: CheckContext, what: string, v: number, partitions = 1): Promise<string> {
  const name = `${x.topic}-${what}-v${v}`;
  await createTopic(x.c, name, partitions);
  return name;
}

export const CHECKS: Partial<Record<ApiName, Check>> = {
  async Produce(x, v) {
    const t = await freshTopic(x, 'produce', v);
    // Record batches need v3+; older versions carry magic 0 (v0-1) or magic 1 (v2) message sets.
    const records =
      v >= 3
        ? batch(['p0', 'p1'])
        : encodeMessageSet(
            [
              { key: null, value: Buffer.from('p0') },
              { key: null, value: Buffer.from('p1') },
            ],
            { magic: v < 2 ? 0 : 1 },
          );
    const r = await x.c.request('Produce', v, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: t, partitionData: [{ index: 0, records }] }],
    });
    const p = r.responses[0]!.partitionResponses[0]!;
    assertCode(p.errorCode, ErrorCode.NONE, `Produce v${v}`);
    assert.equal(p.baseOffset, 0, `Produce v${v}: base offset`);
    assert.equal(await produceValues(x.c, t, 0, ['p2']), 2, `after Produce v${v} the log end is 2`);
    assert.deepEqual(await fetchValues(x, t, 0), ['p0', 'p1', 'p2'], `records of Produce v${v} are fetchable`);
  },

  async Fetch(x, v) {
    assert.deepEqual(await fetchValues(x, x.topic, 0, v), ['r0', 'r1', 'r2'], `Fetch v${v}`);
  },

  async ListOffsets(x, v) {
    const r = await x.c.request('ListOffsets', v, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: x.topic,
          partitions: [
            { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 },
            { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -2, maxNumOffsets: 1 },
          ],
        },
      ],
    });
    const [latest, earliest] = [0, 1].map((i) => r.topics[0]!.partitions.find((p) => p.partitionIndex === i)!);
    assertCode(latest!.errorCode, ErrorCode.NONE, `ListOffsets v${v}`);
    // v0 answers with a list of offsets, v1+ with one.
    assert.equal(v === 0 ? latest!.oldStyleOffsets[0] : latest!.offset, 3, `ListOffsets v${v}: latest of partition 0`);
    assert.equal(v === 0 ? earliest!.oldStyleOffsets[0] : earliest!.offset, 0, `ListOffsets v${v}: earliest`);
  },

  async Metadata(x, v) {
    const md = await metadata(x.c, [x.topic], v);
    const t = md.topics.find((y) => y.name === x.topic);
    assert.ok(t, `Metadata v${v} lists the topic`);
    assertCode(t.errorCode, ErrorCode.NONE, `Metadata v${v}`);
    assert.deepEqual(
      t.partitions.map((p) => [p.partitionIndex, p.leaderId]).sort(),
      [
        [0, x.b.broker.nodeId],
        [1, x.b.broker.nodeId],
      ],
      `Metadata v${v}: both partitions, led by this broker`,
    );
    assert.ok(
      md.brokers.some((b) => b.nodeId === x.b.broker.nodeId && b.port === x.b.port),
      `Metadata v${v} lists the broker`,
    );
    if (v >= 10) assert.equal(t.topicId, x.topicId, `Metadata v${v}: topic id`);
  },

  async OffsetCommit(x, v) {
    const g = `${x.topic}-oc-v${v}`;
    await commit(x.c, g, x.topic, 0, 2, v);
    assert.equal(await committed(x.c, g, x.topic, 0), 2, `OffsetCommit v${v} is read back`);
  },

  async OffsetFetch(x, v) {
    const g = `${x.topic}-of-v${v}`;
    await commit(x.c, g, x.topic, 1, 1);
    assert.equal(await committed(x.c, g, x.topic, 1, v), 1, `OffsetFetch v${v}`);
  },

  async FindCoordinator(x, v) {
    const g = `${x.topic}-fc-v${v}`;
    const r = await x.c.request('FindCoordinator', v, {
      key: v < 4 ? g : '',
      keyType: 0,
      coordinatorKeys: v < 4 ? [] : [g],
    });
    const found = v >= 4 ? r.coordinators[0]! : r;
    assertCode(found.errorCode, ErrorCode.NONE, `FindCoordinator v${v}`);
    assert.deepEqual([found.nodeId, found.port], [x.b.broker.nodeId, x.b.port], `FindCoordinator v${v}: this broker`);
  },

  async JoinGroup(x, v) {
    const g = `${x.topic}-jg-v${v}`;
    const { join } = await joinAndSync(x.c, g, { join: v });
    assert.ok(join.generationId >= 1, `JoinGroup v${v}: generation ${join.generationId}`);
    assert.equal(join.leader, join.memberId, `JoinGroup v${v}: the only member leads`);
    assert.deepEqual(
      join.members.map((m) => m.memberId),
      [join.memberId],
      `JoinGroup v${v}: the leader gets the members`,
    );
  },

  async SyncGroup(x, v) {
    const { sync, assignment } = await joinAndSync(x.c, `${x.topic}-sg-v${v}`, { sync: v });
    assert.ok(sync.assignment.equals(assignment), `SyncGroup v${v} hands back the leader's assignment`);
  },

  async Heartbeat(x, v) {
    const g = `${x.topic}-hb-v${v}`;
    const { join } = await joinAndSync(x.c, g);
    const beat = (generationId: number) =>
      x.c.request('Heartbeat', v, { groupId: g, generationId, memberId: join.memberId, groupInstanceId: null });
    assertCode((await beat(join.generationId)).errorCode, ErrorCode.NONE, `Heartbeat v${v}`);
    assertCode(
      (await beat(join.generationId + 5)).errorCode,
      ErrorCode.ILLEGAL_GENERATION,
      `Heartbeat v${v} with a wrong generation`,
    );
  },

  async LeaveGroup(x, v) {
    const g = `${x.topic}-lg-v${v}`;
    const { join } = await joinAndSync(x.c, g);
    // v3 leaves by a list of members; each version carries one form only.
    const r = await x.c.request('LeaveGroup', v, {
      groupId: g,
      memberId: v < 3 ? join.memberId : '',
      members: v < 3 ? [] : [{ memberId: join.memberId, groupInstanceId: null, reason: null }],
    });
    assertCode(r.errorCode, ErrorCode.NONE, `LeaveGroup v${v}`);
    const d = await describeGroup(x.c, g);
    assert.equal(d.groupState, 'Empty', `after LeaveGroup v${v} the group is empty`);
    assert.deepEqual(d.members, []);
  },

  async DescribeGroups(x, v) {
    const g = `${x.topic}-dg-v${v}`;
    const { join } = await joinAndSync(x.c, g);
    const d = await describeGroup(x.c, g, v);
    assertCode(d.errorCode, ErrorCode.NONE, `DescribeGroups v${v}`);
    assert.deepEqual(
      [d.groupState, d.protocolType, d.protocolData, d.members.map((m) => m.memberId)],
      ['Stable', 'consumer', 'range', [join.memberId]],
      `DescribeGroups v${v}`,
    );
  },

  async ListGroups(x, v) {
    const g = `${x.topic}-lsg-v${v}`;
    await joinAndSync(x.c, g);
    const r = await x.c.request('ListGroups', v, { statesFilter: [], typesFilter: [] });
    assertCode(r.errorCode, ErrorCode.NONE, `ListGroups v${v}`);
    const listed = r.groups.find((y) => y.groupId === g);
    assert.ok(listed, `ListGroups v${v} lists the group`);
    assert.equal(listed.protocolType, 'consumer');
    if (v >= 4) assert.equal(listed.groupState, 'Stable', `ListGroups v${v}: state`);
  },

  async DeleteGroups(x, v) {
    const g = `${x.topic}-delg-v${v}`;
    await commit(x.c, g, x.topic, 0, 1);
    const r = await x.c.request('DeleteGroups', v, { groupsNames: [g] });
    assertCode(r.results[0]!.errorCode, ErrorCode.NONE, `DeleteGroups v${v}`);
    assert.equal(await committed(x.c, g, x.topic, 0), -1, `DeleteGroups v${v} removed the offsets`);
  },

  async OffsetDelete(x, v) {
    const g = `${x.topic}-od-v${v}`;
    await commit(x.c, g, x.topic, 0, 1);
    await commit(x.c, g, x.topic, 1, 1);
    const r = await x.c.request('OffsetDelete', v, {
      groupId: g,
      topics: [{ name: x.topic, partitions: [{ partitionIndex: 0 }] }],
    });
    assertCode(r.errorCode, ErrorCode.NONE, `OffsetDelete v${v}`);
    assert.equal(await committed(x.c, g, x.topic, 0), -1, `OffsetDelete v${v} removed partition 0's offset`);
    assert.equal(await committed(x.c, g, x.topic, 1), 1, 'and kept partition 1');
  },

  async ApiVersions(x, v) {
    const r = await x.c.request('ApiVersions', v, { clientSoftwareName: 'brook-test', clientSoftwareVersion: '1.0' });
    assertCode(r.errorCode, ErrorCode.NONE, `ApiVersions v${v}`);
    const own = r.apiKeys.find((k) => k.apiKey === 18);
    assert.ok(own && own.minVersion <= v && v <= own.maxVersion, `ApiVersions v${v} advertises its own version`);
    assert.ok(
      (['Produce', 'Fetch', 'Metadata'] as const).every((_, i) => r.apiKeys.some((k) => k.apiKey === [0, 1, 3][i])),
    );
  },

  async CreateTopics(x, v) {
    const name = `${x.topic}-ct-v${v}`;
    const r = await x.c.request('CreateTopics', v, {
      topics: [
        {
          name,
          numPartitions: 3,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: 'retention.ms', value: '4242' }],
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assertCode(r.topics[0]!.errorCode, ErrorCode.NONE, `CreateTopics v${v}`);
    const md = await metadata(x.c, [name]);
    assert.equal(md.topics[0]!.partitions.length, 3, `the topic of CreateTopics v${v} exists with 3 partitions`);
    assert.equal((await topicConfig(x.c, name, 'retention.ms')).value, '4242', `CreateTopics v${v} configs`);
  },

  async DeleteTopics(x, v) {
    const name = await freshTopic(x, 'dt', v);
    const r = await x.c.request('DeleteTopics', v, {
      topics: v >= 6 ? [{ name, topicId: NO_TOPIC_ID }] : [],
      topicNames: v >= 6 ? [] : [name],
      timeoutMs: 5000,
    });
    assertCode(r.responses[0]!.errorCode, ErrorCode.NONE, `DeleteTopics v${v}`);
    const md = await metadata(x.c, [name]);
    assertCode(md.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `after DeleteTopics v${v}`);
  },

  async DeleteRecords(x, v) {
    const t = await freshTopic(x, 'dr', v);
    await produceValues(x.c, t, 0, ['a', 'b', 'c']);
    const r = await x.c.request('DeleteRecords', v, {
      topics: [{ name: t, partitions: [{ partitionIndex: 0, offset: 2 }] }],
      timeoutMs: 5000,
    });
    const p = r.topics[0]!.partitions[0]!;
    assertCode(p.errorCode, ErrorCode.NONE, `DeleteRecords v${v}`);
    assert.equal(p.lowWatermark, 2, `DeleteRecords v${v}: low watermark`);
    assert.equal((await listOffset(x.c, t, 0, -2)).offset, 2, `after DeleteRecords v${v} the log starts at 2`);
  },

  async InitProducerId(x, v) {
    const r = await x.c.request('InitProducerId', v, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1,
      producerEpoch: -1,
    });
    assertCode(r.errorCode, ErrorCode.NONE, `InitProducerId v${v}`);
    assert.ok(r.producerId >= 0, `InitProducerId v${v}: producer id ${r.producerId}`);
    // The id works: an idempotent batch with it is accepted.
    const t = await freshTopic(x, 'pid', v);
    const p = await x.c.request('Produce', 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: t,
          partitionData: [
            { index: 0, records: producerBatch(['idem'], { pid: r.producerId, epoch: r.producerEpoch, seq: 0 }) },
          ],
        },
      ],
    });
    assertCode(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE, 'produce with that producer id');
  },

  async OffsetForLeaderEpoch(x, v) {
    const r = await x.c.request('OffsetForLeaderEpoch', v, {
      replicaId: -1,
      topics: [{ topic: x.topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
    });
    const p = r.topics[0]!.partitions[0]!;
    assertCode(p.errorCode, ErrorCode.NONE, `OffsetForLeaderEpoch v${v}`);
    assert.equal(p.endOffset, 3, `OffsetForLeaderEpoch v${v}: epoch 0 ends at the log end`);
  },

  async DescribeConfigs(x, v) {
    const r = await describeConfigs(x.c, Resource.TOPIC, x.topic, ['retention.ms', 'cleanup.policy'], v);
    assertCode(r.errorCode, ErrorCode.NONE, `DescribeConfigs v${v}`);
    const values = Object.fromEntries(r.configs.map((e) => [e.name, e.value]));
    assert.deepEqual(values, { 'retention.ms': '86400000', 'cleanup.policy': 'delete' }, `DescribeConfigs v${v}`);
    const broker = await describeConfigs(x.c, Resource.BROKER, String(x.b.broker.nodeId), ['num.partitions'], v);
    assertCode(broker.errorCode, ErrorCode.NONE, `DescribeConfigs v${v} of the broker`);
    assert.equal(broker.configs[0]?.value, '1', `DescribeConfigs v${v}: num.partitions`);
  },

  async AlterConfigs(x, v) {
    const t = await freshTopic(x, 'ac', v);
    const r = await x.c.request('AlterConfigs', v, {
      resources: [{ resourceType: Resource.TOPIC, resourceName: t, configs: [{ name: 'retention.ms', value: '777' }] }],
      validateOnly: false,
    });
    assertCode(r.responses[0]!.errorCode, ErrorCode.NONE, `AlterConfigs v${v}`);
    assert.equal((await topicConfig(x.c, t, 'retention.ms')).value, '777', `AlterConfigs v${v} took effect`);
  },

  async IncrementalAlterConfigs(x, v) {
    const t = await freshTopic(x, 'iac', v);
    const r = await x.c.request('IncrementalAlterConfigs', v, {
      resources: [
        {
          resourceType: Resource.TOPIC,
          resourceName: t,
          configs: [{ name: 'retention.ms', configOperation: 0, value: '888' }],
        },
      ],
      validateOnly: false,
    });
    assertCode(r.responses[0]!.errorCode, ErrorCode.NONE, `IncrementalAlterConfigs v${v}`);
    assert.equal((await topicConfig(x.c, t, 'retention.ms')).value, '888', `IncrementalAlterConfigs v${v} took effect`);
  },

  async DescribeLogDirs(x, v) {
    const r = await x.c.request('DescribeLogDirs', v, { topics: [{ topic: x.topic, partitions: [0, 1] }] });
    if (v >= 3) assertCode(r.errorCode, ErrorCode.NONE, `DescribeLogDirs v${v}`);
    assert.equal(r.results.length, 1, `DescribeLogDirs v${v}: one log dir`);
    const dir = r.results[0]!;
    assertCode(dir.errorCode, ErrorCode.NONE);
    const parts = dir.topics.find((t) => t.name === x.topic)?.partitions ?? [];
    assert.deepEqual(parts.map((p) => p.partitionIndex).sort(), [0, 1], `DescribeLogDirs v${v}: both partitions`);
    assert.ok(parts.find((p) => p.partitionIndex === 0)!.partitionSize > 0, 'partition 0 holds data');
  },

  async CreatePartitions(x, v) {
    const t = await freshTopic(x, 'cp', v);
    const r = await x.c.request('CreatePartitions', v, {
      topics: [{ name: t, count: 3, assignments: null }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assertCode(r.results[0]!.errorCode, ErrorCode.NONE, `CreatePartitions v${v}`);
    assert.equal((await metadata(x.c, [t])).topics[0]!.partitions.length, 3, `CreatePartitions v${v} took effect`);
  },

  async ListPartitionReassignments(x, v) {
    const r = await x.c.request('ListPartitionReassignments', v, { timeoutMs: 5000, topics: null });
    assertCode(r.errorCode, ErrorCode.NONE, `ListPartitionReassignments v${v}`);
    assert.deepEqual(r.topics, [], 'a single broker has nothing to reassign');
  },

  async DescribeCluster(x, v) {
    const r = await x.c.request('DescribeCluster', v, { includeClusterAuthorizedOperations: false, endpointType: 1 });
    assertCode(r.errorCode, ErrorCode.NONE, `DescribeCluster v${v}`);
    assert.equal(r.clusterId, (await metadata(x.c, [])).clusterId, `DescribeCluster v${v}: the cluster id`);
    assert.deepEqual(
      r.brokers.map((b) => [b.brokerId, b.port]),
      [[x.b.broker.nodeId, x.b.port]],
      `DescribeCluster v${v}: this broker`,
    );
  },

  async DescribeProducers(x, v) {
    const t = await freshTopic(x, 'dp', v);
    const init = await x.c.request('InitProducerId', 4, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1,
      producerEpoch: -1,
    });
    await x.c.request('Produce', 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: t,
          partitionData: [{ index: 0, records: producerBatch(['a', 'b'], { pid: init.producerId, epoch: 0, seq: 0 }) }],
        },
      ],
    });
    const r = await x.c.request('DescribeProducers', v, { topics: [{ name: t, partitionIndexes: [0] }] });
    const p = r.topics[0]!.partitions[0]!;
    assertCode(p.errorCode, ErrorCode.NONE, `DescribeProducers v${v}`);
    assert.deepEqual(
      p.activeProducers.map((a) => [a.producerId, a.lastSequence]),
      [[init.producerId, 1]],
      `DescribeProducers v${v}: the producer and its last sequence`,
    );
  },

  async AddPartitionsToTxn(x, v) {
    const tx = await ongoingTxn(x, `apt-v${v}`, { addPartitions: v });
    assertCode(await tx.p.end(true), ErrorCode.NONE, 'commit');
    assert.deepEqual(await fetchValues(x, tx.topic, 0, 12, 1), ['txn'], `AddPartitionsToTxn v${v}: committed data`);
  },

  async AddOffsetsToTxn(x, v) {
    const tx = await ongoingTxn(x, `aot-v${v}`, { addOffsets: v });
    assertCode(await tx.p.end(true), ErrorCode.NONE, 'commit');
    assert.equal(await committed(x.c, tx.group, tx.topic, 0), 1, `AddOffsetsToTxn v${v}: offsets committed`);
  },

  async TxnOffsetCommit(x, v) {
    const tx = await ongoingTxn(x, `toc-v${v}`, { commitOffsets: v });
    assertCode(await tx.p.end(true), ErrorCode.NONE, 'commit');
    assert.equal(await committed(x.c, tx.group, tx.topic, 0), 1, `TxnOffsetCommit v${v}: offsets committed`);
  },

  async EndTxn(x, v) {
    const commitTx = await ongoingTxn(x, `etc-v${v}`, {});
    assertCode(await commitTx.p.end(true, v), ErrorCode.NONE, `EndTxn v${v} commit`);
    assert.deepEqual(await fetchValues(x, commitTx.topic, 0, 12, 1), ['txn'], `EndTxn v${v}: committed data is read`);
    const abortTx = await ongoingTxn(x, `eta-v${v}`, {});
    assertCode(await abortTx.p.end(false, v), ErrorCode.NONE, `EndTxn v${v} abort`);
    assert.deepEqual(await fetchValues(x, abortTx.topic, 0, 12, 1), [], `EndTxn v${v}: aborted data is not read`);
    assert.equal(await committed(x.c, abortTx.group, abortTx.topic, 0), -1, 'aborted offsets are not committed');
  },

  async DescribeTransactions(x, v) {
    const tx = await ongoingTxn(x, `dtx-v${v}`, {});
    const r = await x.c.request('DescribeTransactions', v, { transactionalIds: [tx.p.transactionalId] });
    const s = r.transactionStates[0]!;
    assertCode(s.errorCode, ErrorCode.NONE, `DescribeTransactions v${v}`);
    assert.deepEqual(
      // The group's offsets partition (AddOffsetsToTxn) is part of the transaction too.
      [s.transactionState, s.producerId, s.topics.filter((t) => t.topic !== '__consumer_offsets')],
      ['Ongoing', tx.p.producerId, [{ topic: tx.topic, partitions: [0] }]],
      `DescribeTransactions v${v}`,
    );
    await tx.p.end(false);
  },

  async ListTransactions(x, v) {
    const tx = await ongoingTxn(x, `ltx-v${v}`, {});
    const r = await x.c.request('ListTransactions', v, {
      stateFilters: ['Ongoing'],
      producerIdFilters: [],
      durationFilter: -1,
    });
    assertCode(r.errorCode, ErrorCode.NONE, `ListTransactions v${v}`);
    assert.ok(
      r.transactionStates.some((s) => s.transactionalId === tx.p.transactionalId && s.transactionState === 'Ongoing'),
      `ListTransactions v${v} lists the ongoing transaction`,
    );
    await tx.p.end(false);
  },

  async ConsumerGroupHeartbeat(x, v) {
    const g = `${x.topic}-cgh-v${v}`;
    const beat = (memberId: string, memberEpoch: number) =>
      x.c.request('ConsumerGroupHeartbeat', v, {
        groupId: g,
        memberId,
        memberEpoch,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: 10_000,
        subscribedTopicNames: [x.topic],
        serverAssignor: null,
        topicPartitions: [],
      });
    let r = await beat('', 0);
    assertCode(r.errorCode, ErrorCode.NONE, `ConsumerGroupHeartbeat v${v}`);
    const memberId = r.memberId!;
    assert.ok(memberId && r.memberEpoch >= 1, `ConsumerGroupHeartbeat v${v}: member id and epoch`);
    // The only member of the group is assigned both partitions of the topic it subscribed to.
    for (let i = 0; i < 50 && !(r.assignment?.topicPartitions.length ?? 0); i++)
      r = await beat(memberId, r.memberEpoch);
    assert.deepEqual(
      r.assignment?.topicPartitions.map((tp) => [tp.topicId, [...tp.partitions].sort()]),
      [[x.topicId, [0, 1]]],
      `ConsumerGroupHeartbeat v${v}: the assignment`,
    );
    const d = await x.c.request('ConsumerGroupDescribe', 0, { groupIds: [g], includeAuthorizedOperations: false });
    assert.deepEqual(
      d.groups[0]!.members.map((m) => m.memberId),
      [memberId],
    );
  },

  async ConsumerGroupDescribe(x, v) {
    const g = `${x.topic}-cgd-v${v}`;
    const r = await x.c.request('ConsumerGroupHeartbeat', 0, {
      groupId: g,
      memberId: '',
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 10_000,
      subscribedTopicNames: [x.topic],
      serverAssignor: null,
      topicPartitions: [],
    });
    assertCode(r.errorCode, ErrorCode.NONE, 'ConsumerGroupHeartbeat');
    const d = await x.c.request('ConsumerGroupDescribe', v, { groupIds: [g], includeAuthorizedOperations: false });
    const group = d.groups[0]!;
    assertCode(group.errorCode, ErrorCode.NONE, `ConsumerGroupDescribe v${v}`);
    assert.deepEqual(
      group.members.map((m) => [m.memberId, m.subscribedTopicNames]),
      [[r.memberId, [x.topic]]],
      `ConsumerGroupDescribe v${v}: the member and its subscription`,
    );
    assert.ok(group.groupEpoch >= 1, `ConsumerGroupDescribe v${v}: group epoch ${group.groupEpoch}`);
  },
};

/**
 * A transaction with one record ('txn') on a fresh topic's partition 0 and offset 1 of that topic
 * committed for a group inside it, left open; `versions` picks the version of each step.
 */
async function ongoingTxn(
  x: CheckContext,
  what: string,
  versions: { addPartitions?: number; addOffsets?: number; commitOffsets?: number },
) {
  const topic = await freshTopic(x, what, 0);
  const group = `${topic}-group`;
  const p = new RawTxnProducer(x.c, `${topic}-txn`);
  await p.initRetrying();
  const av = versions.addPartitions ?? 3;
  if (av >= 4) {
    const r = await x.c.request('AddPartitionsToTxn', av, {
      transactions: [
        {
          transactionalId: p.transactionalId,
          producerId: p.producerId,
          producerEpoch: p.epoch,
          verifyOnly: false,
          topics: [{ name: topic, partitions: [0] }],
        },
      ],
      v3AndBelowTransactionalId: '',
      v3AndBelowProducerId: 0,
      v3AndBelowProducerEpoch: 0,
      v3AndBelowTopics: [],
    });
    assertCode(r.errorCode, ErrorCode.NONE, `AddPartitionsToTxn v${av}`);
    const code = r.resultsByTransaction[0]!.topicResults[0]!.resultsByPartition[0]!.partitionErrorCode;
    assertCode(code, ErrorCode.NONE, `AddPartitionsToTxn v${av} partition`);
  } else {
    const codes = await p.addPartitions([[topic, 0]], av);
    assertCode(codes.get(`${topic}-0`)!, ErrorCode.NONE, `AddPartitionsToTxn v${av}`);
  }
  assertCode((await p.send(topic, 0, ['txn'])).errorCode, ErrorCode.NONE, 'transactional produce');
  assertCode(await p.addOffsets(group, versions.addOffsets ?? 3), ErrorCode.NONE, 'AddOffsetsToTxn');
  const codes = await p.commitOffsets(group, [[topic, 0, 1]], versions.commitOffsets ?? 3);
  assert.deepEqual(codes, [ErrorCode.NONE], 'TxnOffsetCommit');
  return { p, topic, group };
}
