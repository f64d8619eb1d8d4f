import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerHandle } from '../../src/broker/start.js';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer, type ConsumerOptions, type ConsumerRecord } from '../../src/client/consumer.js';
import type { TopicPartition } from '../../src/client/cluster.js';
import { KafkaError } from '../../src/client/errors.js';
import { stringDeserializer } from '../../src/client/serializers.js';
import { FAST_GROUP, eventually, startTestBroker, uniq } from './helpers/broker.js';

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

async function topicWith(partitions: number, records: number): Promise<string> {
  const name = uniq('grp');
  await admin.createTopics([{ name, partitions }]);
  const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  await Promise.all(
    Array.from({ length: records }, (_, i) => p.send({ topic: name, partition: i % partitions, value: `m${i}` })),
  );
  await p.close();
  return name;
}

/** Appends one 'sentinel' record to each partition (after whatever the test produced there). */
async function sendSentinels(name: string, partitions: number): Promise<void> {
  const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  try {
    await Promise.all(
      Array.from({ length: partitions }, (_, partition) => p.send({ topic: name, partition, value: 'sentinel' })),
    );
  } finally {
    await p.close();
  }
}

type C = Consumer<Buffer | null, string | null>;
function consumer(groupId: string, opts: Partial<ConsumerOptions<Buffer | null, string | null>> = {}): C {
  return new Consumer({
    bootstrap: broker.bootstrap,
    groupId,
    autoOffsetReset: 'earliest',
    valueDeserializer: stringDeserializer,
    ...FAST_GROUP,
    ...opts,
  });
}

/** Polls several consumers in turn until `done` says so. */
async function pollAll(
  consumers: C[],
  into: ConsumerRecord<Buffer | null, string | null>[][],
  done: () => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out; got ${into.map((x) => x.length).join('/')}`);
    for (let i = 0; i < consumers.length; i++) into[i]!.push(...(await consumers[i]!.poll(100)));
  }
}

const key = (tp: TopicPartition) => `${tp.topic}-${tp.partition}`;

for (const groupProtocol of ['classic', 'consumer'] as const) {
  test(`${groupProtocol} protocol: two members split the partitions; when one leaves the other takes over`, async () => {
    const name = await topicWith(4, 40);
    const group = uniq('split');
    const a = consumer(group, { groupProtocol });
    const b = consumer(group, { groupProtocol });
    try {
      a.subscribe(name);
      b.subscribe(name);
      const got: ConsumerRecord<Buffer | null, string | null>[][] = [[], []];
      await pollAll(
        [a, b],
        got,
        () =>
          got[0]!.length + got[1]!.length >= 40 &&
          a.assignment().length > 0 &&
          b.assignment().length > 0 &&
          a.assignment().length + b.assignment().length === 4,
      );
      const sa = new Set(a.assignment().map(key));
      const sb = new Set(b.assignment().map(key));
      assert.equal(sa.size + sb.size, 4);
      assert.ok(
        [...sa].every((p) => !sb.has(p)),
        'disjoint assignments',
      );
      const all = [...got[0]!, ...got[1]!].map((r) => `${r.partition}:${r.offset}`);
      assert.equal(new Set(all).size, 40, 'each record once across the group');
      await a.commit();
      await b.commit();
      await b.close();
      await eventually(
        async () => {
          await a.poll(50);
          return a.assignment().length === 4;
        },
        15_000,
        'the remaining member to own every partition',
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
}

test('committed offsets with metadata; a restarted member resumes exactly after them', async () => {
  const name = await topicWith(3, 30);
  const group = uniq('resume');
  const first = consumer(group, { enableAutoCommit: false });
  const processed: string[] = [];
  try {
    first.subscribe(name);
    await eventually(async () => {
      for (const r of await first.poll(100)) {
        if (processed.length >= 20) break;
        processed.push(`${r.partition}:${r.offset}`);
        await first.commit([
          { topic: r.topic, partition: r.partition, offset: r.offset + 1, metadata: 'processed ok' },
        ]);
      }
      return processed.length >= 20;
    });
    const committed = await first.committed(first.assignment());
    for (const c of committed) if (c.offset > 0) assert.equal(c.metadata, 'processed ok');
    const viaAdmin = await admin.fetchOffsets(group);
    assert.deepEqual(
      viaAdmin.map((c) => [c.partition, c.offset]).sort(),
      committed
        .filter((c) => c.offset >= 0)
        .map((c) => [c.partition, c.offset])
        .sort(),
    );
  } finally {
    // A crash: nothing more is committed.
    await first.close();
  }
  const second = consumer(group, { enableAutoCommit: false });
  const rest: string[] = [];
  try {
    second.subscribe(name);
    await eventually(async () => {
      for (const r of await second.poll(100)) rest.push(`${r.partition}:${r.offset}`);
      return processed.length + rest.length >= 30;
    });
    // A sentinel at the end of each partition: once the member has all three, it has everything
    // it was going to get, so the duplicate check below sees the whole picture.
    await sendSentinels(name, 3);
    await eventually(async () => {
      for (const r of await second.poll(100)) rest.push(`${r.partition}:${r.offset}`);
      return [0, 1, 2].every((p) => rest.includes(`${p}:10`));
    });
    rest.splice(0, rest.length, ...rest.filter((x) => !x.endsWith(':10')));
    assert.equal(new Set([...processed, ...rest]).size, 30, 'nothing lost');
    assert.equal(processed.length + rest.length, 30, 'nothing processed twice');
  } finally {
    await second.close();
  }
});

test('auto-commit on close: a later member of the group gets nothing', async () => {
  const name = await topicWith(2, 10);
  const group = uniq('autocommit');
  const c = consumer(group);
  const seen: number[] = [];
  try {
    c.subscribe(name);
    for await (const r of c) {
      seen.push(r.offset);
      if (seen.length === 10) break;
    }
  } finally {
    await c.close();
  }
  const offsets = await admin.fetchOffsets(group);
  assert.deepEqual(offsets.map((o) => o.offset).sort(), [5, 5]);
  const later = consumer(group);
  try {
    later.subscribe(name);
    // Sentinels after the ten records: the later member gets them and nothing before them.
    await sendSentinels(name, 2);
    const got: string[] = [];
    await eventually(async () => {
      for (const r of await later.poll(100)) got.push(r.value ?? '');
      return got.filter((v) => v === 'sentinel').length === 2;
    });
    assert.deepEqual(got, ['sentinel', 'sentinel']);
  } finally {
    await later.close();
  }
});

test('cooperative-sticky: a third member joins without any partition ever having two owners', async () => {
  const name = await topicWith(6, 0);
  const group = uniq('coop');
  const owners = new Map<string, string>();
  const violations: string[] = [];
  const revokedFrom = new Map<string, number>();
  const make = (id: string) =>
    consumer(group, {
      assignors: ['cooperative-sticky'],
      clientId: id,
      onPartitionsAssigned: (tps) => {
        for (const tp of tps) {
          const o = owners.get(key(tp));
          if (o !== undefined && o !== id) violations.push(`${key(tp)} given to ${id} while ${o} owns it`);
          owners.set(key(tp), id);
        }
      },
      onPartitionsRevoked: (tps) => {
        revokedFrom.set(id, (revokedFrom.get(id) ?? 0) + tps.length);
        for (const tp of tps) if (owners.get(key(tp)) === id) owners.delete(key(tp));
      },
    });
  const members = [make('a'), make('b')];
  try {
    for (const m of members) m.subscribe(name);
    await eventually(
      async () => {
        for (const m of members) await m.poll(50);
        return members.every((m) => m.assignment().length === 3);
      },
      15_000,
      'a and b to own three each',
    );
    const before = new Map(members.map((m, i) => [i, new Set(m.assignment().map(key))]));
    revokedFrom.clear();
    members.push(make('c'));
    members[2]!.subscribe(name);
    await eventually(
      async () => {
        for (const m of members) await m.poll(50);
        return members.every((m) => m.assignment().length === 2);
      },
      20_000,
      'a balanced three-way split',
    );
    assert.deepEqual(violations, []);
    // Sticky: a and b keep two of their original three.
    for (const i of [0, 1])
      assert.equal(members[i]!.assignment().filter((tp) => before.get(i)!.has(key(tp))).length, 2);
    assert.equal(
      (revokedFrom.get('a') ?? 0) + (revokedFrom.get('b') ?? 0),
      2,
      'only the two moving partitions were revoked',
    );
  } finally {
    for (const m of members) await m.close();
  }
});

test('admin: list, describe with lag, reset offsets and delete a group', async () => {
  const name = await topicWith(2, 20);
  const group = uniq('admin-group');
  const c = consumer(group, { enableAutoCommit: false, clientId: 'lag-checker' });
  try {
    c.subscribe(name);
    let n = 0;
    await eventually(async () => {
      const rs = await c.poll(100);
      n += rs.length;
      return n >= 20;
    });
    await c.commit([
      { topic: name, partition: 0, offset: 4 },
      { topic: name, partition: 1, offset: 10 },
    ]);
    assert.ok((await admin.listGroups()).some((g) => g.groupId === group));
    const [d] = await admin.describeGroups([group]);
    assert.equal(d!.state, 'Stable');
    assert.equal(d!.members.length, 1);
    assert.equal(d!.members[0]!.clientId, 'lag-checker');
    assert.deepEqual(d!.members[0]!.assignment.map(key).sort(), [`${name}-0`, `${name}-1`]);
    const lag = await admin.describeGroupOffsets(group);
    assert.deepEqual(
      lag.map((r) => [r.partition, r.committedOffset, r.logEndOffset, r.lag, r.clientId]),
      [
        [0, 4, 10, 6, 'lag-checker'],
        [1, 10, 10, 0, 'lag-checker'],
      ],
    );
    await assert.rejects(
      admin.resetGroupOffsets(group, 'earliest'),
      (err: unknown) => err instanceof KafkaError && err.code === 68 && /no active members/.test(err.message),
    );
  } finally {
    await c.close();
  }
  await eventually(
    async () => (await admin.describeGroups([group]))[0]!.state === 'Empty',
    10_000,
    'the group to be empty',
  );
  const dry = await admin.resetGroupOffsets(group, { shiftBy: -3 }, { dryRun: true });
  assert.deepEqual(
    dry.map((r) => [r.partition, r.previousOffset, r.newOffset]),
    [
      [0, 4, 1],
      [1, 10, 7],
    ],
  );
  assert.deepEqual(
    (await admin.fetchOffsets(group)).map((o) => o.offset).sort((a, b) => a - b),
    [4, 10],
    'dry run commits nothing',
  );
  await admin.resetGroupOffsets(group, 'earliest');
  assert.deepEqual(
    (await admin.fetchOffsets(group)).map((o) => o.offset),
    [0, 0],
  );
  await admin.resetGroupOffsets(group, 'latest');
  assert.deepEqual(
    (await admin.fetchOffsets(group)).map((o) => o.offset),
    [10, 10],
  );
  await admin.resetGroupOffsets(group, { datetime: new Date(0) });
  assert.deepEqual(
    (await admin.fetchOffsets(group)).map((o) => o.offset),
    [0, 0],
    'every record is later than 1970',
  );
  await admin.resetGroupOffsets(group, { datetime: Date.now() + 3_600_000 });
  assert.deepEqual(
    (await admin.fetchOffsets(group)).map((o) => o.offset),
    [10, 10],
    'nothing that late: the end',
  );
  await admin.resetGroupOffsets(group, 'earliest');
  await admin.resetGroupOffsets(group, { offset: 99 }, { partitions: [{ topic: name, partition: 1 }] });
  assert.deepEqual(
    (await admin.fetchOffsets(group)).map((o) => [o.partition, o.offset]).sort(),
    [
      [0, 0],
      [1, 10],
    ],
    'clamped to the log end',
  );
  await admin.deleteGroups([group]);
  assert.ok(!(await admin.listGroups()).some((g) => g.groupId === group));
});

test('consume-transform-produce exactly once: offsets commit with the transaction', async () => {
  const input = await topicWith(1, 10);
  const output = uniq('eos-out');
  await admin.createTopics([{ name: output, partitions: 1 }]);
  const group = uniq('eos');
  const c = consumer(group, { enableAutoCommit: false, isolationLevel: 'read_committed' });
  const p = new Producer({ bootstrap: broker.bootstrap, transactionalId: uniq('eos-tx'), lingerMs: 0 });
  try {
    c.subscribe(input);
    let done = 0;
    while (done < 10) {
      const records = await c.poll(200);
      if (records.length === 0) continue;
      await p.transaction(async (tx) => {
        for (const r of records) await tx.send({ topic: output, value: `processed ${r.value}` });
        const last = records[records.length - 1]!;
        await tx.sendOffsetsToTransaction(
          [{ topic: last.topic, partition: last.partition, offset: last.offset + 1 }],
          c.groupMetadata(),
        );
      });
      done += records.length;
    }
    assert.deepEqual(
      (await admin.fetchOffsets(group)).map((o) => o.offset),
      [10],
    );
  } finally {
    await c.close();
    await p.close();
  }
  const reader = new Consumer({
    bootstrap: broker.bootstrap,
    isolationLevel: 'read_committed',
    valueDeserializer: stringDeserializer,
  });
  try {
    reader.assign([{ topic: output, partition: 0 }]);
    reader.seekToBeginning();
    const out: string[] = [];
    await eventually(async () => {
      out.push(...(await reader.poll(100)).map((r) => r.value!));
      return out.length >= 10;
    });
    assert.deepEqual(
      out,
      Array.from({ length: 10 }, (_, i) => `processed m${i}`),
    );
  } finally {
    await reader.close();
  }
});
