import { Worker } from 'node:worker_threads';
import { CompressionCodec, CompressionError, CorruptCompressedDataError, DecompressionLimitError } from './codec.js';
import type { ZstdJob, ZstdReply } from './zstd-worker.js';

/**
 * One lazily started worker thread for asynchronous zstd. It is unreferenced while idle so it
 * never keeps the process alive, and referenced while a job is outstanding.
 */
interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
  worker = undefined;
}

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./zstd-worker.js', import.meta.url));
  w.unref();
  w.on('message', (reply: ZstdReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if (reply.ok) {
      p.resolve(Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength));
    } else if (reply.kind === 'limit') {
      const e = new DecompressionLimitError(CompressionCodec.ZSTD, reply.limit, 'in worker');
      e.message = reply.message;
      p.reject(e);
    } else if (reply.kind === 'corrupt') {
      const e = new CorruptCompressedDataError(CompressionCodec.ZSTD, '');
      e.message = reply.message;
      p.reject(e);
    } else {
      p.reject(new CompressionError(CompressionCodec.ZSTD, reply.message));
    }
  });
  w.on('error', (err) =>
    failAll(new CompressionError(CompressionCodec.ZSTD, `worker failed: ${err.message}`, { cause: err })),
  );
  w.on('exit', (code) => {
    if (worker === w) failAll(new CompressionError(CompressionCodec.ZSTD, `worker exited with code ${code}`));
  });
  worker = w;
  return w;
}

export function runZstdJob(op: ZstdJob['op'], data: Buffer, arg: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const w = getWorker();
    const id = nextId++;
    if (pending.size === 0) w.ref();
    pending.set(id, { resolve, reject });
    // The input may be a view into a larger (pooled) buffer: send a private copy and transfer it.
    const copy = new Uint8Array(data);
    const job: ZstdJob = { id, op, data: copy, arg };
    w.postMessage(job, [copy.buffer]);
  });
}
