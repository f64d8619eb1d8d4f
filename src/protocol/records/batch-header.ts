import { crc32c } from './crc.js';

/**
 * Record batch (magic 2) header access at fixed byte offsets. Nothing here decodes records: the
 * produce path, the log and recovery read and stamp headers in place through these functions.
 *
 *   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
 *  17 crc uint32 | 21 attributes int16 | 23 lastOffsetDelta int32 | 27 baseTimestamp int64
 *  35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32
 *  57 recordsCount int32 | 61 records...
 */
export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
/** Size of the header up to and including recordsCount. */
export const RECORD_BATCH_OVERHEAD = 61;
/** baseOffset + batchLength: the bytes before the length-counted part of any log entry. */
export const LOG_OVERHEAD = 12;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;
export const DELETE_HORIZON_FLAG_MASK = 0x40;

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

const TWO_32 = 4294967296;

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi | 0, at);
  buf.writeUInt32BE((v - hi * TWO_32) >>> 0, at + 4);
}

/** A decoded header, for tools and tests; hot paths use the accessors below instead. */
export interface RecordBatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

/** Total size in bytes of the entry at `pos` (batchLength + 12). The caller checks bounds. */
export function entrySize(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
}

export function baseOffset(buf: Buffer, pos = 0): number {
  return readInt64(buf, pos + BASE_OFFSET_OFFSET);
}

export function setBaseOffset(buf: Buffer, pos: number, offset: number): void {
  writeInt64(buf, pos + BASE_OFFSET_OFFSET, offset);
}

export function partitionLeaderEpoch(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET);
}

/** Not covered by the CRC, so the leader can stamp it without recomputing the checksum. */
export function setPartitionLeaderEpoch(buf: Buffer, pos: number, epoch: number): void {
  buf.writeInt32BE(epoch, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

export function magic(buf: Buffer, pos = 0): number {
  return buf.readInt8(pos + MAGIC_OFFSET);
}

export function attributes(buf: Buffer, pos = 0): number {
  return buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
}

export function lastOffsetDelta(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
}

export function lastOffset(buf: Buffer, pos = 0): number {
  return baseOffset(buf, pos) + lastOffsetDelta(buf, pos);
}

export function baseTimestamp(buf: Buffer, pos = 0): number {
  return readInt64(buf, pos + BASE_TIMESTAMP_OFFSET);
}

export function maxTimestamp(buf: Buffer, pos = 0): number {
  return readInt64(buf, pos + MAX_TIMESTAMP_OFFSET);
}

export function producerId(buf: Buffer, pos = 0): number {
  return readInt64(buf, pos + PRODUCER_ID_OFFSET);
}

export function producerEpoch(buf: Buffer, pos = 0): number {
  return buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET);
}

export function baseSequence(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
}

export function recordsCount(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + RECORDS_COUNT_OFFSET);
}

export function isTransactional(buf: Buffer, pos = 0): boolean {
  return (attributes(buf, pos) & TRANSACTIONAL_FLAG_MASK) !== 0;
}

export function isControl(buf: Buffer, pos = 0): boolean {
  return (attributes(buf, pos) & CONTROL_FLAG_MASK) !== 0;
}

export function compressionCodec(buf: Buffer, pos = 0): number {
  return attributes(buf, pos) & COMPRESSION_CODEC_MASK;
}

export function storedCrc(buf: Buffer, pos = 0): number {
  return buf.readUInt32BE(pos + CRC_OFFSET);
}

/** CRC-32C over attributes..end of the batch at `pos` (the batch must lie wholly inside `buf`). */
export function computeCrc(buf: Buffer, pos = 0): number {
  const end = pos + entrySize(buf, pos);
  return crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, end));
}

export function isCrcValid(buf: Buffer, pos = 0): boolean {
  return computeCrc(buf, pos) === storedCrc(buf, pos);
}

/** Recomputes and stores the CRC, for when the broker changed covered fields (LogAppendTime). */
export function updateCrc(buf: Buffer, pos = 0): void {
  buf.writeUInt32BE(computeCrc(buf, pos), pos + CRC_OFFSET);
}

/**
 * Switches the batch to LogAppendTime at `timestamp`: sets the timestamp-type bit and maxTimestamp,
 * then refreshes the CRC (both fields are covered by it). Records are untouched, as in Kafka.
 */
export function setLogAppendTime(buf: Buffer, pos: number, timestamp: number): void {
  buf.writeInt16BE(attributes(buf, pos) | TIMESTAMP_TYPE_MASK, pos + ATTRIBUTES_OFFSET);
  writeInt64(buf, pos + MAX_TIMESTAMP_OFFSET, timestamp);
  updateCrc(buf, pos);
}

export function readBatchHeader(buf: Buffer, pos = 0): RecordBatchHeader {
  return {
    baseOffset: baseOffset(buf, pos),
    batchLength: buf.readInt32BE(pos + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: partitionLeaderEpoch(buf, pos),
    magic: magic(buf, pos),
    crc: storedCrc(buf, pos),
    attributes: attributes(buf, pos),
    lastOffsetDelta: lastOffsetDelta(buf, pos),
    baseTimestamp: baseTimestamp(buf, pos),
    maxTimestamp: maxTimestamp(buf, pos),
    producerId: producerId(buf, pos),
    producerEpoch: producerEpoch(buf, pos),
    baseSequence: baseSequence(buf, pos),
    recordsCount: recordsCount(buf, pos),
  };
}

/** Why a batch was refused; `null` from `checkBatch` means it is whole and valid. */
export type BatchProblem = 'truncated' | 'bad-length' | 'bad-magic' | 'bad-crc' | 'bad-count';

/**
 * Validates the entry at `pos` inside `buf[pos, end)`: whole, magic 2, sane length and count, CRC
 * matching. Used on produce (reject) and recovery (truncate) alike.
 */
export function checkBatch(buf: Buffer, pos: number, end: number): BatchProblem | null {
  if (end - pos < LOG_OVERHEAD) return 'truncated';
  const length = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) return 'bad-length';
  if (end - pos < length + LOG_OVERHEAD) return 'truncated';
  if (buf.readInt8(pos + MAGIC_OFFSET) !== 2) return 'bad-magic';
  const count = recordsCount(buf, pos);
  const delta = lastOffsetDelta(buf, pos);
  if (count < 0 || delta < 0) return 'bad-count';
  if (!isCrcValid(buf, pos)) return 'bad-crc';
  return null;
}
