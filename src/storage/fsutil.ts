import * as fs from 'node:fs';
import { dirname } from 'node:path';

/** Makes renames, creates and unlinks inside `dir` durable (the directory entry is metadata fdatasync does not cover). */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
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

export function fdatasyncAsync(fd: number): Promise<void> {
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
 * One checkpoint file written both synchronously (where a caller needs it durable before going
 * on: DeleteRecords, close) and in the background (the periodic checkpoint, whose fsyncs must not
 * stall the event loop when the disk is busy). Every write takes a generation when its content is
 * computed; a background write whose content is older than what is already in place is dropped
 * instead of renamed over it, so the file never goes back in time.
 */
export class CheckpointFile {
  private generation = 0;
  private written = 0;

  constructor(readonly path: string) {}

  writeSync(entries: Array<[topic: string, partition: number, offset: number]>): void {
    const g = ++this.generation;
    writeFileAtomic(this.path, checkpointText(entries));
    this.written = g;
  }

  async write(entries: Array<[topic: string, partition: number, offset: number]>): Promise<void> {
    const g = ++this.generation;
    const tmp = `${this.path}.${g}.tmp`;
    const fh = await fs.promises.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(checkpointText(entries));
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (this.written >= g) {
      await fs.promises.unlink(tmp).catch(() => {});
      return;
    }
    fs.renameSync(tmp, this.path);
    this.written = g;
    const dir = await fs.promises.open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
