import * as fs from 'node:fs';
import { join } from 'node:path';
import {
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  MAGIC_OFFSET,
  checkBatch,
  entrySize,
  baseOffset as batchBaseOffset,
  lastOffset as batchLastOffset,
  maxTimestamp as batchMaxTimestamp,
  type BatchProblem,
} from '../protocol/records/batch-header.js';
import { CorruptRecordError } from './errors.js';
import type { FilePool, PooledFile } from './file-pool.js';
import { fdatasyncAsync, readAsync, readFully, unlinkQuiet, writeFully } from './fsutil.js';
import { OffsetIndex, TimeIndex, TxnIndex } from './indexes.js';

/**
 * Where reads get their buffers: the heap by default, or a pool the caller recycles (the broker's
 * fetch path) so large reads do not fault in fresh pages every time.
 */
export interface ReadBuffers {
  acquire(size: number): Buffer;
  release(buf: Buffer): void;
}

export const HEAP_BUFFERS: ReadBuffers = { acquire: (size) => Buffer.allocUnsafe(size), release: () => {} };

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
export const TXN_INDEX_SUFFIX = '.txnindex';
export const DELETED_SUFFIX = '.deleted';
export const CLEANED_SUFFIX = '.cleaned';
export const SWAP_SUFFIX = '.swap';

/** Bytes of a batch header needed to know its base offset, size and last offset. */
const SHALLOW_HEADER = 27;
const SCAN_CHUNK = 8 * 1024 * 1024;
const INT32_MAX = 0x7fffffff;

export function offsetFileName(offset: number): string {
  return String(offset).padStart(20, '0');
}

export interface SegmentSettings {
  indexIntervalBytes: number;
  segmentIndexBytes: number;
}

export interface ScanResult {
  /** File position after the last valid batch. */
  validBytes: number;
  /** Why scanning stopped early, or null when the whole file was valid. */
  problem: BatchProblem | 'bad-offset' | null;
  /** Next offset after the last valid batch (the segment base offset when it holds none). */
  nextOffset: number;
  batches: number;
}

/**
 * One segment: a `.log` file of whole batches from `baseOffset` on, its sparse offset and time
 * indexes, and its aborted-transaction index. Closed segments load their indexes only when a read,
 * retention or cleaning needs them, so opening a large log costs a stat per segment.
 */
export class LogSegment {
  readonly file: PooledFile;
  size: number;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  readonly txnIndex: TxnIndex;
  indexesLoaded = false;
  /** Offset after the last batch, or -1 while unknown (a closed segment opened without a scan). */
  nextOffset = -1;
  /** Largest batch maxTimestamp in the segment (-1 when empty or not yet known). */
  maxTimestamp = -1;
  /** Base offset of the first batch that carries `maxTimestamp`. */
  offsetOfMaxTimestamp = -1;
  bytesSinceLastIndexEntry = 0;
  /** When this process created or opened the segment (segment.ms falls back to it). */
  created: number;
  /** maxTimestamp of the first batch, from which segment.ms is counted as Kafka does (-1 unknown). */
  firstBatchTimestamp = -1;
  closed = false;
  /** Index files on disk are complete and synced (a closed segment needs this before the recovery point passes it). */
  indexesDurable = false;
  deleted = false;
  /** The index write in flight, if any (index writes of one segment never overlap). */
  private indexWrite: Promise<void> | null = null;

  constructor(
    readonly dir: string,
    readonly baseOffset: number,
    pool: FilePool,
    private settings: SegmentSettings,
    size: number,
    now: number,
    suffix = '',
  ) {
    const name = offsetFileName(baseOffset);
    this.file = pool.file(join(dir, name + LOG_SUFFIX + suffix));
    this.size = size;
    this.offsetIndex = new OffsetIndex(baseOffset, join(dir, name + INDEX_SUFFIX + suffix), settings.segmentIndexBytes);
    this.timeIndex = new TimeIndex(
      baseOffset,
      join(dir, name + TIME_INDEX_SUFFIX + suffix),
      settings.segmentIndexBytes,
    );
    this.txnIndex = new TxnIndex(join(dir, name + TXN_INDEX_SUFFIX + suffix));
    this.created = now;
  }

  updateSettings(settings: SegmentSettings): void {
    this.settings = settings;
  }

  get logPath(): string {
    return this.file.path;
  }

  /** A brand-new empty segment (the `.log` file is created; index files come with the first flush). */
  static create(
    dir: string,
    baseOffset: number,
    pool: FilePool,
    settings: SegmentSettings,
    now: number,
    suffix = '',
  ): LogSegment {
    const seg = new LogSegment(dir, baseOffset, pool, settings, 0, now, suffix);
    const fd = fs.openSync(seg.file.path, 'w', 0o644);
    fs.closeSync(fd);
    seg.indexesLoaded = true;
    seg.nextOffset = baseOffset;
    return seg;
  }

  static open(dir: string, baseOffset: number, pool: FilePool, settings: SegmentSettings, now: number): LogSegment {
    const seg = new LogSegment(dir, baseOffset, pool, settings, 0, now);
    seg.size = fs.statSync(seg.file.path).size;
    // Files found at open are trusted until a scan says otherwise (recovery resets this).
    seg.indexesDurable = true;
    return seg;
  }

  // ---------------------------------------------------------------- indexes

  /**
   * Loads the index files of a segment opened without a scan; a missing or insane index (bad size,
   * entries out of order, positions past the end) is rebuilt from the log, as Kafka does.
   */
  ensureIndexes(): void {
    if (this.indexesLoaded) return;
    const ok = this.offsetIndex.load() && this.offsetIndex.fits(this.size) && this.timeIndex.load();
    if (!ok) {
      this.rebuildIndexes(false);
      return;
    }
    this.indexesLoaded = true;
    this.indexesDurable = true;
    if (this.timeIndex.entries > 0) {
      this.maxTimestamp = this.timeIndex.lastTimestamp;
      this.offsetOfMaxTimestamp = this.timeIndex.lastEntryOffset;
    }
  }

  /** Scans the log (checking CRCs when asked), rebuilds both indexes and truncates at the first bad batch. */
  rebuildIndexes(checkCrc: boolean): ScanResult {
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = -1;
    this.bytesSinceLastIndexEntry = 0;
    const interval = this.settings.indexIntervalBytes;
    const result = this.scanSync(0, this.size, checkCrc, (buf, pos, filePos, size) => {
      const ts = batchMaxTimestamp(buf, pos);
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts;
        this.offsetOfMaxTimestamp = batchBaseOffset(buf, pos);
      }
      if (this.bytesSinceLastIndexEntry > interval) {
        this.offsetIndex.append(batchLastOffset(buf, pos), filePos);
        this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
        this.bytesSinceLastIndexEntry = 0;
      }
      this.bytesSinceLastIndexEntry += size;
    });
    if (result.validBytes < this.size) this.truncateFile(result.validBytes);
    this.nextOffset = result.nextOffset;
    this.indexesLoaded = true;
    this.indexesDurable = false;
    if (this.closed) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true);
    return result;
  }

  /**
   * Clean-shutdown open of the active segment: indexes from disk, then only the bytes after the
   * last offset-index entry are walked (headers only) to find the next offset and newest timestamp.
   */
  loadActive(): void {
    this.ensureIndexes();
    if (this.nextOffset >= 0) return; // rebuilt
    const from = this.offsetIndex.lastPosition;
    let bytesSince = 0;
    const r = this.scanSync(from, this.size, false, (buf, pos, _filePos, size) => {
      const ts = batchMaxTimestamp(buf, pos);
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts;
        this.offsetOfMaxTimestamp = batchBaseOffset(buf, pos);
      }
      bytesSince += size;
    });
    if (r.validBytes < this.size) {
      // A clean shutdown never leaves a torn tail; if one is there anyway, do a full recovery.
      this.rebuildIndexes(true);
      return;
    }
    this.nextOffset = r.nextOffset;
    this.bytesSinceLastIndexEntry = bytesSince;
  }

  // ---------------------------------------------------------------- append

  /** Writes whole batches (offsets already assigned) at the end of the file and indexes them. */
  append(records: Buffer): void {
    if (this.size === 0) this.firstBatchTimestamp = batchMaxTimestamp(records, 0);
    const fd = this.file.get();
    writeFully(fd, records, this.size);
    this.indexAppended(records, this.size);
    this.size += records.length;
  }

  private indexAppended(records: Buffer, position: number): void {
    const interval = this.settings.indexIntervalBytes;
    let pos = 0;
    let last = -1;
    while (pos < records.length) {
      const size = entrySize(records, pos);
      const ts = batchMaxTimestamp(records, pos);
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts;
        this.offsetOfMaxTimestamp = batchBaseOffset(records, pos);
      }
      last = batchLastOffset(records, pos);
      if (this.bytesSinceLastIndexEntry > interval) {
        this.offsetIndex.append(last, position + pos);
        this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
        this.bytesSinceLastIndexEntry = 0;
      }
      this.bytesSinceLastIndexEntry += size;
      pos += size;
    }
    if (last >= 0) this.nextOffset = last + 1;
  }

  /**
   * Kafka's time-based roll: the newest timestamp being appended against the first batch's
   * timestamp (so replaying old data does not roll every append), wall clock when unknown.
   */
  ageForRoll(now: number, appendMaxTimestamp: number): number {
    return this.firstBatchTimestamp >= 0 && appendMaxTimestamp >= 0
      ? appendMaxTimestamp - this.firstBatchTimestamp
      : now - this.created;
  }

  /** Whether `lastOffset` still fits the int32 relative offsets of this segment's indexes. */
  canHoldOffset(lastOffset: number): boolean {
    return lastOffset - this.baseOffset <= INT32_MAX;
  }

  get indexFull(): boolean {
    return this.offsetIndex.isFull || this.timeIndex.isFull;
  }

  /** The segment stops taking appends: Kafka's closing time-index entry records its newest timestamp. */
  closeForAppends(): void {
    if (this.closed) return;
    this.closed = true;
    this.indexesDurable = false;
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true);
  }

  /** fdatasync of the log file, then (once closed) index files written and synced. */
  flushSync(): void {
    if (this.deleted) return;
    const fd = this.file.pin();
    try {
      fs.fdatasyncSync(fd);
    } finally {
      this.file.unpin();
    }
    this.writeIndexesIfClosed();
  }

  /** flushSync off the event loop: the log's fdatasync, then (once closed) its index files. */
  async flushAsync(stop: () => boolean = () => false): Promise<void> {
    if (this.deleted) return;
    const fd = this.file.pin();
    try {
      await fdatasyncAsync(fd);
    } finally {
      this.file.unpin();
    }
    if (stop()) return;
    await this.writeIndexesIfClosedAsync(stop);
  }

  /** writeIndexesIfClosed off the event loop; resolves once the files are synced. */
  async writeIndexesIfClosedAsync(stop: () => boolean = () => false): Promise<void> {
    while (this.indexWrite) await this.indexWrite;
    if (!this.closed || this.indexesDurable || !this.indexesLoaded || this.deleted || stop()) return;
    await this.serialiseIndexWrite(async () => {
      await Promise.all([
        this.offsetIndex.writeFileAsync(stop),
        this.timeIndex.writeFileAsync(stop),
        this.txnIndex.syncAsync(),
      ]);
      // A truncation reopening this segment meanwhile (closed again later) needs another write.
      if (this.closed && !stop()) this.indexesDurable = true;
    });
  }

  /** writeIndexes(true) off the event loop (close of the active segment). */
  async writeIndexesAsync(): Promise<void> {
    while (this.indexWrite) await this.indexWrite;
    if (!this.indexesLoaded || this.deleted) return;
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true);
    await this.serialiseIndexWrite(async () => {
      await Promise.all([
        this.offsetIndex.writeFileAsync(() => false),
        this.timeIndex.writeFileAsync(() => false),
        this.txnIndex.syncAsync(),
      ]);
    });
  }

  private async serialiseIndexWrite(fn: () => Promise<void>): Promise<void> {
    const p = fn();
    this.indexWrite = p.then(
      () => {},
      () => {},
    );
    try {
      await p;
    } finally {
      this.indexWrite = null;
    }
  }

  /** An index write of this segment is in flight: its files must not be renamed now. */
  get indexWriting(): boolean {
    return this.indexWrite !== null;
  }

  /** Resolves when no index write of this segment is in flight. */
  async indexesIdle(): Promise<void> {
    while (this.indexWrite) await this.indexWrite;
  }

  writeIndexesIfClosed(): void {
    if (this.closed && !this.indexesDurable && this.indexesLoaded && !this.deleted) {
      this.offsetIndex.writeFile(true);
      this.timeIndex.writeFile(true);
      this.txnIndex.sync();
      this.indexesDurable = true;
    }
  }

  /** Writes the index files of the active segment on a clean shutdown (no fsync yet: the caller syncs). */
  writeIndexes(sync: boolean): void {
    if (!this.indexesLoaded || this.deleted) return;
    // As Kafka on close: the last time-index entry carries the newest timestamp, so a later open
    // knows it without a scan, even once this segment is no longer the active one.
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true);
    this.offsetIndex.writeFile(sync);
    this.timeIndex.writeFile(sync);
    if (sync) this.txnIndex.sync();
  }

  // ---------------------------------------------------------------- scan & truncate

  /**
   * Walks batches in [from, to) synchronously in large chunks. With `checkCrc` each batch passes
   * `checkBatch`; without, only the framing (length, magic) is checked. Offsets must increase.
   */
  scanSync(
    from: number,
    to: number,
    checkCrc: boolean,
    visit: (buf: Buffer, pos: number, filePos: number, size: number) => void,
    prevLastOffset = -1,
  ): ScanResult {
    let chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, Math.max(to - from, LOG_OVERHEAD)));
    let filePos: number;
    let last = prevLastOffset;
    let batches = 0;
    let problem: ScanResult['problem'] = null;
    if (to <= from)
      return { validBytes: from, problem: null, nextOffset: Math.max(this.baseOffset, last + 1), batches };
    let valid = from;
    const fd = this.file.pin();
    try {
      while (valid < to && problem === null) {
        filePos = valid;
        const want = Math.min(chunk.length, to - filePos);
        const n = readFully(fd, chunk, 0, want, filePos);
        // A short read means the file ends before `to`.
        const atEnd = filePos + n >= to || n < want;
        let pos = 0;
        for (;;) {
          if (n - pos < LOG_OVERHEAD) {
            if (atEnd && (pos < n || n < want)) problem = 'truncated';
            break;
          }
          const size = entrySize(chunk, pos);
          if (size < RECORD_BATCH_OVERHEAD) {
            problem = 'bad-length';
            break;
          }
          if (pos + size > n) {
            if (filePos + pos + size > to || atEnd) problem = 'truncated';
            else if (size > chunk.length) chunk = Buffer.allocUnsafe(size);
            break;
          }
          const p = checkCrc
            ? checkBatch(chunk, pos, pos + size)
            : chunk.readInt8(pos + MAGIC_OFFSET) === 2
              ? null
              : 'bad-magic';
          if (p) {
            problem = p;
            break;
          }
          const base = batchBaseOffset(chunk, pos);
          if (base <= last || base < this.baseOffset || !this.canHoldOffset(batchLastOffset(chunk, pos))) {
            problem = 'bad-offset';
            break;
          }
          visit(chunk, pos, filePos + pos, size);
          last = batchLastOffset(chunk, pos);
          batches++;
          pos += size;
          valid = filePos + pos;
        }
      }
    } finally {
      this.file.unpin();
    }
    return { validBytes: valid, problem, nextOffset: Math.max(this.baseOffset, last + 1), batches };
  }

  /**
   * Cuts the file (a metadata change that does not wait for the disk; it must be atomic with
   * respect to appends). Not synced here: every caller leaves the segment to a later flush
   * (recovery's, the truncation's, or none when the log goes offline), whose fdatasync makes the
   * new size durable before the recovery point or an acknowledgement can rely on it.
   */
  truncateFile(size: number): void {
    const fd = this.file.pin();
    try {
      fs.ftruncateSync(fd, size);
    } finally {
      this.file.unpin();
    }
    this.size = size;
    this.indexesDurable = false;
  }

  /**
   * Removes every batch whose last offset is >= `offset` (whole batches only). Returns the bytes
   * removed. Indexes are trimmed and the newest timestamp recomputed by a scan of what is left.
   */
  truncateTo(offset: number): number {
    this.ensureIndexes();
    const start = this.offsetIndex.lookup(offset - 1 < this.baseOffset ? this.baseOffset : offset - 1);
    let cut = -1;
    this.scanSync(Math.min(start, this.size), this.size, false, (buf, pos, filePos) => {
      if (cut < 0 && batchLastOffset(buf, pos) >= offset) cut = filePos;
    });
    if (cut < 0) return 0;
    const removed = this.size - cut;
    this.truncateFile(cut);
    this.offsetIndex.truncateToOffset(offset);
    this.timeIndex.truncateToOffset(offset);
    this.txnIndex.truncateTo(offset);
    // Recompute the newest timestamp and next offset over what remains.
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = -1;
    let bytesSince = 0;
    const lastIndexed = this.offsetIndex.lastPosition;
    const r = this.scanSync(0, this.size, false, (buf, pos, filePos, size) => {
      const ts = batchMaxTimestamp(buf, pos);
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts;
        this.offsetOfMaxTimestamp = batchBaseOffset(buf, pos);
      }
      if (filePos >= lastIndexed) bytesSince += size;
    });
    this.nextOffset = r.nextOffset;
    this.bytesSinceLastIndexEntry = bytesSince;
    this.indexesDurable = false;
    return removed;
  }

  // ---------------------------------------------------------------- read

  /**
   * Whole batches starting with the one that holds `startOffset` (or the first after it), at most
   * `maxBytes` unless the first alone is larger and `minOneMessage`, only batches whose base offset
   * is below `maxOffset`, and no byte at or past `endPos` (the committed size when the read began).
   * Returns null when no batch in this segment has a last offset >= `startOffset`.
   */
  async read(
    startOffset: number,
    maxBytes: number,
    maxOffset: number,
    minOneMessage: boolean,
    endPos: number,
    slack: number,
    buffers: ReadBuffers = HEAP_BUFFERS,
  ): Promise<{ records: Buffer; firstOffset: number } | null> {
    this.ensureIndexes();
    let scanPos = this.offsetIndex.lookup(startOffset);
    const fd = this.file.pin();
    try {
      for (;;) {
        const want = Math.min(endPos - scanPos, Math.max(maxBytes, 0) + slack);
        if (want <= 0) return null;
        const buf = buffers.acquire(want);
        let n: number;
        try {
          n = await readAsync(fd, buf, 0, want, scanPos);
        } catch (err) {
          buffers.release(buf);
          throw err;
        }
        let p = 0;
        while (p + SHALLOW_HEADER <= n) {
          const size = entrySize(buf, p);
          if (size < RECORD_BATCH_OVERHEAD)
            throw new CorruptRecordError(`bad batch length at position ${scanPos + p} of ${this.logPath}`);
          if (batchLastOffset(buf, p) >= startOffset) break;
          p += size;
        }
        if (p + SHALLOW_HEADER > n) {
          buffers.release(buf);
          if (n < want || scanPos + p >= endPos) return null;
          scanPos += p;
          continue;
        }
        const firstOffset = batchBaseOffset(buf, p);
        let q = p;
        let total = 0;
        while (q + SHALLOW_HEADER <= n) {
          const size = entrySize(buf, q);
          if (size < RECORD_BATCH_OVERHEAD) break;
          if (batchBaseOffset(buf, q) >= maxOffset) break;
          if (total + size > maxBytes && (total > 0 || !minOneMessage)) break;
          if (q + size > n) {
            if (total === 0) {
              if (scanPos + q + size > endPos) break;
              buffers.release(buf);
              const whole = buffers.acquire(size);
              const got = await readAsync(fd, whole, 0, size, scanPos + q);
              if (got < size) {
                buffers.release(whole);
                throw new CorruptRecordError(`short batch at position ${scanPos + q} of ${this.logPath}`);
              }
              return { records: whole, firstOffset };
            }
            break;
          }
          total += size;
          q += size;
        }
        return { records: buf.subarray(p, q), firstOffset };
      }
    } finally {
      this.file.unpin();
    }
  }

  /**
   * The first batch (file position and header bytes) at or after `fromPos` that satisfies `match`,
   * reading headers in chunks; null when none does before `endPos`.
   */
  async findBatch(
    fromPos: number,
    endPos: number,
    match: (buf: Buffer, pos: number) => boolean,
  ): Promise<{ position: number; size: number; header: Buffer } | null> {
    this.ensureIndexes();
    const fd = this.file.pin();
    const buf = Buffer.allocUnsafe(64 * 1024);
    let scanPos = fromPos;
    try {
      while (scanPos < endPos) {
        const n = await readAsync(fd, buf, 0, Math.min(buf.length, endPos - scanPos), scanPos);
        let p = 0;
        while (p + RECORD_BATCH_OVERHEAD <= n) {
          const size = entrySize(buf, p);
          if (size < RECORD_BATCH_OVERHEAD)
            throw new CorruptRecordError(`bad batch length at position ${scanPos + p} of ${this.logPath}`);
          if (match(buf, p)) {
            return { position: scanPos + p, size, header: Buffer.from(buf.subarray(p, p + RECORD_BATCH_OVERHEAD)) };
          }
          p += size;
        }
        if (p === 0 && n < RECORD_BATCH_OVERHEAD) return null;
        scanPos += p;
      }
      return null;
    } finally {
      this.file.unpin();
    }
  }

  async readAt(position: number, size: number): Promise<Buffer> {
    const fd = this.file.pin();
    try {
      const buf = Buffer.allocUnsafe(size);
      const n = await readAsync(fd, buf, 0, size, position);
      return buf.subarray(0, n);
    } finally {
      this.file.unpin();
    }
  }

  // ---------------------------------------------------------------- files

  /** Renames every file of the segment by appending `suffix` (e.g. `.deleted`) to its current name. */
  renameAll(fromSuffix: string, toSuffix: string): void {
    const rename = (path: string): string => {
      const next = path.slice(0, path.length - fromSuffix.length) + toSuffix;
      try {
        fs.renameSync(path, next);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return next;
    };
    // Indexes first, the log last: a `.log` with a suffix is what recovery acts on.
    this.offsetIndex.path = rename(this.offsetIndex.path);
    this.timeIndex.path = rename(this.timeIndex.path);
    this.txnIndex.path = rename(this.txnIndex.path);
    this.file.path = rename(this.file.path);
  }

  deleteFiles(): void {
    this.file.close();
    for (const p of [this.file.path, this.offsetIndex.path, this.timeIndex.path, this.txnIndex.path]) unlinkQuiet(p);
  }
}
