import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_BY_KEY, type ApiName } from '../../src/protocol/apis.js';
import { MESSAGE_SCHEMAS } from '../../src/protocol/messages/schemas.js';
import { startBroker } from '../../src/broker/start.js';
import { Rng, sampleMessage } from '../protocol/messages/sample.js';
import { WireClient } from '../helpers/wire-client.js';
import { within } from './support.js';
import { CHECKS, type CheckContext } from './api-checks.js';
import { createTopic, produceValues } from './support.js';

type Req = Record<string, unknown>;

/** Keeps random requests from asking for what would only make the test slow (long waits, huge topics). */
function sanitize(api: ApiName, req: Req, rng: Rng): void {
  switch (api) {
    case 'Produce':
      req.acks = rng.pick([1, -1]);
      req.timeoutMs = 1000;
      break;
    case 'Fetch':
      req.maxWaitMs = 0;
      break;
    case 'CreateTopics':
      for (const t of req.topics as Req[]) {
        t.numPartitions = rng.pick([-1, 1, 2]);
        t.replicationFactor = rng.pick([-1, 1]);
        t.assignments = [];
      }
      break;
    case 'CreatePartitions':
      for (const t of req.topics as Req[]) t.count = rng.int(1, 4);
      break;
    case 'JoinGroup':
      req.sessionTimeoutMs = 6000;
      req.rebalanceTimeoutMs = 200;
      break;
    case 'InitProducerId':
      req.transactionTimeoutMs = 1000;
      break;
    default:
  }
}

test('random requests to every advertised API at every advertised version get a well-formed answer; the broker stays up', async () => {
  const broker = await startBroker({ config: { 'group.initial.rebalance.delay.ms': '0', 'num.partitions': '2' } });
  try {
    const c = await WireClient.open(broker.bootstrap);
    const versions = await c.request('ApiVersions', 3, {
      clientSoftwareName: 'brook-test',
      clientSoftwareVersion: '1.0',
    });
    c.close();
    assert.equal(versions.errorCode, 0);
    assert.ok(versions.apiKeys.length >= 15, 'the broker serves the core APIs');
    const failures: string[] = [];
    for (const range of versions.apiKeys) {
      const d = API_BY_KEY[range.apiKey];
      assert.ok(d, `advertised api key ${range.apiKey} exists in the protocol`);
      assert.ok(
        range.minVersion === 0 || d.name === 'ListPartitionReassignments',
        `${d.name} is advertised from v0 (librdkafka needs it)`,
      );
      const schema = MESSAGE_SCHEMAS.find((s) => s.name === `${d.name}Request`);
      assert.ok(schema, `${d.name} has a schema`);
      for (let v = range.minVersion; v <= range.maxVersion; v++) {
        for (let seed = 1; seed <= 3; seed++) {
          const rng = new Rng(d.key * 1000 + v * 10 + seed);
          const req = sampleMessage(rng, schema, v);
          sanitize(d.name as ApiName, req, rng);
          const client = await WireClient.open(broker.bootstrap);
          try {
            // within() clears its timer, so a passing run does not wait 10 s for it to expire.
            await within(client.request(d.name as ApiName, v, req as never), 10_000, 'answer');
          } catch (err) {
            failures.push(`${d.name} v${v} seed ${seed}: ${(err as Error).message}`);
          } finally {
            client.close();
          }
        }
      }
    }
    assert.deepEqual(failures, []);
    // And the broker is still healthy afterwards.
    const after = await WireClient.open(broker.bootstrap);
    assert.equal(
      (await after.request('ApiVersions', 0, { clientSoftwareName: '', clientSoftwareVersion: '' })).errorCode,
      0,
    );
    after.close();
  } finally {
    await broker.close();
  }
});

test('every advertised API does its job at every advertised version (see api-checks.ts)', async () => {
  const broker = await startBroker({
    logLevel: 'silent',
    config: { 'group.initial.rebalance.delay.ms': '0', 'num.partitions': '1' },
  });
  const c = await WireClient.open(broker.bootstrap);
  try {
    const versions = await c.request('ApiVersions', 3, {
      clientSoftwareName: 'brook-test',
      clientSoftwareVersion: '1.0',
    });
    const topic = 'semantics';
    const topicId = await createTopic(c, topic, 2, { 'retention.ms': '86400000' });
    await produceValues(c, topic, 0, ['r0', 'r1', 'r2']);
    const x: CheckContext = { b: broker, c, topic, topicId };
    const failures: string[] = [];
    for (const range of versions.apiKeys) {
      const name = API_BY_KEY[range.apiKey]!.name as ApiName;
      const check = CHECKS[name];
      if (!check) {
        failures.push(`${name}: advertised, but api-checks.ts has no check for it`);
        continue;
      }
      for (let v = range.minVersion; v <= range.maxVersion; v++) {
        try {
          await within(check(x, v), 30_000, `${name} v${v}`);
        } catch (err) {
          failures.push(`${name} v${v}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  } finally {
    c.close();
    await broker.close();
  }
});
