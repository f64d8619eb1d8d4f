import { after, before, describe, test } from 'node:test';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  Resource,
  WireClient,
  assertCode,
  batch,
  createTopic,
  incrementalAlter,
  produce,
  topicName,
} from './support.js';

/** Produce reads a cached, typed per-topic config: every way a config changes must reach the next produce. */
describe('produce config', () => {
  let b: BrokerHandle;
  let c: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
    c = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    await b.close();
  });

  const b800 = () => batch([{ value: Buffer.alloc(800, 1) }]);

  test('a dynamic broker default (message.max.bytes) applies to the next produce, and a topic override wins', async () => {
    const plain = topicName('brokermax');
    const own = topicName('ownmax');
    await createTopic(c, plain, 1);
    await createTopic(c, own, 1, { 'max.message.bytes': '2000' });
    assertCode((await produce(c, plain, 0, b800())).errorCode, ErrorCode.NONE);
    const set = await incrementalAlter(c, Resource.BROKER, '', [
      { name: 'message.max.bytes', op: 'SET', value: '500' },
    ]);
    assertCode(set.errorCode, ErrorCode.NONE);
    try {
      assertCode((await produce(c, plain, 0, b800())).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
      assertCode((await produce(c, own, 0, b800())).errorCode, ErrorCode.NONE);
    } finally {
      const unset = await incrementalAlter(c, Resource.BROKER, '', [{ name: 'message.max.bytes', op: 'DELETE' }]);
      assertCode(unset.errorCode, ErrorCode.NONE);
    }
    assertCode((await produce(c, plain, 0, b800())).errorCode, ErrorCode.NONE);
  });

  test('removing a topic override falls back to the broker default at once', async () => {
    const t = topicName('unsetmax');
    await createTopic(c, t, 1, { 'max.message.bytes': '500' });
    assertCode((await produce(c, t, 0, b800())).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    assertCode(
      (await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'max.message.bytes', op: 'DELETE' }])).errorCode,
      ErrorCode.NONE,
    );
    assertCode((await produce(c, t, 0, b800())).errorCode, ErrorCode.NONE);
  });

  test('a topic deleted and created again under the same name gets its new configs', async () => {
    const t = topicName('recreated');
    await createTopic(c, t, 1, { 'max.message.bytes': '500' });
    assertCode((await produce(c, t, 0, b800())).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    const del = await c.request('DeleteTopics', 5, { topics: [], topicNames: [t], timeoutMs: 5000 });
    assertCode(del.responses[0]!.errorCode, ErrorCode.NONE);
    await createTopic(c, t, 1);
    assertCode((await produce(c, t, 0, b800())).errorCode, ErrorCode.NONE);
  });
});
