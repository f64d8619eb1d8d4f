import * as fs from 'node:fs';
import { syncDelay, writeFully } from './fsutil.js';

/**
 * The sparse indexes of one segment, Kafka's file formats:
 *   `.index`     8-byte entries: relative offset int32 (offset - base offset), position int32
 *   `.timeindex` 12-byte entries: timestamp int64, relative offset int32
 * Entries are kept in a growable in-memory Buffer (Node has no mmap); the file is written in one
 * pwrite of the entries not yet on disk when the segment is flushed after it closes, and whole on a
 * clean shutdown. So an index file is always exactly its entries (no preallocated zero tail to trim),
 * and the active segment's index costs no syscall per entry. After a crash the active segment is
 * rescanned anyway, so its index on disk may lag without harm.
 */
abstract class SparseIndex {
  buf: Buffer;
  entries = 0;
  /** Entries already written to the file. */
  written = 0;
  readonly maxEntries: number;

  constructor(
    readonly baseOffset: number,
    public path: string,
    maxBytes: number,
    readonly entrySize: number,
  ) {
    this.maxEntries = Math.max(1, Math.floor(maxBytes / entrySize));
    this.buf = Buffer.allocUnsafe(Math.min(64, this.maxEntries) * entrySize);
  }

  get isFull(): boolean {
    return this.entries >= this.maxEntries;
  }

  get sizeInBytes(): number {
    return this.entries * this.entrySize;
  }

  protected grow(): void {
    if ((this.entries + 1) * this.entrySize <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.min(this.buf.length * 2, this.maxEntries * this.entrySize));
    this.buf.copy(next, 0, 0, this.entries * this.entrySize);
    this.buf = next;
  }

  /** Reads the file; false when it is missing or fails the sanity check (then the caller rebuilds). */
  load(): boolean {
    let data: Buffer;
    try {
      data = fs.readFileSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    if (data.length % this.entrySize !== 0 || data.length > this.maxEntries * this.entrySize) return false;
    this.buf = data.length > 0 ? data : Buffer.allocUnsafe(Math.min(64, this.maxEntries) * this.entrySize);
    this.entries = data.length / this.entrySize;
    this.written = this.entries;
    return this.sane();
  }

  protected abstract sane(): boolean;

  reset(): void {
    this.entries = 0;
    this.written = 0;
  }

  truncateEntries(n: number): void {
    if (n < this.entries) this.entries = n;
    if (this.written > n) this.written = n;
  }

  /** Writes the entries not yet on disk (or all, if the file was shortened) and optionally fsyncs. */
  writeFile(sync: boolean): void {
    const fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      const size = fs.fstatSync(fd).size;
      const expected = this.written * this.entrySize;
      let from = this.written;
      if (size !== expected) {
        from = 0;
        fs.ftruncateSync(fd, 0);
      }
      writeFully(fd, this.buf.subarray(from * this.entrySize, this.entries * this.entrySize), from * this.entrySize);
      this.written = this.entries;
      if (sync) fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * The same off the event loop (open, write, fdatasync and close on libuv's threadpool). The path
   * is taken when this starts; the log never renames a segment's files while one of its index
   * writes is in flight (PartitionLog.indexWritesIdle), so the open finds this segment's file.
   * `stop` is checked between steps (a halted log writes nothing more).
   */
  async writeFileAsync(stop: () => boolean): Promise<void> {
    const to = this.entries;
    const fh = await fs.promises.open(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      const size = (await fh.stat()).size;
      if (stop()) return;
      const expected = this.written * this.entrySize;
      let from = this.written;
      if (size !== expected) {
        from = 0;
        await fh.truncate(0);
      }
      // A copy: the entries stay put once a segment is closed, but no buffer is shared with a write in flight.
      const bytes = Buffer.from(this.buf.subarray(from * this.entrySize, to * this.entrySize));
      let off = 0;
      while (off < bytes.length) {
        off += (await fh.write(bytes, off, bytes.length - off, from * this.entrySize + off)).bytesWritten;
      }
      if (stop()) return;
      if (syncDelay.before) await syncDelay.before(this.path);
      await fh.datasync();
      this.written = Math.min(to, this.entries);
    } finally {
      await fh.close();
    }
  }
}

export class OffsetIndex extends SparseIndex {
  constructor(baseOffset: number, path: string, maxBytes: number) {
    super(baseOffset, path, maxBytes, 8);
  }

  relativeOffsetAt(i: number): number {
    return this.buf.readInt32BE(i * 8);
  }

  positionAt(i: number): number {
    return this.buf.readInt32BE(i * 8 + 4);
  }

  get lastOffset(): number {
    return this.entries === 0 ? this.baseOffset : this.baseOffset + this.relativeOffsetAt(this.entries - 1);
  }

  get lastPosition(): number {
    return this.entries === 0 ? 0 : this.positionAt(this.entries - 1);
  }

  append(offset: number, position: number): void {
    if (this.isFull) return;
    const rel = offset - this.baseOffset;
    if (this.entries > 0 && rel <= this.relativeOffsetAt(this.entries - 1)) return;
    this.grow();
    this.buf.writeInt32BE(rel, this.entries * 8);
    this.buf.writeInt32BE(position, this.entries * 8 + 4);
    this.entries++;
  }

  /** Index of the last entry whose offset is <= `offset`, or -1. */
  private floor(offset: number): number {
    const rel = offset - this.baseOffset;
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relativeOffsetAt(mid) <= rel) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** File position from which a forward scan finds the batch holding `offset` (0 when unindexed). */
  lookup(offset: number): number {
    const i = this.floor(offset);
    return i < 0 ? 0 : this.positionAt(i);
  }

  /** Drops entries for offsets >= `offset` (their batches are gone). */
  truncateToOffset(offset: number): void {
    const rel = offset - this.baseOffset;
    let n = this.entries;
    while (n > 0 && this.relativeOffsetAt(n - 1) >= rel) n--;
    this.truncateEntries(n);
  }

  protected sane(): boolean {
    let prevRel = -1;
    let prevPos = -1;
    for (let i = 0; i < this.entries; i++) {
      const rel = this.relativeOffsetAt(i);
      const pos = this.positionAt(i);
      if (rel <= prevRel || pos < prevPos || rel < 0) return false;
      prevRel = rel;
      prevPos = pos;
    }
    return true;
  }

  /** Checked after load against the log file it indexes. */
  fits(logSize: number): boolean {
    return this.entries === 0 || this.lastPosition < logSize;
  }
}

const TWO_32 = 4294967296;

export class TimeIndex extends SparseIndex {
  constructor(baseOffset: number, path: string, maxBytes: number) {
    super(baseOffset, path, maxBytes, 12);
  }

  timestampAt(i: number): number {
    return this.buf.readInt32BE(i * 12) * TWO_32 + this.buf.readUInt32BE(i * 12 + 4);
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.buf.readInt32BE(i * 12 + 8);
  }

  get lastTimestamp(): number {
    return this.entries === 0 ? -1 : this.timestampAt(this.entries - 1);
  }

  get lastEntryOffset(): number {
    return this.entries === 0 ? this.baseOffset : this.offsetAt(this.entries - 1);
  }

  /** Adds (timestamp, offset) when the timestamp grew; `force` ignores the size cap (the closing entry, as Kafka). */
  maybeAppend(timestamp: number, offset: number, force = false): void {
    if (this.entries > 0 && timestamp <= this.lastTimestamp) return;
    if (this.entries > 0 && offset < this.lastEntryOffset) return;
    if (this.isFull && !force) return;
    if ((this.entries + 1) * 12 > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, (this.entries + 1) * 12));
      this.buf.copy(next, 0, 0, this.entries * 12);
      this.buf = next;
    }
    const at = this.entries * 12;
    const hi = Math.floor(timestamp / TWO_32);
    this.buf.writeInt32BE(hi | 0, at);
    this.buf.writeUInt32BE((timestamp - hi * TWO_32) >>> 0, at + 4);
    this.buf.writeInt32BE(offset - this.baseOffset, at + 8);
    this.entries++;
  }

  /** Offset from which to scan for the first batch with maxTimestamp >= `timestamp`. */
  lookup(timestamp: number): number {
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestampAt(mid) < timestamp) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? this.baseOffset : this.offsetAt(found);
  }

  truncateToOffset(offset: number): void {
    let n = this.entries;
    while (n > 0 && this.offsetAt(n - 1) >= offset) n--;
    this.truncateEntries(n);
  }

  protected sane(): boolean {
    let prevTs = -Infinity;
    let prevOff = -1;
    for (let i = 0; i < this.entries; i++) {
      const ts = this.timestampAt(i);
      const off = this.offsetAt(i);
      if (ts < prevTs || off < prevOff || off < this.baseOffset) return false;
      prevTs = ts;
      prevOff = off;
    }
    return true;
  }
}

/** One aborted transaction, as the `.txnindex` stores it (Kafka's AbortedTxn, version 0). */
export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
  lastStableOffset: number;
}

const TXN_ENTRY = 34;

function putInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi | 0, at);
  buf.writeUInt32BE((v - hi * TWO_32) >>> 0, at + 4);
}

function getInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

/**
 * Aborted-transaction index (`.txnindex`): 34-byte entries, version int16 (0), producerId,
 * firstOffset, lastOffset, lastStableOffset (int64 each). Appended to the file as entries arrive
 * (aborts are rare); loaded lazily; the file exists only once the segment has an entry.
 */
export class TxnIndex {
  private list: AbortedTxn[] | null = null;
  constructor(public path: string) {}

  entries(): AbortedTxn[] {
    if (this.list) return this.list;
    const list: AbortedTxn[] = [];
    let data: Buffer | null = null;
    try {
      data = fs.readFileSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (data) {
      for (let at = 0; at + TXN_ENTRY <= data.length; at += TXN_ENTRY) {
        if (data.readInt16BE(at) !== 0) break;
        list.push({
          producerId: getInt64(data, at + 2),
          firstOffset: getInt64(data, at + 10),
          lastOffset: getInt64(data, at + 18),
          lastStableOffset: getInt64(data, at + 26),
        });
      }
    }
    this.list = list;
    return list;
  }

  static encode(list: AbortedTxn[]): Buffer {
    const buf = Buffer.alloc(list.length * TXN_ENTRY);
    list.forEach((e, i) => {
      const at = i * TXN_ENTRY;
      buf.writeInt16BE(0, at);
      putInt64(buf, at + 2, e.producerId);
      putInt64(buf, at + 10, e.firstOffset);
      putInt64(buf, at + 18, e.lastOffset);
      putInt64(buf, at + 26, e.lastStableOffset);
    });
    return buf;
  }

  append(e: AbortedTxn): void {
    const list = this.entries();
    const last = list[list.length - 1];
    if (last && e.lastOffset <= last.lastOffset) {
      throw new RangeError(`aborted txn lastOffset ${e.lastOffset} not above previous ${last.lastOffset}`);
    }
    fs.appendFileSync(this.path, TxnIndex.encode([e]));
    list.push(e);
  }

  /** Drops entries whose lastOffset >= `offset` and rewrites the file. */
  truncateTo(offset: number): void {
    const list = this.entries();
    const keep = list.filter((e) => e.lastOffset < offset);
    if (keep.length === list.length) return;
    this.list = keep;
    if (keep.length === 0) {
      try {
        fs.unlinkSync(this.path);
      } catch {
        /* never written */
      }
    } else fs.writeFileSync(this.path, TxnIndex.encode(keep));
  }

  /** Writes `list` as the whole file (cleaned segments carry their sources' entries). */
  replaceAll(list: AbortedTxn[]): void {
    this.list = [...list];
    if (list.length > 0) fs.writeFileSync(this.path, TxnIndex.encode(list));
  }

  hasFile(): boolean {
    return this.entries().length > 0;
  }

  sync(): void {
    if (!this.list || this.list.length === 0) return;
    const fd = fs.openSync(this.path, 'r+');
    try {
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The same off the event loop (see SparseIndex.writeFileAsync for why the path is safe to open). */
  async syncAsync(): Promise<void> {
    if (!this.list || this.list.length === 0) return;
    const fh = await fs.promises.open(this.path, 'r+');
    try {
      if (syncDelay.before) await syncDelay.before(this.path);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}
