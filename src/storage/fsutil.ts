import * as fs from 'node:fs';
import { dirname } from 'node:path';

/**
 * Test seam: when set, awaited before every background sync (fdatasync of a log, index write,
 * directory fsync), so tests can slow the disk down or fail it. Null in production (one check).
 */
export const syncDelay: { before: ((what: string) => Promise<void>) | null } = { before: null };

/**
 * Makes renames, creates and unlinks inside `dir` durable (the directory entry is metadata fdatasync
 * does not cover). Synchronous: only for start-up recovery, before the broker serves anything.
 */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The same, on libuv's threadpool (every path that runs while serving). */
export async function fsyncDirAsync(dir: string): Promise<void> {
  if (syncDelay.before) await syncDelay.before(dir);
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a small file so that a crash leaves either the old or the new content, never a mix:
 * temporary file written and fsynced, renamed over the target, directory fsynced. Callers
 * serialise writes of one path (the temporary name is shared).
 */
export async function writeFileAtomicAsync(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await fs.promises.open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    if (syncDelay.before) await syncDelay.before(tmp);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, path);
  await fsyncDirAsync(dirname(path));
}

/** Writes a small file so that a crash leaves either the old or the new content, never a mix. */
export function writeFileAtomic(path: string, data: Buffer | string): void {
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Writes all of `buf` at `position` (pwrite loop: a regular-file write can still come back short). */
export function writeFully(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) {
    off += fs.writeSync(fd, buf, off, buf.length - off, position + off);
  }
}

/** Reads exactly `length` bytes at `position`, or fewer only at end of file. */
export function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export function readAsync(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = (): void => {
      fs.read(fd, buf, offset + done, length - done, position + done, (err, n) => {
        if (err) return reject(err);
        done += n;
        if (n === 0 || done >= length) resolve(done);
        else step();
      });
    };
    step();
  });
}

export async function fdatasyncAsync(fd: number): Promise<void> {
  if (syncDelay.before) await syncDelay.before(`fd ${fd}`);
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function existsSync(path: string): boolean {
  try {
    fs.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function unlinkQuiet(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Kafka's offset checkpoint text format, used for recovery points, log start offsets and cleaner
 * positions: a version line (0), a count line, then `topic partition offset` lines.
 */
export function readOffsetCheckpoint(path: string): Map<string, number> {
  const out = new Map<string, number>();
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  const lines = text.split('\n');
  if (lines[0] !== '0') throw new Error(`${path}: unknown checkpoint version ${lines[0]}`);
  const n = Number(lines[1]);
  if (!Number.isInteger(n) || n < 0 || lines.length < n + 2) throw new Error(`${path}: bad entry count`);
  for (let i = 0; i < n; i++) {
    const parts = lines[2 + i]!.split(' ');
    if (parts.length !== 3) throw new Error(`${path}: malformed line ${i + 3}`);
    const offset = Number(parts[2]);
    if (!Number.isSafeInteger(offset)) throw new Error(`${path}: bad offset on line ${i + 3}`);
    out.set(`${parts[0]}-${parts[1]}`, offset);
  }
  return out;
}

function checkpointText(entries: Array<[topic: string, partition: number, offset: number]>): string {
  const lines = ['0', String(entries.length)];
  for (const [t, p, o] of entries) lines.push(`${t} ${p} ${o}`);
  return lines.join('\n') + '\n';
}

/**
 * One checkpoint file written both synchronously (start-up, and tests that stop a manager as a
 * crash would) and in the background (everything that runs while serving, whose fsyncs must not
 * stall the event loop when the disk is busy). Every write takes a generation when its content is
 * computed; background writes rename in generation order (so one that resolves knows every older
 * one landed or was superseded), and one whose content is older than what is already in place is
 * dropped instead of renamed over it, so the file never goes back in time.
 */
export class CheckpointFile {
  private generation = 0;
  private written = 0;
  private renames: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  writeSync(entries: Array<[topic: string, partition: number, offset: number]>): void {
    const g = ++this.generation;
    writeFileAtomic(this.path, checkpointText(entries));
    this.written = g;
  }

  write(entries: Array<[topic: string, partition: number, offset: number]>): Promise<void> {
    const g = ++this.generation;
    const text = checkpointText(entries);
    const tmp = `${this.path}.${g}.tmp`;
    const synced = (async () => {
      const fh = await fs.promises.open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(text);
        if (syncDelay.before) await syncDelay.before(tmp);
        await fh.sync();
      } finally {
        await fh.close();
      }
    })();
    const done = this.renames.then(async () => {
      try {
        await synced;
      } catch (err) {
        await fs.promises.unlink(tmp).catch(() => {});
        throw err;
      }
      if (this.written >= g) {
        await fs.promises.unlink(tmp).catch(() => {});
        return;
      }
      await fs.promises.rename(tmp, this.path);
      this.written = g;
      await fsyncDirAsync(dirname(this.path));
    });
    this.renames = done.catch(() => {});
    return done;
  }
}
