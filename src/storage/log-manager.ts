import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { type CleanOptions, type CleanResult, cleanLog } from './cleaner.js';
import { type LogConfig, defaultLogConfig, isCompacted, resolveLogConfig } from './config.js';
import { LogClosedError } from './errors.js';
import { FilePool } from './file-pool.js';
import { CheckpointFile, existsSync, fsyncDirAsync, readOffsetCheckpoint, unlinkQuiet } from './fsutil.js';
import { PartitionLog } from './partition-log.js';
import type { RecordsCodec } from './records.js';

export const CLEAN_SHUTDOWN_FILE = 'cleanshutdown';
export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint';
export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';

export interface LogManagerOptions {
  /** Broker-level defaults (Kafka's `log.*` properties) over the built-in defaults. */
  defaultConfig?: Partial<LogConfig>;
  /** Topic-level overrides for logs found at open (the broker's metadata store knows them). */
  topicConfig?: (topic: string) => Partial<LogConfig> | undefined;
  /** Bound on open segment descriptors across all partitions. Default 1024. */
  maxOpenFiles?: number;
  /** Clock (ms); tests inject one. */
  time?: () => number;
  /** Codecs for compressed batches (the cleaner and timestamp lookups need them); gzip built in. */
  codec?: RecordsCodec;
  /** Period of the background scheduler (flush.ms checks). Default 1000 ms (Kafka's log.flush.scheduler.interval.ms is similar). */
  schedulerTickMs?: number;
  /** `log.retention.check.interval.ms`. Default 5 minutes. */
  retentionCheckIntervalMs?: number;
  /** `log.flush.offset.checkpoint.interval.ms` (recovery points, log start offsets, cleaner positions). Default 60 s. */
  checkpointIntervalMs?: number;
  /** `log.cleaner.backoff.ms`: pause between cleaner passes. Default 15 s. */
  cleanerBackoffMs?: number;
  /** `log.cleaner.enable`. Default true. */
  cleanerEnabled?: boolean;
  /** Keys the cleaner's offset map may hold per pass. */
  cleanerMaxKeys?: number;
  /** Start the background scheduler (default true; tests may drive the tasks by hand). */
  scheduler?: boolean;
  /** Where background task failures go (default: console.error). */
  onError?: (err: unknown, task: string) => void;
}

export interface LogInfo {
  topic: string;
  partition: number;
  dir: string;
  size: number;
  segments: number;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
}

const PARTITION_DIR = /^(.+)-(\d+)$/;
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * All partition logs of one data directory: opening (with or without recovery), creation and
 * deletion, the bounded descriptor pool, data-dir checkpoints, and the background scheduler for
 * flush.ms, retention, checkpoints and compaction.
 */
export class LogManager {
  readonly pool: FilePool;
  /** Whether the previous shutdown was clean (the marker was present at open). */
  readonly hadCleanShutdown: boolean;
  private readonly logsByName = new Map<string, PartitionLog>();
  private readonly defaults: LogConfig;
  private readonly time: () => number;
  private timer: NodeJS.Timeout | null = null;
  private readonly tasks = new Set<Promise<unknown>>();
  private readonly checkpointFiles = new Map<string, CheckpointFile>();
  private readonly pendingDeletes = new Set<{ timer: NodeJS.Timeout; fn: () => void }>();
  private lastRetention: number;
  private lastCheckpoint: number;
  private lastClean: number;
  private running = { retention: false, cleaner: false };
  private closed = false;

  private constructor(
    readonly dataDir: string,
    private readonly opts: LogManagerOptions,
    clean: boolean,
  ) {
    this.pool = new FilePool(opts.maxOpenFiles ?? 1024);
    this.defaults = resolveLogConfig(defaultLogConfig(), opts.defaultConfig);
    this.time = opts.time ?? Date.now;
    this.hadCleanShutdown = clean;
    const now = this.time();
    this.lastRetention = now;
    this.lastCheckpoint = now;
    this.lastClean = now;
  }

  /**
   * Opens every partition folder of `dataDir`. After a clean shutdown (marker present) logs open
   * without scanning; otherwise each log rescans from its recovery point. The marker is removed
   * once all logs are open, so a crash from now on is detected.
   */
  static async open(dataDir: string, opts: LogManagerOptions = {}): Promise<LogManager> {
    fs.mkdirSync(dataDir, { recursive: true });
    const markerPath = join(dataDir, CLEAN_SHUTDOWN_FILE);
    const clean = existsSync(markerPath);
    const mgr = new LogManager(dataDir, opts, clean);
    const recoveryPoints = readOffsetCheckpoint(join(dataDir, RECOVERY_POINT_CHECKPOINT));
    const startOffsets = readOffsetCheckpoint(join(dataDir, LOG_START_OFFSET_CHECKPOINT));
    const cleanerOffsets = readOffsetCheckpoint(join(dataDir, CLEANER_OFFSET_CHECKPOINT));
    for (const entry of fs.readdirSync(dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dataDir, entry.name);
      if (entry.name.endsWith('-delete')) {
        // track() observes both outcomes; close() waits for it. A failed removal is retried at the next start.
        void mgr.track(fs.promises.rm(path, { recursive: true, force: true }));
        continue;
      }
      const m = PARTITION_DIR.exec(entry.name);
      if (!m || !LEGAL_TOPIC.test(m[1]!)) continue;
      const topic = m[1]!;
      const partition = Number(m[2]);
      const config = resolveLogConfig(mgr.defaults, opts.topicConfig?.(topic));
      const log = PartitionLog.open({
        topic,
        partition,
        dir: path,
        config,
        pool: mgr.pool,
        recoveryPoint: recoveryPoints.get(entry.name) ?? 0,
        logStartOffset: startOffsets.get(entry.name) ?? 0,
        cleanShutdown: clean,
        time: mgr.time,
        codec: opts.codec,
        hooks: mgr.hooks(),
      });
      const dirty = cleanerOffsets.get(entry.name);
      if (dirty !== undefined) log.firstDirtyOffset = Math.min(Math.max(dirty, log.logStartOffset), log.logEndOffset);
      mgr.logsByName.set(entry.name, log);
    }
    if (clean) {
      unlinkQuiet(markerPath);
      await fsyncDirAsync(dataDir);
    }
    await mgr.writeCheckpointsAsync();
    if (opts.scheduler !== false) mgr.startScheduler();
    return mgr;
  }

  private hooks() {
    return {
      persistLogStartOffset: () => this.persist(this.writeLogStartOffsets()),
      persistRecoveryPoint: () => this.persist(this.writeRecoveryPoints()),
      scheduleDelete: (delayMs: number, fn: () => void) => this.scheduleDelete(delayMs, fn),
    };
  }

  private scheduleDelete(delayMs: number, fn: () => void): void {
    if (delayMs <= 0 || this.closed) {
      fn();
      return;
    }
    const entry = {
      fn,
      timer: setTimeout(() => {
        this.pendingDeletes.delete(entry);
        fn();
      }, delayMs),
    };
    entry.timer.unref();
    this.pendingDeletes.add(entry);
  }

  /** A checkpoint write a log asked for: awaited by close, reported if nobody awaits it. */
  private persist(p: Promise<void>): Promise<void> {
    this.track(p).catch((err) => this.report(err, 'checkpoint'));
    return p;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    const done = (): void => {
      this.tasks.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private report(err: unknown, task: string): void {
    if (this.opts.onError) this.opts.onError(err, task);
    else console.error(`storage ${task} failed:`, err);
  }

  // ================================================================ logs

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.logsByName.get(`${topic}-${partition}`);
  }

  /** Creates the partition's log (or returns the existing one, reconfigured with `config`). */
  createLog(topic: string, partition: number, config: Partial<LogConfig> = {}): PartitionLog {
    if (this.closed) throw new LogClosedError('log manager is closed');
    if (!LEGAL_TOPIC.test(topic) || topic === '.' || topic === '..')
      throw new RangeError(`illegal topic name: ${topic}`);
    if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`illegal partition: ${partition}`);
    const name = `${topic}-${partition}`;
    const existing = this.logsByName.get(name);
    if (existing) {
      if (Object.keys(config).length) existing.updateConfig(config);
      return existing;
    }
    const dir = join(this.dataDir, name);
    const log = PartitionLog.open({
      topic,
      partition,
      dir,
      config: resolveLogConfig(this.defaults, config),
      pool: this.pool,
      cleanShutdown: true,
      time: this.time,
      codec: this.opts.codec,
      hooks: this.hooks(),
      // Its folder's entry in the data dir is synced by its first flush (before anything is acknowledged as durable).
      newDirectory: true,
    });
    this.logsByName.set(name, log);
    return log;
  }

  /**
   * Deletes a partition's log: the folder is renamed `<topic>-<partition>.<id>-delete` at once
   * (so a crash cannot bring it back) and removed in the background.
   */
  async deleteLog(topic: string, partition: number): Promise<boolean> {
    const name = `${topic}-${partition}`;
    const log = this.logsByName.get(name);
    if (!log) return false;
    this.logsByName.delete(name);
    log.abandon();
    const target = join(this.dataDir, `${name}.${randomUUID().replace(/-/g, '')}-delete`);
    // Renamed synchronously (a metadata change, no disk wait) so a createLog of the same name
    // right after finds the folder gone; the fsync and checkpoints run off the event loop.
    fs.renameSync(log.dir, target);
    await fsyncDirAsync(this.dataDir);
    await this.writeCheckpointsAsync();
    this.track(fs.promises.rm(target, { recursive: true, force: true })).catch((err) => this.report(err, 'delete'));
    return true;
  }

  logs(): PartitionLog[] {
    return [...this.logsByName.values()];
  }

  /** Per-partition sizes, for DescribeLogDirs. */
  listLogs(): LogInfo[] {
    return this.logs().map((l) => ({
      topic: l.topic,
      partition: l.partition,
      dir: l.dir,
      size: l.size,
      segments: l.segments.length,
      logStartOffset: l.logStartOffset,
      logEndOffset: l.logEndOffset,
      highWatermark: l.highWatermark,
    }));
  }

  get defaultConfig(): LogConfig {
    return { ...this.defaults };
  }

  // ================================================================ checkpoints

  private entries(pick: (l: PartitionLog) => number): Array<[string, number, number]> {
    return this.logs().map((l) => [l.topic, l.partition, pick(l)]);
  }

  private checkpointFile(name: string): CheckpointFile {
    let f = this.checkpointFiles.get(name);
    if (!f) this.checkpointFiles.set(name, (f = new CheckpointFile(join(this.dataDir, name))));
    return f;
  }

  private writeRecoveryPoints(): Promise<void> {
    return this.checkpointFile(RECOVERY_POINT_CHECKPOINT).write(this.entries((l) => l.recoveryPoint));
  }

  private writeLogStartOffsets(): Promise<void> {
    return this.checkpointFile(LOG_START_OFFSET_CHECKPOINT).write(this.entries((l) => l.logStartOffset));
  }

  private cleanerEntries(): Array<[string, number, number]> {
    return this.logs()
      .filter((l) => isCompacted(l.config))
      .map((l) => [l.topic, l.partition, l.firstDirtyOffset]);
  }

  /**
   * Writes the recovery-point, log-start-offset and cleaner-offset checkpoints (atomically each),
   * synchronously: for tools and tests that stop the manager right after, as a crash would. Every
   * path that runs while serving uses writeCheckpointsAsync.
   */
  writeCheckpoints(): void {
    this.checkpointFile(RECOVERY_POINT_CHECKPOINT).writeSync(this.entries((l) => l.recoveryPoint));
    this.checkpointFile(LOG_START_OFFSET_CHECKPOINT).writeSync(this.entries((l) => l.logStartOffset));
    this.checkpointFile(CLEANER_OFFSET_CHECKPOINT).writeSync(this.cleanerEntries());
  }

  /** The same, with every write and fsync off the event loop. */
  async writeCheckpointsAsync(): Promise<void> {
    await this.writeRecoveryPoints();
    await this.writeLogStartOffsets();
    await this.checkpointFile(CLEANER_OFFSET_CHECKPOINT).write(this.cleanerEntries());
  }

  // ================================================================ background work

  private startScheduler(): void {
    const tick = this.opts.schedulerTickMs ?? 1000;
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
  }

  private tick(): void {
    if (this.closed) return;
    const now = this.time();
    for (const log of this.logsByName.values()) log.maybeFlushOnTimer(now);
    if (now - this.lastRetention >= (this.opts.retentionCheckIntervalMs ?? 300_000) && !this.running.retention) {
      this.lastRetention = now;
      this.track(this.runRetention(now)).catch((err) => this.report(err, 'retention'));
    }
    if (now - this.lastCheckpoint >= (this.opts.checkpointIntervalMs ?? 60_000)) {
      this.lastCheckpoint = now;
      this.track(this.writeCheckpointsAsync()).catch((err) => this.report(err, 'checkpoint'));
    }
    if (
      this.opts.cleanerEnabled !== false &&
      now - this.lastClean >= (this.opts.cleanerBackoffMs ?? 15_000) &&
      !this.running.cleaner
    ) {
      this.lastClean = now;
      this.track(this.runCleaner({ now })).catch((err) => this.report(err, 'cleaner'));
    }
  }

  /** One retention pass over every log; returns the number of segments deleted. */
  async runRetention(now = this.time()): Promise<number> {
    this.running.retention = true;
    try {
      let n = 0;
      for (const log of this.logs()) {
        if (log.isClosed) continue;
        try {
          n += await log.applyRetention(now);
        } catch (err) {
          this.report(err, `retention of ${log.name}`);
        }
      }
      return n;
    } finally {
      this.running.retention = false;
    }
  }

  /** One cleaner pass over every compacted log that is due. */
  async runCleaner(opts: CleanOptions = {}): Promise<Array<{ log: string; result: CleanResult }>> {
    this.running.cleaner = true;
    const out: Array<{ log: string; result: CleanResult }> = [];
    try {
      for (const log of this.logs()) {
        if (log.isClosed || !isCompacted(log.config)) continue;
        try {
          const result = await cleanLog(log, { maxKeys: this.opts.cleanerMaxKeys, ...opts });
          out.push({ log: log.name, result });
        } catch (err) {
          this.report(err, `cleaning of ${log.name}`);
        }
      }
      if (out.some((r) => r.result.cleaned)) await this.writeCheckpointsAsync();
      return out;
    } finally {
      this.running.cleaner = false;
    }
  }

  /** fdatasync of every log. */
  async flushAll(): Promise<void> {
    await Promise.all(this.logs().map((l) => l.flush()));
  }

  get openFileCount(): number {
    return this.pool.openCount;
  }

  /**
   * Stops everything at once, flushing and writing nothing, not even the clean-shutdown marker:
   * what a crash leaves behind (for crash tests, and for fatal disk errors).
   */
  halt(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const log of this.logs()) log.abandon();
    for (const d of this.pendingDeletes) clearTimeout(d.timer);
    this.pendingDeletes.clear();
    this.pool.closeAll();
  }

  /**
   * Graceful shutdown: stops the scheduler, waits for background tasks, flushes every log and
   * writes its indexes, writes the checkpoints, then the clean-shutdown marker.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    while (this.tasks.size) await Promise.allSettled([...this.tasks]);
    let failed = false;
    for (const log of this.logs()) {
      try {
        await log.close();
      } catch (err) {
        failed = true;
        this.report(err, `close of ${log.name}`);
      }
    }
    for (const d of this.pendingDeletes) {
      clearTimeout(d.timer);
      d.fn();
    }
    this.pendingDeletes.clear();
    await this.writeCheckpointsAsync();
    this.pool.closeAll();
    // No marker after a failed flush: the next open must recover.
    if (!failed) {
      await fs.promises.writeFile(join(this.dataDir, CLEAN_SHUTDOWN_FILE), '');
      await fsyncDirAsync(this.dataDir);
    }
  }
}
