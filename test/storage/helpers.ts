import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  RECORD_BATCH_OVERHEAD,
  entrySize,
  baseOffset as batchBaseOffset,
  baseTimestamp as batchBaseTimestamp,
  recordsCount,
  updateCrc,
} from '../../src/protocol/records/batch-header.js';
import { builtinCodec, forEachRecord, recordsArea } from '../../src/storage/records.js';

export interface TestRecord {
  key: string | Buffer | null;
  value: string | Buffer | null;
  timestamp?: number;
  /** Offset delta inside the batch (default: its index). */
  offsetDelta?: number;
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varint(out: number[], n: number): void {
  let u = zigzag(n);
  while (u >= 128) {
    out.push((u % 128) | 0x80);
    u = Math.floor(u / 128);
  }
  out.push(u);
}

function bytes(v: string | Buffer | null): Buffer | null {
  return v === null ? null : typeof v === 'string' ? Buffer.from(v) : v;
}

/** A magic-2 batch built by hand from the README's byte layout (independent of the code under test). */
export function buildBatch(
  records: TestRecord[],
  opts: {
    baseTimestamp?: number;
    compression?: 0 | 1;
    producerId?: number;
    baseOffset?: number;
    attributes?: number;
  } = {},
): Buffer {
  const baseTs = opts.baseTimestamp ?? records[0]?.timestamp ?? 1_700_000_000_000;
  const parts: Buffer[] = [];
  let maxTs = -1;
  let lastDelta = 0;
  records.forEach((r, i) => {
    const ts = r.timestamp ?? baseTs;
    maxTs = Math.max(maxTs, ts);
    const delta = r.offsetDelta ?? i;
    lastDelta = Math.max(lastDelta, delta);
    const body: number[] = [0];
    varint(body, ts - baseTs);
    varint(body, delta);
    const k = bytes(r.key);
    const v = bytes(r.value);
    const head = Buffer.from(body);
    const kl: number[] = [];
    varint(kl, k ? k.length : -1);
    const vl: number[] = [];
    varint(vl, v ? v.length : -1);
    const hc: number[] = [];
    varint(hc, 0);
    const rec = Buffer.concat([
      head,
      Buffer.from(kl),
      k ?? Buffer.alloc(0),
      Buffer.from(vl),
      v ?? Buffer.alloc(0),
      Buffer.from(hc),
    ]);
    const len: number[] = [];
    varint(len, rec.length);
    parts.push(Buffer.from(len), rec);
  });
  let area = Buffer.concat(parts);
  const codec = opts.compression ?? 0;
  if (codec === 1) area = gzipSync(area);
  const buf = Buffer.alloc(RECORD_BATCH_OVERHEAD + area.length);
  buf.writeBigInt64BE(BigInt(opts.baseOffset ?? 0), 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(-1, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE((opts.attributes ?? 0) | codec, 21);
  buf.writeInt32BE(lastDelta, 23);
  buf.writeBigInt64BE(BigInt(baseTs), 27);
  buf.writeBigInt64BE(BigInt(maxTs), 35);
  buf.writeBigInt64BE(BigInt(opts.producerId ?? -1), 43);
  buf.writeInt16BE(-1, 51);
  buf.writeInt32BE(-1, 53);
  buf.writeInt32BE(records.length, 57);
  area.copy(buf, RECORD_BATCH_OVERHEAD);
  updateCrc(buf);
  return buf;
}

/** `n` records of `size`-byte values keyed k<i>, for throughput-shaped batches. */
export function filledBatch(n: number, valueSize: number, ts = 1_700_000_000_000, seed = 0): Buffer {
  const recs: TestRecord[] = [];
  for (let i = 0; i < n; i++) {
    const v = Buffer.alloc(valueSize, (seed + i) & 0xff);
    recs.push({ key: null, value: v, timestamp: ts });
  }
  return buildBatch(recs, { baseTimestamp: ts });
}

export function splitBatches(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p + 12 <= buf.length) {
    const size = entrySize(buf, p);
    if (p + size > buf.length) break;
    out.push(buf.subarray(p, p + size));
    p += size;
  }
  return out;
}

export interface DecodedRecord {
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
}

export async function decodeRecords(buf: Buffer): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  for (const b of splitBatches(buf)) {
    const area = await recordsArea(b, builtinCodec);
    if (!area) throw new Error('unsupported codec in test');
    const base = batchBaseOffset(b);
    const baseTs = batchBaseTimestamp(b);
    forEachRecord(area, recordsCount(b), (r) => {
      const vStart = r.keyStart + Math.max(r.keyLength, 0);
      // value length varint sits between key and value; recompute its size
      let lenBytes = 1;
      let u = zigzag(r.valueLength);
      while (u >= 128) {
        u = Math.floor(u / 128);
        lenBytes++;
      }
      out.push({
        offset: base + r.offsetDelta,
        key: r.keyLength < 0 ? null : area.toString('latin1', r.keyStart, r.keyStart + r.keyLength),
        value: r.valueLength < 0 ? null : area.toString('latin1', vStart + lenBytes, vStart + lenBytes + r.valueLength),
        timestamp: baseTs + r.timestampDelta,
      });
    });
  }
  return out;
}

export function tempDir(prefix = 'brook-storage-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic PRNG (mulberry32) so failures reproduce from the printed seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
