// Retention changed through the protocol (IncrementalAlterConfigs) and applied by the broker's
// background retention check, observed through ListOffsets and Fetch.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  Resource,
  WireClient,
  assertCode,
  batch,
  createTopic,
  eventually,
  fetchPartition,
  incrementalAlter,
  produce,
  topicName,
} from './support.js';
import { FAST_CLEANING, type Seen, consume, logEndOffset, logStartOffset, show } from './cleaning-support.js';

const DEADLINE = 30_000;

describe('retention by the broker', () => {
  let b: BrokerHandle;
  let c: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent', config: FAST_CLEANING });
    c = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    await b.close();
  });

  /** One record per Produce request: with segment.bytes=100 each lands in a segment of its own. */
  async function produceEach(topic: string, values: string[], timestamp: number): Promise<Seen[]> {
    const out: Seen[] = [];
    for (const value of values) {
      const r = await produce(c, topic, 0, batch([{ key: null, value, timestamp }]));
      assertCode(r.errorCode, ErrorCode.NONE, `produce ${value}`);
      out.push({ offset: r.baseOffset, key: null, value });
    }
    return out;
  }

  async function waitForLogStart(topic: string, want: number): Promise<void> {
    let start = -1;
    try {
      await eventually(async () => (start = await logStartOffset(c, topic)) === want, DEADLINE, `log start offset`);
    } catch (err) {
      assert.fail(`${(err as Error).message}: ${topic} at ${start}, want ${want}`);
    }
  }

  async function assertOutOfRange(topic: string, offset: number): Promise<void> {
    const p = await fetchPartition(c, { topic, partition: 0, fetchOffset: offset });
    assertCode(p.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, `fetch at ${offset}, below the log start offset`);
  }

  test('lowering retention.ms deletes the segments older than it: log start moves, older fetches are out of range', async () => {
    const t = topicName('ret-ms');
    await createTopic(c, t, 1, { 'segment.bytes': '100' });
    const now = Date.now();
    await produceEach(t, ['old-0', 'old-1', 'old-2'], now - 3_600_000);
    const recent = await produceEach(t, ['new-3', 'new-4', 'new-5'], now);
    const leo = await logEndOffset(c, t);
    assert.deepEqual((await consume(c, t)).length, 6, 'the default retention (7 days) keeps everything');

    const r = await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'retention.ms', op: 'SET', value: '600000' }]);
    assertCode(r.errorCode, ErrorCode.NONE, 'set retention.ms');
    await waitForLogStart(t, 3);
    await assertOutOfRange(t, 0);
    await assertOutOfRange(t, 2);
    const seen = await consume(c, t);
    assert.deepEqual(seen, recent, `records newer than retention.ms are kept (${show(seen)})`);
    assert.equal(await logEndOffset(c, t), leo, 'retention never moves the log end offset');
  });

  test('lowering retention.bytes deletes the oldest segments until the partition fits', async () => {
    const t = topicName('ret-bytes');
    await createTopic(c, t, 1, { 'segment.bytes': '100' });
    const values = ['v-0', 'v-1', 'v-2', 'v-3', 'v-4', 'v-5'];
    const written = await produceEach(t, values, Date.now());
    const oneBatch = batch([{ key: null, value: 'v-0', timestamp: 0 }]).length;
    // Six equal segments; a limit of 2.5 of them deletes three (Kafka deletes while the log would
    // still be at least retention.bytes without the segment).
    const limit = Math.floor(oneBatch * 2.5);
    const r = await incrementalAlter(c, Resource.TOPIC, t, [
      { name: 'retention.bytes', op: 'SET', value: String(limit) },
    ]);
    assertCode(r.errorCode, ErrorCode.NONE, 'set retention.bytes');
    await waitForLogStart(t, 3);
    await assertOutOfRange(t, 0);
    assert.deepEqual(await consume(c, t), written.slice(3), 'the newest records are kept');
    const sizes = await c.request('DescribeLogDirs', 1, { topics: [{ topic: t, partitions: [0] }] });
    const size = sizes.results[0]!.topics[0]!.partitions[0]!.partitionSize;
    assert.ok(size <= limit + oneBatch && size >= limit - oneBatch, `partition size ${size} near ${limit}`);
  });

  test('retention deletes nothing of a compact-only topic', async () => {
    const t = topicName('ret-compact');
    await createTopic(c, t, 1, { 'segment.bytes': '100', 'cleanup.policy': 'compact', 'retention.ms': '600000' });
    const old = Date.now() - 3_600_000;
    const written: Seen[] = [];
    for (const key of ['a', 'b', 'c']) {
      const r = await produce(c, t, 0, batch([{ key, value: key, timestamp: old }]));
      assertCode(r.errorCode, ErrorCode.NONE);
      written.push({ offset: r.baseOffset, key, value: key });
    }
    // A delete-policy topic with the same data shows when retention has had its passes.
    const control = topicName('ret-control');
    await createTopic(c, control, 1, { 'segment.bytes': '100', 'retention.ms': '600000' });
    await produceEach(control, ['x', 'y', 'z'], old);
    await waitForLogStart(control, 3);
    assert.equal(await logStartOffset(c, t), 0);
    assert.deepEqual(await consume(c, t), written);
  });
});
