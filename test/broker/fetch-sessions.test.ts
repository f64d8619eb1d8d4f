import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import type { FetchResponse } from '../../src/protocol/messages/fetch-response.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  createTopic,
  fetchRequest,
  produceValues,
  topicName,
  untilParked,
  valuesOf,
  within,
  withBroker,
  type FetchPartitionSpec,
} from './support.js';

/** Partitions present in a fetch response, as "topic-or-id:partition" → values. */
function partitionsIn(res: FetchResponse, byId = false): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of res.responses)
    for (const p of t.partitions) out.set(`${byId ? t.topicId : t.topic}:${p.partitionIndex}`, valuesOf(p.records));
  return out;
}

/** KIP-227 incremental fetch sessions. */
describe('fetch sessions', () => {
  let b: BrokerHandle;
  let c: WireClient;
  let producer: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
    c = await WireClient.open(b.bootstrap);
    producer = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    producer.close();
    await b.close();
  });

  const fetch = (
    version: number,
    parts: FetchPartitionSpec[],
    sessionId: number,
    sessionEpoch: number,
    extra: Parameters<typeof fetchRequest>[1] = {},
  ) => c.request('Fetch', version, fetchRequest(parts, { sessionId, sessionEpoch, ...extra }));

  test('a full fetch at epoch 0 opens a session; incremental fetches carry only partitions with news', async () => {
    const t = topicName('sess');
    await createTopic(c, t, 3);
    await produceValues(c, t, 0, ['p0-a']);
    const all = [0, 1, 2].map((partition) => ({ topic: t, partition, fetchOffset: 0 }));

    const full = await fetch(12, all, 0, 0);
    assertCode(full.errorCode, ErrorCode.NONE);
    assert.notEqual(full.sessionId, 0, 'a session id is handed out');
    const id = full.sessionId;
    assert.deepEqual(
      [...partitionsIn(full).keys()].sort(),
      [`${t}:0`, `${t}:1`, `${t}:2`],
      'the full response lists every partition',
    );
    assert.deepEqual(partitionsIn(full).get(`${t}:0`), ['p0-a']);

    // Epoch 1: the client moves partition 0 past what it got; nothing else changed.
    const e1 = await fetch(12, [{ topic: t, partition: 0, fetchOffset: 1 }], id, 1);
    assertCode(e1.errorCode, ErrorCode.NONE);
    assert.equal(e1.sessionId, id);
    assert.deepEqual([...partitionsIn(e1).keys()], [], 'no partition has news');

    await produceValues(producer, t, 2, ['p2-a', 'p2-b']);
    const e2 = await fetch(12, [], id, 2);
    assert.deepEqual(
      [...partitionsIn(e2).entries()],
      [[`${t}:2`, ['p2-a', 'p2-b']]],
      'only partition 2, which got data',
    );

    const e3 = await fetch(12, [{ topic: t, partition: 2, fetchOffset: 2 }], id, 3);
    assert.deepEqual([...partitionsIn(e3).keys()], [], 'caught up again');

    // Partitions the request does not name are still fetched from the session's memory.
    await produceValues(producer, t, 1, ['p1-a']);
    const e4 = await fetch(12, [], id, 4);
    assert.deepEqual([...partitionsIn(e4).entries()], [[`${t}:1`, ['p1-a']]]);
  });

  test('an incremental long poll waits for data on any session partition', async () => {
    const t = topicName('sesswait');
    await createTopic(c, t, 2);
    const full = await fetch(
      12,
      [
        { topic: t, partition: 0, fetchOffset: 0 },
        { topic: t, partition: 1, fetchOffset: 0 },
      ],
      0,
      0,
    );
    const id = full.sessionId;
    // max_wait far beyond the deadline: an answer within it was woken by the produce.
    const pending = fetch(12, [], id, 1, { maxWaitMs: 120_000 });
    await untilParked(b);
    await produceValues(producer, t, 1, ['late']);
    const res = await within(pending, 30_000, 'the incremental long poll, woken by the produce');
    assert.deepEqual([...partitionsIn(res).entries()], [[`${t}:1`, ['late']]]);
  });

  test('a wrong epoch is INVALID_FETCH_SESSION_EPOCH; an unknown id is FETCH_SESSION_ID_NOT_FOUND', async () => {
    const t = topicName('sesserr');
    await createTopic(c, t, 1);
    const full = await fetch(12, [{ topic: t, partition: 0, fetchOffset: 0 }], 0, 0);
    const id = full.sessionId;
    assertCode((await fetch(12, [], id, 5)).errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH, 'epoch 5 instead of 1');
    assertCode((await fetch(12, [], id, 0 + 1)).errorCode, ErrorCode.NONE, 'epoch 1 still works');
    assertCode(
      (await fetch(12, [], id, 1)).errorCode,
      ErrorCode.INVALID_FETCH_SESSION_EPOCH,
      'epoch 1 again (a replay)',
    );
    const unknown = id === 123456789 ? 123456788 : 123456789;
    assertCode((await fetch(12, [], unknown, 1)).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  test('forgotten topics leave the session', async () => {
    const t = topicName('forget');
    await createTopic(c, t, 2);
    const full = await fetch(
      12,
      [
        { topic: t, partition: 0, fetchOffset: 0 },
        { topic: t, partition: 1, fetchOffset: 0 },
      ],
      0,
      0,
    );
    const id = full.sessionId;
    const e1 = await fetch(12, [], id, 1, {
      forgottenTopicsData: [{ topic: t, topicId: '00000000-0000-0000-0000-000000000000', partitions: [0] }],
    });
    assertCode(e1.errorCode, ErrorCode.NONE);
    await produceValues(producer, t, 0, ['p0-after-forget']);
    await produceValues(producer, t, 1, ['p1']);
    const e2 = await fetch(12, [], id, 2);
    assert.deepEqual([...partitionsIn(e2).entries()], [[`${t}:1`, ['p1']]], 'partition 0 was forgotten');
    // Naming it again re-adds it.
    const e3 = await fetch(
      12,
      [
        { topic: t, partition: 0, fetchOffset: 0 },
        { topic: t, partition: 1, fetchOffset: 1 },
      ],
      id,
      3,
    );
    assert.deepEqual([...partitionsIn(e3).entries()], [[`${t}:0`, ['p0-after-forget']]]);
  });

  test('epoch -1 closes the session; its id is then unknown', async () => {
    const t = topicName('close');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['x']);
    const full = await fetch(12, [{ topic: t, partition: 0, fetchOffset: 0 }], 0, 0);
    const id = full.sessionId;
    const closing = await fetch(12, [{ topic: t, partition: 0, fetchOffset: 0 }], id, -1);
    assertCode(closing.errorCode, ErrorCode.NONE);
    assert.equal(closing.sessionId, 0, 'a sessionless (full) answer');
    assert.deepEqual(partitionsIn(closing).get(`${t}:0`), ['x']);
    assertCode((await fetch(12, [], id, 1)).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  test('sessions keyed by topic id (Fetch v13+) work the same way, forgetting by id', async () => {
    const t = topicName('sessid');
    const topicId = await createTopic(c, t, 2);
    const full = await fetch(
      13,
      [
        { topicId, partition: 0, fetchOffset: 0 },
        { topicId, partition: 1, fetchOffset: 0 },
      ],
      0,
      0,
    );
    const id = full.sessionId;
    assert.notEqual(id, 0);
    assert.deepEqual([...partitionsIn(full, true).keys()].sort(), [`${topicId}:0`, `${topicId}:1`]);
    await fetch(13, [], id, 1, { forgottenTopicsData: [{ topic: '', topicId, partitions: [1] }] });
    await produceValues(producer, t, 0, ['zero']);
    await produceValues(producer, t, 1, ['one']);
    const e2 = await fetch(13, [], id, 2);
    assert.deepEqual([...partitionsIn(e2, true).entries()], [[`${topicId}:0`, ['zero']]]);
  });

  test('clients without sessions (epoch -1, id 0) always get full responses', async () => {
    const t = topicName('nosess');
    await createTopic(c, t, 2);
    const res = await fetch(
      11,
      [
        { topic: t, partition: 0, fetchOffset: 0 },
        { topic: t, partition: 1, fetchOffset: 0 },
      ],
      0,
      -1,
    );
    assert.equal(res.sessionId, 0);
    assert.equal(res.responses[0]!.partitions.length, 2, 'unchanged partitions are listed too');
  });
});

test('with max.incremental.fetch.session.cache.slots=0 no session is created, and fetches still work', async () => {
  await withBroker({ config: { 'max.incremental.fetch.session.cache.slots': '0' } }, async (_b, c) => {
    const t = topicName('noslots');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['v']);
    const res = await c.request(
      'Fetch',
      12,
      fetchRequest([{ topic: t, partition: 0, fetchOffset: 0 }], { sessionId: 0, sessionEpoch: 0 }),
    );
    assertCode(res.errorCode, ErrorCode.NONE);
    assert.equal(res.sessionId, 0, 'session id 0 tells the client to keep sending full fetches');
    assert.deepEqual(valuesOf(res.responses[0]!.partitions[0]!.records), ['v']);
  });
});

test('a session partition whose topic is deleted comes back with an error in the next incremental fetch', async () => {
  await withBroker({}, async (_b, c) => {
    const t = topicName('sessdel');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['x']);
    const full = await c.request(
      'Fetch',
      12,
      fetchRequest([{ topic: t, partition: 0, fetchOffset: 1 }], { sessionId: 0, sessionEpoch: 0 }),
    );
    const id = full.sessionId;
    assertCode(
      (await c.request('DeleteTopics', 5, { topics: [], topicNames: [t], timeoutMs: 5000 })).responses[0]!.errorCode,
      ErrorCode.NONE,
    );
    const res = await c.request('Fetch', 12, fetchRequest([], { sessionId: id, sessionEpoch: 1 }));
    assertCode(res.errorCode, ErrorCode.NONE);
    const p = res.responses.find((x) => x.topic === t)?.partitions[0];
    assert.ok(p, 'the deleted partition is reported, so the consumer learns about it');
    assertCode(p.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

test('a full session cache does not evict a recently used session for a newcomer of the same size', async () => {
  // KIP-227 / Kafka's FetchSessionCache.tryEvict: only stale sessions (unused for
  // min.incremental.fetch.session.eviction.ms, 120 s) or smaller ones may be evicted; otherwise the
  // newcomer simply gets no session (id 0). Plain LRU eviction makes clients thrash each other.
  await withBroker({ config: { 'max.incremental.fetch.session.cache.slots': '1' } }, async (_b, c) => {
    const t = topicName('slots');
    await createTopic(c, t, 1);
    const a = await c.request(
      'Fetch',
      12,
      fetchRequest([{ topic: t, partition: 0, fetchOffset: 0 }], { sessionId: 0, sessionEpoch: 0 }),
    );
    assert.notEqual(a.sessionId, 0);
    const other = await WireClient.open(_b.bootstrap);
    try {
      const bRes = await other.request(
        'Fetch',
        12,
        fetchRequest([{ topic: t, partition: 0, fetchOffset: 0 }], { sessionId: 0, sessionEpoch: 0 }),
      );
      assertCode(bRes.errorCode, ErrorCode.NONE);
      assert.equal(bRes.sessionId, 0, 'the newcomer fetches without a session');
    } finally {
      other.close();
    }
    assertCode(
      (await c.request('Fetch', 12, fetchRequest([], { sessionId: a.sessionId, sessionEpoch: 1 }))).errorCode,
      ErrorCode.NONE,
      'the first session survives',
    );
  });
});
