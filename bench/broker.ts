/**
 * `npm run bench`: the broker measured through the Kafka protocol with librdkafka (the C client
 * behind kcat and confluent-kafka) as load generator. Starts `brook start` in its own process on a
 * temporary data dir, then prints produce and consume throughput for 100-byte records on 1 and 6
 * partitions, and end-to-end latency percentiles at a fixed rate.
 *
 * Needs gcc and librdkafka's headers (Debian: apt-get install gcc librdkafka-dev).
 * Env: BENCH_RECORDS (default 5,000,000), BENCH_RECORD_SIZE (100), BENCH_LATENCY_RATE (10000),
 * BENCH_LATENCY_SECONDS (10), BENCH_PORT (random).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin } from '../src/client/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const records = Number(process.env.BENCH_RECORDS ?? 5_000_000);
const recordSize = Number(process.env.BENCH_RECORD_SIZE ?? 100);
const latencyRate = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
const latencySeconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
const port = Number(process.env.BENCH_PORT ?? 20000 + Math.floor(Math.random() * 20000));
const bootstrap = `127.0.0.1:${port}`;

function buildLoadGenerator(): string {
  const src = join(root, 'bench/rdkafka-load.c');
  const outDir = join(root, '.bench-tmp');
  const bin = join(outDir, 'rdkafka-load');
  if (existsSync(bin) && statSync(bin).mtimeMs > statSync(src).mtimeMs) return bin;
  mkdirSync(outDir, { recursive: true });
  try {
    execFileSync('gcc', ['-O2', '-o', bin, src, '-lrdkafka', '-lpthread'], { stdio: 'inherit' });
  } catch {
    console.error(
      'bench: could not compile bench/rdkafka-load.c; install gcc and librdkafka-dev (apt-get install gcc librdkafka-dev)',
    );
    process.exit(1);
  }
  return bin;
}

async function waitForPort(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((res) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('broker did not start listening');
}

/** CPU seconds the broker process has used (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function run(bin: string, args: string[], env: Record<string, string> = {}): Record<string, number | string> {
  const out = execFileSync(bin, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number | string>;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const bin = buildLoadGenerator();
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-bench-'));
  const broker = spawn(
    process.execPath,
    [join(root, 'dist/src/cli/main.js'), 'start', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  try {
    await waitForPort(broker);
    const admin = new Admin({ bootstrap });
    await admin.createTopics([
      { name: 'bench-p1', partitions: 1 },
      { name: 'bench-p6', partitions: 6 },
      { name: 'bench-latency', partitions: 1 },
    ]);
    await admin.close();

    console.log(
      `Brook broker benchmark: ${fmt(records)} records of ${recordSize} bytes, librdkafka load generator, data in ${dataDir}`,
    );
    const rows: string[][] = [];
    const pid = broker.pid!;
    // Broker CPU per million records shows the broker's own cost, whatever the client costs.
    const measured = (f: () => Record<string, number | string>): [Record<string, number | string>, string] => {
      const c0 = cpuSeconds(pid);
      const r = f();
      const perMillion = ((cpuSeconds(pid) - c0) / Number(r.records)) * 1e6;
      return [r, Number.isNaN(perMillion) ? '' : `${perMillion.toFixed(2)} s`];
    };
    for (const [topic, partitions] of [
      ['bench-p1', 1],
      ['bench-p6', 6],
    ] as const) {
      const [p, pc] = measured(() => run(bin, ['produce', bootstrap, topic, String(records), String(recordSize), '1']));
      rows.push([
        `produce acks=1, ${partitions} partition(s)`,
        fmt(Number(p.recordsPerSec)),
        Number(p.mbPerSec).toFixed(1),
        pc,
        '',
      ]);
      // librdkafka allocates a receive buffer per response; ~4 MiB responses suit it best here.
      const fetchBytes = String(Math.max(256 * 1024, Math.floor((4 * 1024 * 1024) / partitions)));
      const [c, cc] = measured(() =>
        run(bin, ['consume', bootstrap, topic, String(partitions), String(records)], { FETCH_BYTES: fetchBytes }),
      );
      rows.push([
        `consume, ${partitions} partition(s)`,
        fmt(Number(c.recordsPerSec)),
        Number(c.mbPerSec).toFixed(1),
        cc,
        '',
      ]);
    }
    const l = run(bin, [
      'latency',
      bootstrap,
      'bench-latency',
      String(latencyRate),
      String(latencySeconds),
      String(recordSize),
    ]);
    rows.push([
      `end-to-end at ${fmt(latencyRate)} records/s`,
      '',
      '',
      '',
      `p50 ${Number(l.p50Ms).toFixed(2)} ms, p99 ${Number(l.p99Ms).toFixed(2)} ms, p99.9 ${Number(l.p999Ms).toFixed(2)} ms, max ${Number(l.maxMs).toFixed(2)} ms`,
    ]);
    const header = ['workload', 'records/s', 'MB/s', 'broker CPU/M records', 'latency'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(line(header));
    for (const r of rows) console.log(line(r));
  } finally {
    broker.kill('SIGTERM');
    await new Promise((r) => broker.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
