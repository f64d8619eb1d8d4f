import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  NO_TOPIC_ID,
  Source,
  WireClient,
  assertCode,
  createTopic,
  eventually,
  fetchPartition,
  metadata,
  produce,
  batch,
  produceValues,
  topicName,
  topicConfig,
  valuesOf,
  withBroker,
} from './support.js';

const NODE = 1;

type Creatable = {
  name: string;
  numPartitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string | null>;
  assignments?: { partitionIndex: number; brokerIds: number[] }[];
};

describe('topic administration', () => {
  let b: BrokerHandle;
  let c: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent', config: { 'num.partitions': '2' } });
    c = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    await b.close();
  });

  const create = (topics: Creatable[], opts: { validateOnly?: boolean; version?: number } = {}) =>
    c.request('CreateTopics', opts.version ?? 7, {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.numPartitions ?? -1,
        replicationFactor: t.replicationFactor ?? -1,
        assignments: t.assignments ?? [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: 5000,
      validateOnly: opts.validateOnly ?? false,
    });

  const exists = async (name: string) => (await metadata(c, [name], 12, false)).topics[0]!.errorCode === ErrorCode.NONE;
  const folders = async (name: string) => (await readdir(b.dataDir)).filter((f) => f.startsWith(`${name}-`));

  test('CreateTopics creates partitions with configs and reports them (v5+)', async () => {
    const t = topicName('create');
    const res = await create([
      {
        name: t,
        numPartitions: 3,
        replicationFactor: 1,
        configs: { 'retention.ms': '1234', 'cleanup.policy': 'compact' },
      },
    ]);
    const r = res.topics[0]!;
    assertCode(r.errorCode, ErrorCode.NONE);
    assert.notEqual(r.topicId, NO_TOPIC_ID);
    assert.equal(r.numPartitions, 3);
    assert.equal(r.replicationFactor, 1);
    const cfg = new Map((r.configs ?? []).map((x) => [x.name, x]));
    assert.equal(cfg.get('retention.ms')?.value, '1234');
    assert.equal(cfg.get('retention.ms')?.configSource, Source.DYNAMIC_TOPIC_CONFIG);
    assert.equal(cfg.get('cleanup.policy')?.value, 'compact');
    assert.equal(cfg.get('segment.bytes')?.configSource, Source.DEFAULT_CONFIG);
    const md = await metadata(c, [t]);
    assert.equal(md.topics[0]!.topicId, r.topicId);
    assert.equal(md.topics[0]!.partitions.length, 3);
    assert.deepEqual(await topicConfig(c, t, 'retention.ms'), { value: '1234', source: Source.DYNAMIC_TOPIC_CONFIG });
    assert.deepEqual((await folders(t)).sort(), [`${t}-0`, `${t}-1`, `${t}-2`], 'one log folder per partition');
  });

  test('-1 partitions and replication factor take the broker defaults; old versions work too', async () => {
    const t = topicName('defaults');
    const r = (await create([{ name: t }])).topics[0]!;
    assertCode(r.errorCode, ErrorCode.NONE);
    assert.equal(r.numPartitions, 2, 'num.partitions');
    assert.equal(r.replicationFactor, 1);
    const old = topicName('v0');
    assertCode(
      (await create([{ name: old, numPartitions: 1, replicationFactor: 1 }], { version: 0 })).topics[0]!.errorCode,
      ErrorCode.NONE,
    );
    assert.ok(await exists(old));
  });

  test('validate_only checks everything and creates nothing', async () => {
    const t = topicName('dry');
    const ok = await create([{ name: t, numPartitions: 4, replicationFactor: 1, configs: { 'retention.ms': '100' } }], {
      validateOnly: true,
    });
    assertCode(ok.topics[0]!.errorCode, ErrorCode.NONE);
    assert.equal(ok.topics[0]!.numPartitions, 4);
    assert.equal(await exists(t), false);
    assert.deepEqual(await folders(t), []);
    const bad = await create(
      [{ name: t, numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } }],
      { validateOnly: true },
    );
    assertCode(bad.topics[0]!.errorCode, ErrorCode.INVALID_CONFIG, 'validation still runs');
  });

  test('a name twice in one request is INVALID_REQUEST for it, the others are created', async () => {
    const dup = topicName('dup');
    const fine = topicName('fine');
    const res = await create([
      { name: dup, numPartitions: 1 },
      { name: fine, numPartitions: 1 },
      { name: dup, numPartitions: 2 },
    ]);
    const dupResults = res.topics.filter((r) => r.name === dup);
    assert.ok(dupResults.length >= 1);
    for (const r of dupResults) assertCode(r.errorCode, ErrorCode.INVALID_REQUEST, 'duplicate');
    assertCode(res.topics.find((r) => r.name === fine)!.errorCode, ErrorCode.NONE);
    assert.equal(await exists(dup), false);
    assert.equal(await exists(fine), true);
  });

  test('invalid creations are refused with the specific error, leaving nothing behind', async () => {
    const existing = topicName('existing');
    await createTopic(c, existing, 1);
    const cases: [Creatable, number][] = [
      [{ name: existing, numPartitions: 1, replicationFactor: 1 }, ErrorCode.TOPIC_ALREADY_EXISTS],
      [{ name: topicName('rf3'), numPartitions: 1, replicationFactor: 3 }, ErrorCode.INVALID_REPLICATION_FACTOR],
      [{ name: topicName('rf0'), numPartitions: 1, replicationFactor: 0 }, ErrorCode.INVALID_REPLICATION_FACTOR],
      [{ name: topicName('p0'), numPartitions: 0, replicationFactor: 1 }, ErrorCode.INVALID_PARTITIONS],
      [{ name: topicName('pneg'), numPartitions: -5, replicationFactor: 1 }, ErrorCode.INVALID_PARTITIONS],
      [
        { name: topicName('unknowncfg'), numPartitions: 1, replicationFactor: 1, configs: { 'no.such.config': 'x' } },
        ErrorCode.INVALID_CONFIG,
      ],
      [
        { name: topicName('badvalue'), numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'forever' } },
        ErrorCode.INVALID_CONFIG,
      ],
      [
        {
          name: topicName('badpolicy'),
          numPartitions: 1,
          replicationFactor: 1,
          configs: { 'cleanup.policy': 'shred' },
        },
        ErrorCode.INVALID_CONFIG,
      ],
      [
        { name: topicName('nullvalue'), numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': null } },
        ErrorCode.INVALID_CONFIG,
      ],
      [{ name: 'bad name!', numPartitions: 1, replicationFactor: 1 }, ErrorCode.INVALID_TOPIC_EXCEPTION],
      [{ name: '', numPartitions: 1, replicationFactor: 1 }, ErrorCode.INVALID_TOPIC_EXCEPTION],
      [
        { name: topicName('elsewhere'), assignments: [{ partitionIndex: 0, brokerIds: [99] }] },
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      ],
    ];
    for (const [spec, code] of cases) {
      const r = (await create([spec])).topics[0]!;
      assertCode(r.errorCode, code, `${JSON.stringify(spec)}`);
      assert.ok(r.errorMessage, 'an explanation comes with the error');
      if (spec.name !== existing && spec.name !== '')
        assert.deepEqual(await folders(spec.name), [], `no folder for ${spec.name}`);
    }
  });

  test("names differing only in '.' versus '_' collide (INVALID_TOPIC_EXCEPTION)", async () => {
    const base = topicName('col');
    await createTopic(c, `${base}.x`, 1);
    assertCode(
      (await create([{ name: `${base}_x`, numPartitions: 1, replicationFactor: 1 }])).topics[0]!.errorCode,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
    );
  });

  test('explicit replica assignments on this broker are accepted', async () => {
    const t = topicName('assigned');
    const r = (
      await create([
        {
          name: t,
          assignments: [
            { partitionIndex: 0, brokerIds: [NODE] },
            { partitionIndex: 1, brokerIds: [NODE] },
          ],
        },
      ])
    ).topics[0]!;
    assertCode(r.errorCode, ErrorCode.NONE);
    assert.equal((await metadata(c, [t])).topics[0]!.partitions.length, 2);
  });

  test('DeleteTopics by name removes the topic and its folders from disk', async () => {
    const t = topicName('delete');
    await createTopic(c, t, 2);
    await produceValues(c, t, 0, ['gone soon']);
    assert.equal((await folders(t)).length, 2);
    const res = await c.request('DeleteTopics', 5, { topics: [], topicNames: [t], timeoutMs: 5000 });
    assertCode(res.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(res.responses[0]!.name, t);
    assertCode((await metadata(c, [t], 12, false)).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assertCode((await produce(c, t, 0, batch(['late']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await eventually(async () => (await folders(t)).length === 0, 30_000, 'partition folders removed');
    assertCode(
      (await c.request('DeleteTopics', 5, { topics: [], topicNames: [t], timeoutMs: 5000 })).responses[0]!.errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
  });

  test('DeleteTopics v6 by topic id; an unknown id is UNKNOWN_TOPIC_ID; a recreated topic starts empty with a new id', async () => {
    const t = topicName('delid');
    const id = await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['old-1', 'old-2']);
    const res = await c.request('DeleteTopics', 6, {
      topics: [{ name: null, topicId: id }],
      topicNames: [],
      timeoutMs: 5000,
    });
    assertCode(res.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(res.responses[0]!.name, t);
    assert.equal(res.responses[0]!.topicId, id);
    const unknown = await c.request('DeleteTopics', 6, {
      topics: [{ name: null, topicId: id }],
      topicNames: [],
      timeoutMs: 5000,
    });
    assertCode(unknown.responses[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
    await eventually(async () => (await folders(t)).length === 0, 30_000, 'partition folder removed');

    const id2 = await createTopic(c, t, 1);
    assert.notEqual(id2, id, 'a new topic id');
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assert.equal(p.highWatermark, 0, 'nothing of the deleted topic is left');
    assert.equal(await produceValues(c, t, 0, ['new']), 0);
    assert.deepEqual(valuesOf((await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 })).records), ['new']);
  });

  test('CreatePartitions grows a topic; shrinking or keeping the count is INVALID_PARTITIONS', async () => {
    const t = topicName('grow');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['p0']);
    const grow = async (count: number, validateOnly = false, assignments: { brokerIds: number[] }[] | null = null) =>
      (
        await c.request('CreatePartitions', 3, {
          topics: [{ name: t, count, assignments }],
          timeoutMs: 5000,
          validateOnly,
        })
      ).results[0]!;
    assertCode((await grow(3, true)).errorCode, ErrorCode.NONE);
    assert.equal((await metadata(c, [t])).topics[0]!.partitions.length, 1, 'validate_only changes nothing');
    assertCode((await grow(3)).errorCode, ErrorCode.NONE);
    assert.equal((await metadata(c, [t])).topics[0]!.partitions.length, 3);
    assert.equal(await produceValues(c, t, 2, ['p2']), 0, 'the new partition takes writes');
    assert.deepEqual(
      valuesOf((await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 })).records),
      ['p0'],
      'old data untouched',
    );
    assertCode((await grow(2)).errorCode, ErrorCode.INVALID_PARTITIONS, 'shrink');
    assertCode((await grow(3)).errorCode, ErrorCode.INVALID_PARTITIONS, 'same count');
    assertCode((await grow(4, false, [{ brokerIds: [99] }])).errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    assertCode(
      (await grow(5, false, [{ brokerIds: [NODE] }])).errorCode,
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'one assignment for two new partitions',
    );
    assertCode((await grow(4, false, [{ brokerIds: [NODE] }])).errorCode, ErrorCode.NONE);
    assert.equal((await metadata(c, [t])).topics[0]!.partitions.length, 4);
    const unknown = await c.request('CreatePartitions', 3, {
      topics: [{ name: topicName('nope'), count: 2, assignments: null }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assertCode(unknown.results[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

test('with delete.topic.enable=false DeleteTopics is TOPIC_DELETION_DISABLED', async () => {
  await withBroker({ config: { 'delete.topic.enable': 'false' } }, async (_b, c) => {
    const t = topicName('keep');
    await createTopic(c, t, 1);
    const res = await c.request('DeleteTopics', 4, { topics: [], topicNames: [t], timeoutMs: 5000 });
    assertCode(res.responses[0]!.errorCode, ErrorCode.TOPIC_DELETION_DISABLED);
    assertCode((await metadata(c, [t])).topics[0]!.errorCode, ErrorCode.NONE);
  });
});
