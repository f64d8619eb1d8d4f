import * as fs from 'node:fs';
import { writeFileAtomicAsync } from './fsutil.js';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

/**
 * The partition's leader-epoch history, persisted as Kafka's `leader-epoch-checkpoint`:
 * a version line (0), a count line, then `epoch startOffset` lines. OffsetForLeaderEpoch answers
 * from it, and a follower truncates with it after a leader change.
 */
export class LeaderEpochCache {
  private entries: EpochEntry[] = [];
  /** The file is behind the entries; a write is due. */
  private dirty = false;
  private writing: Promise<void> | null = null;
  private failure: unknown = null;
  private stopped = false;

  constructor(readonly path: string) {
    let text: string | null = null;
    try {
      text = fs.readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== null) {
      const lines = text.split('\n');
      if (lines[0] !== '0') throw new Error(`${path}: unknown version ${lines[0]}`);
      const n = Number(lines[1]);
      for (let i = 0; i < n; i++) {
        const [e, o] = lines[2 + i]!.split(' ').map(Number);
        if (!Number.isInteger(e) || !Number.isSafeInteger(o)) throw new Error(`${path}: malformed line ${i + 3}`);
        this.entries.push({ epoch: e!, startOffset: o! });
      }
    }
  }

  list(): EpochEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  get latestEpoch(): number {
    return this.entries.length ? this.entries[this.entries.length - 1]!.epoch : -1;
  }

  /** Records that `epoch` began at `startOffset`; older or equal epochs are ignored, overlapping entries dropped. */
  assign(epoch: number, startOffset: number): void {
    const last = this.entries[this.entries.length - 1];
    if (last && epoch <= last.epoch) return;
    // An entry starting at or past the new start offset belongs to an abandoned history.
    while (this.entries.length && this.entries[this.entries.length - 1]!.startOffset >= startOffset) this.entries.pop();
    this.entries.push({ epoch, startOffset });
    this.persist();
  }

  /**
   * Kafka's OffsetForLeaderEpoch answer: the largest known epoch <= `epoch` and the offset at which
   * the next epoch began (or the log end offset when it is the latest); -1/-1 above every epoch.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    // Kafka's LeaderEpochFileCache.endOffsetFor: the latest epoch ends at the log end; an epoch
    // above every known one is undefined; otherwise it ends where the next higher epoch starts.
    if (epoch < 0) return { epoch: -1, endOffset: -1 };
    if (this.entries.length > 0 && epoch === this.latestEpoch) return { epoch, endOffset: logEndOffset };
    const higher = this.entries.find((e) => e.epoch > epoch);
    if (!higher) return { epoch: -1, endOffset: -1 };
    let floor: EpochEntry | undefined;
    for (const e of this.entries) if (e.epoch <= epoch) floor = e;
    return { epoch: floor ? floor.epoch : epoch, endOffset: higher.startOffset };
  }

  /** After truncating the log to `offset`: entries that start at or after it are gone. */
  truncateFromEnd(offset: number): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.startOffset < offset);
    if (this.entries.length !== before) this.persist();
  }

  /** After the log start offset moved to `offset`: older entries collapse into one starting there. */
  truncateFromStart(offset: number): void {
    let i = 0;
    while (i + 1 < this.entries.length && this.entries[i + 1]!.startOffset <= offset) i++;
    if (i === 0 && (this.entries.length === 0 || this.entries[0]!.startOffset >= offset)) return;
    const kept = this.entries.slice(i);
    kept[0] = { epoch: kept[0]!.epoch, startOffset: Math.max(kept[0]!.startOffset, offset) };
    this.entries = kept;
    this.persist();
  }

  clear(): void {
    this.entries = [];
    this.persist();
  }

  /**
   * Writes the file in the background (temporary file fsynced, renamed, directory fsynced), one
   * write at a time, each with the entries current when it starts, so bursts of changes coalesce.
   * The log's flush awaits `flushed()` before its recovery point moves, so an acknowledged
   * append never relies on epochs that are not on disk.
   */
  private persist(): void {
    this.dirty = true;
    if (this.writing || this.stopped) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      const lines = ['0', String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)];
      try {
        await writeFileAtomicAsync(this.path, lines.join('\n') + '\n');
        this.failure = null;
      } catch (err) {
        // Kept dirty: the next change or flush tries again; flushed() reports it meanwhile.
        this.dirty = true;
        this.failure = err;
        return;
      }
    }
  }

  /** Resolves once the file holds the entries as they are now; rejects when that write failed. */
  async flushed(): Promise<void> {
    await this.settled();
    if (this.dirty && !this.stopped) {
      this.persist(); // a failed write is retried once for a caller that needs the file
      await this.settled();
    }
    if (this.failure) throw this.failure;
  }

  private async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Writes nothing more (the log was abandoned: what a crash leaves). */
  stop(): void {
    this.stopped = true;
  }
}
