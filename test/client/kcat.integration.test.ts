// Interoperability with librdkafka through kcat: what the Brook client writes, kcat reads byte for
// byte at the same partitions and offsets, and the other way round, including where keys land.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { BrokerHandle } from '../../src/broker/start.js';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer, type ConsumerRecord } from '../../src/client/consumer.js';
import { partitionForKey } from '../../src/client/partitioner.js';
import { startTestBroker, uniq } from './helpers/broker.js';

import { KCAT, kcatMissing } from '../helpers/requires.js';

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

function kcat(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(KCAT, ['-b', broker.bootstrap, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${err}`));
    });
    child.stdin.end(input ?? '');
  });
}

interface KcatMessage {
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`kcat reads what the Brook producer wrote (${compression})`, { skip: kcatMissing(KCAT) }, async () => {
    const name = uniq(`to-kcat-${compression}`);
    await admin.createTopics([{ name, partitions: 3 }]);
    const p = new Producer({ bootstrap: broker.bootstrap, compression, lingerMs: 10 });
    const sent = Array.from({ length: 60 }, (_, i) => ({
      key: i % 7 === 0 ? null : `key-${i % 9}`,
      value: i === 3 ? '' : `value ${i} ünïcødé ✓ ${'x'.repeat(i * 13)}`,
      headers:
        i % 4 === 0
          ? ([
              ['trace-id', `abc${i}`],
              ['dup', '1'],
              ['dup', '2'],
              ['empty', ''],
            ] as [string, string][])
          : undefined,
    }));
    let mds;
    try {
      mds = await Promise.all(sent.map((r) => p.send({ topic: name, ...r })));
    } finally {
      await p.close();
    }
    const out = await kcat(['-C', '-t', name, '-o', 'beginning', '-e', '-J', '-q']);
    const msgs = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as KcatMessage);
    assert.equal(msgs.length, 60);
    const byPos = new Map(msgs.map((m) => [`${m.partition}:${m.offset}`, m]));
    sent.forEach((r, i) => {
      const m = byPos.get(`${mds[i]!.partition}:${mds[i]!.offset}`);
      assert.ok(m !== undefined, `record ${i} at ${mds[i]!.partition}:${mds[i]!.offset}`);
      assert.equal(m.key, r.key);
      assert.equal(m.payload, r.value);
      assert.deepEqual(m.headers ?? [], (r.headers ?? []).flat());
      if (r.key !== null)
        assert.equal(
          m.partition,
          partitionForKey(Buffer.from(r.key), 3),
          "keys land where librdkafka's murmur2 puts them",
        );
    });
  });
}

test(
  'the Brook consumer reads what kcat wrote, and agrees on murmur2 partitions',
  { skip: kcatMissing(KCAT) },
  async () => {
    const name = uniq('from-kcat');
    await admin.createTopics([{ name, partitions: 4 }]);
    const lines = Array.from(
      { length: 200 },
      (_, i) => `user-${i % 23}|${i === 5 ? '' : `payload-${i}-${'é'.repeat(i % 30)}`}`,
    );
    await kcat(
      [
        '-P',
        '-t',
        name,
        '-K',
        '|',
        '-X',
        'partitioner=murmur2_random',
        '-X',
        'compression.codec=lz4',
        '-X',
        'linger.ms=20',
        '-H',
        'source=kcat',
      ],
      lines.join('\n') + '\n',
    );
    const c = new Consumer({ bootstrap: broker.bootstrap });
    const got: ConsumerRecord[] = [];
    try {
      c.assign([0, 1, 2, 3].map((partition) => ({ topic: name, partition })));
      c.seekToBeginning();
      const deadline = Date.now() + 10_000;
      while (got.length < 200 && Date.now() < deadline) got.push(...(await c.poll(200)));
    } finally {
      await c.close();
    }
    assert.equal(got.length, 200);
    const expected = new Map<string, string[]>();
    for (const l of lines) {
      const [k, v] = l.split('|') as [string, string];
      if (!expected.has(k)) expected.set(k, []);
      expected.get(k)!.push(v);
    }
    const actual = new Map<string, string[]>();
    for (const r of got) {
      const k = r.key!.toString();
      assert.equal(r.partition, partitionForKey(r.key!, 4), `kcat put ${k} where murmur2 says`);
      assert.deepEqual(
        r.headers.map((h) => [h.key, h.value?.toString()]),
        [['source', 'kcat']],
      );
      if (!actual.has(k)) actual.set(k, []);
      actual.get(k)!.push(r.value!.toString());
    }
    for (const [k, vs] of expected) assert.deepEqual(actual.get(k), vs, `values of ${k} in order`);
  },
);
