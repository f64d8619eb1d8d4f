/**
 * Storage benchmark: append throughput (100-byte records in 16 KB batches) in default and strict
 * mode against the raw sequential write speed of the same disk, read throughput, and reopen time
 * of a large log after a clean shutdown and after a crash.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/storage.js
 *
 * Environment: BROOK_BENCH_DIR (default: the OS temp dir), BROOK_BENCH_BYTES (append volume,
 * default 1 GiB), BROOK_BENCH_STRICT_BYTES (default 256 MiB), BROOK_BENCH_STRICT_CONCURRENCY
 * (appends in flight in strict mode, default 32), BROOK_BENCH_REOPEN_BYTES (log size for the
 * reopen figures, default 1 GiB; the figure is 5 GiB).
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_BATCH_OVERHEAD, updateCrc } from '../src/protocol/records/batch-header.js';
import { LogManager } from '../src/storage/log-manager.js';
import type { PartitionLog } from '../src/storage/partition-log.js';

const MiB = 1024 * 1024;
const env = (name: string, def: number): number => (process.env[name] ? Number(process.env[name]) : def);
const BASE = process.env.BROOK_BENCH_DIR ?? tmpdir();
const APPEND_BYTES = env('BROOK_BENCH_BYTES', 1024 * MiB);
const STRICT_BYTES = env('BROOK_BENCH_STRICT_BYTES', 256 * MiB);
const STRICT_CONCURRENCY = env('BROOK_BENCH_STRICT_CONCURRENCY', 32);
const REOPEN_BYTES = env('BROOK_BENCH_REOPEN_BYTES', 1024 * MiB);
const RECORD_VALUE = 100;
const BATCH_BYTES = 16 * 1024;

/** One uncompressed batch of keyless 100-byte records filling ~16 KB (records encoded by hand). */
function makeBatch(seed: number): { batch: Buffer; records: number } {
  // record: length varint(1-2) attrs(1) tsDelta(1) offsetDelta(1-2) keyLen(1: -1) valueLen(2) value(100) headers(1)
  const recs: Buffer[] = [];
  let size = RECORD_BATCH_OVERHEAD;
  let i = 0;
  for (;;) {
    const body: number[] = [0, 0];
    let d = i * 2;
    while (d >= 128) {
      body.push((d & 0x7f) | 0x80);
      d >>>= 7;
    }
    body.push(d);
    body.push(1); // key length -1
    body.push(200, 1); // value length 100 (zigzag 200)
    const value = Buffer.alloc(RECORD_VALUE, (seed + i) & 0xff);
    const rec = Buffer.concat([Buffer.from(body), value, Buffer.from([0])]);
    const len: number[] = [];
    let l = rec.length * 2;
    while (l >= 128) {
      len.push((l & 0x7f) | 0x80);
      l >>>= 7;
    }
    len.push(l);
    const whole = Buffer.concat([Buffer.from(len), rec]);
    if (size + whole.length > BATCH_BYTES) break;
    recs.push(whole);
    size += whole.length;
    i++;
  }
  const batch = Buffer.alloc(size);
  Buffer.concat(recs).copy(batch, RECORD_BATCH_OVERHEAD);
  const now = BigInt(Date.now());
  batch.writeInt32BE(size - 12, 8);
  batch.writeInt32BE(-1, 12);
  batch.writeInt8(2, 16);
  batch.writeInt32BE(i - 1, 23);
  batch.writeBigInt64BE(now, 27);
  batch.writeBigInt64BE(now, 35);
  batch.writeBigInt64BE(-1n, 43);
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(i, 57);
  updateCrc(batch);
  return { batch, records: i };
}

function fmt(bytes: number, ms: number): string {
  return `${(bytes / MiB / (ms / 1000)).toFixed(1)} MB/s`;
}

function rawWrite(dir: string, bytes: number): number {
  const path = join(dir, 'raw.bin');
  const buf = Buffer.alloc(MiB, 7);
  const fd = fs.openSync(path, 'w');
  const t0 = performance.now();
  for (let done = 0; done < bytes; done += buf.length) fs.writeSync(fd, buf, 0, buf.length, done);
  fs.fdatasyncSync(fd);
  const ms = performance.now() - t0;
  fs.closeSync(fd);
  fs.unlinkSync(path);
  return ms;
}

async function appendLoop(
  log: PartitionLog,
  bytes: number,
  concurrency: number,
  batches: Buffer[],
): Promise<{ ms: number; appended: number; batchCount: number }> {
  let appended = 0;
  let n = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (appended < bytes) {
      // Concurrent appends need their own buffers (append stamps the base offset in place); one at
      // a time can reuse them, as the bytes are in the page cache once append returns.
      const src = batches[n++ % batches.length]!;
      const b = concurrency > 1 ? Buffer.from(src) : src;
      appended += b.length;
      await log.append(b, { verifyCrc: true });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await log.flush();
  return { ms: performance.now() - t0, appended, batchCount: n };
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(join(BASE, 'brook-bench-'));
  console.log(`storage benchmark in ${root} (node ${process.version})`);
  const proto = Array.from({ length: 64 }, (_, i) => makeBatch(i));
  const recordsPerBatch = proto[0]!.records;
  const batches = proto.map((p) => p.batch);
  console.log(`batch: ${batches[0]!.length} bytes, ${recordsPerBatch} records of ${RECORD_VALUE} bytes`);
  try {
    // Raw disk speed first, then the default-mode append of the same volume, then raw again.
    const raw1 = rawWrite(root, APPEND_BYTES);
    const mgr = await LogManager.open(join(root, 'data'), { scheduler: true });
    const log = mgr.createLog('bench', 0);
    const def = await appendLoop(log, APPEND_BYTES, 1, batches);
    const raw2 = rawWrite(root, APPEND_BYTES);
    const rawMs = (raw1 + raw2) / 2;
    const rawRate = APPEND_BYTES / MiB / (rawMs / 1000);
    const defRate = def.appended / MiB / (def.ms / 1000);
    console.log(
      `raw sequential write (1 MiB writes + fdatasync), ${APPEND_BYTES / MiB} MiB: ${fmt(APPEND_BYTES, raw1)}, ${fmt(APPEND_BYTES, raw2)}`,
    );
    console.log(
      `append, default mode (flush.ms=1000), ${(def.appended / MiB).toFixed(0)} MiB incl. final flush: ${fmt(def.appended, def.ms)}, ` +
        `${Math.round((def.batchCount * recordsPerBatch) / (def.ms / 1000)).toLocaleString('en-US')} records/s, ${((100 * defRate) / rawRate).toFixed(0)}% of raw`,
    );

    // Read everything back sequentially, 1 MiB per read (page cache warm, as consumers at the head).
    let offset = 0;
    let readBytes = 0;
    const tr = performance.now();
    while (offset < log.logEndOffset) {
      const r = await log.read(offset, MiB);
      readBytes += r.records.length;
      if (r.records.length === 0) break;
      // next offset = last batch's base + lastOffsetDelta + 1
      let p = 0;
      let last = offset;
      while (p < r.records.length) {
        const size = r.records.readInt32BE(p + 8) + 12;
        last = Number(r.records.readBigInt64BE(p)) + r.records.readInt32BE(p + 23) + 1;
        p += size;
      }
      offset = last;
    }
    const readMs = performance.now() - tr;
    console.log(
      `read, 1 MiB fetches from offset 0: ${fmt(readBytes, readMs)}, ${Math.round(((readBytes / batches[0]!.length) * recordsPerBatch) / (readMs / 1000)).toLocaleString('en-US')} records/s`,
    );
    await mgr.deleteLog('bench', 0);

    // Strict mode: every append waits for an fdatasync, shared by the appends in flight.
    const slog = mgr.createLog('strict', 0, { flushMessages: 1 });
    const st = await appendLoop(slog, STRICT_BYTES, STRICT_CONCURRENCY, batches);
    console.log(
      `append, strict mode (flush.messages=1, ${STRICT_CONCURRENCY} in flight), ${(st.appended / MiB).toFixed(0)} MiB: ${fmt(st.appended, st.ms)}, ` +
        `${Math.round((st.batchCount * recordsPerBatch) / (st.ms / 1000)).toLocaleString('en-US')} records/s, ${slog.flushCount} fdatasyncs for ${st.batchCount} appends`,
    );
    const s1 = await appendLoop(slog, Math.min(STRICT_BYTES, 32 * MiB), 1, batches);
    console.log(
      `append, strict mode, 1 in flight, ${(s1.appended / MiB).toFixed(0)} MiB: ${fmt(s1.appended, s1.ms)} (one fdatasync per append)`,
    );
    await mgr.deleteLog('strict', 0);
    await mgr.close();

    // Reopen of a large log.
    const dataDir = join(root, 'reopen');
    let m = await LogManager.open(dataDir, { scheduler: false });
    const big = m.createLog('big', 0);
    await appendLoop(big, REOPEN_BYTES, 1, batches);
    const segs = big.segments.length;
    await m.close();
    let t0 = performance.now();
    m = await LogManager.open(dataDir, { scheduler: false });
    const cleanMs = performance.now() - t0;
    console.log(
      `reopen after clean shutdown, ${(REOPEN_BYTES / MiB / 1024).toFixed(2)} GiB in ${segs} segments: ${cleanMs.toFixed(0)} ms`,
    );
    // Crash with a fresh recovery point (the checkpoint written at open): only the active segment is rescanned.
    m.halt();
    t0 = performance.now();
    m = await LogManager.open(dataDir, { scheduler: false });
    const crashMs = performance.now() - t0;
    console.log(
      `reopen after crash, recovery point checkpointed: ${crashMs.toFixed(0)} ms (${m.getLog('big', 0)!.recovery.segmentsScanned} segment rescanned)`,
    );
    // Worst case: no recovery-point checkpoint at all, every segment rescanned with CRC checks.
    m.halt();
    fs.unlinkSync(join(dataDir, 'recovery-point-offset-checkpoint'));
    t0 = performance.now();
    m = await LogManager.open(dataDir, { scheduler: false });
    const fullMs = performance.now() - t0;
    console.log(
      `reopen after crash, no checkpoint (full CRC scan, page cache warm): ${fullMs.toFixed(0)} ms (${fmt(REOPEN_BYTES, fullMs)})`,
    );
    await m.close();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
