/**
 * Compression codec ids as they appear in bits 0-2 of batch and message attributes.
 * Ids 5-7 are unassigned; zstd is only legal in magic 2 batches.
 */
export const CompressionCodec = {
  NONE: 0,
  GZIP: 1,
  SNAPPY: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;

export type CompressionCodec = (typeof CompressionCodec)[keyof typeof CompressionCodec];

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionCodecName = (typeof NAMES)[number];

export function isSupportedCodec(id: number): id is CompressionCodec {
  return Number.isInteger(id) && id >= 0 && id <= 4;
}

/** Kafka's name for a codec id (`compression.type` values), or `unknown(<id>)`. */
export function codecName(id: number): string {
  return isSupportedCodec(id) ? NAMES[id] : `unknown(${id})`;
}

export function codecFromName(name: string): CompressionCodec {
  const i = (NAMES as readonly string[]).indexOf(name.toLowerCase());
  if (i < 0) throw new TypeError(`unknown compression type: ${name}`);
  return i as CompressionCodec;
}

/**
 * Upper bound on decompressed output when the caller gives none. Kafka's own limits are 1 MiB per
 * batch by default (max.message.bytes) and a fetch rarely exceeds 50 MiB; a legitimate batch that
 * expands beyond 64 MiB is far outside what clients produce, while a crafted one could otherwise
 * expand to gigabytes.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Base class of every failure raised by the compression layer. */
export class CompressionError extends Error {
  override name = 'CompressionError';
  readonly codec: number;
  constructor(codec: number, message: string, options?: { cause?: unknown }) {
    super(`${codecName(codec)}: ${message}`, options);
    this.codec = codec;
  }
}

/** The compressed bytes are malformed, truncated or fail a checksum (Kafka: CORRUPT_MESSAGE). */
export class CorruptCompressedDataError extends CompressionError {
  override name = 'CorruptCompressedDataError';
}

/** Decompressing would produce more than the caller's limit; nothing beyond it was allocated. */
export class DecompressionLimitError extends CompressionError {
  override name = 'DecompressionLimitError';
  readonly limit: number;
  constructor(codec: number, limit: number, detail: string) {
    super(codec, `decompressed size exceeds the limit of ${limit} bytes (${detail})`);
    this.limit = limit;
  }
}

/** Codec id 5-7, or a codec the caller does not allow here (Kafka: UNSUPPORTED_COMPRESSION_TYPE). */
export class UnsupportedCompressionError extends CompressionError {
  override name = 'UnsupportedCompressionError';
}

export interface DecompressOptions {
  /** Refuse to produce more than this many bytes (default DEFAULT_MAX_DECOMPRESSED_BYTES). */
  maxOutputBytes?: number;
  /**
   * lz4 only: accept any frame-descriptor checksum byte. Kafka before 0.10 computed it over the
   * magic number as well, so magic-0 lz4 messages carry a wrong value that readers must ignore.
   */
  lz4IgnoreHeaderChecksum?: boolean;
}

export interface CompressOptions {
  /** gzip 1-9 (default 6, as java.util.zip), zstd (default 3, as Kafka). Ignored by snappy and lz4. */
  level?: number;
  /**
   * lz4 only: write the frame-descriptor checksum the way Kafka did for magic 0 (hashing the magic
   * number too). Old readers of magic-0 lz4 expect it; never use it for magic 1 or 2.
   */
  lz4BrokenHeaderChecksum?: boolean;
}

export function outputLimit(options: DecompressOptions | undefined): number {
  const limit = options?.maxOutputBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  if (!(limit >= 0)) throw new RangeError(`maxOutputBytes must be >= 0, got ${limit}`);
  return limit;
}
