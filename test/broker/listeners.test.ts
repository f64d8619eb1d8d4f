import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerConfig } from '../../src/config/broker-config.js';
import { ConfigError } from '../../src/config/config-def.js';
import { startBroker } from '../../src/broker/start.js';
import { WireClient, metadata } from './support.js';

test('two PLAINTEXT listeners: a client on each gets Metadata advertising its own listener', async () => {
  const b = await startBroker({
    logLevel: 'silent',
    config: {
      listeners: 'INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0',
      'listener.security.protocol.map': 'INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT',
    },
  });
  const clients: WireClient[] = [];
  try {
    const [internal, external] = b.broker.listeners;
    assert.deepEqual(
      b.broker.listeners.map((l) => [l.name, l.securityProtocol]),
      [
        ['INTERNAL', 'PLAINTEXT'],
        ['EXTERNAL', 'PLAINTEXT'],
      ],
    );
    assert.notEqual(internal!.bound!.port, external!.bound!.port, 'each listener bound its own port');
    for (const l of [internal!, external!]) {
      const c = await WireClient.open(`127.0.0.1:${l.bound!.port}`);
      clients.push(c);
      for (const version of [1, 12]) {
        const m = await metadata(c, [], version);
        assert.deepEqual(
          m.brokers.map((x) => [x.host, x.port]),
          [['127.0.0.1', l.bound!.port]],
          `Metadata v${version} on ${l.name} advertises ${l.name}`,
        );
      }
      const d = await c.request('DescribeCluster', 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
      assert.equal(d.brokers[0]!.port, l.bound!.port, `DescribeCluster on ${l.name} advertises ${l.name}`);
    }
  } finally {
    for (const c of clients) c.close();
    await b.close();
  }
});

test('advertised.listeners is matched to listeners by name', async () => {
  const b = await startBroker({
    logLevel: 'silent',
    config: {
      listeners: 'INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0',
      'listener.security.protocol.map': 'INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT',
      'advertised.listeners': 'EXTERNAL://kafka.example:19092',
    },
  });
  const clients: WireClient[] = [];
  try {
    const [internal, external] = b.broker.listeners;
    const onInternal = await WireClient.open(`127.0.0.1:${internal!.bound!.port}`);
    const onExternal = await WireClient.open(`127.0.0.1:${external!.bound!.port}`);
    clients.push(onInternal, onExternal);
    const mi = await metadata(onInternal, []);
    const me = await metadata(onExternal, []);
    assert.deepEqual([mi.brokers[0]!.host, mi.brokers[0]!.port], ['127.0.0.1', internal!.bound!.port]);
    assert.deepEqual([me.brokers[0]!.host, me.brokers[0]!.port], ['kafka.example', 19092]);
  } finally {
    for (const c of clients) c.close();
    await b.close();
  }
});

test('a listener whose security protocol Brook cannot serve stops start-up, naming listener and protocol', async () => {
  await assert.rejects(
    startBroker({ logLevel: 'silent', config: { listeners: 'SSL://127.0.0.1:0' } }),
    (err: Error) => /listener SSL/.test(err.message) && /security protocol SSL/.test(err.message),
  );
  // Even next to a PLAINTEXT listener: never a silent plaintext fallback, never a half-started broker.
  await assert.rejects(
    startBroker({
      logLevel: 'silent',
      config: {
        listeners: 'CLIENTS://127.0.0.1:0,BROKERS://127.0.0.1:0',
        'listener.security.protocol.map': 'CLIENTS:PLAINTEXT,BROKERS:SASL_SSL',
      },
    }),
    (err: Error) => /listener BROKERS/.test(err.message) && /SASL_SSL/.test(err.message),
  );
});

test('listener.security.protocol.map: Kafka defaults, explicit names, and what is refused', () => {
  // Kafka's default map: the four protocol names map to themselves.
  const d = new BrokerConfig([['listeners', 'PLAINTEXT://:9092,SASL_SSL://:9093']]);
  assert.deepEqual(
    d.listenerSpecs().map((l) => [l.name, l.securityProtocol, l.host, l.port, l.advertised]),
    [
      ['PLAINTEXT', 'PLAINTEXT', '', 9092, null],
      ['SASL_SSL', 'SASL_SSL', '', 9093, null],
    ],
  );
  const c = new BrokerConfig([
    ['listeners', 'INTERNAL://0.0.0.0:9092,EXTERNAL://[::1]:9093'],
    ['listener.security.protocol.map', 'INTERNAL:PLAINTEXT,EXTERNAL:SSL'],
    ['advertised.listeners', 'EXTERNAL://kafka.example:443'],
  ]);
  assert.deepEqual(
    c.listenerSpecs().map((l) => [l.name, l.securityProtocol, l.host, l.port, l.advertised]),
    [
      ['INTERNAL', 'PLAINTEXT', '0.0.0.0', 9092, null],
      ['EXTERNAL', 'SSL', '::1', 9093, { host: 'kafka.example', port: 443 }],
    ],
  );
  const refused = (props: [string, string][], property: string, message: RegExp) =>
    assert.throws(
      () => new BrokerConfig(props),
      (e: unknown) => e instanceof ConfigError && e.property === property && message.test(e.message),
    );
  refused([['listeners', 'INTERNAL://:9092']], 'listener.security.protocol.map', /no security protocol for.*INTERNAL/);
  refused(
    [
      ['listeners', 'A://:9092'],
      ['listener.security.protocol.map', 'A:TLS'],
    ],
    'listener.security.protocol.map',
    /A:TLS/,
  );
  refused([['listeners', 'PLAINTEXT://:9092,PLAINTEXT://:9093']], 'listeners', /PLAINTEXT appears twice/);
  refused([['listeners', 'PLAINTEXT://:9092,SSL://:9092']], 'listeners', /port 9092/);
  refused(
    [
      ['listeners', 'PLAINTEXT://:9092'],
      ['advertised.listeners', 'EXTERNAL://x:1'],
    ],
    'advertised.listeners',
    /EXTERNAL is not one of the listeners/,
  );
});
