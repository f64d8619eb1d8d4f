import { parentPort } from 'node:worker_threads';
import { CorruptCompressedDataError, DecompressionLimitError } from './codec.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

/** Runs zstd off the event loop: zstd-napi has no asynchronous API of its own. */
export interface ZstdJob {
  id: number;
  op: 'compress' | 'decompress';
  data: Uint8Array;
  /** Level for compress, output limit for decompress. */
  arg: number;
}

export type ZstdReply =
  | { id: number; ok: true; data: Uint8Array }
  | { id: number; ok: false; kind: 'corrupt' | 'limit' | 'other'; message: string; limit: number };

const port = parentPort;
if (port) {
  port.on('message', (job: ZstdJob) => {
    const input = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
    try {
      const out = job.op === 'compress' ? zstdCompress(input, job.arg) : zstdDecompress(input, job.arg);
      // An exact-size copy owns its ArrayBuffer, so it can be transferred instead of cloned.
      const owned = new Uint8Array(out.length);
      owned.set(out);
      const reply: ZstdReply = { id: job.id, ok: true, data: owned };
      port.postMessage(reply, [owned.buffer]);
    } catch (err) {
      const kind =
        err instanceof DecompressionLimitError
          ? 'limit'
          : err instanceof CorruptCompressedDataError
            ? 'corrupt'
            : 'other';
      const reply: ZstdReply = {
        id: job.id,
        ok: false,
        kind,
        message: err instanceof Error ? err.message : String(err),
        limit: err instanceof DecompressionLimitError ? err.limit : 0,
      };
      port.postMessage(reply);
    }
  });
}
