import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { ApiKey } from '../../src/protocol/apis.js';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  CHANNELS,
  type ConnectionClosed,
  type ConnectionOpened,
  type EventLoopDelaySample,
  type LogFlush,
  type PurgatorySample,
  type RequestMetrics,
} from '../../src/broker/observability.js';
import { WireClient, batch, createTopic, eventually, fetchPartition, produceValues, topicName } from './support.js';

/** Subscribes to `name` for the duration of `fn`, collecting every message. */
async function collecting<T>(name: string, fn: (seen: T[]) => Promise<void>): Promise<void> {
  const seen: T[] = [];
  const listener = (m: unknown) => seen.push(m as T);
  diagnostics_channel.subscribe(name, listener);
  try {
    await fn(seen);
  } finally {
    diagnostics_channel.unsubscribe(name, listener);
  }
}

describe('observability channels', () => {
  let b: BrokerHandle;
  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
  });
  after(async () => {
    await b.close();
  });

  test('a subscriber sees a Produce and a Fetch with api key, version, timings and byte counts', async () => {
    const topic = topicName('observed');
    const c = await WireClient.open(b.bootstrap);
    try {
      await createTopic(c, topic, 1);
      await collecting<RequestMetrics>(CHANNELS.request, async (seen) => {
        await produceValues(c, topic, 0, ['a', 'b', 'c'], { version: 9, acks: 1 });
        const p = await fetchPartition(c, { topic, partition: 0, fetchOffset: 0 }, { version: 12 });
        assert.ok(p.records !== null && p.records.length > 0, 'the fetch returned the records');
        // The message is published once the response is written, which may be just after the client read it.
        await eventually(() => seen.some((m) => m.apiKey === ApiKey.Fetch), 5000, 'fetch observed');
        const produce = seen.find((m) => m.apiKey === ApiKey.Produce)!;
        const fetch = seen.find((m) => m.apiKey === ApiKey.Fetch)!;
        assert.ok(produce, 'produce observed');
        assert.equal(produce.apiVersion, 9);
        assert.equal(fetch.apiVersion, 12);
        for (const m of [produce, fetch]) {
          assert.equal(m.outcome, 'response');
          assert.equal(m.listenerName, 'PLAINTEXT');
          assert.ok(m.requestBytes > 8 && m.responseBytes > 8, `bytes counted: ${JSON.stringify(m)}`);
          for (const t of [m.queueTimeMs, m.localTimeMs, m.sendTimeMs]) assert.ok(t >= 0, JSON.stringify(m));
          const parts = m.queueTimeMs + m.localTimeMs + m.sendTimeMs;
          assert.ok(Math.abs(m.totalTimeMs - parts) < 1e-6, `total = queue + local + send: ${JSON.stringify(m)}`);
        }
        assert.ok(produce.requestBytes > batch(['a', 'b', 'c']).length, 'the produce request carries the batch');
        assert.ok(fetch.responseBytes > p.records!.length, 'the fetch response carries the records');
        assert.equal(produce.connectionId, fetch.connectionId);
      });
    } finally {
      c.close();
    }
  });

  test('connections opened and closed are published with their byte totals', async () => {
    await collecting<ConnectionOpened>(CHANNELS.connectionOpened, async (opened) => {
      await collecting<ConnectionClosed>(CHANNELS.connectionClosed, async (closed) => {
        const c = await WireClient.open(b.bootstrap);
        await c.request('ApiVersions', 3, { clientSoftwareName: 'observer', clientSoftwareVersion: '1' });
        c.close();
        // Only this client's connection: an earlier test's may close meanwhile.
        await eventually(() => opened.length > 0, 5000, 'connection opened observed');
        const mine = () => closed.find((m) => m.session === opened[0]!.session);
        await eventually(() => mine() !== undefined, 5000, 'connection closed observed');
        assert.equal(opened.length, 1);
        const gone = mine()!;
        assert.equal(gone.session.clientSoftwareName, 'observer');
        assert.equal(gone.requests, 1);
        assert.ok(gone.bytesIn > 0 && gone.bytesOut > 0, `bytes counted: ${gone.bytesIn} in, ${gone.bytesOut} out`);
      });
    });
  });

  test('log flushes, purgatory size and event-loop delay are published while subscribed', async () => {
    const topic = topicName('flushed');
    const c = await WireClient.open(b.bootstrap);
    try {
      await createTopic(c, topic, 1, { 'flush.messages': '1' });
      await collecting<LogFlush>(CHANNELS.logFlush, async (flushes) => {
        await produceValues(c, topic, 0, ['durable'], { acks: -1 });
        await eventually(() => flushes.length > 0, 5000, 'flush observed');
        assert.ok(flushes[0]!.durationMs >= 0 && flushes[0]!.error === null);
        assert.ok(flushes.some((f) => f.durableOffset >= 1));
      });
      await collecting<PurgatorySample>(CHANNELS.purgatory, async (purgatory) => {
        await collecting<EventLoopDelaySample>(CHANNELS.eventLoopDelay, async (delays) => {
          // A fetch waiting for data that does not come sits in the purgatory meanwhile.
          const waiting = fetchPartition(c, { topic, partition: 0, fetchOffset: 1 }, { minBytes: 1, maxWaitMs: 3000 });
          await eventually(() => purgatory.some((s) => s.fetchWaiting === 1), 10_000, 'a waiting fetch sampled');
          await eventually(() => delays.length > 0, 10_000, 'event-loop delay sampled');
          assert.ok(delays[0]!.p99Ms >= delays[0]!.p50Ms && delays[0]!.maxMs >= delays[0]!.p99Ms);
          assert.equal(delays[0]!.nodeId, b.broker.nodeId);
          await waiting;
        });
      });
    } finally {
      c.close();
    }
  });
});
