import { tracingChannel } from 'node:diagnostics_channel';

interface FetchContext {
  client?: object;
  seq?: number;
}

/**
 * Watches @platformatic/kafka consumers' fetches through the diagnostics tracing channel the
 * client publishes each fetch on. Its callback, which pushes the fetched records into the stream,
 * runs inside asyncEnd, so a fetch counted here has delivered its records. Tests use it to wait
 * for "this consumer has long-polled again" instead of sleeping for a guessed time.
 */
export class PlatformaticFetches {
  private seq = 0;
  private readonly done = new Map<object, number[]>();
  private readonly channel = tracingChannel<unknown, FetchContext>('plt:kafka:consumer:fetches');
  private readonly handlers = {
    start: (ctx: FetchContext) => void (ctx.seq = ++this.seq),
    end: () => {},
    asyncStart: () => {},
    asyncEnd: (ctx: FetchContext) => {
      if (!ctx.client || ctx.seq === undefined) return;
      const list = this.done.get(ctx.client) ?? [];
      list.push(ctx.seq);
      this.done.set(ctx.client, list);
    },
    error: () => {},
  };

  constructor() {
    this.channel.subscribe(this.handlers);
  }

  /** A point in time: fetches started after it are counted by completedSince. */
  mark(): number {
    return this.seq;
  }

  /** How many fetches `client` started after `mark` and has completed (records delivered). */
  completedSince(client: object, mark: number): number {
    return (this.done.get(client) ?? []).filter((s) => s > mark).length;
  }

  close(): void {
    this.channel.unsubscribe(this.handlers);
  }
}
