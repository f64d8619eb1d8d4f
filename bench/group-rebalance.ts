/**
 * Group rebalance timings through real clients against an embedded broker:
 *   - a 10-member kafkajs group (classic protocol) from first join to every member holding its
 *     partitions, with group.initial.rebalance.delay.ms 3000 (Kafka's default) and 0;
 *   - the rebalance after one member leaves (LeaveGroup) until the 9 others hold every partition;
 *   - the same two figures for a 10-member @platformatic/kafka group on the KIP-848 protocol;
 *   - the coordinator alone (no network, no client timers): 10 members join and sync.
 * Run: node dist/bench/group-rebalance.js   (env: BENCH_ROUNDS, default 3)
 */
import kafkajs from 'kafkajs';
import { Consumer as PltConsumer, stringDeserializers } from '@platformatic/kafka';
import { startBroker } from '../src/broker/start.js';
import { GroupCoordinator } from '../src/group/group-coordinator.js';
import { DEFAULT_GROUP_CONFIG, type OffsetsLog } from '../src/group/types.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const MEMBERS = 10;
const PARTITIONS = 20;

function until(pred: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) resolve();
      else if (Date.now() > end) reject(new Error('timed out'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function kafkajsRound(
  delayMs: number,
  heartbeatInterval: number,
  maxWaitTimeInMs: number,
): Promise<{ stabilise: number; leave: number }> {
  const broker = await startBroker({ config: { 'group.initial.rebalance.delay.ms': String(delayMs) } });
  try {
    const kafka = new kafkajs.Kafka({
      clientId: 'bench',
      brokers: [broker.bootstrap],
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const topic = 'bench-rebalance';
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    await admin.disconnect();
    const owned: number[][] = Array.from({ length: MEMBERS }, () => []);
    const consumers = Array.from({ length: MEMBERS }, (_, i) => {
      const c = kafka.consumer({ groupId: 'bench-group', sessionTimeout: 10_000, heartbeatInterval, maxWaitTimeInMs });
      c.on(c.events.GROUP_JOIN, (e) => {
        owned[i] = [...(e.payload.memberAssignment[topic] ?? [])];
      });
      return c;
    });
    const covered = (idx: number[]) => {
      const all = idx.flatMap((i) => owned[i]!);
      return all.length === PARTITIONS && new Set(all).size === PARTITIONS && idx.every((i) => owned[i]!.length > 0);
    };
    const t0 = performance.now();
    await Promise.all(
      consumers.map(async (c) => {
        await c.connect();
        await c.subscribe({ topics: [topic] });
        await c.run({ eachMessage: async () => {} });
      }),
    );
    const everyone = consumers.map((_, i) => i);
    await until(() => covered(everyone));
    const stabilise = performance.now() - t0;
    for (const o of owned) o.length = 0;
    const t1 = performance.now();
    await consumers[0]!.disconnect();
    const rest = everyone.slice(1);
    await until(() => covered(rest));
    const leave = performance.now() - t1;
    await Promise.all(consumers.slice(1).map((c) => c.disconnect()));
    return { stabilise, leave };
  } finally {
    await broker.close();
  }
}

async function kip848Round(heartbeatMs: number): Promise<{ stabilise: number; leave: number }> {
  const broker = await startBroker({ config: { 'group.consumer.heartbeat.interval.ms': String(heartbeatMs) } });
  const { Admin } = await import('@platformatic/kafka');
  try {
    const admin = new Admin({ clientId: 'bench', bootstrapBrokers: [broker.bootstrap] });
    const topic = 'bench-kip848';
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
    await admin.close();
    const consumers = Array.from(
      { length: MEMBERS },
      (_, i) =>
        new PltConsumer({
          clientId: `m${i}`,
          groupId: 'bench-kip848',
          bootstrapBrokers: [broker.bootstrap],
          deserializers: stringDeserializers,
          groupProtocol: 'consumer',
        }),
    );
    const owned = (i: number) => (consumers[i]!.assignments ?? []).flatMap((a) => a.partitions);
    const covered = (idx: number[]) => {
      const all = idx.flatMap(owned);
      return all.length === PARTITIONS && new Set(all).size === PARTITIONS && idx.every((i) => owned(i).length > 0);
    };
    const t0 = performance.now();
    const streams = await Promise.all(consumers.map((c) => c.consume({ topics: [topic], mode: 'latest' })));
    const everyone = consumers.map((_, i) => i);
    await until(() => covered(everyone));
    const stabilise = performance.now() - t0;
    const t1 = performance.now();
    await streams[0]!.close();
    await consumers[0]!.close();
    const rest = everyone.slice(1);
    await until(() => covered(rest));
    const leave = performance.now() - t1;
    await Promise.all(streams.slice(1).map((s) => s.close()));
    await Promise.all(consumers.slice(1).map((c) => c.close()));
    return { stabilise, leave };
  } finally {
    await broker.close();
  }
}

/** The coordinator with an in-memory log: join phase + sync of 10 members, no client or network in the way. */
async function coordinatorRound(): Promise<number> {
  const log: OffsetsLog = {
    ensureCreated: async () => {},
    append: async () => ({ baseOffset: 0 }),
    read: async () => {},
  };
  const c = new GroupCoordinator({
    node: () => ({ nodeId: 1, host: '127.0.0.1', port: 9092 }),
    config: { ...DEFAULT_GROUP_CONFIG, groupInitialRebalanceDelayMs: 0 },
    offsetsTopicPartitionCount: 50,
    offsetsLog: log,
    topics: {
      partitionCount: () => 1,
      topicIdOf: () => undefined,
      topicNameOf: () => undefined,
      logEndOffset: () => 0,
    },
  });
  await c.startup();
  const t0 = performance.now();
  const base = {
    groupId: 'g',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(8) }],
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    clientHost: '/127.0.0.1',
    requireKnownMemberId: true,
    supportSkippingAssignment: true,
  };
  const ids = await Promise.all(
    Array.from({ length: MEMBERS }, (_, i) =>
      c.join({ ...base, memberId: '', clientId: `m${i}` }).then((r) => r.memberId),
    ),
  );
  const joins = await Promise.all(ids.map((memberId, i) => c.join({ ...base, memberId, clientId: `m${i}` })));
  const leader = joins.find((j) => j.leader === j.memberId)!;
  await Promise.all(
    joins.map((j) =>
      c.sync({
        groupId: 'g',
        generationId: j.generationId,
        memberId: j.memberId,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments:
          j === leader ? leader.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.alloc(16) })) : [],
      }),
    ),
  );
  const ms = performance.now() - t0;
  c.shutdown();
  return ms;
}

const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;

// The coordinator's timers are unref'd (they never hold a process open); the bench holds it.
const keepAlive = setInterval(() => {}, 1000);
const coord: number[] = [];
for (let i = 0; i < 20; i++) coord.push(await coordinatorRound());
console.log(`coordinator only, 10 members join + sync (delay 0): median ${median(coord).toFixed(2)} ms`);

// kafkajs heartbeats between fetches, so a member notices a rebalance only after its long poll
// (maxWaitTimeInMs, 5000 by default) returns: the last row shows the broker side with short polls.
for (const [delay, hb, wait] of [
  [3000, 3000, 5000],
  [0, 3000, 5000],
  [0, 500, 5000],
  [0, 500, 500],
] as const) {
  const s: number[] = [];
  const l: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = await kafkajsRound(delay, hb, wait);
    s.push(x.stabilise);
    l.push(x.leave);
  }
  console.log(
    `kafkajs 10 members, ${PARTITIONS} partitions, initial delay ${delay} ms, heartbeat ${hb} ms, fetch max wait ${wait} ms: stabilise ${fmt(s)}; one leaves → rebalanced ${fmt(l)}`,
  );
}

for (const hb of [5000, 500]) {
  const s: number[] = [];
  const l: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = await kip848Round(hb);
    s.push(x.stabilise);
    l.push(x.leave);
  }
  console.log(
    `KIP-848 (@platformatic/kafka) 10 members, ${PARTITIONS} partitions, heartbeat interval ${hb} ms: stabilise ${fmt(s)}; one leaves → rebalanced ${fmt(l)}`,
  );
}
clearInterval(keepAlive);
