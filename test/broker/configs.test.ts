import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  Resource,
  Source,
  WireClient,
  assertCode,
  batch,
  createTopic,
  describeConfigs,
  eventually,
  fetchPartition,
  incrementalAlter,
  listOffset,
  onDataDir,
  produce,
  produceValues,
  removeDir,
  tempDir,
  topicConfig,
  topicName,
} from './support.js';

/** Every topic config Kafka 3.9 describes; clients and UIs look these up by name. */
const KAFKA_TOPIC_CONFIGS = [
  'cleanup.policy',
  'compression.type',
  'delete.retention.ms',
  'file.delete.delay.ms',
  'flush.messages',
  'flush.ms',
  'index.interval.bytes',
  'max.compaction.lag.ms',
  'max.message.bytes',
  'message.timestamp.type',
  'min.cleanable.dirty.ratio',
  'min.compaction.lag.ms',
  'min.insync.replicas',
  'preallocate',
  'retention.bytes',
  'retention.ms',
  'segment.bytes',
  'segment.index.bytes',
  'segment.jitter.ms',
  'segment.ms',
  'unclean.leader.election.enable',
];

describe('configs', () => {
  let b: BrokerHandle;
  let c: WireClient;

  before(async () => {
    // log.retention.ms is set statically so topic configs inherit a STATIC_BROKER_CONFIG value.
    b = await startBroker({ logLevel: 'silent', config: { 'log.retention.ms': '7200000', 'num.partitions': '3' } });
    c = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    await b.close();
  });

  const alterConfigs = async (
    resourceType: number,
    resourceName: string,
    configs: Record<string, string>,
    validateOnly = false,
  ) =>
    (
      await c.request('AlterConfigs', 2, {
        resources: [
          { resourceType, resourceName, configs: Object.entries(configs).map(([name, value]) => ({ name, value })) },
        ],
        validateOnly,
      })
    ).responses[0]!;

  test('DescribeConfigs of a topic lists every config with value, source and default flag', async () => {
    const t = topicName('desc');
    await createTopic(c, t, 1, { 'cleanup.policy': 'compact' });
    const r = await describeConfigs(c, Resource.TOPIC, t);
    assertCode(r.errorCode, ErrorCode.NONE);
    const byName = new Map(r.configs.map((x) => [x.name, x]));
    for (const name of KAFKA_TOPIC_CONFIGS) assert.ok(byName.has(name), `${name} is described`);
    const policy = byName.get('cleanup.policy')!;
    assert.deepEqual(
      [policy.value, policy.configSource, policy.readOnly],
      ['compact', Source.DYNAMIC_TOPIC_CONFIG, false],
    );
    const retention = byName.get('retention.ms')!;
    assert.deepEqual(
      [retention.value, retention.configSource],
      ['7200000', Source.STATIC_BROKER_CONFIG],
      'inherited from log.retention.ms',
    );
    const segment = byName.get('segment.bytes')!;
    assert.deepEqual([segment.value, segment.configSource], ['1073741824', Source.DEFAULT_CONFIG]);
    assert.equal(byName.get('max.message.bytes')!.value, '1048588');
    // v0 has no config source; is_default says the same thing there.
    const v0 = new Map(
      (await describeConfigs(c, Resource.TOPIC, t, ['cleanup.policy', 'segment.bytes'], 0)).configs.map((x) => [
        x.name,
        x.isDefault,
      ]),
    );
    assert.deepEqual([v0.get('cleanup.policy'), v0.get('segment.bytes')], [false, true]);
  });

  test('synonyms (v1+) list the topic override, then the broker properties behind it', async () => {
    const t = topicName('syn');
    await createTopic(c, t, 1, { 'retention.ms': '60000' });
    const r = await describeConfigs(c, Resource.TOPIC, t, ['retention.ms'], 4, { synonyms: true });
    const e = r.configs[0]!;
    assert.equal(e.value, '60000');
    assert.deepEqual(e.synonyms[0], { name: 'retention.ms', value: '60000', source: Source.DYNAMIC_TOPIC_CONFIG });
    assert.ok(
      e.synonyms.some(
        (s) => s.name === 'log.retention.ms' && s.value === '7200000' && s.source === Source.STATIC_BROKER_CONFIG,
      ),
    );
    // Kafka lists each broker synonym's own default too (kafka-configs shows DEFAULT_CONFIG:log.retention.hours=168).
    assert.ok(
      e.synonyms.some(
        (s) => s.name === 'log.retention.hours' && s.value === '168' && s.source === Source.DEFAULT_CONFIG,
      ),
      JSON.stringify(e.synonyms),
    );
    const noSyn = await describeConfigs(c, Resource.TOPIC, t, ['retention.ms'], 4, { synonyms: false });
    assert.deepEqual(noSyn.configs[0]!.synonyms, []);
  });

  test('documentation comes back at v3+ only when asked for', async () => {
    const t = topicName('docs');
    await createTopic(c, t, 1);
    const withDocs = await describeConfigs(c, Resource.TOPIC, t, ['retention.ms', 'cleanup.policy'], 3, { docs: true });
    for (const e of withDocs.configs) assert.ok(e.documentation && e.documentation.length > 10, `${e.name} documented`);
    assert.equal(withDocs.configs.find((e) => e.name === 'retention.ms')!.configType, 5, 'LONG');
    const without = await describeConfigs(c, Resource.TOPIC, t, ['retention.ms'], 4, { docs: false });
    assert.equal(without.configs[0]!.documentation, null);
  });

  test('configuration_keys limits the answer to the keys asked for; v0 works', async () => {
    const t = topicName('keys');
    await createTopic(c, t, 1);
    const r = await describeConfigs(c, Resource.TOPIC, t, ['segment.ms', 'cleanup.policy']);
    assert.deepEqual(r.configs.map((x) => x.name).sort(), ['cleanup.policy', 'segment.ms']);
    const v0 = await describeConfigs(c, Resource.TOPIC, t, ['cleanup.policy'], 0);
    assert.equal(v0.configs[0]!.value, 'delete');
  });

  test('DescribeConfigs of this broker shows static values and which configs are read-only', async () => {
    const r = await describeConfigs(c, Resource.BROKER, String(b.broker.nodeId), [
      'num.partitions',
      'log.retention.ms',
      'node.id',
      'message.max.bytes',
    ]);
    assertCode(r.errorCode, ErrorCode.NONE);
    const byName = new Map(r.configs.map((x) => [x.name, x]));
    assert.deepEqual(
      [byName.get('num.partitions')!.value, byName.get('num.partitions')!.configSource],
      ['3', Source.STATIC_BROKER_CONFIG],
    );
    assert.deepEqual(
      [byName.get('log.retention.ms')!.value, byName.get('log.retention.ms')!.readOnly],
      ['7200000', false],
    );
    assert.equal(byName.get('node.id')!.readOnly, true, 'node.id cannot change at run time');
    assert.equal(byName.get('message.max.bytes')!.configSource, Source.DEFAULT_CONFIG);
  });

  test('errors: unknown topic, another broker id', async () => {
    assertCode(
      (await describeConfigs(c, Resource.TOPIC, topicName('missing'))).errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    assertCode((await describeConfigs(c, Resource.BROKER, '99')).errorCode, ErrorCode.INVALID_REQUEST);
  });

  test("AlterConfigs replaces all of a topic's overrides; validate_only changes nothing", async () => {
    const t = topicName('alter');
    await createTopic(c, t, 1, { 'cleanup.policy': 'compact' });
    assertCode((await alterConfigs(Resource.TOPIC, t, { 'retention.ms': '5000' }, true)).errorCode, ErrorCode.NONE);
    assert.deepEqual(
      await topicConfig(c, t, 'cleanup.policy'),
      { value: 'compact', source: Source.DYNAMIC_TOPIC_CONFIG },
      'validate_only',
    );
    assertCode((await alterConfigs(Resource.TOPIC, t, { 'retention.ms': '5000' })).errorCode, ErrorCode.NONE);
    assert.deepEqual(await topicConfig(c, t, 'retention.ms'), { value: '5000', source: Source.DYNAMIC_TOPIC_CONFIG });
    assert.deepEqual(
      await topicConfig(c, t, 'cleanup.policy'),
      { value: 'delete', source: Source.DEFAULT_CONFIG },
      'the override not named is gone',
    );
  });

  test('AlterConfigs with a bad value or unknown name is INVALID_CONFIG and applies nothing', async () => {
    const t = topicName('alterbad');
    await createTopic(c, t, 1);
    const bads: Record<string, string>[] = [
      { 'retention.ms': 'soon' },
      { 'no.such.thing': '1' },
      { 'segment.bytes': '1' },
      { 'retention.ms': '100', 'cleanup.policy': 'shred' },
    ];
    for (const bad of bads) {
      assertCode((await alterConfigs(Resource.TOPIC, t, bad)).errorCode, ErrorCode.INVALID_CONFIG, JSON.stringify(bad));
    }
    assert.equal(
      (await topicConfig(c, t, 'retention.ms')).value,
      '7200000',
      'the good half of a bad request was not applied',
    );
    assertCode(
      (await alterConfigs(Resource.TOPIC, topicName('missing'), { 'retention.ms': '1' })).errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
  });

  test('a dynamic broker config changes what topics without an override inherit', async () => {
    const t = topicName('inherit');
    await createTopic(c, t, 1);
    const id = String(b.broker.nodeId);
    assertCode((await alterConfigs(Resource.BROKER, id, { 'log.retention.ms': '3600000' })).errorCode, ErrorCode.NONE);
    try {
      assert.deepEqual(await topicConfig(c, t, 'retention.ms'), {
        value: '3600000',
        source: Source.DYNAMIC_BROKER_CONFIG,
      });
      const br = await describeConfigs(c, Resource.BROKER, id, ['log.retention.ms']);
      assert.equal(br.configs[0]!.configSource, Source.DYNAMIC_BROKER_CONFIG);
      // A static-only property cannot change at run time.
      assertCode((await alterConfigs(Resource.BROKER, id, { 'node.id': '5' })).errorCode, ErrorCode.INVALID_CONFIG);
    } finally {
      assertCode((await alterConfigs(Resource.BROKER, id, {})).errorCode, ErrorCode.NONE);
    }
    assert.deepEqual(
      await topicConfig(c, t, 'retention.ms'),
      { value: '7200000', source: Source.STATIC_BROKER_CONFIG },
      'back to the static value',
    );
  });

  test('IncrementalAlterConfigs SET and DELETE', async () => {
    const t = topicName('inc');
    await createTopic(c, t, 1, { 'segment.ms': '100000' });
    const r = await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'retention.ms', op: 'SET', value: '86400000' }]);
    assertCode(r.errorCode, ErrorCode.NONE);
    assert.deepEqual(await topicConfig(c, t, 'retention.ms'), {
      value: '86400000',
      source: Source.DYNAMIC_TOPIC_CONFIG,
    });
    assert.deepEqual(
      await topicConfig(c, t, 'segment.ms'),
      { value: '100000', source: Source.DYNAMIC_TOPIC_CONFIG },
      'other overrides stay',
    );
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'retention.ms', op: 'DELETE' }])).errorCode,
      ErrorCode.NONE,
    );
    assert.deepEqual(await topicConfig(c, t, 'retention.ms'), {
      value: '7200000',
      source: Source.STATIC_BROKER_CONFIG,
    });
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'segment.ms', op: 'SET', value: '5' }], true)).errorCode,
      ErrorCode.NONE,
    );
    assert.equal((await topicConfig(c, t, 'segment.ms')).value, '100000', 'validate_only');
  });

  test('IncrementalAlterConfigs APPEND and SUBTRACT on a list config', async () => {
    const t = topicName('list');
    await createTopic(c, t, 1);
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'cleanup.policy', op: 'APPEND', value: 'compact' }]))
        .errorCode,
      ErrorCode.NONE,
    );
    assert.equal((await topicConfig(c, t, 'cleanup.policy')).value, 'delete,compact', 'appended to the default');
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'cleanup.policy', op: 'APPEND', value: 'compact' }]))
        .errorCode,
      ErrorCode.NONE,
    );
    assert.equal((await topicConfig(c, t, 'cleanup.policy')).value, 'delete,compact', 'no duplicate element');
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'cleanup.policy', op: 'SUBTRACT', value: 'delete' }]))
        .errorCode,
      ErrorCode.NONE,
    );
    assert.equal((await topicConfig(c, t, 'cleanup.policy')).value, 'compact');
  });

  test('IncrementalAlterConfigs errors: APPEND to a non-list, duplicate keys, bad values', async () => {
    const t = topicName('incbad');
    await createTopic(c, t, 1);
    // Kafka (ConfigAdminManager.prepareIncrementalConfigs): InvalidRequestException "Config value append
    // is not allowed for config key", i.e. INVALID_REQUEST, not INVALID_CONFIG.
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'retention.ms', op: 'APPEND', value: '1' }])).errorCode,
      ErrorCode.INVALID_REQUEST,
      'APPEND to a LONG',
    );
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'retention.ms', op: 'SUBTRACT', value: '1' }])).errorCode,
      ErrorCode.INVALID_REQUEST,
      'SUBTRACT from a LONG',
    );
    assertCode(
      (
        await incrementalAlter(c, Resource.TOPIC, t, [
          { name: 'retention.ms', op: 'SET', value: '1' },
          { name: 'retention.ms', op: 'SET', value: '2' },
        ])
      ).errorCode,
      ErrorCode.INVALID_REQUEST,
      'duplicate key',
    );
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'retention.ms', op: 'SET', value: 'x' }])).errorCode,
      ErrorCode.INVALID_CONFIG,
    );
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'not.a.config', op: 'SET', value: 'x' }])).errorCode,
      ErrorCode.INVALID_CONFIG,
    );
    assert.equal((await topicConfig(c, t, 'retention.ms')).value, '7200000');
  });

  test('max.message.bytes changed at run time applies to the next produce', async () => {
    const t = topicName('livemax');
    await createTopic(c, t, 1);
    const b800 = batch([{ value: Buffer.alloc(800, 1) }]);
    assertCode((await produce(c, t, 0, b800)).errorCode, ErrorCode.NONE);
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'max.message.bytes', op: 'SET', value: '500' }]))
        .errorCode,
      ErrorCode.NONE,
    );
    assertCode((await produce(c, t, 0, b800)).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  });
});

test('lowering retention.ms at run time deletes old segments once retention runs', async () => {
  const b = await startBroker({
    logLevel: 'silent',
    config: { 'log.retention.check.interval.ms': '100', 'log.segment.delete.delay.ms': '0' },
  });
  const c = await WireClient.open(b.bootstrap);
  try {
    const t = topicName('retention');
    await createTopic(c, t, 1, { 'segment.bytes': '300' });
    for (let i = 0; i < 10; i++) await produceValues(c, t, 0, [{ value: Buffer.alloc(200, 65 + i) }]);
    const dir = join(b.dataDir, `${t}-0`);
    const logFiles = async () => (await readdir(dir)).filter((f) => f.endsWith('.log')).length;
    assert.ok((await logFiles()) >= 5, 'small segments rolled');
    // A retention pass run here, rather than a sleep hoping the scheduler ran one.
    assert.equal(await b.broker.logs.runRetention(), 0, 'a retention pass deletes nothing');
    assert.equal((await listOffset(c, t, 0, -2)).offset, 0, 'default retention keeps everything');
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'retention.ms', op: 'SET', value: '1' }])).errorCode,
      ErrorCode.NONE,
    );
    await eventually(
      async () => (await listOffset(c, t, 0, -2)).offset === 10,
      30_000,
      'log start offset moves to the end',
    );
    await eventually(async () => (await logFiles()) === 1, 30_000, 'only the active segment is left on disk');
    assertCode(
      (await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 })).errorCode,
      ErrorCode.OFFSET_OUT_OF_RANGE,
    );
    assert.equal(await produceValues(c, t, 0, ['after']), 10, 'offsets continue');
  } finally {
    c.close();
    await b.close();
  }
});

test('topic and broker config changes survive a restart', async () => {
  const dir = await tempDir();
  try {
    const t = topicName('persist');
    const plain = topicName('plain');
    await onDataDir(dir, {}, async (_b, c) => {
      await createTopic(c, t, 1);
      await createTopic(c, plain, 1);
      assertCode(
        (
          await incrementalAlter(c, Resource.TOPIC, t, [
            { name: 'retention.ms', op: 'SET', value: '12345' },
            { name: 'cleanup.policy', op: 'SET', value: 'compact' },
          ])
        ).errorCode,
        ErrorCode.NONE,
      );
      // The cluster-wide default (empty broker name).
      assertCode(
        (await incrementalAlter(c, Resource.BROKER, '', [{ name: 'log.retention.ms', op: 'SET', value: '555000' }]))
          .errorCode,
        ErrorCode.NONE,
      );
      assert.deepEqual(await topicConfig(c, plain, 'retention.ms'), {
        value: '555000',
        source: Source.DYNAMIC_DEFAULT_BROKER_CONFIG,
      });
    });
    await onDataDir(dir, {}, async (_b, c) => {
      assert.deepEqual(await topicConfig(c, t, 'retention.ms'), {
        value: '12345',
        source: Source.DYNAMIC_TOPIC_CONFIG,
      });
      assert.deepEqual(await topicConfig(c, t, 'cleanup.policy'), {
        value: 'compact',
        source: Source.DYNAMIC_TOPIC_CONFIG,
      });
      assert.deepEqual(await topicConfig(c, plain, 'retention.ms'), {
        value: '555000',
        source: Source.DYNAMIC_DEFAULT_BROKER_CONFIG,
      });
      const def = await describeConfigs(c, Resource.BROKER, '');
      assert.deepEqual(
        def.configs.map((x) => [x.name, x.value]),
        [['log.retention.ms', '555000']],
        'the default resource lists what was set',
      );
    });
  } finally {
    await removeDir(dir);
  }
});
