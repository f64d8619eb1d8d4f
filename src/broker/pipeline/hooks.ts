import type { RequestContext } from '../api-handler.js';
import type { ConnectionVerdict } from '../network/connection-hooks.js';
import type { Session } from '../network/session.js';

export type { ConnectionVerdict };

/**
 * A hook's decision about a request; `undefined` lets it through to the next hook and the handler.
 * - close: Kafka's answer to a request that must not be served on this connection at all (e.g. a
 *   request other than ApiVersions/SASL before authentication completed).
 * - respond: answer with this response body instead of calling the handler (e.g. an error response
 *   an authorizer built for a request it refuses as a whole). It must be a complete body of the
 *   request's API and version.
 */
export type RequestVerdict =
  | undefined
  | { readonly action: 'close'; readonly reason: string }
  | { readonly action: 'respond'; readonly response: unknown };

/**
 * One set of pipeline hooks; every member is optional. Hooks run synchronously in the order they
 * were added, on the event loop, so they must be cheap (an authorizer decides from a cache).
 */
export interface PipelineHooks {
  /** Names the hook set in logs. */
  readonly name: string;
  /** A connection was accepted, before any of its bytes are read. */
  onConnectionOpen?(session: Session): ConnectionVerdict;
  /** The connection is gone (either side closed it). */
  onConnectionClose?(session: Session): void;
  /**
   * The request header is decoded and the version is known to be served, the body not yet: the
   * cheap place to gate on the API alone (authentication state).
   */
  afterHeaderDecode?(ctx: RequestContext): RequestVerdict;
  /** The body is decoded; the handler runs next unless a hook says otherwise (authorization). */
  beforeHandler?(ctx: RequestContext, request: unknown): RequestVerdict;
  /**
   * The handler's response body, before it is encoded. Returns a throttle time in ms (quotas) or
   * nothing: the largest one is written into the response's throttleTimeMs and the connection
   * reads no further request until it has passed (KIP-219).
   */
  onResponse?(ctx: RequestContext, response: unknown): number | undefined;
  /**
   * A request failed: its body did not decode (`ctx` is then the header's context) or its handler
   * threw. The connection is closed afterwards, as today.
   */
  onError?(ctx: RequestContext, error: unknown): void;
}

type StageName = Exclude<keyof PipelineHooks, 'name'>;
type Stage<K extends StageName> = NonNullable<PipelineHooks[K]>;

/**
 * The ordered hooks around every request and connection. Each stage is a plain array, or null
 * when no hook uses it, so a broker without hooks pays one null check per stage per request.
 */
export class RequestPipeline {
  private readonly all: PipelineHooks[] = [];
  onConnectionOpen: Stage<'onConnectionOpen'>[] | null = null;
  onConnectionClose: Stage<'onConnectionClose'>[] | null = null;
  afterHeaderDecode: Stage<'afterHeaderDecode'>[] | null = null;
  beforeHandler: Stage<'beforeHandler'>[] | null = null;
  onResponse: Stage<'onResponse'>[] | null = null;
  onError: Stage<'onError'>[] | null = null;

  /** Adds a hook set after those already added; returns a function that removes it. */
  add(hooks: PipelineHooks): () => void {
    this.all.push(hooks);
    this.rebuild();
    return () => {
      const i = this.all.indexOf(hooks);
      if (i >= 0) this.all.splice(i, 1);
      this.rebuild();
    };
  }

  get size(): number {
    return this.all.length;
  }

  private rebuild(): void {
    const stage = <K extends StageName>(key: K) => {
      const fns = this.all
        .filter((h) => h[key] !== undefined)
        .map((h) => (h[key] as (...args: unknown[]) => unknown).bind(h) as Stage<K>);
      return fns.length === 0 ? null : fns;
    };
    this.onConnectionOpen = stage('onConnectionOpen');
    this.onConnectionClose = stage('onConnectionClose');
    this.afterHeaderDecode = stage('afterHeaderDecode');
    this.beforeHandler = stage('beforeHandler');
    this.onResponse = stage('onResponse');
    this.onError = stage('onError');
  }
}

/** The first verdict that is not `undefined`, if any. */
export function firstVerdict<A extends unknown[], V>(fns: readonly ((...args: A) => V | undefined)[], ...args: A) {
  for (const fn of fns) {
    const v = fn(...args);
    if (v !== undefined) return v;
  }
  return undefined;
}
