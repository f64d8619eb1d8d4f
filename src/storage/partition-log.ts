import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import {
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  attributes,
  baseOffset as batchBaseOffset,
  baseTimestamp as batchBaseTimestamp,
  checkBatch,
  entrySize,
  lastOffset as batchLastOffset,
  lastOffsetDelta,
  magic,
  maxTimestamp as batchMaxTimestamp,
  partitionLeaderEpoch,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
} from '../protocol/records/batch-header.js';
import { type LogConfig, resolveLogConfig } from './config.js';
import { GroupCommit } from './durability.js';
import {
  CorruptRecordError,
  InvalidRecordError,
  type KafkaStorageError,
  LogClosedError,
  OffsetOutOfRangeError,
  RecordBatchTooLargeError,
  asStorageError,
} from './errors.js';
import type { FilePool } from './file-pool.js';
import { fsyncDir, fsyncDirAsync, readFully, unlinkQuiet, writeFileAtomicAsync } from './fsutil.js';
import type { AbortedTxn } from './indexes.js';
import { LeaderEpochCache } from './leader-epoch.js';
import { type RecordsCodec, builtinCodec, forEachRecordInBatch } from './records.js';
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  LOG_SUFFIX,
  LogSegment,
  SWAP_SUFFIX,
  type ReadBuffers,
  type SegmentSettings,
  offsetFileName,
} from './segment.js';

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
export const SNAPSHOT_SUFFIX = '.snapshot';

export interface AppendOptions {
  /** Leader epoch stamped into every batch's partitionLeaderEpoch (and recorded in the epoch cache). */
  leaderEpoch?: number;
  /**
   * Broker time to stamp as LogAppendTime (sets the timestamp-type bit and maxTimestamp, refreshes
   * the CRC). Defaults to now when the topic's messageTimestampType is LogAppendTime.
   */
  logAppendTime?: number;
  /** Re-check each batch's CRC (default true; the native CRC-32C costs ~1% at 100 MB/s). */
  verifyCrc?: boolean;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** The LogAppendTime stamped, or -1 for CreateTime. */
  logAppendTime: number;
  logStartOffset: number;
}

export interface ReadOptions {
  /** Only batches whose base offset is below this (the broker passes the high watermark or LSO). */
  maxOffset?: number;
  /** Return the first batch even if it alone exceeds maxBytes (default true, as Kafka). */
  minOneMessage?: boolean;
  /** Buffers for the read (default: fresh heap buffers); the caller releases `records` to them. */
  buffers?: ReadBuffers;
}

export interface ReadResult {
  /** Whole batches, possibly empty; the first may start before the requested offset. */
  records: Buffer;
  /** Base offset of the first batch returned, or -1 when empty. */
  firstOffset: number;
  highWatermark: number;
  logStartOffset: number;
  logEndOffset: number;
}

export interface TimestampOffset {
  offset: number;
  timestamp: number;
}

/** Hooks through which the manager persists data-dir checkpoints and delays file deletion. */
export interface LogHooks {
  persistLogStartOffset?(log: PartitionLog): void | Promise<void>;
  persistRecoveryPoint?(log: PartitionLog): void | Promise<void>;
  scheduleDelete?(delayMs: number, fn: () => void): void;
}

export interface PartitionLogOptions {
  topic: string;
  partition: number;
  dir: string;
  config: LogConfig;
  pool: FilePool;
  /** From the recovery-point checkpoint; segments from the one holding it are rescanned after a crash. */
  recoveryPoint?: number;
  /** From the log-start-offset checkpoint. */
  logStartOffset?: number;
  /** The data dir had a clean-shutdown marker: trust the files, scan nothing. */
  cleanShutdown?: boolean;
  time?: () => number;
  /** Uniform in [0, 1), for segment.jitter.ms (default Math.random; tests inject a seeded one). */
  random?: () => number;
  codec?: RecordsCodec;
  hooks?: LogHooks;
  /** The partition folder was just created: its entry in the data dir is synced with the first flush. */
  newDirectory?: boolean;
}

/** What recovery found, for logs and tests. */
export interface RecoveryReport {
  segmentsScanned: number;
  truncatedBytes: number;
  problem: string | null;
  swapsCompleted: number;
}

const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex|txnindex|snapshot)((?:\.cleaned|\.swap|\.deleted|\.tmp)?)$/;
const READ_SLACK = 16 * 1024;

/**
 * One partition's log: an ordered list of segments, the last one active. Appends are synchronous
 * page-cache writes (so they are serialised by the event loop and never interleave), acknowledged
 * per the flush policy (see durability.ts); reads are async positional reads of whole batches.
 */
export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly dir: string;
  config: LogConfig;
  /** Ordered by base offset; the last is the active segment. */
  segments: LogSegment[] = [];
  private leo = 0;
  private lso = 0;
  private hw = 0;
  /** Offsets below are durable as the flush policy defines an acknowledgement (see durability.ts). */
  private durable = 0;
  /** Set once a partition owns the high watermark; until then the log is its own only replica. */
  private onDurable: ((log: PartitionLog) => void) | null = null;
  /** Every offset below is on disk with synced indexes (persisted by the manager's checkpoint). */
  recoveryPoint = 0;
  /** The cleaner's position: offsets below were compacted (persisted by the manager). */
  firstDirtyOffset = 0;
  /**
   * The last stable offset, set by whoever tracks transactions (the broker's Partition); the cleaner
   * never cleans at or past it, so an open transaction's records cannot supersede committed ones.
   */
  lastStableOffset: () => number = () => this.hw;
  readonly epochs: LeaderEpochCache;
  readonly recovery: RecoveryReport = { segmentsScanned: 0, truncatedBytes: 0, problem: null, swapsCompleted: 0 };
  readonly codec: RecordsCodec;
  private readonly pool: FilePool;
  private readonly time: () => number;
  private readonly hooks: LogHooks;
  private readonly commit: GroupCommit;
  private unflushedMessages = 0;
  private lastFlushTime: number;
  private dirDirty = false;
  /** The partition folder's own entry in the data dir is not synced yet (a new log). */
  private parentDirDirty = false;
  private dirSync: Promise<void> | null = null;
  private snapshots: number[] = [];
  /** Snapshots whose file write is still in flight, served from memory meanwhile. */
  private pendingSnapshots = new Map<number, Buffer>();
  /** Snapshot file writes and deletions, in call order (one file may be written then deleted). */
  private snapshotChain: Promise<void> = Promise.resolve();
  private listeners = new Set<(log: PartitionLog) => void>();
  private maintenanceChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private halted = false;
  private offline: KafkaStorageError | null = null;

  private readonly random: () => number;
  /** The active segment's segment.jitter.ms draw: it rolls this much before segment.ms. */
  private rollJitterMs = 0;

  private constructor(o: PartitionLogOptions) {
    this.topic = o.topic;
    this.partition = o.partition;
    this.dir = o.dir;
    this.config = o.config;
    this.pool = o.pool;
    this.time = o.time ?? Date.now;
    this.random = o.random ?? Math.random;
    this.hooks = o.hooks ?? {};
    this.codec = o.codec ?? builtinCodec;
    this.lastFlushTime = this.time();
    this.parentDirDirty = o.newDirectory ?? false;
    fs.mkdirSync(this.dir, { recursive: true });
    this.epochs = new LeaderEpochCache(join(this.dir, LEADER_EPOCH_CHECKPOINT));
    this.commit = new GroupCommit(
      0,
      (upTo) => this.flushSegments(upTo),
      () => this.leo,
      (offset) => this.advanceDurableOffset(offset),
    );
  }

  /** Opens (or creates) the log in `o.dir`, recovering it when the shutdown was not clean. */
  static open(o: PartitionLogOptions): PartitionLog {
    const log = new PartitionLog(o);
    log.load(o.recoveryPoint ?? 0, o.logStartOffset ?? 0, o.cleanShutdown ?? false);
    log.rollJitterMs = log.drawRollJitter();
    return log;
  }

  // ================================================================ properties

  get logStartOffset(): number {
    return this.lso;
  }

  get logEndOffset(): number {
    return this.leo;
  }

  /**
   * Offsets below are readable by consumers. The partition that owns this log sets it (see
   * ownHighWatermark); a log on its own moves it to its durable offset.
   */
  get highWatermark(): number {
    return this.hw;
  }

  /**
   * Offsets below are durable as the flush policy defines an acknowledgement: fdatasync'ed where
   * the policy makes an append wait for a sync, else written (see durability.ts). Never above the
   * log end offset; the leader's cap on the high watermark.
   */
  get durableOffset(): number {
    return this.durable;
  }

  /**
   * Hands the high watermark to its owner (the broker's partition, which knows the replicas): from
   * now on only updateHighWatermark moves it, and `onDurable` hears every advance of the durable
   * offset, in the same tick, so the owner can move it at the moments the log itself would.
   */
  ownHighWatermark(onDurable: (log: PartitionLog) => void): void {
    this.onDurable = onDurable;
  }

  /** Moves the high watermark forward (never past the log end offset) and tells the listeners. */
  updateHighWatermark(offset: number): void {
    const hw = Math.min(offset, this.leo);
    if (hw <= this.hw) return;
    this.hw = hw;
    if (this.listeners.size > 0) for (const l of this.listeners) l(this);
  }

  /** Total bytes of all segments. */
  get size(): number {
    let s = 0;
    for (const seg of this.segments) s += seg.size;
    return s;
  }

  get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  get name(): string {
    return `${this.topic}-${this.partition}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called whenever the high watermark advances (the fetch long-poll waits on it). Returns an unsubscribe. */
  onAppend(listener: (log: PartitionLog) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  updateConfig(partial: Partial<LogConfig>): void {
    this.config = resolveLogConfig(this.config, partial);
    for (const s of this.segments) s.updateSettings(this.segmentSettings());
  }

  private segmentSettings(): SegmentSettings {
    return { indexIntervalBytes: this.config.indexIntervalBytes, segmentIndexBytes: this.config.segmentIndexBytes };
  }

  // ================================================================ load & recovery

  private load(recoveryPoint: number, checkpointStart: number, clean: boolean): void {
    const now = this.time();
    const names = fs.readdirSync(this.dir);
    const logBases: number[] = [];
    const swaps: number[] = [];
    for (const name of names) {
      const m = SEGMENT_FILE.exec(name);
      if (!m) {
        if (name.endsWith('.tmp')) unlinkQuiet(join(this.dir, name));
        continue;
      }
      const [, digits, kind, suffix] = m;
      const path = join(this.dir, name);
      if (suffix === DELETED_SUFFIX || suffix === CLEANED_SUFFIX || suffix === '.tmp') {
        unlinkQuiet(path);
      } else if (suffix === SWAP_SUFFIX) {
        if (kind === 'log') swaps.push(Number(digits));
        else unlinkQuiet(path); // a swapped log's indexes are rebuilt
      } else if (kind === 'log') logBases.push(Number(digits));
      else if (kind === 'snapshot') this.snapshots.push(Number(digits));
    }
    // A `.log.swap` is a cleaned segment whose commit was reached: finish replacing the originals.
    for (const base of swaps.sort((a, b) => a - b)) {
      const swap = new LogSegment(this.dir, base, this.pool, this.segmentSettings(), 0, now, SWAP_SUFFIX);
      swap.size = fs.statSync(swap.logPath).size;
      const r = swap.scanSync(0, swap.size, true, () => {});
      swap.file.close();
      for (let i = logBases.length - 1; i >= 0; i--) {
        const b = logBases[i]!;
        if (b >= base && b < Math.max(r.nextOffset, base + 1)) {
          for (const ext of ['.log', '.index', '.timeindex', '.txnindex'])
            unlinkQuiet(join(this.dir, offsetFileName(b) + ext));
          logBases.splice(i, 1);
        }
      }
      fs.renameSync(swap.logPath, join(this.dir, offsetFileName(base) + LOG_SUFFIX));
      logBases.push(base);
      this.recovery.swapsCompleted++;
    }
    if (swaps.length) fsyncDir(this.dir);
    // Index files whose log is gone are orphans.
    const bases = new Set(logBases);
    for (const name of names) {
      const m = SEGMENT_FILE.exec(name);
      if (
        m &&
        m[3] === '' &&
        (m[2] === 'index' || m[2] === 'timeindex' || m[2] === 'txnindex') &&
        !bases.has(Number(m[1]))
      ) {
        unlinkQuiet(join(this.dir, name));
      }
    }
    logBases.sort((a, b) => a - b);
    this.snapshots.sort((a, b) => a - b);
    const settings = this.segmentSettings();
    this.segments = logBases.map((b) => LogSegment.open(this.dir, b, this.pool, settings, now));
    // Swapped segments have no trustworthy index: make sure they are rebuilt.
    for (const base of swaps) {
      const seg = this.segments.find((s) => s.baseOffset === base);
      if (seg) {
        seg.rebuildIndexes(true);
        seg.indexesDurable = false;
      }
    }
    if (this.segments.length === 0) {
      this.segments.push(LogSegment.create(this.dir, Math.max(0, checkpointStart), this.pool, settings, now));
      this.dirDirty = true;
    }
    for (let i = 0; i < this.segments.length - 1; i++) this.segments[i]!.closed = true;

    if (clean) {
      this.activeSegment.loadActive();
    } else {
      this.recover(recoveryPoint);
    }
    const active = this.activeSegment;
    this.leo = Math.max(active.nextOffset, active.baseOffset);
    active.firstBatchTimestamp = this.firstBatchTimestamp(active);
    this.lso = Math.min(Math.max(checkpointStart, this.segments[0]!.baseOffset), this.leo);
    // Everything read back at open is made durable before it is trusted as acknowledged.
    if (!clean) {
      for (const seg of this.segments) {
        if (!seg.indexesDurable || seg === active) seg.flushSync();
      }
      fsyncDir(this.dir);
      this.dirDirty = false;
    }
    this.recoveryPoint = this.leo;
    this.commit.durableOffset = this.leo;
    this.hw = this.leo;
    this.durable = this.leo;
    this.firstDirtyOffset = this.lso;
    this.epochs.truncateFromEnd(this.leo);
    if (this.lso > 0) this.epochs.truncateFromStart(this.lso);
    for (const s of this.snapshots.filter((o) => o > this.leo)) this.deleteSnapshot(s);
  }

  /** Rescans every segment from the one holding `recoveryPoint`; the first bad batch and all after it go. */
  private recover(recoveryPoint: number): void {
    let start = 0;
    for (let i = 0; i < this.segments.length; i++) {
      if (this.segments[i]!.baseOffset <= recoveryPoint) start = i;
    }
    for (let i = start; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      const before = seg.size;
      const r = seg.rebuildIndexes(true);
      this.recovery.segmentsScanned++;
      if (r.problem && r.validBytes < before) {
        this.recovery.problem = `${r.problem} at position ${r.validBytes} of ${seg.logPath}`;
        this.recovery.truncatedBytes += before - r.validBytes;
        for (const later of this.segments.splice(i + 1)) {
          this.recovery.truncatedBytes += later.size;
          later.deleteFiles();
          this.dirDirty = true;
        }
        break;
      }
    }
    this.activeSegment.closed = false;
  }

  private firstBatchTimestamp(seg: LogSegment): number {
    if (seg.size < RECORD_BATCH_OVERHEAD) return -1;
    const head = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD);
    const fd = seg.file.pin();
    try {
      if (readFully(fd, head, 0, RECORD_BATCH_OVERHEAD, 0) < RECORD_BATCH_OVERHEAD) return -1;
    } finally {
      seg.file.unpin();
    }
    return batchMaxTimestamp(head);
  }

  // ================================================================ append

  /**
   * Appends one or more magic-2 batches as the leader: assigns offsets batch by batch (rewriting
   * each base offset in place; records keep their deltas), stamps the leader epoch and
   * LogAppendTime when asked, writes the bytes in one pwrite, and resolves once durable per the
   * flush policy. `records` is modified in place.
   */
  append(records: Buffer, opts: AppendOptions = {}): Promise<AppendResult> {
    try {
      const r = this.appendSync(records, opts, true);
      return this.acknowledge(r);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Appends batches keeping their offsets (follower replication, tests, tools): the first base
   * offset must be at or past the log end offset and offsets must increase; gaps are allowed.
   */
  appendWithOffsets(records: Buffer, opts: Omit<AppendOptions, 'logAppendTime'> = {}): Promise<AppendResult> {
    try {
      const r = this.appendSync(records, opts, false);
      return this.acknowledge(r);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Same as appendWithOffsets, the name Kafka's replica manager uses. */
  appendAsFollower(records: Buffer, opts: Omit<AppendOptions, 'logAppendTime'> = {}): Promise<AppendResult> {
    return this.appendWithOffsets(records, opts);
  }

  private checkWritable(): void {
    if (this.closed) throw new LogClosedError(`log ${this.name} is closed`);
    if (this.offline) throw this.offline;
    if (this.commit.failure) throw this.commit.failure;
  }

  private appendSync(
    records: Buffer,
    opts: AppendOptions,
    assignOffsets: boolean,
  ): AppendResult & { count: number; end: number } {
    this.checkWritable();
    const len = records.length;
    if (len === 0) throw new InvalidRecordError('append of no batches');
    if (len > this.config.segmentBytes) {
      throw new RecordBatchTooLargeError(`append of ${len} bytes exceeds segment.bytes ${this.config.segmentBytes}`);
    }
    const verify = opts.verifyCrc !== false;
    // Pass 1: validate everything before touching a byte, so a bad batch leaves the log unchanged.
    let pos = 0;
    let expect = this.leo;
    while (pos < len) {
      let problem: string | null;
      if (verify) problem = checkBatch(records, pos, len);
      else if (len - pos < RECORD_BATCH_OVERHEAD) problem = 'truncated';
      else if (entrySize(records, pos) < RECORD_BATCH_OVERHEAD) problem = 'bad-length';
      else if (pos + entrySize(records, pos) > len) problem = 'truncated';
      else problem = magic(records, pos) === 2 ? null : 'bad-magic';
      if (problem) throw new CorruptRecordError(`batch at byte ${pos} of the append: ${problem}`);
      if (!assignOffsets) {
        const base = batchBaseOffset(records, pos);
        if (base < expect) {
          throw new InvalidRecordError(
            `batch base offset ${base} below expected ${expect} (log end offset ${this.leo})`,
          );
        }
        expect = base + lastOffsetDelta(records, pos) + 1;
      }
      pos += entrySize(records, pos);
    }
    // Pass 2: stamp offsets, epoch, LogAppendTime.
    const now = this.time();
    const appendTime = opts.logAppendTime ?? (this.config.messageTimestampType === 'LogAppendTime' ? now : -1);
    const epoch = opts.leaderEpoch;
    let next = this.leo;
    let first = -1;
    let count = 0;
    let maxTs = -1;
    pos = 0;
    while (pos < len) {
      const delta = lastOffsetDelta(records, pos);
      if (assignOffsets) setBaseOffset(records, pos, next);
      const base = batchBaseOffset(records, pos);
      if (first < 0) first = base;
      if (epoch !== undefined) setPartitionLeaderEpoch(records, pos, epoch);
      else if (!assignOffsets) {
        const e = partitionLeaderEpoch(records, pos);
        if (e >= 0 && e > this.epochs.latestEpoch) this.epochs.assign(e, base);
      }
      if (appendTime >= 0 && assignOffsets) setLogAppendTime(records, pos, appendTime);
      const ts = batchMaxTimestamp(records, pos);
      if (ts > maxTs) maxTs = ts;
      next = base + delta + 1;
      count += delta + 1;
      pos += entrySize(records, pos);
    }
    const last = next - 1;
    this.maybeRoll(len, first, last, now, maxTs);
    const active = this.activeSegment;
    const before = active.size;
    try {
      active.append(records);
    } catch (err) {
      // Never leave half a batch behind a failed write: cut back, then refuse further appends.
      try {
        active.truncateFile(before);
      } catch {
        /* the disk is failing; recovery will cut it */
      }
      this.offline = asStorageError(err, `append to ${this.name} failed`) as KafkaStorageError;
      throw this.offline;
    }
    this.leo = next;
    if (epoch !== undefined && epoch > this.epochs.latestEpoch) this.epochs.assign(epoch, first);
    this.unflushedMessages += count;
    return {
      baseOffset: first,
      lastOffset: last,
      logAppendTime: appendTime,
      logStartOffset: this.lso,
      count,
      end: next,
    };
  }

  private acknowledge(r: AppendResult & { count: number; end: number }): Promise<AppendResult> {
    const result: AppendResult = {
      baseOffset: r.baseOffset,
      lastOffset: r.lastOffset,
      logAppendTime: r.logAppendTime,
      logStartOffset: r.logStartOffset,
    };
    if (this.unflushedMessages >= this.config.flushMessages) {
      this.unflushedMessages = 0;
      return this.commit.waitFor(r.end).then(() => result);
    }
    this.advanceDurableOffset(r.end);
    return Promise.resolve(result);
  }

  private advanceDurableOffset(offset: number): void {
    const d = Math.min(offset, this.leo);
    if (d <= this.durable) return;
    this.durable = d;
    if (this.onDurable) this.onDurable(this);
    else this.updateHighWatermark(d);
  }

  private maybeRoll(size: number, first: number, last: number, now: number, maxTs: number): void {
    const a = this.activeSegment;
    const full =
      a.size > 0 &&
      (a.size + size > this.config.segmentBytes ||
        a.ageForRoll(now, maxTs) > this.config.segmentMs - this.rollJitterMs ||
        a.indexFull);
    if (full || !a.canHoldOffset(last)) this.roll(Math.max(first, this.leo), now);
  }

  /** Closes the active segment and starts a new one at `baseOffset` (default: the log end offset). */
  roll(baseOffset = this.leo, now = this.time()): LogSegment {
    const old = this.activeSegment;
    if (old.size === 0 && old.baseOffset === baseOffset) return old;
    old.closeForAppends();
    const seg = LogSegment.create(this.dir, baseOffset, this.pool, this.segmentSettings(), now);
    this.segments.push(seg);
    this.rollJitterMs = this.drawRollJitter();
    this.dirDirty = true;
    // Flush the closed segment soon (Kafka does too), so the recovery point can move past it.
    this.commit.flushNow().catch(() => {});
    return seg;
  }

  /** Kafka's randomSegmentJitter: uniform in [0, min(segment.jitter.ms, segment.ms)). */
  private drawRollJitter(): number {
    const { segmentJitterMs, segmentMs } = this.config;
    return segmentJitterMs <= 0 ? 0 : Math.floor(this.random() * Math.min(segmentJitterMs, segmentMs));
  }

  // ================================================================ flush

  /** Flushes everything written so far (fdatasync), resolving when durable. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.commit.flushNow();
  }

  /** Background flusher entry: flushes when unsynced data is older than flush.ms. */
  maybeFlushOnTimer(now: number): void {
    if (this.closed || this.offline || this.commit.busy) return;
    const n = this.segments.length;
    const rolledUnsynced = n > 1 && !this.segments[n - 2]!.indexesDurable;
    if ((this.leo > this.commit.durableOffset || rolledUnsynced) && now - this.lastFlushTime >= this.config.flushMs) {
      this.commit.flushNow().catch(() => {});
    }
  }

  /** fdatasync rounds so far (each may cover many appends). */
  get flushCount(): number {
    return this.commit.flushes;
  }

  get unflushedOffsets(): number {
    return this.leo - this.commit.durableOffset;
  }

  /**
   * One group-commit round, every sync on libuv's threadpool: the directory (new and renamed
   * segment files), each segment's log and, once closed, its index files (after its log), then
   * the leader-epoch file. The recovery point moves only after all of it completed.
   */
  private async flushSegments(upTo: number): Promise<void> {
    this.lastFlushTime = this.time();
    const durable = this.commit.durableOffset;
    // The segment holding the durable point and every later one, plus closed ones whose indexes
    // are not on disk yet (rebuilt or just rolled).
    const from = this.segmentIndexFor(durable);
    const segs = this.segments.filter((s, i) => !s.deleted && (i >= from || !s.indexesDurable));
    const stopped = (): boolean => this.closed && this.halted;
    // All in parallel (libuv runs several syncs at once; a roll burst leaves many closed
    // segments): only their completion, before the recovery point moves, is ordered.
    const done = await Promise.allSettled([this.syncDirectory(), ...segs.map((seg) => seg.flushAsync(stopped))]);
    if (stopped()) return;
    for (const d of done) if (d.status === 'rejected') throw d.reason;
    await this.epochs.flushed();
    if (upTo > this.recoveryPoint) this.recoveryPoint = upTo;
  }

  /**
   * Makes every segment file created, renamed or removed so far durable (and the partition
   * folder itself when new), off the event loop. One directory fsync at a time; a caller whose
   * change came after the one in flight started waits for the next.
   */
  async syncDirectory(): Promise<void> {
    while (this.dirSync) await this.dirSync;
    if (!this.dirDirty && !this.parentDirDirty) return;
    const parent = this.parentDirDirty;
    this.dirDirty = false;
    this.parentDirDirty = false;
    const p = (async () => {
      try {
        await Promise.all([fsyncDirAsync(this.dir), parent ? fsyncDirAsync(dirname(this.dir)) : undefined]);
      } catch (err) {
        this.dirDirty = true;
        if (parent) this.parentDirDirty = true;
        throw err;
      }
    })();
    this.dirSync = p.then(
      () => {},
      () => {},
    );
    try {
      await p;
    } finally {
      this.dirSync = null;
    }
  }

  // ================================================================ read

  /**
   * Reads whole batches from the one holding `startOffset` (see ReadResult). Throws
   * OffsetOutOfRangeError below the log start offset or past the log end offset.
   */
  async read(startOffset: number, maxBytes: number, opts: ReadOptions = {}): Promise<ReadResult> {
    if (this.closed) throw new LogClosedError(`log ${this.name} is closed`);
    const leo = this.leo;
    if (startOffset < this.lso || startOffset > leo) {
      throw new OffsetOutOfRangeError(
        `offset ${startOffset} is out of range for ${this.name} [${this.lso}, ${leo}]`,
        this.lso,
        leo,
      );
    }
    const maxOffset = Math.min(opts.maxOffset ?? leo, leo);
    const minOne = opts.minOneMessage !== false;
    let from = startOffset;
    if (from < maxOffset) {
      let i = this.segmentIndexFor(from);
      while (i >= 0 && i < this.segments.length) {
        const seg = this.segments[i]!;
        let r: { records: Buffer; firstOffset: number } | null;
        try {
          r = await seg.read(
            from,
            maxBytes,
            maxOffset,
            minOne,
            seg.size,
            this.config.indexIntervalBytes + READ_SLACK,
            opts.buffers,
          );
        } catch (err) {
          if (seg.deleted && (err as NodeJS.ErrnoException).code === 'ENOENT')
            return this.read(Math.max(startOffset, this.lso), maxBytes, opts);
          throw asStorageError(err, `read from ${this.name} failed`);
        }
        if (r) return this.result(r.records, r.firstOffset);
        // Nothing at or after `from` in this segment (compaction gap): continue with the next one.
        const idx = this.segments.indexOf(seg);
        i = idx >= 0 ? idx + 1 : this.segmentIndexFor(from) + 1;
        const next = this.segments[i];
        if (!next || next.baseOffset >= maxOffset) break;
        from = Math.max(from, next.baseOffset);
      }
    }
    return this.result(EMPTY, -1);
  }

  private result(records: Buffer, firstOffset: number): ReadResult {
    return { records, firstOffset, highWatermark: this.hw, logStartOffset: this.lso, logEndOffset: this.leo };
  }

  /** Index of the last segment whose base offset is <= `offset` (0 when below all). */
  segmentIndexFor(offset: number): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Whole batches from `fromOffset` on (the first may start before it), up to `maxOffset`
   * (default: the log end offset). With `verifyCrc`, a corrupt batch throws CorruptRecordError.
   * The coordinators rebuild their state from internal topics through this.
   */
  async *batches(
    fromOffset: number,
    opts: { maxOffset?: number; verifyCrc?: boolean; chunkBytes?: number } = {},
  ): AsyncGenerator<Buffer> {
    let next = Math.max(fromOffset, this.lso);
    const chunk = opts.chunkBytes ?? 1024 * 1024;
    for (;;) {
      const end = Math.min(opts.maxOffset ?? this.leo, this.leo);
      if (next >= end) return;
      const r = await this.read(next, chunk, { maxOffset: end });
      if (r.records.length === 0) return;
      const buf = r.records;
      let pos = 0;
      while (pos + LOG_OVERHEAD <= buf.length) {
        const size = entrySize(buf, pos);
        if (opts.verifyCrc) {
          const problem = checkBatch(buf, pos, buf.length);
          if (problem)
            throw new CorruptRecordError(`${problem} in batch at offset ${batchBaseOffset(buf, pos)} of ${this.name}`);
        }
        const batch = buf.subarray(pos, pos + size);
        next = batchLastOffset(buf, pos) + 1;
        yield batch;
        pos += size;
      }
    }
  }

  /** Visitor form of `batches`; return false from the visitor to stop. */
  async scanBatches(
    fromOffset: number,
    visitor: (batch: Buffer) => boolean | void | Promise<boolean | void>,
    opts: { maxOffset?: number; verifyCrc?: boolean } = {},
  ): Promise<void> {
    for await (const b of this.batches(fromOffset, opts)) {
      if ((await visitor(b)) === false) return;
    }
  }

  // ================================================================ timestamps

  /**
   * ListOffsets by timestamp: the first offset (at or after the log start offset) whose record
   * timestamp is >= `timestamp`. Batches are located through the time index; the records of that
   * one batch are read to find the exact record (falling back to the batch base offset when its
   * codec is unavailable). Null when every record is older.
   */
  async offsetForTimestamp(timestamp: number): Promise<TimestampOffset | null> {
    const lso = this.lso;
    for (const seg of [...this.segments]) {
      seg.ensureIndexes();
      if (seg.maxTimestamp < timestamp || seg.size === 0) continue;
      const fromOffset = Math.max(seg.timeIndex.lookup(timestamp), seg.baseOffset);
      const found = await seg.findBatch(
        seg.offsetIndex.lookup(fromOffset),
        seg.size,
        (b, p) => batchMaxTimestamp(b, p) >= timestamp && batchLastOffset(b, p) >= lso,
      );
      if (!found) continue;
      const batch = await seg.readAt(found.position, found.size);
      return await this.recordAtOrAfter(batch, timestamp, lso);
    }
    return null;
  }

  /** ListOffsets MAX_TIMESTAMP (-3): the first record carrying the largest timestamp, or null when empty. */
  async maxTimestampOffset(): Promise<TimestampOffset | null> {
    let best: LogSegment | null = null;
    for (const seg of this.segments) {
      seg.ensureIndexes();
      if (seg.size > 0 && seg.maxTimestamp >= 0 && (!best || seg.maxTimestamp > best.maxTimestamp)) best = seg;
    }
    if (!best) return null;
    const ts = best.maxTimestamp;
    const at = best.offsetOfMaxTimestamp;
    const found = await best.findBatch(best.offsetIndex.lookup(at), best.size, (b, p) => batchMaxTimestamp(b, p) >= ts);
    if (!found) return null;
    const batch = await best.readAt(found.position, found.size);
    return await this.recordAtOrAfter(batch, ts, this.lso);
  }

  private async recordAtOrAfter(batch: Buffer, timestamp: number, minOffset: number): Promise<TimestampOffset> {
    const base = batchBaseOffset(batch);
    const maxTs = batchMaxTimestamp(batch);
    if (attributes(batch) & TIMESTAMP_TYPE_MASK) return { offset: Math.max(base, minOffset), timestamp: maxTs };
    const baseTs = batchBaseTimestamp(batch);
    let hit: TimestampOffset | null = null;
    try {
      await forEachRecordInBatch(batch, this.codec, (_area, r) => {
        const ts = baseTs + r.timestampDelta;
        const off = base + r.offsetDelta;
        if (!hit && ts >= timestamp && off >= minOffset) hit = { offset: off, timestamp: ts };
      });
    } catch {
      /* unreadable records: fall back to the batch */
    }
    return hit ?? { offset: Math.max(base, minOffset), timestamp: maxTs };
  }

  // ================================================================ maintenance

  /** Runs `fn` after every earlier maintenance task (retention, cleaning, truncation) finished. */
  maintenance<T>(fn: () => T | Promise<T>): Promise<T> {
    const p = this.maintenanceChain.then(fn, fn);
    this.maintenanceChain = p.catch(() => {});
    return p;
  }

  /**
   * DeleteRecords: moves the log start offset to `offset` (persisted before this resolves) and
   * deletes the segments wholly below it. `offset` above the high watermark is out of range.
   */
  async deleteRecordsBefore(offset: number): Promise<number> {
    this.checkWritable();
    if (offset < 0 || offset > this.hw) {
      throw new OffsetOutOfRangeError(
        `cannot delete records before ${offset}: high watermark is ${this.hw}`,
        this.lso,
        this.leo,
      );
    }
    if (offset > this.lso) {
      this.setLogStartOffset(offset);
      await this.hooks.persistLogStartOffset?.(this);
    }
    await this.maintenance(async () => {
      await this.indexWritesIdle();
      return this.deleteSegments(() => 0);
    });
    return this.lso;
  }

  private setLogStartOffset(offset: number): void {
    if (offset <= this.lso) return;
    this.lso = offset;
    if (this.firstDirtyOffset < offset) this.firstDirtyOffset = offset;
    this.epochs.truncateFromStart(offset);
  }

  /**
   * Retention as Kafka's: segments wholly below the log start offset, then (delete policy) those
   * whose newest timestamp is older than retention.ms, then the oldest while the log exceeds
   * retention.bytes by at least a segment. Only segments below the high watermark go; if every
   * segment is expired the active one is rolled first. Returns the number of segments deleted.
   */
  applyRetention(now = this.time()): Promise<number> {
    return this.maintenance(async () => {
      await this.indexWritesIdle();
      if (this.closed) return 0;
      let deleted = this.deleteSegments(() => 0);
      if (this.config.cleanupPolicy === 'compact') return deleted;
      const retentionMs = this.config.retentionMs;
      if (retentionMs >= 0) {
        deleted += this.deleteSegments((seg) => {
          seg.ensureIndexes();
          const newest = seg.maxTimestamp >= 0 ? seg.maxTimestamp : fs.statSync(seg.logPath).mtimeMs;
          return now - newest > retentionMs ? 1 : -1;
        });
      }
      const retentionBytes = this.config.retentionBytes;
      if (retentionBytes >= 0) {
        let diff = this.size - retentionBytes;
        deleted += this.deleteSegments((seg) => {
          if (diff - seg.size < 0) return -1;
          diff -= seg.size;
          return 1;
        });
      }
      return deleted;
    });
  }

  /**
   * Resolves when no segment of the log has an index write in flight. Every caller that renames
   * segment files (retireSegment, the cleaner's swap) awaits this and then renames in the same
   * synchronous run: an index write opens its file by path, and a later one sees `deleted`.
   */
  async indexWritesIdle(): Promise<void> {
    for (;;) {
      const busy = this.segments.filter((s) => s.indexWriting);
      if (busy.length === 0) return;
      await Promise.all(busy.map((s) => s.indexesIdle()));
    }
  }

  /**
   * Deletes leading segments: always those wholly below the log start offset; then, while
   * `expired` returns > 0, more. A segment goes only if all of it is below the high watermark.
   */
  private deleteSegments(expired: (seg: LogSegment) => number): number {
    let n = 0;
    for (;;) {
      const seg = this.segments[0]!;
      const next = this.segments[1];
      const end = next ? next.baseOffset : this.leo;
      if (end > this.hw) break;
      const belowStart = next !== undefined && next.baseOffset <= this.lso;
      if (!belowStart) {
        if (seg.size === 0 && !next) break;
        if (expired(seg) <= 0) break;
      }
      if (!next) this.roll(this.leo);
      this.segments.shift();
      this.retireSegment(seg);
      n++;
    }
    if (n > 0) {
      const first = this.segments[0]!.baseOffset;
      if (first > this.lso) {
        this.setLogStartOffset(first);
        void this.hooks.persistLogStartOffset?.(this);
      }
      for (const s of this.snapshots.filter((o) => o < first)) this.deleteSnapshot(s);
    }
    return n;
  }

  /**
   * Renames a removed segment's files to `.deleted` and unlinks them after file.delete.delay.ms.
   * Call right after `indexWritesIdle()` resolves, with no await in between.
   */
  retireSegment(seg: LogSegment): void {
    seg.deleted = true;
    seg.renameAll('', DELETED_SUFFIX);
    this.dirDirty = true;
    const del = (): void => seg.deleteFiles();
    if (this.hooks.scheduleDelete) this.hooks.scheduleDelete(this.config.fileDeleteDelayMs, del);
    else del();
  }

  /**
   * Removes every offset >= `offset` (whole batches; replication truncation on leader change).
   * Below the log start offset the log is emptied and restarts at `offset`.
   */
  truncateTo(offset: number): Promise<void> {
    return this.maintenance(async () => {
      this.checkWritable();
      await this.commit.idle();
      await this.indexWritesIdle();
      if (offset >= this.leo) return;
      if (offset < this.lso || offset <= this.segments[0]!.baseOffset) {
        this.startEmptyAt(offset);
      } else {
        while (this.segments.length > 1 && this.activeSegment.baseOffset >= offset) {
          const seg = this.segments.pop()!;
          this.retireSegment(seg);
        }
        const seg = this.activeSegment;
        seg.truncateTo(offset);
        seg.closed = false;
        this.leo = Math.max(seg.nextOffset, seg.baseOffset);
        this.dirDirty = true;
      }
      this.afterTruncation();
      await this.syncAfterTruncation();
      await this.hooks.persistRecoveryPoint?.(this);
    });
  }

  /**
   * Drops every segment and starts empty at `offset` (log start offset = log end offset = offset).
   * The new state is in place when this returns; the promise resolves once it is durable.
   */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    await this.indexWritesIdle();
    this.startEmptyAt(offset);
    this.afterTruncation();
    await this.syncAfterTruncation();
  }

  private startEmptyAt(offset: number): void {
    for (const seg of this.segments.splice(0)) this.retireSegment(seg);
    this.segments.push(LogSegment.create(this.dir, offset, this.pool, this.segmentSettings(), this.time()));
    this.dirDirty = true;
    this.leo = offset;
    this.lso = offset;
    this.firstDirtyOffset = offset;
    this.epochs.clear();
  }

  private afterTruncation(): void {
    if (this.hw > this.leo) this.hw = this.leo;
    if (this.durable > this.leo) this.durable = this.leo;
    this.commit.lowerTo(this.leo);
    if (this.recoveryPoint > this.leo) this.recoveryPoint = this.leo;
    if (this.firstDirtyOffset > this.leo) this.firstDirtyOffset = this.leo;
    this.epochs.truncateFromEnd(this.leo);
    for (const s of this.snapshots.filter((o) => o > this.leo)) this.deleteSnapshot(s);
  }

  /**
   * The truncated state made durable before the truncation resolves (and before the recovery
   * point passes it again): a group-commit round after any in flight, which syncs the directory
   * (retired segments), the active segment (its new size) and every closed segment whose indexes
   * are not on disk. Appends arriving meanwhile go after the cut and ride the same flush.
   */
  private syncAfterTruncation(): Promise<void> {
    this.dirDirty = true;
    return this.commit.flushNow();
  }

  /**
   * Checks every batch of every segment (length, magic, CRC, offset order) without changing
   * anything; returns the problems found. Closed segments below the recovery point are never
   * rescanned at open, so this is how corruption there is reported.
   */
  verify(): Array<{ segment: number; position: number; problem: string }> {
    const out: Array<{ segment: number; position: number; problem: string }> = [];
    for (const seg of this.segments) {
      const r = seg.scanSync(0, seg.size, true, () => {});
      if (r.problem) out.push({ segment: seg.baseOffset, position: r.validBytes, problem: r.problem });
    }
    return out;
  }

  // ================================================================ leader epochs

  /** Records that `epoch` starts at `startOffset` (a new leader's first offset). */
  assignEpochStartOffset(epoch: number, startOffset: number): void {
    this.epochs.assign(epoch, startOffset);
  }

  /** OffsetForLeaderEpoch: the largest epoch <= `epoch` and where it ended. */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    return this.epochs.endOffsetFor(epoch, this.leo);
  }

  // ================================================================ transactions

  /** Adds an aborted transaction to the active segment's `.txnindex` (its abort marker lives there). */
  appendAbortedTxn(entry: AbortedTxn): void {
    this.checkWritable();
    this.activeSegment.txnIndex.append(entry);
  }

  /**
   * Makes the aborted-transaction indexes from `fromOffset` on hold exactly `entries` (each filed
   * in the segment holding its marker, `lastOffset`). Producer-state recovery calls this with the
   * aborts it replayed from the log: after a crash an index may miss an entry whose marker
   * survived, or keep one whose marker was cut off. Files are rewritten only where they differ.
   */
  replaceAbortedTxns(fromOffset: number, entries: readonly AbortedTxn[]): void {
    this.checkWritable();
    const sorted = [...entries].sort((a, b) => a.lastOffset - b.lastOffset);
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      const end = this.segments[i + 1]?.baseOffset ?? Number.MAX_SAFE_INTEGER;
      const want = sorted.filter((e) => e.lastOffset >= Math.max(fromOffset, seg.baseOffset) && e.lastOffset < end);
      const have = seg.txnIndex.entries().filter((e) => e.lastOffset >= fromOffset);
      const same =
        want.length === have.length &&
        want.every((e, j) => {
          const h = have[j]!;
          return (
            h.producerId === e.producerId &&
            h.firstOffset === e.firstOffset &&
            h.lastOffset === e.lastOffset &&
            h.lastStableOffset === e.lastStableOffset
          );
        });
      if (same) continue;
      seg.txnIndex.truncateTo(fromOffset);
      for (const e of want) seg.txnIndex.append(e);
    }
  }

  /** Aborted transactions overlapping [fromOffset, upperBoundOffset), for read_committed fetches. */
  collectAbortedTxns(fromOffset: number, upperBoundOffset: number): AbortedTxn[] {
    const out: AbortedTxn[] = [];
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length; i++) {
      for (const e of this.segments[i]!.txnIndex.entries()) {
        if (e.lastOffset >= fromOffset && e.firstOffset < upperBoundOffset) out.push(e);
      }
    }
    return out;
  }

  // ================================================================ producer-state snapshots

  /** Stores an opaque producer-state snapshot taken at `offset` (as `<offset>.snapshot`). */
  /**
   * The file is written in the background (temporary file fsynced, renamed, directory fsynced);
   * until then the snapshot is served from memory. A failed write only leaves an older snapshot
   * for recovery to start from (more of the log replayed), so it is not reported.
   */
  writeProducerSnapshot(offset: number, data: Buffer): void {
    this.checkWritable();
    const path = join(this.dir, offsetFileName(offset) + SNAPSHOT_SUFFIX);
    this.pendingSnapshots.set(offset, data);
    if (!this.snapshots.includes(offset)) {
      this.snapshots.push(offset);
      this.snapshots.sort((a, b) => a - b);
    }
    this.snapshotChain = this.snapshotChain
      .then(async () => {
        if (this.pendingSnapshots.get(offset) !== data || this.halted) return;
        await writeFileAtomicAsync(path, data);
      })
      .catch(() => {})
      .finally(() => {
        if (this.pendingSnapshots.get(offset) === data) this.pendingSnapshots.delete(offset);
      });
  }

  /** Offsets of the stored snapshots, oldest first. */
  producerSnapshotOffsets(): number[] {
    return [...this.snapshots];
  }

  /** The newest snapshot at or below `maxOffset` (default: any). */
  latestProducerSnapshot(maxOffset = Number.MAX_SAFE_INTEGER): { offset: number; data: Buffer } | null {
    for (let i = this.snapshots.length - 1; i >= 0; i--) {
      const o = this.snapshots[i]!;
      if (o > maxOffset) continue;
      const pending = this.pendingSnapshots.get(o);
      if (pending) return { offset: o, data: pending };
      try {
        return { offset: o, data: fs.readFileSync(join(this.dir, offsetFileName(o) + SNAPSHOT_SUFFIX)) };
      } catch {
        continue;
      }
    }
    return null;
  }

  private deleteSnapshot(offset: number): void {
    this.snapshots = this.snapshots.filter((o) => o !== offset);
    const path = join(this.dir, offsetFileName(offset) + SNAPSHOT_SUFFIX);
    if (this.pendingSnapshots.delete(offset)) {
      // A write of it is queued: unlink after it (an unlink is a metadata change, no disk wait).
      this.snapshotChain = this.snapshotChain.then(() => {
        if (!this.snapshots.includes(offset)) unlinkQuiet(path);
      });
    } else unlinkQuiet(path);
  }

  // ================================================================ close

  /** Flushes everything, writes the active segment's indexes, releases descriptors. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.maintenance(() => {});
    await this.commit.idle();
    await this.snapshotChain;
    if (!this.offline && !this.commit.failure) {
      await this.commit.flushNow();
      for (const s of this.segments) {
        if (s.closed) await s.writeIndexesIfClosedAsync();
        else await s.writeIndexesAsync();
      }
      await this.syncDirectory();
      await this.epochs.flushed();
    }
    await Promise.all(this.segments.map((s) => s.indexesIdle()));
    this.closed = true;
    this.commit.failAll(new LogClosedError(`log ${this.name} is closed`));
    for (const s of this.segments) s.file.close();
    this.listeners.clear();
  }

  /**
   * Stops at once without flushing or writing anything more (deleteLog, where the files are going
   * away, and `LogManager.halt`, which leaves what a crash would).
   */
  abandon(): void {
    this.closed = true;
    this.halted = true;
    this.epochs.stop();
    this.commit.failAll(new LogClosedError(`log ${this.name} was deleted`));
    for (const s of this.segments) s.file.close();
    this.listeners.clear();
  }

  // ================================================================ cleaner support

  /**
   * Replaces consecutive closed segments by one cleaned segment already renamed to `.swap` on
   * disk (and that rename synced: the commit point). The final renames are made durable by the
   * caller's `syncDirectory` or the next flush; a crash before leaves the `.swap` for open to finish.
   */
  replaceSegments(olds: LogSegment[], cleaned: LogSegment): void {
    const first = this.segments.indexOf(olds[0]!);
    if (first < 0 || olds.some((s, i) => this.segments[first + i] !== s)) {
      throw new Error('segments changed while cleaning');
    }
    // Commit point reached (`.log.swap` exists): originals go, then the swap takes the final name.
    this.segments.splice(first, olds.length, cleaned);
    for (const s of olds) this.retireSegment(s);
    cleaned.renameAll(SWAP_SUFFIX, '');
    this.dirDirty = true;
    cleaned.closed = true;
    cleaned.indexesDurable = true;
  }

  /** @internal for the cleaner */
  get poolForCleaner(): FilePool {
    return this.pool;
  }

  /** @internal for the cleaner and tests */
  now(): number {
    return this.time();
  }

  /** @internal */
  segmentSettingsForCleaner(): SegmentSettings {
    return this.segmentSettings();
  }
}

const EMPTY = Buffer.alloc(0);
