/**
 * Event-loop delay while the storage layer serves a produce + fetch load and the log cleaner
 * compacts a topic with many keys and small segments: what every connection of the broker would
 * feel as added latency. Reports monitorEventLoopDelay's p50/p99/max over the measured window.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/storage-loop-delay.js
 *
 * A control window first: the same histogram over a loop kept busy by 0.3 ms tasks that touch no
 * disk, the floor this machine's scheduler alone imposes (on a shared, loaded machine it is far
 * from zero; compare the two, not the absolute figure).
 *
 * Environment: BROOK_BENCH_DIR (default: the OS temp dir), BROOK_BENCH_SECONDS (measured window,
 * default 10), BROOK_BENCH_KEYS (distinct keys of the compacted topic, default 50,000),
 * BROOK_BENCH_RATE (records/s offered by the three producers together, default 60,000).
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RECORD_BATCH_OVERHEAD, updateCrc } from '../src/protocol/records/batch-header.js';
import { LogManager } from '../src/storage/log-manager.js';
import type { PartitionLog } from '../src/storage/partition-log.js';

const env = (name: string, def: number): number => (process.env[name] ? Number(process.env[name]) : def);
const BASE = process.env.BROOK_BENCH_DIR ?? tmpdir();
const SECONDS = env('BROOK_BENCH_SECONDS', 10);
const KEYS = env('BROOK_BENCH_KEYS', 50_000);
/** Records/s offered by the producers together: a fixed rate, so runs of two versions do the same work. */
const RATE = env('BROOK_BENCH_RATE', 60_000);
const RECORDS_PER_BATCH = 100;
const VALUE_BYTES = 100;

function varint(out: number[], n: number): void {
  let u = n >= 0 ? n * 2 : -n * 2 - 1;
  while (u >= 128) {
    out.push((u % 128) | 0x80);
    u = Math.floor(u / 128);
  }
  out.push(u);
}

/** One uncompressed batch of RECORDS_PER_BATCH keyed records (keys drawn by `nextKey`). */
function keyedBatch(nextKey: () => number, fill: number): Buffer {
  const recs: Buffer[] = [];
  const value = Buffer.alloc(VALUE_BYTES, fill & 0xff);
  for (let i = 0; i < RECORDS_PER_BATCH; i++) {
    const key = Buffer.from(`key-${nextKey()}`);
    const body: number[] = [0];
    varint(body, 0);
    varint(body, i);
    varint(body, key.length);
    const mid: number[] = [];
    varint(mid, VALUE_BYTES);
    const rec = Buffer.concat([Buffer.from(body), key, Buffer.from(mid), value, Buffer.from([0])]);
    const len: number[] = [];
    varint(len, rec.length);
    recs.push(Buffer.from(len), rec);
  }
  const records = Buffer.concat(recs);
  const batch = Buffer.alloc(RECORD_BATCH_OVERHEAD + records.length);
  records.copy(batch, RECORD_BATCH_OVERHEAD);
  const now = BigInt(Date.now());
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(-1, 12);
  batch.writeInt8(2, 16);
  batch.writeInt32BE(RECORDS_PER_BATCH - 1, 23);
  batch.writeBigInt64BE(now, 27);
  batch.writeBigInt64BE(now, 35);
  batch.writeBigInt64BE(-1n, 43);
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(RECORDS_PER_BATCH, 57);
  updateCrc(batch);
  return batch;
}

const ms = (ns: number): string => (ns / 1e6).toFixed(2);

/** Event-loop delay while the loop runs only short CPU tasks (no I/O): the machine's noise floor. */
async function control(seconds: number): Promise<string> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let stop = false;
  const spin = (): void => {
    const t = performance.now();
    while (performance.now() - t < 0.3);
    if (!stop) setImmediate(spin);
  };
  h.enable();
  spin();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  h.disable();
  return `p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms`;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(join(BASE, 'brook-bench-loop-'));
  console.log(`event-loop delay benchmark in ${root} (node ${process.version}), ${SECONDS} s window`);
  console.log(`control (busy loop, no disk): ${await control(Math.min(SECONDS, 5))}`);
  let seed = 1;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const nextKey = (): number => Math.floor(random() * KEYS);
  const mgr = await LogManager.open(join(root, 'data'), {
    scheduler: true,
    schedulerTickMs: 100,
    checkpointIntervalMs: 1000,
    cleanerEnabled: false, // driven below, back to back, so it is always running
  });
  try {
    const compacted = mgr.createLog('compacted', 0, {
      cleanupPolicy: 'compact',
      segmentBytes: 256 * 1024,
      minCleanableDirtyRatio: 0,
      flushMs: 200,
    });
    const plain = mgr.createLog('plain', 0, { segmentBytes: 1024 * 1024, flushMs: 200 });
    // Preload: every key several times over, so the first passes have a big map and much to drop.
    const preload = Math.ceil((KEYS * 4) / RECORDS_PER_BATCH);
    for (let i = 0; i < preload; i++) await compacted.append(keyedBatch(nextKey, i));
    await compacted.flush();
    console.log(
      `preloaded ${(preload * RECORDS_PER_BATCH).toLocaleString('en-US')} records over ${KEYS.toLocaleString('en-US')} keys in ${compacted.segments.length} segments`,
    );

    let stop = false;
    let produced = 0;
    let fetched = 0;
    let passes = 0;
    let rewritten = 0;
    const cleaner = (async () => {
      while (!stop) {
        const out = await mgr.runCleaner({ force: true });
        passes++;
        for (const r of out) rewritten += r.result.segmentsRewritten;
        // The manager's cleaner backs off between passes too; without a macrotask here a pass
        // with nothing to do would spin on microtasks and starve the loop.
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // Batches built ahead (as a produce request arrives already encoded), copied per append.
    const templates = Array.from({ length: 256 }, (_, i) => keyedBatch(nextKey, i));
    const interval = (1000 * RECORDS_PER_BATCH * 3) / RATE; // ms between batches of one producer
    const producer = async (log: PartitionLog, fill: number): Promise<void> => {
      let next = performance.now();
      while (!stop) {
        await log.append(Buffer.from(templates[fill++ % templates.length]!));
        produced += RECORDS_PER_BATCH;
        // Open loop at a fixed rate (catching up when late), as clients that do not wait for us.
        next += interval;
        const wait = next - performance.now();
        await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
      }
    };
    const consumer = async (log: PartitionLog, fromStart: boolean): Promise<void> => {
      let offset = fromStart ? log.logStartOffset : log.logEndOffset;
      while (!stop) {
        if (offset < log.logStartOffset) offset = log.logStartOffset;
        if (offset >= log.highWatermark) {
          if (fromStart) offset = log.logStartOffset;
          else {
            await new Promise((r) => setTimeout(r, 1));
            continue;
          }
        }
        const r = await log.read(offset, 1024 * 1024, { maxOffset: log.highWatermark });
        fetched += r.records.length;
        if (r.records.length === 0) {
          offset = fromStart ? log.logStartOffset : offset;
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        let p = 0;
        while (p + 61 <= r.records.length) {
          const size = r.records.readInt32BE(p + 8) + 12;
          offset = Number(r.records.readBigInt64BE(p)) + r.records.readInt32BE(p + 23) + 1;
          p += size;
        }
      }
    };
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const t0 = performance.now();
    const load = Promise.all([
      producer(compacted, 0),
      producer(compacted, 1000),
      producer(plain, 2000),
      consumer(plain, false),
      consumer(compacted, true),
    ]);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    histogram.disable();
    stop = true;
    const elapsed = performance.now() - t0;
    await load;
    await cleaner;
    console.log(
      `produce ${Math.round(produced / (elapsed / 1000)).toLocaleString('en-US')} records/s, fetch ${(fetched / 1024 / 1024 / (elapsed / 1000)).toFixed(1)} MB/s, ` +
        `${passes} cleaner passes (${rewritten} segments rewritten), ${compacted.segments.length} segments now`,
    );
    console.log(
      `event-loop delay during produce+fetch with compaction: p50 ${ms(histogram.percentile(50))} ms, ` +
        `p99 ${ms(histogram.percentile(99))} ms, max ${ms(histogram.max)} ms (${histogram.count} samples)`,
    );
  } finally {
    await mgr.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
