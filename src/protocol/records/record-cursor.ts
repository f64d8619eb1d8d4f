import { DecodeError } from '../decode-error.js';
import { decompress, decompressAsync, type DecompressOptions } from '../compression/index.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
  baseOffset as readBaseOffset,
  baseTimestamp as readBaseTimestamp,
  lastOffsetDelta as readLastOffsetDelta,
  maxTimestamp as readMaxTimestamp,
  recordsCount as readRecordsCount,
} from './batch-header.js';
import { crc32c } from './crc.js';

/** A record header: the key is UTF-8 text, the value raw bytes or null. */
export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface BatchDecodeOptions {
  /** Refuse batches whose records area decompresses beyond this (default 64 MiB). */
  maxDecompressedBytes?: number;
  /** Check the CRC-32C (default true). Only skip it for bytes verified before, e.g. on append. */
  verifyCrc?: boolean;
}

function decompressOptions(options: BatchDecodeOptions | undefined): DecompressOptions | undefined {
  return options?.maxDecompressedBytes === undefined ? undefined : { maxOutputBytes: options.maxDecompressedBytes };
}

/** Smallest possible batchLength: the header after the length field, with no records. */
const MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD;

/**
 * Checks the magic-2 batch at `pos` and returns its size in bytes; throws DecodeError when it is
 * cut short, has another magic, a bad length or count, or (when asked) a bad CRC.
 */
export function checkedBatchSize(buf: Buffer, pos: number, verifyCrc: boolean): number {
  const avail = buf.length - pos;
  if (avail < RECORD_BATCH_OVERHEAD) throw new DecodeError(`record batch at ${pos} truncated: ${avail} bytes`);
  const length = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (length < MIN_BATCH_LENGTH) throw new DecodeError(`record batch at ${pos} has batchLength ${length}`);
  if (avail < length + LOG_OVERHEAD)
    throw new DecodeError(`record batch at ${pos} truncated: ${avail} of ${length + LOG_OVERHEAD} bytes`);
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== 2) throw new DecodeError(`entry at ${pos} has magic ${magic}, not a record batch (magic 2)`);
  const count = readRecordsCount(buf, pos);
  if (count < 0) throw new DecodeError(`record batch at ${pos} has recordsCount ${count}`);
  if (readLastOffsetDelta(buf, pos) < 0) throw new DecodeError(`record batch at ${pos} has a negative lastOffsetDelta`);
  const size = length + LOG_OVERHEAD;
  if (verifyCrc) {
    const stored = buf.readUInt32BE(pos + CRC_OFFSET);
    const actual = crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, pos + size));
    if (stored !== actual) {
      throw new DecodeError(
        `record batch at ${pos}: CRC-32C is 0x${actual.toString(16)}, header says 0x${stored.toString(16)}`,
      );
    }
  }
  return size;
}

/**
 * A reusable cursor over the records of one magic-2 batch: `reset()` it onto a batch, then call
 * `next()` until it returns false and read the current record from its fields. Keys, values and
 * headers stay as positions into `buf` (the batch itself, or its decompressed records area) until
 * asked for, so iterating costs no allocation per record. The buffers it hands out are views:
 * they alias the input and stay valid only as long as the caller keeps that input unchanged.
 *
 * `next()` checks each record's framing (lengths inside the record, key and value in bounds) and
 * that the records fill the area exactly; header bytes are only checked when read, since the
 * batch CRC already covers them.
 */
export class RecordCursor {
  // Batch fields, set by reset().
  baseOffset = 0;
  baseTimestamp = 0;
  maxTimestamp = 0;
  attributes = 0;
  recordsCount = 0;
  isControl = false;
  isTransactional = false;
  /** LogAppendTime batches: every record's timestamp is the batch maxTimestamp. */
  logAppendTime = false;
  /** Size in bytes of the batch the cursor was reset onto. */
  batchSize = 0;

  /** Buffer holding the records area (the batch, or its decompressed area). */
  buf: Buffer = Buffer.alloc(0);

  // Current record, set by next().
  index = -1;
  offset = 0;
  timestamp = 0;
  recordAttributes = 0;
  keyOffset = 0;
  /** -1 for a null key. */
  keyLength = -1;
  valueOffset = 0;
  /** -1 for a null value. */
  valueLength = -1;
  headerCount = 0;
  headersOffset = 0;
  recordEnd = 0;

  private pos = 0;
  private end = 0;

  /** Positions the cursor before the first record of the batch at `batch[pos]`. */
  reset(batch: Buffer, pos = 0, options?: BatchDecodeOptions): this {
    const codec = this.readHeader(batch, pos, options);
    if (codec === 0) return this.useArea(batch, pos + RECORD_BATCH_OVERHEAD, pos + this.batchSize);
    return this.useArea(decompress(codec, this.compressedArea(batch, pos), decompressOptions(options)), 0);
  }

  /** Like reset(), decompressing off the event loop (see decompressAsync). */
  async resetAsync(batch: Buffer, pos = 0, options?: BatchDecodeOptions): Promise<this> {
    const codec = this.readHeader(batch, pos, options);
    if (codec === 0) return this.useArea(batch, pos + RECORD_BATCH_OVERHEAD, pos + this.batchSize);
    return this.useArea(await decompressAsync(codec, this.compressedArea(batch, pos), decompressOptions(options)), 0);
  }

  /** Validates the batch, loads its header fields and returns its compression codec. */
  private readHeader(batch: Buffer, pos: number, options: BatchDecodeOptions | undefined): number {
    this.batchSize = checkedBatchSize(batch, pos, options?.verifyCrc ?? true);
    this.baseOffset = readBaseOffset(batch, pos);
    this.baseTimestamp = readBaseTimestamp(batch, pos);
    this.maxTimestamp = readMaxTimestamp(batch, pos);
    const attributes = batch.readInt16BE(pos + ATTRIBUTES_OFFSET);
    this.attributes = attributes;
    this.recordsCount = readRecordsCount(batch, pos);
    this.isControl = (attributes & CONTROL_FLAG_MASK) !== 0;
    this.isTransactional = (attributes & TRANSACTIONAL_FLAG_MASK) !== 0;
    this.logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
    return attributes & COMPRESSION_CODEC_MASK;
  }

  private compressedArea(batch: Buffer, pos: number): Buffer {
    return batch.subarray(pos + RECORD_BATCH_OVERHEAD, pos + this.batchSize);
  }

  private useArea(area: Buffer, start: number, end = area.length): this {
    this.buf = area;
    this.pos = start;
    this.end = end;
    this.index = -1;
    return this;
  }

  private truncated(what: string): DecodeError {
    return new DecodeError(`record ${this.index + 1} of ${this.recordsCount}: truncated ${what} at ${this.pos}`);
  }

  private uvarint(limit: number, what: string): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= limit) throw this.truncated(what);
    let byte = b[p++]!;
    let v = byte & 0x7f;
    let shift = 7;
    while (byte >= 0x80) {
      if (p >= limit) throw this.truncated(what);
      if (shift > 28) throw new DecodeError(`record ${this.index + 1}: varint ${what} longer than 5 bytes`);
      byte = b[p++]!;
      v |= (byte & 0x7f) << shift;
      shift += 7;
    }
    this.pos = p;
    return v >>> 0;
  }

  private varint(limit: number, what: string): number {
    const u = this.uvarint(limit, what);
    return (u >>> 1) ^ -(u & 1);
  }

  private varlong(limit: number, what: string): number {
    const b = this.buf;
    let p = this.pos;
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= limit) throw this.truncated(what);
      const byte = b[p++]!;
      value += (byte & 0x7f) * mul;
      if (byte < 0x80) {
        this.pos = p;
        return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      }
      mul *= 128;
    }
    throw new DecodeError(`record ${this.index + 1}: varlong ${what} longer than 10 bytes`);
  }

  /** Moves to the next record; false after the last one. */
  next(): boolean {
    if (this.index + 1 >= this.recordsCount) {
      if (this.index + 1 === this.recordsCount && this.pos !== this.end) {
        this.index = this.recordsCount;
        throw new DecodeError(`${this.end - this.pos} bytes follow the last of ${this.recordsCount} records`);
      }
      this.index = this.recordsCount;
      return false;
    }
    const length = this.varint(this.end, 'record length');
    if (length < 0 || length > this.end - this.pos) {
      throw new DecodeError(`record ${this.index + 1}: length ${length} with ${this.end - this.pos} bytes left`);
    }
    const recordEnd = this.pos + length;
    if (this.pos >= recordEnd) throw this.truncated('attributes');
    this.recordAttributes = this.buf[this.pos++]!;
    const timestampDelta = this.varlong(recordEnd, 'timestamp delta');
    const offsetDelta = this.varint(recordEnd, 'offset delta');
    const keyLength = this.varint(recordEnd, 'key length');
    if (keyLength < -1 || keyLength > recordEnd - this.pos)
      throw new DecodeError(`record ${this.index + 1}: key length ${keyLength}`);
    this.keyOffset = this.pos;
    this.keyLength = keyLength;
    if (keyLength > 0) this.pos += keyLength;
    const valueLength = this.varint(recordEnd, 'value length');
    if (valueLength < -1 || valueLength > recordEnd - this.pos)
      throw new DecodeError(`record ${this.index + 1}: value length ${valueLength}`);
    this.valueOffset = this.pos;
    this.valueLength = valueLength;
    if (valueLength > 0) this.pos += valueLength;
    const headerCount = this.varint(recordEnd, 'header count');
    // Each header takes at least two bytes (two length varints).
    if (headerCount < 0 || headerCount * 2 > recordEnd - this.pos)
      throw new DecodeError(`record ${this.index + 1}: header count ${headerCount}`);
    this.headerCount = headerCount;
    this.headersOffset = this.pos;
    if (headerCount === 0 && this.pos !== recordEnd) {
      throw new DecodeError(`record ${this.index + 1}: ${recordEnd - this.pos} bytes left over in the record`);
    }
    this.recordEnd = recordEnd;
    this.pos = recordEnd;
    this.index++;
    this.offset = this.baseOffset + offsetDelta;
    this.timestamp = this.logAppendTime ? this.maxTimestamp : this.baseTimestamp + timestampDelta;
    return true;
  }

  /** The current key as a view into `buf`, or null. */
  key(): Buffer | null {
    return this.keyLength < 0 ? null : this.buf.subarray(this.keyOffset, this.keyOffset + this.keyLength);
  }

  /** The current value as a view into `buf`, or null. */
  value(): Buffer | null {
    return this.valueLength < 0 ? null : this.buf.subarray(this.valueOffset, this.valueOffset + this.valueLength);
  }

  /** Calls `visit` for each header of the current record, in order (duplicates included). */
  forEachHeader(visit: (key: string, value: Buffer | null) => void): void {
    const saved = this.pos;
    const end = this.recordEnd;
    this.pos = this.headersOffset;
    try {
      for (let i = 0; i < this.headerCount; i++) {
        const kl = this.varint(end, 'header key length');
        if (kl < 0 || kl > end - this.pos) throw new DecodeError(`record ${this.index}: header key length ${kl}`);
        const key = this.buf.toString('utf8', this.pos, this.pos + kl);
        this.pos += kl;
        const vl = this.varint(end, 'header value length');
        if (vl < -1 || vl > end - this.pos) throw new DecodeError(`record ${this.index}: header value length ${vl}`);
        const value = vl < 0 ? null : this.buf.subarray(this.pos, this.pos + vl);
        if (vl > 0) this.pos += vl;
        visit(key, value);
      }
      if (this.pos !== end)
        throw new DecodeError(`record ${this.index}: ${end - this.pos} bytes left over after headers`);
    } finally {
      this.pos = saved;
    }
  }

  /** The current record's headers as objects. */
  headers(): RecordHeader[] {
    const out: RecordHeader[] = [];
    if (this.headerCount > 0) this.forEachHeader((key, value) => out.push({ key, value }));
    return out;
  }
}
