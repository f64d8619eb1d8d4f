import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerHandle } from '../../src/broker/start.js';
import { Admin } from '../../src/client/admin.js';
import { Producer, type RecordMetadata } from '../../src/client/producer.js';
import { Consumer, type ConsumerRecord } from '../../src/client/consumer.js';
import { partitionForKey } from '../../src/client/partitioner.js';
import {
  jsonDeserializer,
  jsonSerializer,
  stringDeserializer,
  stringSerializer,
} from '../../src/client/serializers.js';
import { KafkaError } from '../../src/client/errors.js';
import { startTestBroker, uniq } from './helpers/broker.js';
import { SeededRandom, seedNote } from '../helpers/seed.js';

/** Incompressible test data, seeded: TEST_SEED=n replays exactly the bytes of a failing run. */
const rand = new SeededRandom();
const randomBytes = (n: number): Buffer => rand.bytes(n);

let broker: BrokerHandle;
let admin: Admin;

before(async () => {
  broker = await startTestBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
});
after(async () => {
  await admin.close();
  await broker.close();
});

async function topic(partitions: number): Promise<string> {
  const name = uniq('pc');
  await admin.createTopics([{ name, partitions }]);
  return name;
}

/** Reads every partition of a topic from the start until `n` records arrived. */
async function readN<K, V>(
  c: Consumer<K, V>,
  name: string,
  partitions: number,
  n: number,
): Promise<ConsumerRecord<K, V>[]> {
  c.assign(Array.from({ length: partitions }, (_, partition) => ({ topic: name, partition })));
  c.seekToBeginning();
  const out: ConsumerRecord<K, V>[] = [];
  const deadline = Date.now() + 10_000;
  while (out.length < n && Date.now() < deadline) out.push(...(await c.poll(200)));
  return out;
}

for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`${compression}: bytes, nulls, headers and offsets survive a round trip ${seedNote()}`, async () => {
    const name = await topic(1);
    const p = new Producer({ bootstrap: broker.bootstrap, compression, lingerMs: 20 });
    const c = new Consumer({ bootstrap: broker.bootstrap });
    try {
      const sent = Array.from({ length: 301 }, (_, i) => ({
        key: i === 0 ? null : Buffer.from(`key-${i % 17}`),
        value:
          i === 1
            ? Buffer.alloc(0)
            : i % 3 === 0
              ? randomBytes(50 + (i % 200))
              : Buffer.from(`compressible text ${i} `.repeat(1 + (i % 20))),
        headers:
          i % 5 === 0
            ? ([
                ['trace', `t${i}`],
                ['dup', '1'],
                ['dup', Buffer.from([0xff, 0])],
              ] as [string, string | Buffer][])
            : undefined,
      }));
      const mds = await Promise.all(sent.map((r) => p.send({ topic: name, ...r })));
      assert.deepEqual(
        mds.map((m) => m.offset),
        sent.map((_, i) => i),
      );
      const got = await readN(c, name, 1, 301);
      assert.equal(got.length, 301);
      got.forEach((r, i) => {
        assert.equal(r.offset, i);
        assert.deepEqual(r.key, sent[i]!.key);
        assert.deepEqual(r.value, sent[i]!.value);
        const hs = sent[i]!.headers ?? [];
        assert.deepEqual(
          r.headers.map((h) => [h.key, h.value]),
          hs.map(([k, v]) => [k, Buffer.from(v)]),
        );
      });
    } finally {
      await p.close();
      await c.close();
    }
  });
}

test('keys stay on their murmur2 partition; offsets from send() match what is consumed', async () => {
  const name = await topic(4);
  const p = new Producer<string, unknown>({
    bootstrap: broker.bootstrap,
    keySerializer: stringSerializer as never,
    valueSerializer: jsonSerializer,
  });
  const c = new Consumer<string | null, unknown>({
    bootstrap: broker.bootstrap,
    keyDeserializer: stringDeserializer,
    valueDeserializer: jsonDeserializer,
  });
  try {
    const mds: RecordMetadata[] = [];
    for (let i = 0; i < 60; i++) mds.push(await p.send({ topic: name, key: `customer-${i % 10}`, value: { seq: i } }));
    for (let i = 0; i < 60; i++) assert.equal(mds[i]!.partition, partitionForKey(Buffer.from(`customer-${i % 10}`), 4));
    assert.ok(new Set(mds.map((m) => m.partition)).size > 1, 'keys spread over partitions');
    const got = await readN(c, name, 4, 60);
    const byPosition = new Map(got.map((r) => [`${r.partition}:${r.offset}`, r]));
    mds.forEach((m, i) => {
      const r = byPosition.get(`${m.partition}:${m.offset}`)!;
      assert.equal(r.key, `customer-${i % 10}`);
      assert.deepEqual(r.value, { seq: i });
    });
  } finally {
    await p.close();
    await c.close();
  }
});

test('unkeyed records stick to a partition per batch instead of scattering', async () => {
  const name = await topic(3);
  const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 50, batchSize: 16384 });
  try {
    const mds = await Promise.all(Array.from({ length: 30 }, (_, i) => p.send({ topic: name, value: `v${i}` })));
    assert.equal(new Set(mds.map((m) => m.partition)).size, 1, 'one linger window, one partition');
  } finally {
    await p.close();
  }
});

test('seek moves the read position both ways (as the kafkajs-seek scenario)', async () => {
  const name = await topic(1);
  const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  const c = new Consumer({ bootstrap: broker.bootstrap, valueDeserializer: stringDeserializer });
  try {
    for (let i = 0; i < 20; i++) await p.send({ topic: name, value: `v${i}` });
    c.assign([{ topic: name, partition: 0 }]);
    c.seekToBeginning();
    const seen: number[] = [];
    let jumpedForward = false;
    let jumpedBack = false;
    for await (const r of c) {
      seen.push(r.offset);
      assert.equal(r.value, `v${r.offset}`);
      if (r.offset === 5 && !jumpedForward) {
        jumpedForward = true;
        c.seek({ topic: name, partition: 0, offset: 15 });
      } else if (r.offset === 19 && !jumpedBack) {
        jumpedBack = true;
        c.seek({ topic: name, partition: 0, offset: 2 });
      } else if (r.offset === 19) break;
    }
    const expected = [...[0, 1, 2, 3, 4, 5], ...[15, 16, 17, 18, 19], ...Array.from({ length: 18 }, (_, i) => i + 2)];
    assert.deepEqual(seen, expected);
  } finally {
    await p.close();
    await c.close();
  }
});

test('the batch form yields what poll returns, and follows records produced later', async () => {
  const name = await topic(2);
  const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  const c = new Consumer({ bootstrap: broker.bootstrap, valueDeserializer: stringDeserializer });
  try {
    c.assign([
      { topic: name, partition: 0 },
      { topic: name, partition: 1 },
    ]);
    c.seekToEnd();
    const received: string[] = [];
    const reading = (async () => {
      for await (const batch of c.batches({ timeoutMs: 200 })) {
        for (const r of batch) received.push(r.value!);
        if (received.length >= 10) break;
      }
    })();
    // The end offsets are resolved before anything is produced, so "later" is well defined.
    for (const partition of [0, 1]) assert.equal(await c.position({ topic: name, partition }), 0);
    for (let i = 0; i < 10; i++) await p.send({ topic: name, partition: i % 2, value: `late-${i}` });
    await reading;
    assert.deepEqual([...received].sort(), Array.from({ length: 10 }, (_, i) => `late-${i}`).sort());
  } finally {
    await p.close();
    await c.close();
  }
});

test('idempotent producer against Brook: one producer id, contiguous offsets under pipelining', async () => {
  const name = await topic(2);
  const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 1, batchSize: 512, maxInFlight: 5 });
  try {
    const mds = await Promise.all(
      Array.from({ length: 400 }, (_, i) => p.send({ topic: name, partition: i % 2, value: `record-${i}` })),
    );
    assert.equal(p.isIdempotent, true);
    for (const part of [0, 1]) {
      const offsets = mds.filter((m) => m.partition === part).map((m) => m.offset);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${part} offsets in send order`,
      );
    }
  } finally {
    await p.close();
  }
});

test('transactions against Brook: read_committed sees committed data only, read_uncommitted sees aborted data too', async () => {
  const name = await topic(1);
  const p = new Producer({ bootstrap: broker.bootstrap, transactionalId: uniq('txn'), lingerMs: 0 });
  const committed = new Consumer({
    bootstrap: broker.bootstrap,
    isolationLevel: 'read_committed',
    valueDeserializer: stringDeserializer,
  });
  const uncommitted = new Consumer({ bootstrap: broker.bootstrap, valueDeserializer: stringDeserializer });
  try {
    await p.transaction(async (tx) => {
      await tx.send({ topic: name, value: 'c1' });
      await tx.send({ topic: name, value: 'c2' });
    });
    await p.beginTransaction();
    await p.send({ topic: name, value: 'a1' });
    await p.abortTransaction();
    await p.transaction(async (tx) => {
      await tx.send({ topic: name, value: 'c3' });
    });
    const got = await readN(committed, name, 1, 3);
    assert.deepEqual(
      got.map((r) => r.value),
      ['c1', 'c2', 'c3'],
    );
    const all = await readN(uncommitted, name, 1, 4);
    assert.deepEqual(
      all.map((r) => r.value),
      ['c1', 'c2', 'a1', 'c3'],
    );
  } finally {
    await p.close();
    await committed.close();
    await uncommitted.close();
  }
});

test('producing to a missing topic fails with UNKNOWN_TOPIC_OR_PARTITION when auto-creation is off', async () => {
  const p = new Producer({ bootstrap: broker.bootstrap, allowAutoTopicCreation: false, maxBlockMs: 2000 });
  try {
    await assert.rejects(
      p.send({ topic: uniq('missing'), value: 'x' }),
      (err: unknown) => err instanceof KafkaError && err.code === 3,
    );
  } finally {
    await p.close();
  }
});
