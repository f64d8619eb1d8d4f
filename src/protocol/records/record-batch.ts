import { DecodeError } from '../decode-error.js';
import { compress, compressAsync, isSupportedCodec } from '../compression/index.js';
import {
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  DELETE_HORIZON_FLAG_MASK,
  LOG_OVERHEAD,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
  readBatchHeader,
  type RecordBatchHeader,
} from './batch-header.js';
import { crc32c } from './crc.js';
import { RecordCursor, type BatchDecodeOptions, type RecordHeader } from './record-cursor.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export type { BatchDecodeOptions, RecordHeader } from './record-cursor.js';

export const TimestampType = {
  CREATE_TIME: 0,
  LOG_APPEND_TIME: 1,
} as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/** Kafka's RecordBatch.NO_TIMESTAMP. */
export const NO_TIMESTAMP = -1;

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  timestamp: number;
  /** Defaults to the record's index; must grow strictly (gaps are legal, as after compaction). */
  offsetDelta?: number;
}

export interface EncodeRecordBatchOptions {
  /** Producers write 0; the broker stamps the real one (setBaseOffset). Default 0. */
  baseOffset?: number;
  /** Default -1. */
  partitionLeaderEpoch?: number;
  /** Codec id 0-4 for the records area. Default 0. */
  compression?: number;
  /** gzip/zstd level for the records area. */
  compressionLevel?: number;
  /** Default CreateTime. */
  timestampType?: TimestampType;
  /** Required with LogAppendTime: becomes baseTimestamp, maxTimestamp and every record's timestamp. */
  logAppendTime?: number;
  transactional?: boolean;
  control?: boolean;
  /** Defaults -1, -1, -1 (not idempotent). */
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Default: the first record's timestamp, as the Java producer does (-1 for an empty batch). */
  baseTimestamp?: number;
  /** Sets the delete-horizon flag; baseTimestamp becomes this value (compaction only). */
  deleteHorizonMs?: number;
  /** Default: the last record's offset delta (0 for an empty batch). Compaction may keep a larger one. */
  lastOffsetDelta?: number;
  records: RecordInput[];
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedRecordBatch extends RecordBatchHeader {
  compression: number;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  /** baseOffset + lastOffsetDelta. */
  lastOffset: number;
  /** Bytes the batch takes in the input (batchLength + 12). */
  sizeInBytes: number;
  records: DecodedRecord[];
}

const TWO_32 = 4294967296;

function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi | 0, at);
  buf.writeUInt32BE((v - hi * TWO_32) >>> 0, at + 4);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < min || v > max)
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
}

const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;

/** Everything about a batch except its records area, derived from the options. */
interface Plan {
  attributes: number;
  baseTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
  /** Per record: size after the length varint. */
  bodySizes: Int32Array;
  offsetDeltas: Int32Array;
  recordTimestamps: Float64Array;
  areaSize: number;
}

function plan(opts: EncodeRecordBatchOptions): Plan {
  const records = opts.records;
  const n = records.length;
  const codec = opts.compression ?? 0;
  if (!isSupportedCodec(codec)) throw new RangeError(`unknown compression codec ${codec}`);
  const tsType = opts.timestampType ?? TimestampType.CREATE_TIME;
  let attributes = codec;
  if (tsType === TimestampType.LOG_APPEND_TIME) attributes |= TIMESTAMP_TYPE_MASK;
  if (opts.transactional) attributes |= TRANSACTIONAL_FLAG_MASK;
  if (opts.control) attributes |= CONTROL_FLAG_MASK;

  const offsetDeltas = new Int32Array(n);
  const recordTimestamps = new Float64Array(n);
  let maxTimestamp = NO_TIMESTAMP;
  let prevDelta = -1;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const delta = r.offsetDelta ?? i;
    checkInt('offsetDelta', delta, prevDelta + 1, INT32_MAX);
    offsetDeltas[i] = prevDelta = delta;
    let ts = r.timestamp;
    if (tsType === TimestampType.LOG_APPEND_TIME) {
      if (opts.logAppendTime === undefined) throw new TypeError('logAppendTime is required for a LogAppendTime batch');
      ts = opts.logAppendTime;
    }
    checkInt('timestamp', ts, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    recordTimestamps[i] = ts;
    if (i === 0 || ts > maxTimestamp) maxTimestamp = ts;
  }
  if (tsType === TimestampType.LOG_APPEND_TIME && n === 0 && opts.logAppendTime !== undefined)
    maxTimestamp = opts.logAppendTime;

  let baseTimestamp =
    opts.baseTimestamp ??
    (n > 0 ? recordTimestamps[0]! : tsType === TimestampType.LOG_APPEND_TIME ? maxTimestamp : NO_TIMESTAMP);
  checkInt('baseTimestamp', baseTimestamp, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (opts.deleteHorizonMs !== undefined) {
    attributes |= DELETE_HORIZON_FLAG_MASK;
    baseTimestamp = opts.deleteHorizonMs;
  }
  const lastOffsetDelta = opts.lastOffsetDelta ?? (n > 0 ? offsetDeltas[n - 1]! : 0);
  checkInt('lastOffsetDelta', lastOffsetDelta, Math.max(0, prevDelta), INT32_MAX);

  const bodySizes = new Int32Array(n);
  let areaSize = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    let size = 1 + sizeOfVarlong(recordTimestamps[i]! - baseTimestamp) + sizeOfVarint(offsetDeltas[i]!);
    size += r.key === null ? 1 : sizeOfVarint(r.key.length) + r.key.length;
    size += r.value === null ? 1 : sizeOfVarint(r.value.length) + r.value.length;
    const headers = r.headers;
    const hc = headers === undefined ? 0 : headers.length;
    size += sizeOfVarint(hc);
    for (let h = 0; h < hc; h++) {
      const header = headers![h]!;
      if (typeof header.key !== 'string') throw new TypeError('header keys must be strings');
      const kl = Buffer.byteLength(header.key, 'utf8');
      size += sizeOfVarint(kl) + kl;
      size += header.value === null ? 1 : sizeOfVarint(header.value.length) + header.value.length;
    }
    if (size > INT32_MAX) throw new RangeError(`record ${i} is too large`);
    bodySizes[i] = size;
    areaSize += sizeOfVarint(size) + size;
  }
  return {
    attributes,
    baseTimestamp,
    maxTimestamp,
    lastOffsetDelta,
    bodySizes,
    offsetDeltas,
    recordTimestamps,
    areaSize,
  };
}

function writeRecords(opts: EncodeRecordBatchOptions, p: Plan, out: Buffer, start: number): void {
  const records = opts.records;
  let pos = start;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    pos = writeVarint(out, pos, p.bodySizes[i]!);
    out[pos++] = 0;
    pos = writeVarlong(out, pos, p.recordTimestamps[i]! - p.baseTimestamp);
    pos = writeVarint(out, pos, p.offsetDeltas[i]!);
    if (r.key === null) {
      out[pos++] = 1; // zigzag(-1)
    } else {
      pos = writeVarint(out, pos, r.key.length);
      out.set(r.key, pos);
      pos += r.key.length;
    }
    if (r.value === null) {
      out[pos++] = 1;
    } else {
      pos = writeVarint(out, pos, r.value.length);
      out.set(r.value, pos);
      pos += r.value.length;
    }
    const headers = r.headers;
    const hc = headers === undefined ? 0 : headers.length;
    pos = writeVarint(out, pos, hc);
    for (let h = 0; h < hc; h++) {
      const header = headers![h]!;
      const kl = Buffer.byteLength(header.key, 'utf8');
      pos = writeVarint(out, pos, kl);
      pos += out.write(header.key, pos, kl, 'utf8');
      if (header.value === null) {
        out[pos++] = 1;
      } else {
        pos = writeVarint(out, pos, header.value.length);
        out.set(header.value, pos);
        pos += header.value.length;
      }
    }
  }
}

/** Writes the 61-byte header into `out` (which holds the records area after it) and the CRC. */
function finishBatch(opts: EncodeRecordBatchOptions, p: Plan, out: Buffer): Buffer {
  const producerId = opts.producerId ?? NO_PRODUCER_ID;
  const producerEpoch = opts.producerEpoch ?? NO_PRODUCER_EPOCH;
  const baseSequence = opts.baseSequence ?? NO_SEQUENCE;
  const partitionLeaderEpoch = opts.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH;
  checkInt('baseOffset', opts.baseOffset ?? 0, 0, Number.MAX_SAFE_INTEGER);
  checkInt('partitionLeaderEpoch', partitionLeaderEpoch, INT32_MIN, INT32_MAX);
  checkInt('producerId', producerId, NO_PRODUCER_ID, Number.MAX_SAFE_INTEGER);
  checkInt('producerEpoch', producerEpoch, -0x8000, 0x7fff);
  checkInt('baseSequence', baseSequence, INT32_MIN, INT32_MAX);
  if (out.length - LOG_OVERHEAD > INT32_MAX) throw new RangeError('record batch exceeds 2 GiB');
  writeInt64(out, 0, opts.baseOffset ?? 0);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(partitionLeaderEpoch, 12);
  out.writeInt8(2, 16);
  out.writeInt16BE(p.attributes, 21);
  out.writeInt32BE(p.lastOffsetDelta, 23);
  writeInt64(out, 27, p.baseTimestamp);
  writeInt64(out, 35, p.maxTimestamp);
  writeInt64(out, 43, producerId);
  out.writeInt16BE(producerEpoch, 51);
  out.writeInt32BE(baseSequence, 53);
  out.writeInt32BE(opts.records.length, 57);
  out.writeUInt32BE(crc32c(out.subarray(21)), CRC_OFFSET);
  return out;
}

/**
 * Encodes a magic-2 record batch: varint record framing, offset and timestamp deltas,
 * lastOffsetDelta, maxTimestamp, compression of the records area and the CRC-32C. Uncompressed
 * batches are written straight into one buffer of the exact size.
 */
export function encodeRecordBatch(opts: EncodeRecordBatchOptions): Buffer {
  const p = plan(opts);
  const codec = p.attributes & COMPRESSION_CODEC_MASK;
  if (codec === 0) {
    const out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + p.areaSize);
    writeRecords(opts, p, out, RECORD_BATCH_OVERHEAD);
    return finishBatch(opts, p, out);
  }
  const area = Buffer.allocUnsafe(p.areaSize);
  writeRecords(opts, p, area, 0);
  return assembleCompressed(opts, p, compress(codec, area, { level: opts.compressionLevel }));
}

/** encodeRecordBatch with the compression done off the event loop. */
export async function encodeRecordBatchAsync(opts: EncodeRecordBatchOptions): Promise<Buffer> {
  const p = plan(opts);
  const codec = p.attributes & COMPRESSION_CODEC_MASK;
  const area = Buffer.allocUnsafe(p.areaSize);
  writeRecords(opts, p, area, 0);
  if (codec === 0) return assembleCompressed(opts, p, area);
  return assembleCompressed(opts, p, await compressAsync(codec, area, { level: opts.compressionLevel }));
}

function assembleCompressed(opts: EncodeRecordBatchOptions, p: Plan, area: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + area.length);
  area.copy(out, RECORD_BATCH_OVERHEAD);
  return finishBatch(opts, p, out);
}

function batchFromCursor(buf: Buffer, pos: number, cursor: RecordCursor): DecodedRecordBatch {
  const header = readBatchHeader(buf, pos);
  const records: DecodedRecord[] = [];
  while (cursor.next()) {
    records.push({
      offset: cursor.offset,
      timestamp: cursor.timestamp,
      key: cursor.key(),
      value: cursor.value(),
      headers: cursor.headers(),
    });
  }
  return {
    ...header,
    compression: header.attributes & COMPRESSION_CODEC_MASK,
    timestampType:
      (header.attributes & TIMESTAMP_TYPE_MASK) !== 0 ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    isTransactional: (header.attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControl: (header.attributes & CONTROL_FLAG_MASK) !== 0,
    hasDeleteHorizon: (header.attributes & DELETE_HORIZON_FLAG_MASK) !== 0,
    lastOffset: header.baseOffset + header.lastOffsetDelta,
    sizeInBytes: cursor.batchSize,
    records,
  };
}

/**
 * Decodes the whole magic-2 batch at `buf[pos]` into objects, decompressing as needed. Record
 * offsets and timestamps are absolute (LogAppendTime batches report maxTimestamp for every
 * record). Keys, values and header values are views into `buf` or the decompressed area.
 * Throws DecodeError for malformed bytes and CompressionError subclasses for bad compressed data.
 */
export function decodeRecordBatch(buf: Buffer, pos = 0, options?: BatchDecodeOptions): DecodedRecordBatch {
  const cursor = new RecordCursor().reset(buf, pos, options);
  return batchFromCursor(buf, pos, cursor);
}

/** decodeRecordBatch with decompression off the event loop. */
export async function decodeRecordBatchAsync(
  buf: Buffer,
  pos = 0,
  options?: BatchDecodeOptions,
): Promise<DecodedRecordBatch> {
  const cursor = await new RecordCursor().resetAsync(buf, pos, options);
  return batchFromCursor(buf, pos, cursor);
}

/**
 * Length of the whole batches at the start of a `records` blob. A fetch response may end with a
 * batch cut by the size limit; clients drop that fragment, and so does this. A length field below
 * the minimum is corruption, not a fragment, and raises DecodeError.
 */
export function wholeBatchesLength(buf: Buffer): number {
  let pos = 0;
  for (;;) {
    const size = nextBatchSize(buf, pos);
    if (size === 0) return pos;
    pos += size;
  }
}

/** Size of the whole batch at `pos`, or 0 when what remains is a fragment. */
function nextBatchSize(buf: Buffer, pos: number): number {
  const avail = buf.length - pos;
  if (avail < LOG_OVERHEAD) return 0;
  const length = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) throw new DecodeError(`entry at ${pos} has batchLength ${length}`);
  if (avail < length + LOG_OVERHEAD) return 0;
  return length + LOG_OVERHEAD;
}

/** Decodes the batches of a `records` blob one at a time, stopping before a partial trailing batch. */
export function* iterateRecordBatches(buf: Buffer, options?: BatchDecodeOptions): Generator<DecodedRecordBatch> {
  let pos = 0;
  for (;;) {
    const size = nextBatchSize(buf, pos);
    if (size === 0) return;
    yield decodeRecordBatch(buf, pos, options);
    pos += size;
  }
}

/** All whole batches of a `records` blob, decoded (see iterateRecordBatches). */
export function decodeRecordBatches(buf: Buffer, options?: BatchDecodeOptions): DecodedRecordBatch[] {
  return [...iterateRecordBatches(buf, options)];
}

/**
 * Visits every record of every whole batch in a `records` blob with one reusable cursor: the
 * low-allocation path for consumers. The visitor reads `cursor.offset`, `cursor.timestamp`,
 * `cursor.key()`, ... and may check `cursor.isControl` to skip control records. Returns the
 * number of records visited.
 */
export function forEachRecord(
  buf: Buffer,
  visit: (cursor: RecordCursor) => void,
  options?: BatchDecodeOptions,
  cursor = new RecordCursor(),
): number {
  let pos = 0;
  let n = 0;
  for (;;) {
    const size = nextBatchSize(buf, pos);
    if (size === 0) return n;
    cursor.reset(buf, pos, options);
    while (cursor.next()) {
      visit(cursor);
      n++;
    }
    pos += size;
  }
}
