/**
 * Durability: what an acknowledged append survives, per flush setting.
 *
 * Every append is written to the segment file with a synchronous pwrite before its promise can
 * resolve, so the bytes are in the kernel page cache when the broker sees the acknowledgement.
 *
 * - A process crash (SIGKILL, OOM kill, uncaught exception) loses NOTHING that was acknowledged, in
 *   any mode: the page cache belongs to the kernel and reaches the disk later. A crash in the middle
 *   of a write can leave a torn batch at the tail; recovery truncates it, and that batch was never
 *   acknowledged.
 * - A power loss or kernel crash loses what was not yet fdatasync'ed:
 *   - `flush.messages = 1` (broker `log.flush.interval.messages = 1`, "strict"): an append resolves
 *     only after an fdatasync covering it has completed, so nothing acknowledged is lost. Appends
 *     that arrive while an fdatasync is running share the next one (group commit): one sync per
 *     round trip of the disk, however many producers are waiting.
 *   - `flush.messages = N > 1`: the append that brings the count of unsynced records to N waits for
 *     an fdatasync (covering every earlier record too); the others resolve once written. At most
 *     N - 1 acknowledged records are at risk, plus whatever `flush.ms` has not yet covered.
 *   - `flush.ms = T` (broker `log.flush.interval.ms`, default 1000 here): a background flusher,
 *     ticking coarsely, fdatasyncs every log whose oldest unsynced append is older than T. Appends
 *     do not wait for it. A power loss loses at most about T plus one tick (and one fdatasync) of
 *     acknowledged data. Kafka's default is "never" and leans on replication; a single Brook broker
 *     has no replicas, hence a finite default.
 * - The log's durable offset moves to the end of an append once it is acknowledged under the rule
 *   above. The high watermark is not storage's to decide: the partition that owns the log (see
 *   src/broker/replica/partition.ts) caps it by the durable offset and by its in-sync replicas, and
 *   sets it with `updateHighWatermark`. A log without an owner (tools, tests) moves its high
 *   watermark to its durable offset itself.
 * - Index files, checkpoints and the leader-epoch file are never trusted beyond the recovery point:
 *   after an unclean shutdown every segment from the one holding the recovery point onward is
 *   re-read batch by batch (length, magic, CRC-32C, offset order), truncated at the first bad or
 *   torn batch, and re-indexed. A segment becomes "below the recovery point" only after both its
 *   log and its index files were fdatasync'ed, and new segment files' directory entries synced.
 * - A failed fdatasync is not retried (the kernel may have dropped the dirty pages): the log turns
 *   offline and every later append or flush fails with KAFKA_STORAGE_ERROR until it is reopened,
 *   where recovery decides what is really on disk.
 */

import { type KafkaStorageError, asStorageError } from './errors.js';
import { flushChannel } from './flush-channel.js';

interface Waiter {
  offset: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

function publishFlush(durableOffset: number, startedAt: number, error: Error | null): void {
  flushChannel.publish({ durableOffset, durationMs: performance.now() - startedAt, error });
}

/**
 * Group commit for one log: callers wait until every offset below theirs is durable; at most one
 * flush runs at a time and each flush covers everything written when it started.
 */
export class GroupCommit {
  /** Every offset below this one has been fdatasync'ed. */
  durableOffset: number;
  private waiters: Waiter[] = [];
  private running: Promise<void> | null = null;
  failure: KafkaStorageError | null = null;
  /** Flushes run so far (a group commit shows far fewer flushes than appends). */
  flushes = 0;

  constructor(
    initialDurable: number,
    private readonly flush: (upTo: number) => Promise<void>,
    private readonly endOffset: () => number,
    private readonly onDurable: (offset: number) => void,
  ) {
    this.durableOffset = initialDurable;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves when offsets below `offset` are durable. */
  waitFor(offset: number, force = false): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (offset <= this.durableOffset && !force) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ offset, resolve, reject });
      this.kick();
    });
  }

  /** Starts a flush of everything written so far (if none is running) and resolves when it ends. */
  flushNow(): Promise<void> {
    return this.waitFor(this.endOffset(), true);
  }

  /** Resolves when no flush is in flight (for close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  private async loop(): Promise<void> {
    while (this.waiters.length > 0) {
      const target = this.endOffset();
      const startedAt = flushChannel.hasSubscribers ? performance.now() : 0;
      try {
        this.flushes++;
        await this.flush(target);
        if (startedAt !== 0) publishFlush(target, startedAt, null);
      } catch (err) {
        this.failure = asStorageError(err, 'fdatasync failed') as KafkaStorageError;
        if (startedAt !== 0) publishFlush(target, startedAt, this.failure);
        const all = this.waiters;
        this.waiters = [];
        for (const w of all) w.reject(this.failure);
        return;
      }
      if (target > this.durableOffset) {
        this.durableOffset = target;
        this.onDurable(target);
      }
      const still: Waiter[] = [];
      for (const w of this.waiters) {
        if (w.offset <= target) w.resolve();
        else still.push(w);
      }
      this.waiters = still;
    }
  }

  /** After a truncation below the durable point. */
  lowerTo(offset: number): void {
    if (offset < this.durableOffset) this.durableOffset = offset;
  }

  failAll(err: Error): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.reject(err);
  }
}
