import type { Logger } from 'pino';
import { API_BY_KEY, APIS, ApiKey, responseHeaderVersion } from '../protocol/apis.js';
import { DecodeError } from '../protocol/decode-error.js';
import { ErrorCode } from '../protocol/errors.js';
import { readRequestHeader, writeResponseHeader } from '../protocol/headers.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import { CloseConnection, NO_RESPONSE, type ApiHandler, type RequestContext } from './api-handler.js';
import type { Connection, RequestOutcome, RequestProcessor } from './network/connection.js';

const CLOSE_SHORT: RequestOutcome = { kind: 'close', reason: 'frame shorter than a request header' };

/**
 * Turns request frames into response frames: header, version checks, body decode, handler, encode.
 * Errors follow Kafka: an ApiVersions request of an unknown version gets a v0 UNSUPPORTED_VERSION
 * answer listing what is supported (KIP-511); any other unknown key or version, or a body that
 * does not decode, closes that one connection (clients such as kafka-python rely on the close).
 */
export class KafkaRequestProcessor implements RequestProcessor {
  private readonly handlers: (ApiHandler | undefined)[] = [];

  constructor(
    handlers: readonly ApiHandler[],
    private readonly log: Logger,
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
    let cleanups: (() => void)[] | null = null;
    let ctx: RequestContext;
    let request: unknown;
    try {
      const r = new Reader(frame);
      const header = readRequestHeader(r);
      if (conn.clientId === null) conn.clientId = header.clientId;
      ctx = {
        header,
        apiVersion,
        connection: conn,
        receivedAt,
        afterResponse(fn) {
          (cleanups ??= []).push(fn);
        },
      };
      request = api.readRequest(r, apiVersion);
    } catch (err) {
      if (err instanceof DecodeError) {
        this.log.info(
          { connection: conn.remoteAddress, api: handler.api, version: apiVersion, reason: err.message },
          'malformed request',
        );
        return { kind: 'close', reason: `malformed ${handler.api} v${apiVersion} request: ${err.message}` };
      }
      throw err;
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
      throw err;
    };
    let result;
    try {
      result = handler.handle(ctx, request as never);
    } catch (err) {
      return closeOn(err);
    }
    if (result instanceof Promise) {
      return result.then(
        (res) => withRelease(this.encode(api.writeResponse, apiKey, apiVersion, correlationId, res)),
        closeOn,
      );
    }
    return withRelease(this.encode(api.writeResponse, apiKey, apiVersion, correlationId, result));
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
