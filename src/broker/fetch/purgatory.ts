import type { PartitionView } from '../replica/replica-manager.js';

/**
 * Where fetches wait when there is not yet enough data (Kafka's fetch purgatory). A waiting fetch
 * subscribes to its partitions' high-watermark advances (what a consumer can newly read) and is
 * woken by the first one, by its deadline, or by shutdown; no timer or poll runs per partition.
 */
export class FetchPurgatory {
  private readonly waiting = new Set<() => void>();
  private closed = false;

  /**
   * Resolves when the high watermark of any of `partitions` advances, after `maxWaitMs`, or on close. `enough`
   * is re-checked on every append so a fetch with min_bytes > 1 keeps waiting until it is met.
   */
  wait(partitions: readonly PartitionView[], maxWaitMs: number, enough: () => boolean = () => true): Promise<void> {
    if (this.closed || maxWaitMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const unsubscribers: (() => void)[] = [];
      let timer: NodeJS.Timeout | null = null;
      const done = (): void => {
        if (timer === null) return;
        clearTimeout(timer);
        timer = null;
        for (const u of unsubscribers) u();
        this.waiting.delete(done);
        resolve();
      };
      timer = setTimeout(done, maxWaitMs);
      const seen = new Set<PartitionView>();
      for (const p of partitions) {
        if (seen.has(p)) continue;
        seen.add(p);
        unsubscribers.push(
          p.onHighWatermark(() => {
            if (enough()) done();
          }),
        );
      }
      this.waiting.add(done);
    });
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Wakes every waiting fetch (shutdown) and refuses to wait from now on. */
  close(): void {
    this.closed = true;
    for (const done of [...this.waiting]) done();
  }
}
