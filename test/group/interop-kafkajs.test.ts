import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { startBroker } from '../../src/broker/start.js';
import { until } from '../helpers/wait.js';

/** Cleanups run last-registered first (clients before the broker they talk to), each one even if another fails. */
function cleanups(t: { after(fn: () => Promise<void>): void }): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => {});
  });
  return (fn) => void stack.push(fn);
}

const { Kafka, logLevel } = kafkajs;
const CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'interop-child.js');

interface Child {
  proc: ChildProcess;
  lines: string[];
  waitFor(pred: (lines: string[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  exited: Promise<void>;
}

function child(args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '';
  const waiters = new Set<() => void>();
  proc.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters) w();
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    lines,
    exited,
    waitFor(pred, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(lines)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; child said: ${lines.slice(-5).join(' | ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

test(
  'a kafkajs member SIGKILLed mid-stream: the survivor takes its partitions once its session expires; nothing committed comes back',
  { timeout: 90_000 },
  async (t) => {
    const defer = cleanups(t);
    const broker = await startBroker({ config: { 'group.initial.rebalance.delay.ms': '0' } });
    defer(() => broker.close());
    const kafka = new Kafka({ clientId: 'interop', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const topic = 'kill-mid-stream';
    const groupId = 'kill-group';
    const admin = kafka.admin();
    await admin.connect();
    defer(() => admin.disconnect());
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    let producing = true;
    defer(async () => {
      producing = false;
      await producer.disconnect().catch(() => {});
    });
    const production = (async () => {
      for (let i = 0; producing; i++) {
        await producer.send({
          topic,
          acks: -1,
          messages: [0, 1, 2, 3].map((partition) => ({ partition, value: `m-${i}-${partition}` })),
        });
        await new Promise((r) => setTimeout(r, 40));
      }
    })();

    const victim = child(['member', broker.bootstrap, topic, groupId, 'victim']);
    defer(() => victim.proc.kill('SIGKILL'));
    await victim.waitFor(
      (l) => l.filter((x) => x.startsWith('C ')).length >= 40,
      30_000,
      'the victim to commit 40 records',
    );

    const survivorGot: Array<[number, number]> = [];
    let survivorParts: number[] = [];
    const survivor = kafka.consumer({
      groupId,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      rebalanceTimeout: 10_000,
    });
    survivor.on(survivor.events.GROUP_JOIN, (e) => {
      survivorParts = [...(e.payload.memberAssignment[topic] ?? [])].sort();
    });
    await survivor.connect();
    defer(() => survivor.disconnect());
    await survivor.subscribe({ topics: [topic], fromBeginning: true });
    await survivor.run({
      autoCommitInterval: 500,
      eachMessage: async ({ partition, message }) => void survivorGot.push([partition, Number(message.offset)]),
    });
    await until(() => survivorParts.length === 2, 30_000, 'the survivor to get half of the partitions');
    const lastAssignment = (l: string[]) =>
      l
        .filter((x) => x.startsWith('A '))
        .at(-1)
        ?.slice(2)
        .split(',')
        .filter(Boolean) ?? [];
    await victim.waitFor((l) => lastAssignment(l).length === 2, 20_000, 'the victim to keep two partitions');
    const committedBefore = victim.lines.filter((x) => x.startsWith('C ')).length;
    await victim.waitFor(
      (l) => l.filter((x) => x.startsWith('C ')).length >= committedBefore + 20,
      20_000,
      'the victim to go on committing',
    );

    victim.proc.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    // The victim never leaves: only the broker expiring its session (6 s) can move its partitions.
    await until(() => survivorParts.length === 4, 60_000, 'the survivor to own every partition');
    const takeoverMs = Date.now() - killedAt;
    t.diagnostic(`takeover after SIGKILL: ${takeoverMs} ms (session.timeout.ms=6000)`);

    producing = false;
    await production;
    const ends = await admin.fetchTopicOffsets(topic);
    const total = ends.reduce((n, p) => n + Number(p.high), 0);
    const committedByVictim = new Set(victim.lines.filter((x) => x.startsWith('C ')).map((x) => x.slice(2)));
    // The victim may have committed a record whose "C" line the SIGKILL cut off; it printed "R" first.
    const readByVictim = new Set(victim.lines.filter((x) => x.startsWith('R ')).map((x) => x.slice(2)));
    const seen = () => new Set([...readByVictim, ...survivorGot.map(([p, o]) => `${p} ${o}`)]);
    await until(() => seen().size >= total, 30_000, 'every record to be consumed').catch((err: Error) => {
      throw new Error(`${err.message}: ${seen().size} of ${total}`);
    });
    const redelivered = survivorGot.filter(([p, o]) => committedByVictim.has(`${p} ${o}`));
    assert.deepEqual(redelivered, [], 'records the victim had committed were delivered again');
    for (const p of ends) {
      for (let o = 0; o < Number(p.high); o++)
        assert.ok(seen().has(`${p.partition} ${o}`), `partition ${p.partition} offset ${o} was never consumed`);
    }
  },
);

test(
  'committed offsets and metadata survive a broker SIGKILL and a clean restart; the group resumes from them',
  { timeout: 90_000 },
  async (t) => {
    const defer = cleanups(t);
    const dataDir = await mkdtemp(join(tmpdir(), 'brook-group-'));
    defer(() => rm(dataDir, { recursive: true, force: true }));
    let broker = child(['broker', dataDir]);
    defer(() => broker.proc.kill('SIGKILL'));
    await broker.waitFor((l) => l.some((x) => x.startsWith('READY ')), 20_000, 'the broker');
    const bootstrap = broker.lines.find((x) => x.startsWith('READY '))!.slice(6);
    const port = bootstrap.split(':').at(-1)!;
    const client = () =>
      new Kafka({
        clientId: 'durability',
        brokers: [bootstrap],
        logLevel: logLevel.NOTHING,
        retry: { retries: 8, initialRetryTime: 200 },
      });
    // Whatever is still connected when the test ends (also on failure) is disconnected.
    const open = new Set<{ disconnect(): Promise<void> }>();
    defer(() => Promise.all([...open].map((c) => c.disconnect().catch(() => {}))));
    const track = <C extends { disconnect(): Promise<void> }>(c: C): C => (open.add(c), c);
    const topic = 'durable-offsets';
    const groupId = 'durable-group';

    let kafka = client();
    let admin = track(kafka.admin());
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2].flatMap((partition) =>
        Array.from({ length: 10 }, (_, i) => ({ partition, value: `p${partition}-${i}` })),
      ),
    });
    await producer.disconnect();
    const c1 = track(kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500 }));
    await c1.connect();
    await c1.subscribe({ topics: [topic], fromBeginning: true });
    let read = 0;
    await c1.run({ autoCommit: false, eachMessage: async () => void read++ });
    await until(() => read === 30, 30_000, 'the first consumer to read everything');
    await c1.commitOffsets([
      { topic, partition: 0, offset: '10', metadata: 'done' },
      { topic, partition: 1, offset: '4', metadata: 'procesado exitosamente' },
      { topic, partition: 2, offset: '7', metadata: null },
    ]);
    await c1.disconnect();
    await admin.disconnect();

    const offsets = async () => {
      const r = await admin.fetchOffsets({ groupId, topics: [topic] });
      // A null commit metadata is stored as "" (as Kafka does); kafkajs reports an empty one as null.
      return r[0]!.partitions
        .map((p) => [p.partition, p.offset, p.metadata ?? ''])
        .sort((a, b) => Number(a[0]) - Number(b[0]));
    };
    // SIGKILL: no clean shutdown, nothing flushed by a shutdown hook.
    broker.proc.kill('SIGKILL');
    await broker.exited;
    broker = child(['broker', dataDir, port]);
    await broker.waitFor((l) => l.some((x) => x.startsWith('READY ')), 20_000, 'the broker after SIGKILL');
    kafka = client();
    admin = track(kafka.admin());
    await admin.connect();
    let after: unknown[] = [];
    // The coordinator may still be loading (COORDINATOR_LOAD_IN_PROGRESS); ask again until it answers.
    await until(
      async () => {
        after = await offsets().catch(() => []);
        return after.length === 3;
      },
      30_000,
      'the committed offsets after SIGKILL',
      100,
    ).catch(() => {});
    assert.deepEqual(after, [
      [0, '10', 'done'],
      [1, '4', 'procesado exitosamente'],
      [2, '7', ''],
    ]);

    // A new member resumes exactly at the committed offsets and the group rebalances normally.
    const got: string[] = [];
    const c2 = track(kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500 }));
    await c2.connect();
    await c2.subscribe({ topics: [topic], fromBeginning: true });
    await c2.run({
      autoCommitInterval: 100,
      eachMessage: async ({ partition, message }) => void got.push(`${partition}:${message.offset}`),
    });
    await until(() => got.length >= 9, 30_000, 'the resumed consumer');
    // A sentinel at offset 10 of each partition: partitions are read in order, so once all three
    // are in, anything more the consumer was going to get (a duplicate) is in too.
    const sentinels = kafka.producer();
    await sentinels.connect();
    await sentinels.send({
      topic,
      acks: -1,
      messages: [0, 1, 2].map((partition) => ({ partition, value: 'sentinel' })),
    });
    await sentinels.disconnect();
    await until(() => ['0:10', '1:10', '2:10'].every((x) => got.includes(x)), 30_000, 'the sentinels');
    await c2.disconnect();
    assert.deepEqual(got.filter((x) => !x.endsWith(':10')).sort(), [
      '1:4',
      '1:5',
      '1:6',
      '1:7',
      '1:8',
      '1:9',
      '2:7',
      '2:8',
      '2:9',
    ]);
    assert.equal(got.length, 12, 'nothing delivered twice');
    await admin.disconnect();

    // A clean restart keeps the offsets the resumed consumer committed.
    broker.proc.kill('SIGTERM');
    await broker.exited;
    broker = child(['broker', dataDir, port]);
    await broker.waitFor((l) => l.some((x) => x.startsWith('READY ')), 20_000, 'the broker after a clean stop');
    kafka = client();
    admin = track(kafka.admin());
    await admin.connect();
    await until(
      async () => {
        after = await offsets().catch(() => []);
        return after.length === 3 && after.every((x) => (x as unknown[])[1] === '11');
      },
      30_000,
      'the committed offsets after a clean restart',
      100,
    ).catch(() => {});
    assert.deepEqual(
      after.map((x) => (x as unknown[])[1]),
      ['11', '11', '11'],
      'the resumed consumer committed up to and including the sentinels',
    );
    const groups = await admin.describeGroups([groupId]);
    assert.equal(groups.groups[0]!.state, 'Empty');
  },
);
