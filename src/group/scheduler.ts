import type { Time, TimerHandle } from './time.js';

interface Task {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export interface ScheduledTask {
  cancel(): void;
}

/**
 * Deadline tasks for every group and member, kept in one min-heap with a single host timer armed
 * for the earliest deadline: thousands of groups cost heap entries, not thousands of intervals.
 * Cancelled tasks stay in the heap until they reach the top (lazy deletion); callers that move a
 * deadline forward keep the old task and re-check when it fires, so the heap stays small.
 */
export class DeadlineScheduler {
  private heap: Task[] = [];
  private seq = 0;
  private armedAt = Infinity;
  private handle: TimerHandle | null = null;
  private closed = false;

  constructor(
    private readonly time: Time,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Runs `fn` once the clock reaches `at` (ms since epoch). */
  at(at: number, fn: () => void): ScheduledTask {
    const task: Task = { at, seq: this.seq++, fn, cancelled: false };
    if (this.closed) {
      task.cancelled = true;
      return { cancel() {} };
    }
    this.push(task);
    this.arm();
    return {
      cancel: () => {
        task.cancelled = true;
      },
    };
  }

  after(delayMs: number, fn: () => void): ScheduledTask {
    return this.at(this.time.now() + delayMs, fn);
  }

  size(): number {
    return this.heap.length;
  }

  close(): void {
    this.closed = true;
    if (this.handle !== null) this.time.clearTimer(this.handle);
    this.handle = null;
    this.heap = [];
  }

  private arm(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    const first = this.heap[0];
    if (first === undefined) {
      if (this.handle !== null) this.time.clearTimer(this.handle);
      this.handle = null;
      this.armedAt = Infinity;
      return;
    }
    if (first.at >= this.armedAt && this.handle !== null) return;
    if (this.handle !== null) this.time.clearTimer(this.handle);
    this.armedAt = first.at;
    this.handle = this.time.setTimer(() => this.fire(), first.at - this.time.now());
  }

  private fire(): void {
    this.handle = null;
    this.armedAt = Infinity;
    const now = this.time.now();
    while (!this.closed && this.heap.length > 0 && this.heap[0]!.at <= now) {
      const t = this.pop();
      if (!t.cancelled) {
        t.cancelled = true;
        try {
          t.fn();
        } catch (err) {
          // One failing task must not stop the others (or the timer) from running.
          this.onError(err);
        }
      }
    }
    if (!this.closed) this.arm();
  }

  private less(a: Task, b: Task): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: Task): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Task {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
