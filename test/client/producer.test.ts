import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Producer } from '../../src/client/producer.js';
import { KafkaError } from '../../src/client/errors.js';
import { jsonSerializer, stringSerializer } from '../../src/client/serializers.js';
import { decodeRecordBatches, type DecodedRecordBatch } from '../../src/protocol/records/record-batch.js';
import { partitionForKey } from '../../src/client/partitioner.js';
import { FakeBroker, type ReceivedRequest } from './helpers/fake-broker.js';
import { until, within } from '../helpers/wait.js';

interface Appended {
  partition: number;
  batch: DecodedRecordBatch;
  raw: Buffer;
}

/**
 * A fake broker that keeps a log per partition and, like Kafka, accepts a producer's batch only at
 * the next expected sequence, answering a resent batch with its original offset.
 */
function logBroker(
  b: FakeBroker,
  topics: Record<string, number>,
  hooks: { beforeAppend?: (req: ReceivedRequest, n: number) => 'close' | number | undefined } = {},
) {
  const logs = new Map<string, Appended[]>();
  const nextOffset = new Map<string, number>();
  const seqs = new Map<string, { next: number; offsets: Map<number, number> }>();
  let produceCount = 0;
  b.handlers.Metadata = b.metadata(topics);
  b.handlers.InitProducerId = () => ({ errorCode: 0, producerId: 4242, producerEpoch: 3 });
  b.handlers.Produce = (req) => {
    const n = produceCount++;
    const hook = hooks.beforeAppend?.(req, n);
    const responses = req.body.topicData.map(
      (t: { name: string; partitionData: { index: number; records: Buffer }[] }) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => {
          if (typeof hook === 'number') return { index: p.index, errorCode: hook, baseOffset: -1 };
          const key = `${t.name}-${p.index}`;
          const [batch] = decodeRecordBatches(p.records);
          if (batch!.producerId >= 0) {
            const s = seqs.get(key) ?? { next: 0, offsets: new Map() };
            seqs.set(key, s);
            const dup = s.offsets.get(batch!.baseSequence);
            if (dup !== undefined) return { index: p.index, errorCode: 0, baseOffset: dup };
            if (batch!.baseSequence !== s.next) return { index: p.index, errorCode: 45, baseOffset: -1 };
            s.next = batch!.baseSequence + batch!.recordsCount;
            s.offsets.set(batch!.baseSequence, nextOffset.get(key) ?? 0);
          }
          const base = nextOffset.get(key) ?? 0;
          nextOffset.set(key, base + batch!.recordsCount);
          const list = logs.get(key) ?? [];
          list.push({ partition: p.index, batch: batch!, raw: p.records });
          logs.set(key, list);
          return { index: p.index, errorCode: 0, baseOffset: base };
        }),
      }),
    );
    if (hook === 'close') {
      // The write happened, but the answer is lost with the connection.
      setImmediate(() => b.dropConnections());
      return 'none';
    }
    return { responses };
  };
  return {
    logs,
    records: (topic: string, partition: number) =>
      (logs.get(`${topic}-${partition}`) ?? []).flatMap((a) => a.batch.records),
  };
}

test('records sent within linger.ms travel in one batch, with keys, values, headers and timestamps intact', async () => {
  const b = await new FakeBroker().start();
  const log = logBroker(b, { orders: 1 });
  const p = new Producer<string, unknown>({
    bootstrap: b.bootstrap,
    lingerMs: 50,
    keySerializer: stringSerializer as never,
    valueSerializer: jsonSerializer,
  });
  try {
    const sends = Array.from({ length: 10 }, (_, i) =>
      p.send({
        topic: 'orders',
        key: `o${i}`,
        value: { id: i },
        headers: [
          ['h', `${i}`],
          ['h', 'dup'],
        ],
        timestamp: 1_700_000_000_000 + i,
      }),
    );
    const mds = await Promise.all(sends);
    assert.deepEqual(
      mds.map((m) => m.offset),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.ok(mds.every((m) => m.topic === 'orders' && m.partition === 0));
    assert.equal(b.of('Produce').length, 1, 'one request');
    const [appended] = log.logs.get('orders-0')!;
    assert.equal(appended!.batch.recordsCount, 10);
    const r3 = appended!.batch.records[3]!;
    assert.equal(r3.key!.toString(), 'o3');
    assert.deepEqual(JSON.parse(r3.value!.toString()), { id: 3 });
    assert.deepEqual(
      r3.headers.map((h) => [h.key, h.value!.toString()]),
      [
        ['h', '3'],
        ['h', 'dup'],
      ],
    );
    assert.equal(r3.timestamp, 1_700_000_000_003);
    assert.equal(mds[3]!.timestamp, 1_700_000_000_003);
  } finally {
    await p.close();
    await b.close();
  }
});

test('batch.size closes a batch early; a batch that is not full waits for linger.ms', async () => {
  const b = await new FakeBroker().start();
  const log = logBroker(b, { t: 1 });
  // A linger no test run reaches: whatever is sent before flush() went out because its batch was full.
  const p = new Producer({ bootstrap: b.bootstrap, lingerMs: 300_000, batchSize: 1024 });
  const lingering = new Producer({ bootstrap: b.bootstrap, lingerMs: 500, batchSize: 1024 });
  try {
    const value = Buffer.alloc(200, 1);
    let settled = 0;
    const sends = Array.from({ length: 20 }, () => p.send({ topic: 't', value }).finally(() => settled++));
    // Four 221-byte records fill a 1 KiB batch: the first sixteen go out at once, the last four wait for linger.ms.
    await within(Promise.all(sends.slice(0, 16)), 30_000, 'the full batches, sent without waiting for linger.ms');
    const records = () => (log.logs.get('t-0') ?? []).reduce((n, a) => n + a.batch.recordsCount, 0);
    assert.equal(records(), 16, 'only full batches were sent');
    assert.equal(settled, 16, 'the four records of the batch that is not full are still waiting');
    await p.flush();
    await Promise.all(sends);
    const batches = log.logs.get('t-0')!;
    assert.ok(batches.length >= 4, `expected several batches, got ${batches.length}`);
    for (const a of batches) assert.ok(a.raw.length <= 1024 + 300, `batch of ${a.raw.length} bytes`);
    assert.equal(records(), 20);
    // And linger.ms is honoured as a lower bound: a lone record is not sent before it elapses.
    await lingering.connect();
    const started = Date.now();
    await lingering.send({ topic: 't', value });
    const took = Date.now() - started;
    assert.ok(took >= 490, `a lone record was sent after ${took} ms, before linger.ms 500`);
  } finally {
    await p.close();
    await lingering.close();
    await b.close();
  }
});

test('idempotent by default: producer id from InitProducerId and per-partition sequences', async () => {
  const b = await new FakeBroker().start();
  const log = logBroker(b, { t: 2 });
  const p = new Producer({ bootstrap: b.bootstrap, lingerMs: 0, batchSize: 100 });
  try {
    for (let i = 0; i < 6; i++) await p.send({ topic: 't', partition: i % 2, value: `v${i}` });
    assert.equal(p.isIdempotent, true);
    assert.equal(b.of('InitProducerId').length, 1);
    assert.equal(b.of('InitProducerId')[0]!.body.transactionalId, null);
    for (const part of [0, 1]) {
      const batches = log.logs.get(`t-${part}`)!.map((a) => a.batch);
      assert.deepEqual(
        batches.map((x) => x.baseSequence),
        [0, 1, 2],
      );
      assert.ok(batches.every((x) => x.producerId === 4242 && x.producerEpoch === 3 && !x.isTransactional));
    }
    assert.ok(
      b.of('Produce').every((r) => r.body.acks === -1),
      'acks=all',
    );
  } finally {
    await p.close();
    await b.close();
  }
});

test('a lost produce answer is retried with the same sequence and written once', async () => {
  const b = await new FakeBroker().start();
  const log = logBroker(b, { t: 1 }, { beforeAppend: (_req, n) => (n === 0 ? 'close' : undefined) });
  const p = new Producer({ bootstrap: b.bootstrap, lingerMs: 20, retryBackoffMs: 20, requestTimeoutMs: 3000 });
  try {
    const mds = await Promise.all(['a', 'b', 'c'].map((v) => p.send({ topic: 't', value: v })));
    assert.deepEqual(
      mds.map((m) => m.offset),
      [0, 1, 2],
      'offsets of the first (only) write',
    );
    const produces = b.of('Produce');
    assert.equal(produces.length, 2, 'sent twice');
    const [first, second] = produces.map((r) => r.body.topicData[0].partitionData[0].records as Buffer);
    assert.ok(first!.equals(second!), 'the retry resends the identical batch (same producer id and sequence)');
    assert.deepEqual(
      log.records('t', 0).map((r) => r.value!.toString()),
      ['a', 'b', 'c'],
      'no duplicates in the log',
    );
  } finally {
    await p.close();
    await b.close();
  }
});

test('retriable partition errors are retried after a metadata refresh; fatal ones fail the send', async () => {
  const b = await new FakeBroker().start();
  logBroker(
    b,
    { t: 1, u: 1 },
    { beforeAppend: (req, n) => (req.body.topicData[0].name === 'u' ? 87 : n === 0 ? 6 : undefined) },
  );
  const p = new Producer({ bootstrap: b.bootstrap, lingerMs: 0, retryBackoffMs: 10 });
  try {
    const md = await p.send({ topic: 't', value: 'x' });
    assert.equal(md.offset, 0);
    assert.ok(b.of('Metadata').length >= 2, 'NOT_LEADER_OR_FOLLOWER triggered a metadata refresh');
    await assert.rejects(
      p.send({ topic: 'u', value: 'x' }),
      (err: unknown) => err instanceof KafkaError && err.code === 87 && /INVALID_RECORD/.test(err.message),
    );
  } finally {
    await p.close();
    await b.close();
  }
});

test('keyed records go to the murmur2 partition; an explicit partition wins; unknown partitions are refused', async () => {
  const b = await new FakeBroker().start();
  logBroker(b, { t: 6 });
  const p = new Producer({ bootstrap: b.bootstrap, lingerMs: 0 });
  try {
    for (const key of ['alpha', 'beta', 'gamma', 'delta', 'customer-17']) {
      const md = await p.send({ topic: 't', key, value: 'v' });
      assert.equal(md.partition, partitionForKey(Buffer.from(key), 6), key);
    }
    assert.equal((await p.send({ topic: 't', key: 'alpha', value: 'v', partition: 5 })).partition, 5);
    await assert.rejects(p.send({ topic: 't', value: 'v', partition: 6 }), /partitions 0-5, not 6/);
  } finally {
    await p.close();
    await b.close();
  }
});

test('compressed batches carry the codec and decode back to the same records', async () => {
  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const b = await new FakeBroker().start();
    const log = logBroker(b, { t: 1 });
    const p = new Producer({ bootstrap: b.bootstrap, lingerMs: 30, compression });
    try {
      const values = Array.from({ length: 50 }, (_, i) => `${compression} record ${i} `.repeat(20));
      await Promise.all(values.map((v, i) => p.send({ topic: 't', key: i % 2 === 0 ? null : `k${i}`, value: v })));
      const batches = log.logs.get('t-0')!;
      assert.ok(
        batches.every((a) => a.batch.compression === ['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(compression)),
        compression,
      );
      assert.ok(
        batches.reduce((n, a) => n + a.raw.length, 0) < values.join('').length / 2,
        `${compression} actually compresses`,
      );
      assert.deepEqual(
        log.records('t', 0).map((r) => r.value!.toString()),
        values,
      );
    } finally {
      await p.close();
      await b.close();
    }
  }
});

test('acks=0 gets no answer and resolves with offset -1', async () => {
  const b = await new FakeBroker().start();
  b.handlers.Metadata = b.metadata({ t: 1 });
  b.handlers.Produce = () => 'none';
  const p = new Producer({ bootstrap: b.bootstrap, acks: 0, lingerMs: 0 });
  try {
    const md = await p.send({ topic: 't', value: 'fire and forget' });
    assert.deepEqual([md.partition, md.offset], [0, -1]);
    assert.equal(p.isIdempotent, false, 'acks=0 turns default idempotence off');
    assert.equal(b.of('InitProducerId').length, 0);
    await until(() => b.of('Produce').length > 0, 30_000, 'the fake broker to receive the produce');
    assert.equal(b.of('Produce')[0]!.body.acks, 0);
  } finally {
    await p.close();
    await b.close();
  }
});

test('without InitProducerId on the broker, default idempotence falls back; explicit idempotence fails clearly', async () => {
  const b = await new FakeBroker().start();
  delete b.ranges.InitProducerId;
  logBroker(b, { t: 1 });
  const p = new Producer({ bootstrap: b.bootstrap, lingerMs: 0 });
  const strict = new Producer({ bootstrap: b.bootstrap, lingerMs: 0, idempotent: true, maxBlockMs: 500 });
  try {
    assert.equal((await p.send({ topic: 't', value: 'x' })).offset, 0);
    assert.equal(p.isIdempotent, false);
    await assert.rejects(strict.send({ topic: 't', value: 'x' }), /cannot serve InitProducerId/);
  } finally {
    await p.close();
    await strict.close().catch(() => undefined);
    await b.close();
  }
});

test('an unknown topic is reported without creating it when auto-creation is off', async () => {
  const b = await new FakeBroker().start();
  logBroker(b, { t: 1 });
  const p = new Producer({ bootstrap: b.bootstrap, allowAutoTopicCreation: false });
  try {
    await assert.rejects(
      p.send({ topic: 'missing', value: 'x' }),
      (err: unknown) => err instanceof KafkaError && err.code === 3 && /topic "missing"/.test(err.message),
    );
    const md = b.of('Metadata').find((r) => r.body.topics?.[0]?.name === 'missing')!;
    assert.equal(md.body.allowAutoTopicCreation, false);
  } finally {
    await p.close();
    await b.close();
  }
});
