// The binding is a CommonJS native module whose exports Node cannot list statically.
import zstdBinding from 'zstd-napi/binding.js';
import { CompressionCodec, CorruptCompressedDataError, DecompressionLimitError } from './codec.js';

/**
 * zstd through zstd-napi's low-level binding. Its high-level `decompress` trusts the frame's
 * declared content size and allocates it up front, which a crafted frame turns into an arbitrary
 * allocation; here the declared sizes are checked against the limit first, and frames without a
 * declared size (the Java client writes those: it streams) are decoded in bounded steps.
 */
const ZSTD = CompressionCodec.ZSTD;
/** Kafka's default zstd level (compression.zstd.level). */
export const ZSTD_DEFAULT_LEVEL = 3;
const STEP = 128 * 1024;

let cctx: zstdBinding.CCtx | undefined;
let dctx: zstdBinding.DCtx | undefined;

function corrupt(message: string, cause?: unknown): CorruptCompressedDataError {
  return new CorruptCompressedDataError(ZSTD, message, cause === undefined ? undefined : { cause });
}

export function zstdCompress(data: Buffer, level = ZSTD_DEFAULT_LEVEL): Buffer {
  cctx ??= new zstdBinding.CCtx();
  cctx.reset(zstdBinding.ResetDirective.sessionAndParameters);
  cctx.setParameter(zstdBinding.CParameter.compressionLevel, level);
  const out = Buffer.allocUnsafe(zstdBinding.compressBound(data.length));
  const n = cctx.compress2(out, data);
  // The bound is about the input size; keep only what is needed when the saving is large.
  return n < out.length >>> 1 ? Buffer.from(out.subarray(0, n)) : out.subarray(0, n);
}

/** Sum of the declared content sizes of all frames, or -1 when a frame does not declare one. */
function declaredSize(data: Buffer): number {
  let total = 0;
  let rest = data;
  while (rest.length > 0) {
    let size: number | null;
    let frameLength: number;
    try {
      size = zstdBinding.getFrameContentSize(rest);
      frameLength = zstdBinding.findFrameCompressedSize(rest);
    } catch (err) {
      throw corrupt('malformed frame header', err);
    }
    if (size === null) return -1;
    total += size;
    rest = rest.subarray(frameLength);
  }
  return total;
}

export function zstdDecompress(data: Buffer, limit: number): Buffer {
  if (data.length === 0) throw corrupt('empty input');
  dctx ??= new zstdBinding.DCtx();
  const declared = declaredSize(data);
  if (declared > limit) throw new DecompressionLimitError(ZSTD, limit, `frames declare ${declared} bytes`);
  try {
    if (declared >= 0) {
      const out = Buffer.allocUnsafe(declared);
      const n = dctx.decompress(out, data);
      if (n !== declared) throw corrupt(`frames declare ${declared} bytes but hold ${n}`);
      return out;
    }
    return streamBounded(dctx, data, limit);
  } catch (err) {
    if (err instanceof CorruptCompressedDataError || err instanceof DecompressionLimitError) throw err;
    throw corrupt('malformed data', err);
  } finally {
    // A failed call can leave the shared context mid-frame.
    dctx.reset(zstdBinding.ResetDirective.sessionOnly);
  }
}

function streamBounded(ctx: zstdBinding.DCtx, data: Buffer, limit: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  let input = data;
  let pending = 1;
  while (input.length > 0 || pending !== 0) {
    // One byte beyond the limit is enough to know it is exceeded.
    const room = Math.min(STEP, limit - total + 1);
    const chunk = Buffer.allocUnsafe(room);
    const [hint, produced, consumed] = ctx.decompressStream(chunk, input);
    if (produced === 0 && consumed === 0) {
      if (input.length === 0) throw corrupt('truncated frame');
      throw corrupt('decoder made no progress');
    }
    total += produced;
    if (total > limit) throw new DecompressionLimitError(ZSTD, limit, `more than ${limit} bytes decoded`);
    if (produced > 0) out.push(chunk.subarray(0, produced));
    input = input.subarray(consumed);
    // 0 means every frame so far is complete and flushed; with input left, another frame follows.
    pending = hint;
    if (input.length === 0 && hint !== 0 && produced < room) throw corrupt('truncated frame');
  }
  return Buffer.concat(out, total);
}
