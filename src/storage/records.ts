import { gunzipSync, gzipSync } from 'node:zlib';
import { Reader } from '../protocol/reader.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../protocol/records/varint.js';
import { RECORD_BATCH_OVERHEAD, compressionCodec, recordsCount } from '../protocol/records/batch-header.js';

/**
 * How the cleaner (and timestamp lookups) get at the records inside compressed batches. The
 * storage layer ships gzip (node:zlib); the broker passes the protocol layer's codecs (snappy, lz4,
 * zstd) through `LogManager.open(..., { codec })`. A batch whose codec is unavailable is never
 * rewritten: the cleaner keeps it whole, which is always safe.
 */
export interface RecordsCodec {
  /** Returns the decompressed records area, or null when the codec is not supported. */
  decompress(codec: number, data: Buffer): Buffer | null | Promise<Buffer | null>;
  /** Compresses a records area with `codec`, or null when unsupported. */
  compress(codec: number, data: Buffer): Buffer | null | Promise<Buffer | null>;
}

export const builtinCodec: RecordsCodec = {
  decompress(codec, data) {
    if (codec === 0) return data;
    if (codec === 1) return gunzipSync(data);
    return null;
  },
  compress(codec, data) {
    if (codec === 0) return data;
    if (codec === 1) return gzipSync(data);
    return null;
  },
};

/** The plain records area of a whole batch, or null when its codec is unavailable. */
export async function recordsArea(batch: Buffer, codec: RecordsCodec): Promise<Buffer | null> {
  const area = batch.subarray(RECORD_BATCH_OVERHEAD);
  const c = compressionCodec(batch);
  if (c === 0) return area;
  return await codec.decompress(c, area);
}

/**
 * A view of one record inside a records area (reused between calls: copy what you keep).
 * Positions are relative to the area buffer.
 */
export interface RecordView {
  start: number;
  end: number;
  /** Position right after the length varint (attributes byte). */
  bodyStart: number;
  timestampDeltaStart: number;
  timestampDeltaEnd: number;
  timestampDelta: number;
  offsetDelta: number;
  keyStart: number;
  /** -1 for a null key. */
  keyLength: number;
  /** -1 for a null value (a tombstone). */
  valueLength: number;
}

/** Walks the records of a records area; throws DecodeError on malformed bytes. */
export function forEachRecord(area: Buffer, count: number, visit: (r: RecordView) => void): void {
  const r = new Reader(area);
  const v: RecordView = {
    start: 0,
    end: 0,
    bodyStart: 0,
    timestampDeltaStart: 0,
    timestampDeltaEnd: 0,
    timestampDelta: 0,
    offsetDelta: 0,
    keyStart: 0,
    keyLength: -1,
    valueLength: -1,
  };
  for (let i = 0; i < count; i++) {
    v.start = r.pos;
    const len = r.varint();
    v.bodyStart = r.pos;
    if (len < 0) throw new RangeError(`negative record length at ${v.start}`);
    r.need(len);
    v.end = r.pos + len;
    const rec = new Reader(area, r.pos, v.end);
    rec.int8();
    v.timestampDeltaStart = rec.pos;
    v.timestampDelta = rec.varlong();
    v.timestampDeltaEnd = rec.pos;
    v.offsetDelta = rec.varint();
    v.keyLength = rec.varint();
    v.keyStart = rec.pos;
    if (v.keyLength > 0) rec.raw(v.keyLength);
    v.valueLength = rec.varint();
    visit(v);
    r.pos = v.end;
  }
}

/** Every record of a whole batch (decompressing as needed); false when the codec is unavailable. */
export async function forEachRecordInBatch(
  batch: Buffer,
  codec: RecordsCodec,
  visit: (area: Buffer, r: RecordView) => void,
): Promise<boolean> {
  const area = await recordsArea(batch, codec);
  if (!area) return false;
  forEachRecord(area, recordsCount(batch), (r) => visit(area, r));
  return true;
}

/**
 * Copies one record into `out` at `at` with its timestamp delta replaced (when the batch's base
 * timestamp changes to carry a delete horizon); returns the new write position.
 */
export function copyRecordWithTimestampDelta(
  area: Buffer,
  r: RecordView,
  newDelta: number,
  out: Buffer,
  at: number,
): number {
  const head = area.subarray(r.bodyStart, r.timestampDeltaStart); // attributes byte
  const tail = area.subarray(r.timestampDeltaEnd, r.end);
  const bodyLen = head.length + sizeOfVarlong(newDelta) + tail.length;
  at = writeVarint(out, at, bodyLen);
  at += head.copy(out, at);
  at = writeVarlong(out, at, newDelta);
  at += tail.copy(out, at);
  return at;
}

export function recordSizeWithTimestampDelta(area: Buffer, r: RecordView, newDelta: number): number {
  const bodyLen = r.timestampDeltaStart - r.bodyStart + sizeOfVarlong(newDelta) + (r.end - r.timestampDeltaEnd);
  return sizeOfVarint(bodyLen) + bodyLen;
}
