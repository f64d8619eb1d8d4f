import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerConfig } from '../../src/config/broker-config.js';
import { ConfigError, ConfigSource } from '../../src/config/config-def.js';

test('defaults need no configuration at all', () => {
  const c = new BrokerConfig();
  assert.equal(c.nodeId, 1);
  assert.equal(c.int('num.partitions'), 1);
  assert.equal(c.bool('auto.create.topics.enable'), true);
  assert.equal(c.int('socket.request.max.bytes'), 104857600);
  assert.deepEqual(c.listeners(), [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  assert.equal(c.dataDir, './brook-data');
  assert.deepEqual(c.warnings, []);
});

test('a Kafka server.properties loads with Kafka names; unknown names warn, known-but-unused do not', () => {
  const c = BrokerConfig.fromProperties(
    [
      'broker.id=7',
      'listeners=PLAINTEXT://0.0.0.0:19092',
      'advertised.listeners=PLAINTEXT://kafka.example:19092',
      'log.dirs=/data/a,/data/b',
      'num.partitions=3',
      'log.retention.hours=24',
      'zookeeper.connect=localhost:2181',
      'num.network.threads=3',
      'totally.unknown=1',
    ].join('\n'),
  );
  assert.equal(c.nodeId, 7);
  assert.deepEqual(c.advertisedListeners(), [{ name: 'PLAINTEXT', host: 'kafka.example', port: 19092 }]);
  assert.equal(c.dataDir, '/data/a');
  assert.deepEqual(c.warnings, ['unknown property "totally.unknown" is ignored']);
  assert.equal(c.topicDefault('retention.ms').value, String(24 * 3600_000));
});

test('--set overrides the file, and invalid values are rejected naming the property', () => {
  const c = BrokerConfig.fromProperties('num.partitions=3', [['num.partitions', '6']]);
  assert.equal(c.int('num.partitions'), 6);
  assert.throws(
    () => new BrokerConfig([['num.partitions', 'three']]),
    (e: unknown) => e instanceof ConfigError && e.property === 'num.partitions',
  );
  assert.throws(() => new BrokerConfig([['num.partitions', '0']]), /num.partitions/);
  assert.throws(() => new BrokerConfig([['auto.create.topics.enable', 'yes']]), /auto.create.topics.enable/);
  assert.throws(() => new BrokerConfig([['listeners', 'localhost:9092']]), /listeners/);
  assert.throws(() => new BrokerConfig([['log.message.timestamp.type', 'Whenever']]), /log.message.timestamp.type/);
});

test('topic defaults follow the most specific broker synonym, as Kafka resolves them', () => {
  const c = new BrokerConfig([
    ['log.retention.hours', '1'],
    ['log.retention.minutes', '5'],
  ]);
  const r = c.topicDefault('retention.ms');
  assert.equal(r.value, String(5 * 60_000));
  assert.equal(r.source, ConfigSource.STATIC_BROKER_CONFIG);
  assert.equal(new BrokerConfig().topicDefault('retention.ms').value, '604800000');
  assert.equal(new BrokerConfig().topicDefault('cleanup.policy').value, 'delete');
  assert.equal(new BrokerConfig([['message.max.bytes', '2000000']]).topicDefault('max.message.bytes').value, '2000000');
});

test('dynamic broker configs override static ones and only dynamic names can change live', () => {
  const c = new BrokerConfig([['log.retention.ms', '1000']]);
  c.setDynamic('default', 'log.retention.ms', '2000');
  assert.equal(c.get('log.retention.ms'), '2000');
  assert.equal(c.source('log.retention.ms'), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
  c.setDynamic('broker', 'log.retention.ms', '3000');
  assert.equal(c.topicDefault('retention.ms').value, '3000');
  c.setDynamic('broker', 'log.retention.ms', null);
  assert.equal(c.get('log.retention.ms'), '2000');
  assert.throws(() => c.setDynamic('broker', 'num.partitions', '3'), /cannot be changed/);
  assert.throws(() => c.setDynamic('broker', 'log.retention.ms', 'soon'), /log.retention.ms/);
});
