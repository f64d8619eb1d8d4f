import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  NO_TOPIC_ID,
  WireClient,
  assertCode,
  createTopic,
  fetchPartition,
  metadata,
  onDataDir,
  produceValues,
  removeDir,
  tempDir,
  topicName,
  valuesOf,
  withBroker,
} from './support.js';

const NODE = 7;

describe('metadata', () => {
  let b: BrokerHandle;
  let c: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent', config: { 'node.id': String(NODE), 'num.partitions': '3' } });
    c = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    await b.close();
  });

  test('the broker list, controller id and every partition leader are this node', async () => {
    const t = topicName('leaders');
    await createTopic(c, t, 2);
    for (const v of [1, 4, 9, 12]) {
      const md = await metadata(c, [t], v);
      assert.deepEqual(
        md.brokers.map((x) => [x.nodeId, x.host, x.port]),
        [[NODE, b.host, b.port]],
        `Metadata v${v} brokers`,
      );
      assert.equal(md.controllerId, NODE, `Metadata v${v} controller id`);
      const topic = md.topics[0]!;
      assertCode(topic.errorCode, ErrorCode.NONE);
      assert.deepEqual(
        topic.partitions.map((p) => [p.partitionIndex, p.errorCode, p.leaderId, p.replicaNodes, p.isrNodes]).sort(),
        [
          [0, 0, NODE, [NODE], [NODE]],
          [1, 0, NODE, [NODE], [NODE]],
        ],
      );
    }
    const v0 = await metadata(c, [t], 0);
    assert.equal(v0.brokers[0]!.nodeId, NODE);
    const dc = await c.request('DescribeCluster', 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
    assert.equal(dc.controllerId, NODE);
    assert.equal(
      dc.clusterId,
      (await metadata(c, [])).clusterId,
      'DescribeCluster and Metadata agree on the cluster id',
    );
  });

  test('Metadata v4+ auto-creates only when allow_auto_topic_creation is set', async () => {
    const refused = topicName('noauto');
    const md = await metadata(c, [refused], 12, false);
    assertCode(md.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const listed = await metadata(c, null, 12);
    assert.ok(!listed.topics.some((t) => t.name === refused), 'not created');

    const wanted = topicName('auto');
    const first = await metadata(c, [wanted], 12, true);
    // Kafka answers the creating request with LEADER_NOT_AVAILABLE while the topic comes up; NONE is as good.
    assert.ok(
      [ErrorCode.NONE, ErrorCode.LEADER_NOT_AVAILABLE].includes(first.topics[0]!.errorCode as 0),
      `got ${first.topics[0]!.errorCode}`,
    );
    const again = await metadata(c, [wanted], 12, false);
    assertCode(again.topics[0]!.errorCode, ErrorCode.NONE);
    assert.equal(again.topics[0]!.partitions.length, 3, 'num.partitions partitions');
    assert.notEqual(again.topics[0]!.topicId, NO_TOPIC_ID);
    assert.equal(await produceValues(c, wanted, 2, ['works']), 0);
  });

  test('Metadata v0-v3 auto-create (there is no flag before v4)', async () => {
    for (const v of [0, 1, 3]) {
      const t = topicName(`auto-v${v}`);
      await metadata(c, [t], v);
      const md = await metadata(c, [t], 12, false);
      assertCode(md.topics[0]!.errorCode, ErrorCode.NONE, `created by Metadata v${v}`);
      assert.equal(md.topics[0]!.partitions.length, 3);
    }
  });

  test('concurrent auto-creating requests for one name create it once', async () => {
    const t = topicName('race');
    const others = await Promise.all(Array.from({ length: 5 }, () => WireClient.open(b.bootstrap)));
    try {
      await Promise.all(others.map((o) => metadata(o, [t], 12, true)));
      const md = await metadata(c, [t], 12);
      assertCode(md.topics[0]!.errorCode, ErrorCode.NONE);
      const ids = await Promise.all(others.map(async (o) => (await metadata(o, [t], 12)).topics[0]!.topicId));
      assert.equal(new Set(ids).size, 1, 'one topic id');
    } finally {
      for (const o of others) o.close();
    }
  });

  test('an illegal topic name is INVALID_TOPIC_EXCEPTION and is never created', async () => {
    const bad = ['has space', 'a'.repeat(250), '..', '.', 'slash/name', 'ü-umlaut'];
    const md = await metadata(c, bad, 12, true);
    for (const t of md.topics) assertCode(t.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION, JSON.stringify(t.name));
    const v1 = await metadata(c, ['has space'], 1);
    assertCode(v1.topics[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION, 'Metadata v1');
    const all = await metadata(c, null);
    for (const name of bad) assert.ok(!all.topics.some((t) => t.name === name));
  });

  test('empty and null topic lists: v0 empty = all, v1+ empty = none, null = all', async () => {
    const t = topicName('listing');
    await createTopic(c, t, 1);
    assert.ok(
      (await metadata(c, [], 0)).topics.some((x) => x.name === t),
      'v0 empty list means all topics',
    );
    assert.equal((await metadata(c, [], 1)).topics.length, 0, 'v1 empty list means no topics');
    assert.equal((await metadata(c, [], 12)).topics.length, 0);
    assert.ok((await metadata(c, null, 1)).topics.some((x) => x.name === t));
    assert.ok((await metadata(c, null, 12)).topics.some((x) => x.name === t));
  });

  test('Metadata v10+ reports topic ids; v12 looks a topic up by id', async () => {
    const t = topicName('mdid');
    const id = await createTopic(c, t, 1);
    assert.equal((await metadata(c, [t], 10)).topics[0]!.topicId, id);
    const byId = await c.request('Metadata', 12, {
      topics: [
        { name: null, topicId: id },
        { name: null, topicId: '12345678-1234-4234-8234-123456789012' },
      ],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    assertCode(byId.topics[0]!.errorCode, ErrorCode.NONE);
    assert.equal(byId.topics[0]!.name, t);
    assertCode(byId.topics[1]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  });
});

test('with auto.create.topics.enable=false no request creates a topic', async () => {
  await withBroker({ config: { 'auto.create.topics.enable': 'false' } }, async (_b, c) => {
    const t = topicName('disabled');
    assertCode((await metadata(c, [t], 1)).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assertCode((await metadata(c, [t], 12, true)).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await metadata(c, null)).topics.filter((x) => x.name === t).length, 0);
  });
});

test('topic ids, cluster id, partitions and data survive a restart on the same data dir', async () => {
  const dir = await tempDir();
  try {
    const t = topicName('restart');
    const before = await onDataDir(dir, {}, async (_b, c) => {
      const id = await createTopic(c, t, 2);
      await produceValues(c, t, 1, ['kept']);
      const md = await metadata(c, [t]);
      return { id, clusterId: md.clusterId };
    });
    await onDataDir(dir, {}, async (_b, c) => {
      const md = await metadata(c, [t]);
      assert.equal(md.clusterId, before.clusterId, 'cluster id');
      assert.equal(md.topics[0]!.topicId, before.id, 'topic id');
      assert.equal(md.topics[0]!.partitions.length, 2);
      assert.deepEqual(valuesOf((await fetchPartition(c, { topic: t, partition: 1, fetchOffset: 0 })).records), [
        'kept',
      ]);
    });
  } finally {
    await removeDir(dir);
  }
});

test('a data dir written by another node id is refused', async () => {
  const dir = await tempDir();
  try {
    await onDataDir(dir, { 'node.id': '1' }, async () => {});
    await assert.rejects(startBrokerOn(dir, '2'), /node\.id/);
  } finally {
    await removeDir(dir);
  }
});

async function startBrokerOn(dataDir: string, nodeId: string): Promise<void> {
  const b = await startBroker({ logLevel: 'silent', dataDir, config: { 'node.id': nodeId } });
  await b.close();
}
