/**
 * The seed's read-process-write loop under kills: a confluent-kafka (librdkafka) processor reads
 * "payments", writes one result per payment and commits its input offsets in the same
 * transaction, while the processor or the broker is SIGKILLed at random points and restarted.
 * Afterwards "payment-results" read with read_committed must hold every payment exactly once.
 *
 * BROOK_EOS_SECONDS (default 8) sets how long input keeps arriving under kills, per scenario;
 * raise it for a soak run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { ApiMessages, ApiName } from '../../src/protocol/apis.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import { repoRoot } from '../helpers/paths.js';
import { WireClient } from '../helpers/wire-client.js';
import {
  READ_COMMITTED,
  READ_UNCOMMITTED,
  assertCode,
  deliveredValues,
  markersOf,
  producerBatch,
  sleep,
} from './helpers.js';

import { pythonModuleMissing } from '../helpers/requires.js';
import { SeededRandom, seedNote } from '../helpers/seed.js';
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const NO_CONFLUENT = pythonModuleMissing(PYTHON, 'confluent_kafka', 'apt-get install python3-confluent-kafka');
const SECONDS = Number(process.env.BROOK_EOS_SECONDS ?? 8);
const PARTITIONS = 3;
/** The processor's simulated payment-provider call per batch, inside the transaction. */
const WORK_MS = 30;
const BROKER_CHILD = fileURLToPath(new URL('./broker-child.js', import.meta.url));
const PROCESSOR = join(repoRoot, 'test/txn/payment-processor.py');
const BROKER_CONFIG = {
  'group.initial.rebalance.delay.ms': '0',
  'offsets.topic.num.partitions': '3',
  'transaction.state.log.num.partitions': '3',
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': '500',
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A broker child process that can be killed and restarted on the same port and data directory. */
class ChildBroker {
  proc: ChildProcess | null = null;
  starts = 0;
  readonly bootstrap: string;
  log = '';

  constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {
    this.bootstrap = `127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const proc = spawn(
      process.execPath,
      [BROKER_CHILD, String(this.port), this.dataDir, JSON.stringify(BROKER_CONFIG)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    this.starts++;
    proc.stderr!.on('data', (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`broker did not start: ${this.log}`)), 30_000);
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`broker exited with ${code} while starting: ${this.log}`));
      });
    });
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

/** Keeps one processor running: restarts it whenever it exits, until stopped. */
class Supervisor {
  proc: ChildProcess | null = null;
  starts = 0;
  private stopped = false;
  private waiters: Array<() => void> = [];
  log = '';

  constructor(private readonly args: string[]) {}

  /** Resolves when the processor next reports results written inside an open transaction (or after `ms`). */
  inTransaction(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  start(): void {
    if (this.stopped) return;
    const proc = spawn(PYTHON, [PROCESSOR, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.starts++;
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
    };
    proc.stdout!.on('data', (d: Buffer) => {
      keep(d);
      if (d.toString().includes('produced')) for (const w of this.waiters.splice(0)) w();
    });
    proc.stderr!.on('data', keep);
    proc.once('exit', () => {
      if (!this.stopped) setTimeout(() => this.start(), 100);
    });
  }

  kill(): void {
    this.proc?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

/** A WireClient that reconnects and retries while the broker is down (up to `ms`). */
class ResilientClient {
  private c: WireClient | null = null;

  constructor(private readonly bootstrap: string) {}

  async request<K extends ApiName>(
    api: K,
    version: number,
    body: ApiMessages[K]['request'],
    ms = 60_000,
  ): Promise<ApiMessages[K]['response']> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        this.c ??= await WireClient.open(this.bootstrap);
        return await this.c.request(api, version, body);
      } catch (err) {
        this.c?.close();
        this.c = null;
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  close(): void {
    this.c?.close();
  }
}

/**
 * Produces payments "0", "1", ... as an idempotent producer, a batch at a time round-robin over
 * the partitions, re-sending a batch unchanged until it is acknowledged (also across broker
 * restarts). After each broker restart it also re-sends the last acknowledged batch of every
 * partition, as a producer whose acknowledgement was lost in the crash would: the restarted
 * broker must recognise it and answer with the original offset instead of writing it again.
 */
async function produceInput(
  c: ResilientClient,
  topic: string,
  keepGoing: () => boolean,
  restarts: () => number,
): Promise<{ sent: number; retries: number; duplicatesRecognised: number }> {
  const init = await c.request('InitProducerId', 1, {
    transactionalId: null,
    transactionTimeoutMs: 0,
    producerId: -1,
    producerEpoch: -1,
  });
  assertCode(init.errorCode, ErrorCode.NONE);
  const seqs = new Array<number>(PARTITIONS).fill(0);
  const lastAcked: Array<{ batch: Buffer; offset: number } | null> = new Array(PARTITIONS).fill(null);
  let seenRestarts = restarts();
  let next = 0;
  let retries = 0;
  let duplicatesRecognised = 0;
  const send = async (partition: number, batch: Buffer): Promise<number> => {
    for (;;) {
      try {
        const r = await c.request(
          'Produce',
          7,
          {
            transactionalId: null,
            acks: -1,
            timeoutMs: 5000,
            topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
          },
          5_000,
        );
        const p = r.responses[0]!.partitionResponses[0]!;
        assertCode(p.errorCode, ErrorCode.NONE, `input produce to ${topic}-${partition}`);
        return p.baseOffset;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        retries++;
      }
    }
  };
  for (let round = 0; keepGoing(); round++) {
    if (restarts() !== seenRestarts) {
      seenRestarts = restarts();
      for (let p = 0; p < PARTITIONS; p++) {
        const last = lastAcked[p];
        if (!last) continue;
        assert.equal(
          await send(p, last.batch),
          last.offset,
          `a re-sent batch of payments-${p} after a broker crash keeps its offset`,
        );
        duplicatesRecognised++;
      }
    }
    const partition = round % PARTITIONS;
    const values = Array.from({ length: 5 }, () => String(next++));
    const batch = producerBatch(values, { pid: init.producerId, epoch: 0, seq: seqs[partition]! });
    lastAcked[partition] = { batch, offset: await send(partition, batch) };
    seqs[partition]! += values.length;
    await sleep(10);
  }
  return { sent: next, retries, duplicatesRecognised };
}

async function endOffsets(c: ResilientClient, topic: string): Promise<number[]> {
  const r = await c.request('ListOffsets', 2, {
    replicaId: -1,
    isolationLevel: READ_UNCOMMITTED,
    topics: [
      {
        name: topic,
        partitions: Array.from({ length: PARTITIONS }, (_, i) => ({
          partitionIndex: i,
          currentLeaderEpoch: -1,
          timestamp: -1,
          maxNumOffsets: 1,
        })),
      },
    ],
  });
  return r.topics[0]!.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => p.offset);
}

async function committedOffsets(c: ResilientClient, group: string, topic: string): Promise<number[]> {
  const r = await c.request('OffsetFetch', 7, {
    groupId: group,
    topics: [{ name: topic, partitionIndexes: [0, 1, 2] }],
    groups: [],
    requireStable: true,
  });
  if (r.errorCode !== ErrorCode.NONE) return [-1, -1, -1];
  return r.topics[0]!.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) =>
    p.errorCode === ErrorCode.NONE ? p.committedOffset : -1,
  );
}

/** Every value of a partition in the order a consumer at `isolation` would deliver it, and the markers. */
async function readPartition(
  c: ResilientClient,
  topic: string,
  partition: number,
  isolation: number,
): Promise<{ values: string[]; aborts: number; commits: number }> {
  const values: string[] = [];
  let aborts = 0;
  let commits = 0;
  let offset = 0;
  for (;;) {
    const r = await c.request('Fetch', 11, {
      clusterId: null,
      replicaId: -1,
      replicaState: { replicaId: -1, replicaEpoch: -1 },
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 8 * 1024 * 1024,
      isolationLevel: isolation,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          topicId: '00000000-0000-0000-0000-000000000000',
          partitions: [
            {
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: offset,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 8 * 1024 * 1024,
              replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });
    const p = r.responses[0]!.partitions[0]!;
    assertCode(p.errorCode, ErrorCode.NONE, `fetch ${topic}-${partition}`);
    const batches = decodeRecordBatches(p.records ?? Buffer.alloc(0));
    if (batches.length === 0) return { values, aborts, commits };
    values.push(...deliveredValues(p));
    for (const m of markersOf(p)) {
      if (m[1] === 'ABORT') aborts++;
      else commits++;
    }
    offset = batches[batches.length - 1]!.lastOffset + 1;
  }
}

async function runScenario(t: { diagnostic(msg: string): void }, kill: 'processor' | 'broker' | 'both'): Promise<void> {
  // The kill moments are seeded (TEST_SEED replays them); the children's own timing still varies.
  const rand = new SeededRandom();
  const random = (min: number, max: number): number => rand.int(min, max);
  const dataDir = await mkdtemp(join(tmpdir(), 'brook-eos-'));
  const broker = new ChildBroker(await freePort(), dataDir);
  await broker.start();
  const client = new ResilientClient(broker.bootstrap);
  const group = `payment-processor-${kill}`;
  const processor = new Supervisor([
    broker.bootstrap,
    'payments',
    'payment-results',
    group,
    `payments-txn-${kill}`,
    String(PARTITIONS),
    '50',
    String(WORK_MS),
  ]);
  let killing = true;
  let kills = 0;
  try {
    for (const name of ['payments', 'payment-results']) {
      const r = await client.request('CreateTopics', 4, {
        topics: [{ name, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 5000,
        validateOnly: false,
      });
      assertCode(r.topics[0]!.errorCode, ErrorCode.NONE, `create ${name}`);
    }
    processor.start();
    // Half the kills at any moment, half while a transaction has results in the log but is not
    // yet committed (the processor's "payment provider call"), where exactly-once is at stake.
    const moment = async (): Promise<void> => {
      if (rand.next() < 0.5) {
        await sleep(random(kill === 'processor' ? 500 : 1000, kill === 'processor' ? 1500 : 2500));
      } else {
        await sleep(random(300, 1000));
        await processor.inTransaction(3000);
        await sleep(random(0, WORK_MS));
      }
    };
    const killer = (async () => {
      while (killing) {
        await moment();
        if (!killing) break;
        if (kill !== 'broker') processor.kill();
        if (kill !== 'processor') {
          await broker.kill();
          await broker.start();
        }
        kills++;
      }
    })();
    // Input keeps arriving for SECONDS, and until at least two kills have happened.
    const until = Date.now() + SECONDS * 1000;
    const input = await produceInput(
      client,
      'payments',
      () => Date.now() < until || kills < 2,
      () => broker.starts,
    );
    killing = false;
    await killer;
    // Let the processor catch up without kills: every payment's offset committed.
    const end = await endOffsets(client, 'payments');
    const deadline = Date.now() + 90_000;
    for (;;) {
      const committed = await committedOffsets(client, group, 'payments');
      if (committed.every((o, i) => o === end[i])) break;
      if (Date.now() > deadline)
        assert.fail(`processor did not catch up: committed ${committed}, end ${end}\n${processor.log.slice(-3000)}`);
      await sleep(200);
    }
    await processor.stop();
    // The input itself: every payment exactly once although batches were re-sent across broker kills.
    const inputs: string[] = [];
    const outputs: string[] = [];
    let uncommittedOutputs = 0;
    let aborts = 0;
    let commits = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const inPart = (await readPartition(client, 'payments', p, READ_UNCOMMITTED)).values;
      const outPart = await readPartition(client, 'payment-results', p, READ_COMMITTED);
      uncommittedOutputs += (await readPartition(client, 'payment-results', p, READ_UNCOMMITTED)).values.length;
      aborts += outPart.aborts;
      commits += outPart.commits;
      // Per partition the results come in input order, each once.
      assert.deepEqual(
        outPart.values,
        inPart.map((v) => `charged:${v}`),
        `payment-results-${p} holds exactly the payments of payments-${p}, in order`,
      );
      inputs.push(...inPart);
      outputs.push(...outPart.values);
    }
    assert.equal(inputs.length, input.sent, 'no payment lost or duplicated in the input');
    assert.deepEqual(
      [...inputs].map(Number).sort((a, b) => a - b),
      Array.from({ length: input.sent }, (_, i) => i),
    );
    assert.equal(outputs.length, input.sent, 'every payment charged exactly once');
    assert.ok(kills >= 2, `the ${kill} was killed ${kills} times`);
    if (kill !== 'processor') assert.ok(input.duplicatesRecognised > 0, 'retries across a broker crash were exercised');
    t.diagnostic(
      `${kill} kills: ${kills}; payments: ${input.sent} (input re-sends ${input.retries}, duplicates recognised after restarts ${input.duplicatesRecognised}); processor starts: ${processor.starts}; broker starts: ${broker.starts}; ` +
        `committed transactions seen: ${commits}, aborted: ${aborts}; results in the log incl. aborted: ${uncommittedOutputs}`,
    );
  } finally {
    killing = false;
    await processor.stop();
    client.close();
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

test(
  `exactly once with the processor killed at random points ${seedNote()}`,
  { timeout: 240_000, skip: NO_CONFLUENT },
  async (t) => {
    await runScenario(t, 'processor');
  },
);

test(
  `exactly once with the broker killed at random points ${seedNote()}`,
  { timeout: 240_000, skip: NO_CONFLUENT },
  async (t) => {
    await runScenario(t, 'broker');
  },
);

test(
  `exactly once with broker and processor killed together (the new instance fences a transaction the restarted broker recovered) ${seedNote()}`,
  { timeout: 240_000, skip: NO_CONFLUENT },
  async (t) => {
    await runScenario(t, 'both');
  },
);
