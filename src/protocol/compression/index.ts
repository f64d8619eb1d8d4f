import * as zlib from 'node:zlib';
import {
  CompressionCodec,
  CorruptCompressedDataError,
  DecompressionLimitError,
  UnsupportedCompressionError,
  codecName,
  outputLimit,
  type CompressOptions,
  type DecompressOptions,
} from './codec.js';
import { lz4FrameCompress, lz4FrameCompressAsync, lz4FrameDecompress, lz4FrameDecompressAsync } from './lz4-frame.js';
import { snappyCompress, snappyCompressAsync, snappyDecompress, snappyDecompressAsync } from './snappy-xerial.js';
import { ZSTD_DEFAULT_LEVEL, zstdCompress, zstdDecompress } from './zstd.js';
import { runZstdJob } from './zstd-pool.js';

export * from './codec.js';
export { XERIAL_MAGIC, isXerialFramed } from './snappy-xerial.js';
export { xxhash32 } from './xxhash32.js';

/** java.util.zip's default level, which Kafka's gzip producer uses. */
const GZIP_DEFAULT_LEVEL = 6;
const GZIP = CompressionCodec.GZIP;

function unsupported(codec: number): UnsupportedCompressionError {
  return new UnsupportedCompressionError(codec, `compression codec ${codecName(codec)} is not supported`);
}

function gzipOptions(options: CompressOptions | undefined): zlib.ZlibOptions {
  return { level: options?.level ?? GZIP_DEFAULT_LEVEL };
}

function gunzipError(err: unknown, limit: number): Error {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'ERR_BUFFER_TOO_LARGE') {
    return new DecompressionLimitError(GZIP, limit, 'gzip stream inflates further');
  }
  return new CorruptCompressedDataError(GZIP, (err as Error)?.message ?? 'malformed stream', { cause: err });
}

/** zlib's maxOutputLength must be at least 1, so a limit of 0 is enforced here. */
function checkGunzipped(out: Buffer, limit: number): Buffer {
  if (out.length > limit) throw new DecompressionLimitError(GZIP, limit, `${out.length} bytes`);
  return out;
}

/**
 * Compresses `data` as codec `codec` frames it inside Kafka record batches and message sets
 * (gzip stream, snappy-java framing, LZ4 frame with 64 KiB blocks, zstd frame). Codec 0 returns
 * `data` itself.
 */
export function compress(codec: number, data: Buffer, options?: CompressOptions): Buffer {
  switch (codec) {
    case CompressionCodec.NONE:
      return data;
    case CompressionCodec.GZIP:
      return zlib.gzipSync(data, gzipOptions(options));
    case CompressionCodec.SNAPPY:
      return snappyCompress(data);
    case CompressionCodec.LZ4:
      return lz4FrameCompress(data, options?.lz4BrokenHeaderChecksum ?? false);
    case CompressionCodec.ZSTD:
      return zstdCompress(data, options?.level ?? ZSTD_DEFAULT_LEVEL);
    default:
      throw unsupported(codec);
  }
}

/**
 * Decompresses `data`, refusing (DecompressionLimitError) to produce more than
 * `options.maxOutputBytes`. Malformed input raises CorruptCompressedDataError, codec ids 5-7
 * UnsupportedCompressionError. Codec 0 returns `data` itself.
 */
export function decompress(codec: number, data: Buffer, options?: DecompressOptions): Buffer {
  const limit = outputLimit(options);
  switch (codec) {
    case CompressionCodec.NONE:
      if (data.length > limit) throw new DecompressionLimitError(codec, limit, `${data.length} bytes`);
      return data;
    case CompressionCodec.GZIP: {
      let out: Buffer;
      try {
        out = zlib.gunzipSync(data, { maxOutputLength: Math.max(1, limit) });
      } catch (err) {
        throw gunzipError(err, limit);
      }
      return checkGunzipped(out, limit);
    }
    case CompressionCodec.SNAPPY:
      return snappyDecompress(data, limit);
    case CompressionCodec.LZ4:
      return lz4FrameDecompress(data, limit, options?.lz4IgnoreHeaderChecksum ?? false);
    case CompressionCodec.ZSTD:
      return zstdDecompress(data, limit);
    default:
      throw unsupported(codec);
  }
}

/**
 * Like `compress`, off the event loop: gzip on zlib's thread-pool work, snappy and lz4 blocks on
 * libuv's thread pool through the native packages, zstd on a worker thread.
 */
export async function compressAsync(codec: number, data: Buffer, options?: CompressOptions): Promise<Buffer> {
  switch (codec) {
    case CompressionCodec.NONE:
      return data;
    case CompressionCodec.GZIP:
      return new Promise((resolve, reject) => {
        zlib.gzip(data, gzipOptions(options), (err, out) => (err ? reject(err) : resolve(out)));
      });
    case CompressionCodec.SNAPPY:
      return snappyCompressAsync(data);
    case CompressionCodec.LZ4:
      return lz4FrameCompressAsync(data, options?.lz4BrokenHeaderChecksum ?? false);
    case CompressionCodec.ZSTD:
      return runZstdJob('compress', data, options?.level ?? ZSTD_DEFAULT_LEVEL);
    default:
      throw unsupported(codec);
  }
}

/** Like `decompress`, off the event loop where the codec allows (see compressAsync). */
export async function decompressAsync(codec: number, data: Buffer, options?: DecompressOptions): Promise<Buffer> {
  const limit = outputLimit(options);
  switch (codec) {
    case CompressionCodec.NONE:
      if (data.length > limit) throw new DecompressionLimitError(codec, limit, `${data.length} bytes`);
      return data;
    case CompressionCodec.GZIP:
      return new Promise((resolve, reject) => {
        zlib.gunzip(data, { maxOutputLength: Math.max(1, limit) }, (err, out) => {
          if (err) reject(gunzipError(err, limit));
          else {
            try {
              resolve(checkGunzipped(out, limit));
            } catch (e) {
              reject(e);
            }
          }
        });
      });
    case CompressionCodec.SNAPPY:
      return snappyDecompressAsync(data, limit);
    case CompressionCodec.LZ4:
      return lz4FrameDecompressAsync(data, limit, options?.lz4IgnoreHeaderChecksum ?? false);
    case CompressionCodec.ZSTD:
      return runZstdJob('decompress', data, limit);
    default:
      throw unsupported(codec);
  }
}
