/**
 * Exactly-once costs, measured through the Kafka protocol with librdkafka as load generator
 * (bench/txn-load.c): produce throughput with enable.idempotence off and on (same records, same
 * client settings, acks=all, 5 in flight), then transaction commit latency (p50/p99) for
 * transactions of a few records over 3 partitions, one after another.
 *
 *   npm run build && node dist/bench/txn.js
 *
 * Starts a broker in its own process on a temporary data dir. Needs gcc and librdkafka's headers.
 * librdkafka batches differently with idempotence on, so the same comparison is repeated with a
 * protocol-level producer (a child process sending identical 100-record batches, 5 in flight,
 * with or without a producer id), which isolates what the broker pays. Last, the broker's own
 * cost without network or client: appends of 10-record batches straight into a partition.
 *
 * Env: BENCH_RECORDS (default 2,000,000), BENCH_RECORD_SIZE (100), BENCH_ROUNDS (5, alternating
 * off/on), BENCH_TXNS (2000), BENCH_TXN_RECORDS (10), BENCH_BATCHES (50,000), BENCH_PORT (random).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Partition } from '../src/broker/replica/partition.js';
import { BASE_SEQUENCE_OFFSET, updateCrc } from '../src/protocol/records/batch-header.js';
import { encodeRecordBatch } from '../src/protocol/records/record-batch.js';
import { defaultLogConfig, resolveLogConfig } from '../src/storage/config.js';
import { FilePool } from '../src/storage/file-pool.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { WireClient } from '../test/helpers/wire-client.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const records = Number(process.env.BENCH_RECORDS ?? 2_000_000);
const recordSize = Number(process.env.BENCH_RECORD_SIZE ?? 100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const txns = Number(process.env.BENCH_TXNS ?? 2000);
const txnRecords = Number(process.env.BENCH_TXN_RECORDS ?? 10);
const port = Number(process.env.BENCH_PORT ?? 20000 + Math.floor(Math.random() * 20000));
const bootstrap = `127.0.0.1:${port}`;

function buildLoadGenerator(): string {
  const src = join(root, 'bench/txn-load.c');
  const outDir = join(root, '.bench-tmp');
  const bin = join(outDir, 'txn-load');
  if (existsSync(bin) && statSync(bin).mtimeMs > statSync(src).mtimeMs) return bin;
  mkdirSync(outDir, { recursive: true });
  execFileSync('gcc', ['-O2', '-o', bin, src, '-lrdkafka'], { stdio: 'inherit' });
  return bin;
}

function startBroker(dataDir: string): Promise<ChildProcess> {
  const script = `import(${JSON.stringify(join(root, 'dist/src/broker/start.js'))}).then(async (m) => {
    const b = await m.startBroker({ port: ${port}, dataDir: ${JSON.stringify(dataDir)}, logLevel: 'warn' });
    console.log('READY ' + b.bootstrap);
    process.on('SIGTERM', () => b.close().then(() => process.exit(0)));
  })`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolveStart, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) resolveStart(child);
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
}

/** CPU seconds (user + system) the process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function run(bin: string, args: string[]): Record<string, number> {
  const out = execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Child-process mode: sends `batches` copies of one 100-record batch to partition 0 of `topic`,
 * 5 requests in flight, acks=all; with a producer id each copy gets the next sequence number
 * (and a fresh CRC, which the plain run also pays). Prints records/s as JSON.
 */
async function rawProducer(topic: string, batches: number, idempotent: boolean): Promise<void> {
  const c = await WireClient.open(bootstrap);
  let pid = -1;
  if (idempotent)
    pid = (
      await c.request('InitProducerId', 1, {
        transactionalId: null,
        transactionTimeoutMs: 0,
        producerId: -1,
        producerEpoch: -1,
      })
    ).producerId;
  const value = Buffer.alloc(recordSize, 120);
  const template = encodeRecordBatch({
    producerId: pid,
    producerEpoch: idempotent ? 0 : -1,
    baseSequence: idempotent ? 0 : -1,
    records: Array.from({ length: 100 }, () => ({ key: null, value, timestamp: Date.now() })),
  });
  const inFlight: Promise<unknown>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < batches; i++) {
    const b = Buffer.from(template);
    if (idempotent) b.writeInt32BE(i * 100, BASE_SEQUENCE_OFFSET);
    updateCrc(b, 0);
    inFlight.push(
      c
        .request('Produce', 7, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 5000,
          topicData: [{ name: topic, partitionData: [{ index: 0, records: b }] }],
        })
        .then((r) => {
          const code = r.responses[0]!.partitionResponses[0]!.errorCode;
          if (code !== 0) throw new Error(`produce error ${code}`);
        }),
    );
    if (inFlight.length >= 5) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const secs = (performance.now() - t0) / 1000;
  c.close();
  console.log(JSON.stringify({ recordsPerSec: (batches * 100) / secs }));
}

/**
 * ns per appended batch through Partition.appendRecordsAsLeader, for batches of 10 records:
 * without a producer id, idempotent, and transactional (a commit marker every 10 batches).
 */
async function partitionPath(batches: number): Promise<{ plain: number; idempotent: number; transactional: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'brook-bench-partition-'));
  const pool = new FilePool(64);
  const value = Buffer.alloc(recordSize, 120);
  const build = (pid: number, seq: number, txn: boolean) =>
    encodeRecordBatch({
      producerId: pid,
      producerEpoch: pid < 0 ? -1 : 0,
      baseSequence: pid < 0 ? -1 : seq,
      transactional: txn,
      records: Array.from({ length: 10 }, () => ({ key: null, value, timestamp: Date.now() })),
    });
  const run = async (name: string, pid: number, txn: boolean): Promise<number> => {
    const all = Array.from({ length: batches }, (_, i) => build(pid, i * 10, txn));
    const log = PartitionLog.open({
      topic: name,
      partition: 0,
      dir: join(dir, name),
      config: resolveLogConfig(defaultLogConfig(), {}),
      pool,
      cleanShutdown: true,
    });
    const p = new Partition(name, 0, '00000000-0000-0000-0000-000000000001', log);
    const t0 = process.hrtime.bigint();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < batches; i++) {
      pending.push(p.appendRecordsAsLeader(all[i]!));
      if (txn && i % 10 === 9)
        pending.push(p.appendTxnMarker({ producerId: pid, producerEpoch: 0, coordinatorEpoch: 0, commit: true }));
      if (pending.length >= 1000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const ns = Number(process.hrtime.bigint() - t0) / batches;
    await log.close();
    return ns;
  };
  try {
    // Warm up, then measure.
    await run('warm', 1, false);
    const out = { plain: Infinity, idempotent: Infinity, transactional: Infinity };
    for (let r = 0; r < 3; r++) {
      out.plain = Math.min(out.plain, await run(`plain${r}`, -1, false));
      out.idempotent = Math.min(out.idempotent, await run(`idem${r}`, 7, false));
      out.transactional = Math.min(out.transactional, await run(`txn${r}`, 8, true));
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const bin = buildLoadGenerator();
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-bench-txn-'));
  const broker = await startBroker(dataDir);
  try {
    const c = await WireClient.open(bootstrap);
    const topics = ['bench-txn'];
    for (let r = 0; r < rounds; r++) topics.push(`bench-plain-${r}`, `bench-idem-${r}`);
    for (const name of topics) {
      const res = await c.request('CreateTopics', 4, {
        topics: [
          { name, numPartitions: name === 'bench-txn' ? 3 : 1, replicationFactor: 1, assignments: [], configs: [] },
        ],
        timeoutMs: 5000,
        validateOnly: false,
      });
      if (res.topics[0]!.errorCode !== 0) throw new Error(`create ${name}: ${res.topics[0]!.errorCode}`);
    }
    c.close();
    console.log(
      `Exactly-once benchmark: ${fmt(records)} records of ${recordSize} bytes per produce run (acks=all, 1 partition), librdkafka load generator`,
    );
    const plain: number[] = [];
    const idem: number[] = [];
    const cpu = { plain: 0, idem: 0 };
    for (let r = 0; r < rounds; r++) {
      let c0 = cpuSeconds(broker.pid!);
      plain.push(
        run(bin, ['produce', bootstrap, `bench-plain-${r}`, String(records), String(recordSize), '0']).recordsPerSec!,
      );
      cpu.plain += cpuSeconds(broker.pid!) - c0;
      c0 = cpuSeconds(broker.pid!);
      idem.push(
        run(bin, ['produce', bootstrap, `bench-idem-${r}`, String(records), String(recordSize), '1']).recordsPerSec!,
      );
      cpu.idem += cpuSeconds(broker.pid!) - c0;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const perMillion = (secs: number) => ((secs / (rounds * records)) * 1e6).toFixed(2);
    console.log(
      `produce, idempotence off: ${plain.map(fmt).join(' / ')} records/s (median ${fmt(median(plain))}, ${((median(plain) * recordSize) / 1e6).toFixed(1)} MB/s); broker CPU ${perMillion(cpu.plain)} s per million records`,
    );
    console.log(
      `produce, idempotence on:  ${idem.map(fmt).join(' / ')} records/s (median ${fmt(median(idem))}, ${((median(idem) * recordSize) / 1e6).toFixed(1)} MB/s); broker CPU ${perMillion(cpu.idem)} s per million records`,
    );
    console.log(`median on/off: ${((median(idem) / median(plain)) * 100).toFixed(1)}%`);
    const t = run(bin, ['txn', bootstrap, 'bench-txn', String(txns), String(txnRecords), String(recordSize)]);
    console.log(
      `transactions (${fmt(txns)} x ${txnRecords} records over 3 partitions, one at a time): ${t.txnPerSec!.toFixed(0)} txn/s; ` +
        `commit p50 ${t.commitP50Ms!.toFixed(2)} ms, p99 ${t.commitP99Ms!.toFixed(2)} ms, max ${t.commitMaxMs!.toFixed(2)} ms; ` +
        `whole transaction p50 ${t.txnP50Ms!.toFixed(2)} ms, p99 ${t.txnP99Ms!.toFixed(2)} ms`,
    );
    const rawBatches = Math.max(1, Math.floor(records / 100));
    const rawPlain: number[] = [];
    const rawIdem: number[] = [];
    const rawCpu = { plain: 0, idem: 0 };
    for (let r = 0; r < rounds; r++) {
      for (const idempotent of [false, true]) {
        const c0 = cpuSeconds(broker.pid!);
        const out = execFileSync(
          process.execPath,
          [
            fileURLToPath(import.meta.url),
            '--raw-producer',
            `bench-${idempotent ? 'idem' : 'plain'}-${r}`,
            String(rawBatches),
            idempotent ? '1' : '0',
          ],
          {
            encoding: 'utf8',
            env: { ...process.env, BENCH_PORT: String(port) },
          },
        );
        (idempotent ? rawIdem : rawPlain).push(
          (JSON.parse(out.trim().split('\n').pop()!) as { recordsPerSec: number }).recordsPerSec,
        );
        rawCpu[idempotent ? 'idem' : 'plain'] += cpuSeconds(broker.pid!) - c0;
      }
    }
    const rawPerMillion = (secs: number) => ((secs / (rounds * rawBatches * 100)) * 1e6).toFixed(2);
    console.log(
      `protocol-level producer, 100-record batches, idempotence off: median ${fmt(median(rawPlain))} records/s; broker CPU ${rawPerMillion(rawCpu.plain)} s per million records`,
    );
    console.log(
      `protocol-level producer, 100-record batches, idempotence on:  median ${fmt(median(rawIdem))} records/s; broker CPU ${rawPerMillion(rawCpu.idem)} s per million records`,
    );
    const batches = Number(process.env.BENCH_BATCHES ?? 50_000);
    const pp = await partitionPath(batches);
    console.log(
      `partition append path, ${fmt(batches)} batches of 10 x ${recordSize} B (best of 3): no producer id ${fmt(pp.plain)} ns/batch, ` +
        `idempotent ${fmt(pp.idempotent)} ns/batch, transactional + a commit marker per 10 batches ${fmt(pp.transactional)} ns/batch`,
    );
  } finally {
    broker.kill('SIGTERM');
    await new Promise((r) => broker.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const rawArgs = process.argv.indexOf('--raw-producer');
(rawArgs >= 0
  ? rawProducer(process.argv[rawArgs + 1]!, Number(process.argv[rawArgs + 2]), process.argv[rawArgs + 3] === '1')
  : main()
).catch((err) => {
  console.error(err);
  process.exit(1);
});
