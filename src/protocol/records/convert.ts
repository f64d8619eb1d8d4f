import { CompressionCodec } from '../compression/index.js';
import { COMPRESSION_CODEC_MASK } from './batch-header.js';
import {
  decodeMessageSet,
  encodeMessageSet,
  legacyMessageSize,
  type LegacyMagic,
  type LegacyMessageInput,
} from './legacy.js';
import {
  NO_TIMESTAMP,
  TimestampType,
  encodeRecordBatch,
  wholeBatchesLength,
  type RecordInput,
} from './record-batch.js';
import { RecordCursor } from './record-cursor.js';

export interface UpConvertOptions {
  /**
   * Broker time of this append. Records that carry no timestamp (all of magic 0, and magic 1
   * messages with -1) get it, as do all records of a LogAppendTime topic.
   */
  appendTime: number;
  /** The topic's message.timestamp.type (default CreateTime). */
  timestampType?: TimestampType;
  /**
   * What a record without a timestamp becomes under CreateTime. 'log-append-time' (default): it
   * goes into a LogAppendTime batch stamped with appendTime. 'no-timestamp': it keeps -1 in a
   * CreateTime batch, which is exactly what Kafka's LogValidator stores.
   */
  missingTimestamp?: 'log-append-time' | 'no-timestamp';
  /** Codec of the new batches; default: the codec the producer used. */
  compression?: number;
  /** Budget for decompressing the producer's wrappers (default 64 MiB). */
  maxDecompressedBytes?: number;
  /** Offset of the first record (default 0; the log stamps real offsets with setBaseOffset). */
  baseOffset?: number;
  partitionLeaderEpoch?: number;
}

export interface UpConverted {
  /** Magic-2 batches back to back, offsets consecutive from baseOffset. */
  records: Buffer;
  batchCount: number;
  recordCount: number;
  /** Largest batch maxTimestamp (-1 when empty). */
  maxTimestamp: number;
}

/**
 * Up-conversion of a produced magic 0/1 message set into magic-2 batches, as Kafka does on append.
 *
 * Offsets are reassigned consecutively (the producer's are meaningless). Records keep keys, values
 * and, for magic 1, their CreateTime timestamps. By default records without a timestamp (magic 0
 * has none) are not stored with -1 as Kafka does: they go into a LogAppendTime batch stamped with
 * `appendTime`, so consumers, retention and time lookups see when the broker received them
 * (`missingTimestamp: 'no-timestamp'` gives Kafka's behaviour). A LogAppendTime topic stamps every
 * batch that way. Consecutive messages with the same codec and timestamp kind form
 * one batch, so an ordinary produce request becomes exactly one batch.
 *
 * The input must be whole (no partial trailing message). Errors: DecodeError (malformed, bad
 * CRC), InvalidRecordError (nested compression, mixed magics in a wrapper), CompressionError.
 */
export function upConvertMessageSet(buf: Buffer, opts: UpConvertOptions): UpConverted {
  const messages = decodeMessageSet(buf, { allowPartialTail: false, maxDecompressedBytes: opts.maxDecompressedBytes });
  const topicLogAppend = opts.timestampType === TimestampType.LOG_APPEND_TIME;
  const stampMissing = (opts.missingTimestamp ?? 'log-append-time') === 'log-append-time';
  const needsStamp = (ts: number) => topicLogAppend || (stampMissing && ts === NO_TIMESTAMP);
  const parts: Buffer[] = [];
  let offset = opts.baseOffset ?? 0;
  let maxTimestamp = NO_TIMESTAMP;
  let i = 0;
  while (i < messages.length) {
    const codec = messages[i]!.compression;
    const stamped = needsStamp(messages[i]!.timestamp);
    const run: RecordInput[] = [];
    while (i < messages.length) {
      const m = messages[i]!;
      if (m.compression !== codec || needsStamp(m.timestamp) !== stamped) break;
      run.push({ key: m.key, value: m.value, timestamp: stamped ? opts.appendTime : m.timestamp });
      i++;
    }
    parts.push(
      encodeRecordBatch({
        baseOffset: offset,
        partitionLeaderEpoch: opts.partitionLeaderEpoch,
        compression: opts.compression ?? codec,
        timestampType: stamped ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
        logAppendTime: opts.appendTime,
        records: run,
      }),
    );
    offset += run.length;
    let runMax = stamped ? opts.appendTime : run[0]!.timestamp;
    if (!stamped) for (const r of run) if (r.timestamp > runMax) runMax = r.timestamp;
    if (runMax > maxTimestamp) maxTimestamp = runMax;
  }
  return { records: Buffer.concat(parts), batchCount: parts.length, recordCount: messages.length, maxTimestamp };
}

export interface DownConvertOptions {
  /** 0 for Fetch v0-v1, 1 for Fetch v2-v3. */
  toMagic: LegacyMagic;
  /** Stop before the message that would take the output beyond this many bytes. */
  maxBytes?: number;
  /** Drop records below this offset (the fetch offset may fall inside a batch). Default 0. */
  fromOffset?: number;
  /** Return the first message even when it alone exceeds maxBytes, so the consumer progresses. Default true. */
  minOneMessage?: boolean;
  /** Per-batch decompression limit (default 64 MiB). */
  maxDecompressedBytes?: number;
}

export interface DownConverted {
  /** The message set. */
  records: Buffer;
  messageCount: number;
  /** Offset of the last record converted, -1 when none. */
  lastOffset: number;
  /** True when maxBytes stopped the conversion before the input's end. */
  truncated: boolean;
}

/**
 * Down-conversion of magic-2 batches (as stored) into a magic 0 or 1 message set for Fetch v0-v3.
 * Absolute offsets are kept; headers, producer ids and control batches are dropped. A batch
 * compressed with gzip, snappy or lz4 becomes one wrapper message with the same codec (lz4 in
 * magic 0 with the old descriptor checksum); zstd did not exist before magic 2, so those records
 * come out uncompressed. LogAppendTime batches set the magic-1 timestamp-type bit. Output is cut
 * at message (or wrapper) boundaries; a partial trailing batch in the input is ignored.
 */
export function downConvertRecordBatches(blob: Buffer, opts: DownConvertOptions): DownConverted {
  const magic = opts.toMagic;
  const maxBytes = opts.maxBytes ?? Infinity;
  const fromOffset = opts.fromOffset ?? 0;
  const minOne = opts.minOneMessage ?? true;
  const end = wholeBatchesLength(blob);
  const cursor = new RecordCursor();
  const parts: Buffer[] = [];
  let total = 0;
  let count = 0;
  let lastOffset = -1;
  let truncated = false;
  const fits = (size: number) => total + size <= maxBytes || (minOne && count === 0);

  let pos = 0;
  outer: while (pos < end) {
    cursor.reset(blob, pos, { maxDecompressedBytes: opts.maxDecompressedBytes });
    pos += cursor.batchSize;
    if (cursor.isControl) continue;
    let codec = cursor.attributes & COMPRESSION_CODEC_MASK;
    if (codec === CompressionCodec.ZSTD) codec = CompressionCodec.NONE;
    const encodeOpts = {
      magic,
      timestampType: cursor.logAppendTime ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
      logAppendTime: cursor.maxTimestamp,
    } as const;
    const messages: LegacyMessageInput[] = [];
    if (codec === CompressionCodec.NONE) {
      while (cursor.next()) {
        if (cursor.offset < fromOffset) continue;
        const key = cursor.key();
        const value = cursor.value();
        const size = legacyMessageSize(magic, key, value);
        if (!fits(size)) {
          truncated = true;
          if (messages.length > 0) parts.push(encodeMessageSet(messages, encodeOpts));
          break outer;
        }
        messages.push({ offset: cursor.offset, timestamp: cursor.timestamp, key, value });
        total += size;
        count++;
        lastOffset = cursor.offset;
      }
      if (messages.length > 0) parts.push(encodeMessageSet(messages, encodeOpts));
    } else {
      while (cursor.next()) {
        if (cursor.offset >= fromOffset)
          messages.push({
            offset: cursor.offset,
            timestamp: cursor.timestamp,
            key: cursor.key(),
            value: cursor.value(),
          });
      }
      if (messages.length === 0) continue;
      const wrapper = encodeMessageSet(messages, { ...encodeOpts, compression: codec });
      if (!fits(wrapper.length)) {
        truncated = true;
        break;
      }
      parts.push(wrapper);
      total += wrapper.length;
      count += messages.length;
      lastOffset = messages[messages.length - 1]!.offset!;
    }
  }
  return { records: Buffer.concat(parts, total), messageCount: count, lastOffset, truncated };
}
