import { CompressionCodec } from '../compression/codec.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TRANSACTIONAL_FLAG_MASK,
  isCrcValid,
  lastOffsetDelta,
  maxTimestamp,
  producerId,
  recordsCount,
} from './batch-header.js';
import { RECORD_ERROR_CODES, type RecordErrorName } from './errors.js';

export interface ProduceValidationOptions {
  /** Produce v3+ allows exactly one batch per partition (Kafka answers INVALID_RECORD otherwise). */
  singleBatch?: boolean;
  /** Produce below v7 must not carry zstd (UNSUPPORTED_COMPRESSION_TYPE). Default true. */
  allowZstd?: boolean;
  /** Clients may not write control batches; only the coordinator's own appends may. Default false. */
  allowControl?: boolean;
  /** The topic's max.message.bytes: a larger batch is MESSAGE_TOO_LARGE. */
  maxBatchBytes?: number;
}

export interface ProduceRecordsSummary {
  ok: true;
  batchCount: number;
  recordCount: number;
  /** Largest maxTimestamp among the batches' headers. */
  maxTimestamp: number;
  /** Bit `1 << codec` set for every codec used (bit 0 = uncompressed batches). */
  codecMask: number;
  /** Some batch is compressed (its records must be decompressed to be read). */
  compressed: boolean;
  transactional: boolean;
  /** Some batch carries a producer id (idempotent or transactional producer). */
  idempotent: boolean;
}

export interface ProduceRecordsProblem {
  ok: false;
  error: RecordErrorName;
  /** Kafka error code for `error`. */
  code: number;
  reason: string;
  /** Index and byte position of the offending batch. */
  batchIndex: number;
  position: number;
}

/** Smallest record: length, attributes, timestamp delta, offset delta, key, value, header count. */
const MIN_RECORD_SIZE = 7;

function problem(error: RecordErrorName, reason: string, batchIndex: number, position: number): ProduceRecordsProblem {
  return { ok: false, error, code: RECORD_ERROR_CODES[error], reason, batchIndex, position };
}

/**
 * Checks a produce request's `records` blob batch by batch from the headers alone: whole
 * batches, magic 2, CRC-32C, record count consistent with lastOffsetDelta, known codec, no
 * client control batches. No record is decoded and nothing is decompressed. The checks and the
 * error each one yields follow Kafka's produce validation: broken framing or a bad CRC is
 * CORRUPT_MESSAGE, well-formed but forbidden content INVALID_RECORD, codecs
 * UNSUPPORTED_COMPRESSION_TYPE, oversize batches MESSAGE_TOO_LARGE.
 */
export function validateProduceRecords(
  buf: Buffer,
  options?: ProduceValidationOptions,
): ProduceRecordsSummary | ProduceRecordsProblem {
  const allowZstd = options?.allowZstd ?? true;
  const allowControl = options?.allowControl ?? false;
  const maxBatchBytes = options?.maxBatchBytes ?? Infinity;
  let batchCount = 0;
  let recordCount = 0;
  let maxTs = -1;
  let codecMask = 0;
  let transactional = false;
  let idempotent = false;
  let firstSize = 0;
  let pos = 0;
  while (pos < buf.length) {
    const i = batchCount;
    const avail = buf.length - pos;
    // The magic byte sits at the same place in legacy messages, which are smaller than a batch
    // header, so it is judged first (as Kafka does): legacy data is INVALID_RECORD, not corrupt.
    if (avail > MAGIC_OFFSET && buf.readInt8(pos + MAGIC_OFFSET) !== 2) {
      return problem(
        'INVALID_RECORD',
        `magic ${buf.readInt8(pos + MAGIC_OFFSET)}; record batches must be magic 2`,
        i,
        pos,
      );
    }
    if (avail < RECORD_BATCH_OVERHEAD)
      return problem('CORRUPT_MESSAGE', `${avail} bytes left, less than a batch header`, i, pos);
    const length = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
    if (length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD)
      return problem('CORRUPT_MESSAGE', `batchLength ${length} is below the header size`, i, pos);
    const size = length + LOG_OVERHEAD;
    if (size > avail) return problem('CORRUPT_MESSAGE', `batch of ${size} bytes, only ${avail} left`, i, pos);
    if (size > maxBatchBytes)
      return problem('MESSAGE_TOO_LARGE', `batch of ${size} bytes exceeds ${maxBatchBytes}`, i, pos);
    if (!isCrcValid(buf, pos)) return problem('CORRUPT_MESSAGE', 'CRC-32C mismatch', i, pos);
    const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
    const codec = attributes & COMPRESSION_CODEC_MASK;
    if (codec > CompressionCodec.ZSTD)
      return problem('UNSUPPORTED_COMPRESSION_TYPE', `unknown compression codec ${codec}`, i, pos);
    if (codec === CompressionCodec.ZSTD && !allowZstd)
      return problem('UNSUPPORTED_COMPRESSION_TYPE', 'zstd needs Produce v7 or later', i, pos);
    const count = recordsCount(buf, pos);
    if (count <= 0) return problem('INVALID_RECORD', `record count ${count}`, i, pos);
    const delta = lastOffsetDelta(buf, pos);
    if (delta !== count - 1)
      return problem('INVALID_RECORD', `lastOffsetDelta ${delta} does not match ${count} records`, i, pos);
    if (codec === 0 && count > (length + LOG_OVERHEAD - RECORD_BATCH_OVERHEAD) / MIN_RECORD_SIZE) {
      return problem('INVALID_RECORD', `${count} records cannot fit in ${size - RECORD_BATCH_OVERHEAD} bytes`, i, pos);
    }
    if ((attributes & CONTROL_FLAG_MASK) !== 0 && !allowControl)
      return problem('INVALID_RECORD', 'clients may not write control batches', i, pos);
    batchCount++;
    recordCount += count;
    codecMask |= 1 << codec;
    const ts = maxTimestamp(buf, pos);
    if (ts > maxTs) maxTs = ts;
    if ((attributes & TRANSACTIONAL_FLAG_MASK) !== 0) transactional = true;
    if (producerId(buf, pos) >= 0) idempotent = true;
    if (i === 0) firstSize = size;
    pos += size;
  }
  if (batchCount === 0) return problem('INVALID_RECORD', 'no record batch', 0, 0);
  if (options?.singleBatch && batchCount !== 1)
    return problem('INVALID_RECORD', `${batchCount} batches; exactly one is allowed per partition`, 1, firstSize);
  return {
    ok: true,
    batchCount,
    recordCount,
    maxTimestamp: maxTs,
    codecMask,
    compressed: (codecMask & ~1) !== 0,
    transactional,
    idempotent,
  };
}
