import type { Logger } from 'pino';
import { API_BY_KEY, APIS, ApiKey, responseHeaderVersion } from '../protocol/apis.js';
import { DecodeError } from '../protocol/decode-error.js';
import { ErrorCode } from '../protocol/errors.js';
import { readRequestHeader, writeResponseHeader } from '../protocol/headers.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import { CloseConnection, NO_RESPONSE, type ApiHandler, type RequestContext } from './api-handler.js';
import type { Connection, RequestOutcome, RequestProcessor } from './network/connection.js';
import { firstVerdict, RequestPipeline, type RequestVerdict } from './pipeline/hooks.js';

const CLOSE_SHORT: RequestOutcome = { kind: 'close', reason: 'frame shorter than a request header' };

/**
 * Turns request frames into response frames: header, version checks, pipeline hooks (after the
 * header, before the handler, on the response, on error), body decode, handler, encode.
 * Errors follow Kafka: an ApiVersions request of an unknown version gets a v0 UNSUPPORTED_VERSION
 * answer listing what is supported (KIP-511); any other unknown key or version, or a body that
 * does not decode, closes that one connection (clients such as kafka-python rely on the close).
 */
export class KafkaRequestProcessor implements RequestProcessor {
  private readonly handlers: (ApiHandler | undefined)[] = [];

  constructor(
    handlers: readonly ApiHandler[],
    private readonly log: Logger,
    /** Hooks around every request; the default has none. */
    private readonly pipeline: RequestPipeline = new RequestPipeline(),
  ) {
    for (const h of handlers) {
      const api = APIS[h.api];
      if (h.minVersion < api.minVersion || h.maxVersion > api.maxVersion) {
        throw new Error(
          `${h.api} handler claims versions ${h.minVersion}-${h.maxVersion} beyond the protocol's ${api.minVersion}-${api.maxVersion}`,
        );
      }
      this.handlers[api.key] = h as ApiHandler;
    }
  }

  /** The advertised version range of every API this broker serves, by key. */
  supportedApis(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    const out: { apiKey: number; minVersion: number; maxVersion: number }[] = [];
    this.handlers.forEach((h, key) => {
      if (h) out.push({ apiKey: key, minVersion: h.minVersion, maxVersion: h.maxVersion });
    });
    return out;
  }

  process(conn: Connection, frame: Buffer): RequestOutcome | Promise<RequestOutcome> {
    const receivedAt = Date.now();
    if (frame.length < 8) return CLOSE_SHORT;
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const handler = apiKey >= 0 ? this.handlers[apiKey] : undefined;
    if (handler === undefined) {
      return { kind: 'close', reason: `unsupported api key ${apiKey}` };
    }
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === ApiKey.ApiVersions && apiVersion > handler.maxVersion) {
        return { kind: 'response', buffers: this.unsupportedApiVersions(correlationId) };
      }
      return { kind: 'close', reason: `unsupported ${handler.api} version ${apiVersion}` };
    }
    const api = API_BY_KEY[apiKey]!;
    const pipeline = this.pipeline;
    let cleanups: (() => void)[] | null = null;
    let ctx: RequestContext | null = null;
    let request: unknown;
    try {
      const r = new Reader(frame);
      const header = readRequestHeader(r);
      if (conn.clientId === null) conn.clientId = header.clientId;
      ctx = {
        header,
        apiVersion,
        connection: conn,
        session: conn.session,
        receivedAt,
        afterResponse(fn) {
          (cleanups ??= []).push(fn);
        },
      };
      if (pipeline.afterHeaderDecode !== null) {
        const verdict = firstVerdict(pipeline.afterHeaderDecode, ctx);
        if (verdict !== undefined) return this.rejected(verdict, ctx, api.writeResponse);
      }
      request = api.readRequest(r, apiVersion);
    } catch (err) {
      if (err instanceof DecodeError) {
        if (pipeline.onError !== null && ctx !== null) this.reportError(ctx, err);
        this.log.info(
          { connection: conn.remoteAddress, api: handler.api, version: apiVersion, reason: err.message },
          'malformed request',
        );
        return { kind: 'close', reason: `malformed ${handler.api} v${apiVersion} request: ${err.message}` };
      }
      throw err;
    }
    const context = ctx;
    if (pipeline.beforeHandler !== null) {
      const verdict = firstVerdict(pipeline.beforeHandler, context, request);
      if (verdict !== undefined) return this.rejected(verdict, context, api.writeResponse);
    }
    const withRelease = (outcome: RequestOutcome): RequestOutcome => {
      const fns = cleanups;
      if (fns === null) return outcome;
      outcome.release = () => {
        for (const fn of fns) fn();
      };
      return outcome;
    };
    const closeOn = (err: unknown): RequestOutcome => {
      if (err instanceof CloseConnection) return withRelease({ kind: 'close', reason: err.message });
      if (pipeline.onError !== null) this.reportError(context, err);
      throw err;
    };
    let result;
    try {
      result = handler.handle(context, request as never);
    } catch (err) {
      return closeOn(err);
    }
    if (result instanceof Promise) {
      return result.then((res) => withRelease(this.respond(api.writeResponse, context, res)), closeOn);
    }
    return withRelease(this.respond(api.writeResponse, context, result));
  }

  /** Encodes the handler's answer, after the onResponse hooks (which may add a throttle time). */
  private respond(
    write: (w: Writer, version: number, m: never) => void,
    ctx: RequestContext,
    body: unknown,
  ): RequestOutcome {
    const hooks = this.pipeline.onResponse;
    let throttleMs = 0;
    if (hooks !== null && body !== NO_RESPONSE) {
      for (const hook of hooks) throttleMs = Math.max(throttleMs, hook(ctx, body) ?? 0);
      if (throttleMs > 0) {
        const b = body as { throttleTimeMs?: number };
        if (typeof b.throttleTimeMs === 'number') b.throttleTimeMs = Math.max(b.throttleTimeMs, throttleMs);
      }
    }
    const outcome = this.encode(write, ctx.header.requestApiKey, ctx.apiVersion, ctx.header.correlationId, body);
    if (throttleMs > 0) outcome.throttleMs = throttleMs;
    return outcome;
  }

  private rejected(
    verdict: NonNullable<RequestVerdict>,
    ctx: RequestContext,
    write: (w: Writer, version: number, m: never) => void,
  ): RequestOutcome {
    if (verdict.action === 'close') return { kind: 'close', reason: verdict.reason };
    return this.respond(write, ctx, verdict.response);
  }

  private reportError(ctx: RequestContext, err: unknown): void {
    for (const hook of this.pipeline.onError!) {
      try {
        hook(ctx, err);
      } catch (hookErr) {
        this.log.error({ err: hookErr }, 'onError hook failed');
      }
    }
  }

  private encode(
    write: (w: Writer, version: number, m: never) => void,
    apiKey: number,
    apiVersion: number,
    correlationId: number,
    body: unknown,
  ): RequestOutcome {
    if (body === NO_RESPONSE) return { kind: 'none' };
    const w = new Writer(256);
    w.int32(0);
    writeResponseHeader(w, correlationId, responseHeaderVersion(apiKey, apiVersion));
    write(w, apiVersion, body as never);
    w.patchInt32(0, w.length - 4);
    return { kind: 'response', buffers: w.toBuffers() };
  }

  /** KIP-511: a v0-format body with UNSUPPORTED_VERSION and the full list, under header v0. */
  private unsupportedApiVersions(correlationId: number): Buffer[] {
    const w = new Writer(512);
    w.int32(0);
    writeResponseHeader(w, correlationId, 0);
    APIS.ApiVersions.writeResponse(w, 0, {
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: this.supportedApis(),
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1,
      finalizedFeatures: [],
      zkMigrationReady: false,
    });
    w.patchInt32(0, w.length - 4);
    return w.toBuffers();
  }
}
