import * as net from 'node:net';
import type { Logger } from 'pino';
import { APIS, responseHeaderVersion, requestHeaderVersion, type ApiMessages } from '../protocol/apis.js';
import { readResponseHeader, writeRequestHeader } from '../protocol/headers.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ApiVersionsResponse } from '../protocol/messages/api-versions-response.js';
import { readApiVersionsResponse } from '../protocol/messages/api-versions-response.js';
import { ConnectionError, RequestTimeoutError, kafkaError } from './errors.js';
import { CLIENT_VERSIONS, NegotiatedVersions, type ClientApi, type VersionRange } from './versions.js';

export const CLIENT_SOFTWARE_NAME = 'brook-client';
export const CLIENT_SOFTWARE_VERSION = '0.1.0';

/** Refuse response frames above this size: a length this large means a desynchronised stream. */
const MAX_RESPONSE_BYTES = 1024 * 1024 * 1024;

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  /** Time allowed for the TCP connect and the ApiVersions exchange. */
  connectTimeoutMs: number;
  /** Default time a request may wait for its response. */
  requestTimeoutMs: number;
  logger?: Logger;
}

export interface RequestOptions {
  /** Overrides the connection's request timeout (long-poll fetches add their max wait). */
  timeoutMs?: number;
  /** Send this version instead of the negotiated one (tests, version probes). */
  version?: number;
}

type Request<K extends ClientApi> = ApiMessages[K]['request'];
type Response<K extends ClientApi> = ApiMessages[K]['response'];

interface Pending {
  correlationId: number;
  api: string;
  decode: (r: Reader) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One TCP connection to a broker: Kafka framing (int32 size prefix), correlation ids, pipelining
 * (requests are written as soon as they are made; Kafka answers in order on a connection), a
 * timeout per request, and the ApiVersions exchange that fixes which version of each API is sent.
 */
export class Connection {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  private readonly opts: ConnectionOptions;
  private socket: net.Socket | undefined;
  private connecting: Promise<void> | undefined;
  private negotiated: NegotiatedVersions | undefined;
  private correlationId = 0;
  private readonly queue: Pending[] = [];
  private queueHead = 0;
  private closedError: Error | undefined;
  private readonly closeListeners: ((err: Error | undefined) => void)[] = [];
  // Receive state: chunks not yet framed, and the size of the frame being read (-1: size unknown).
  private chunks: Buffer[] = [];
  private received = 0;
  private frameSize = -1;

  constructor(opts: ConnectionOptions) {
    this.opts = opts;
    this.host = opts.host;
    this.port = opts.port;
    this.address = `${opts.host}:${opts.port}`;
  }

  /** Versions agreed with this broker (after connect()). */
  get versions(): NegotiatedVersions {
    if (this.negotiated === undefined) throw new Error(`connection to ${this.address} is not established`);
    return this.negotiated;
  }

  get isOpen(): boolean {
    return this.negotiated !== undefined && this.closedError === undefined;
  }

  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  /** Requests written and waiting for their response. */
  get inFlight(): number {
    return this.queue.length - this.queueHead;
  }

  onClose(listener: (err: Error | undefined) => void): void {
    this.closeListeners.push(listener);
  }

  /** Opens the socket and negotiates API versions; safe to call repeatedly. */
  connect(): Promise<void> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    this.connecting ??= this.open().catch((err: Error) => {
      this.fail(err);
      throw err;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const { host, port, connectTimeoutMs } = this.opts;
    const socket = net.connect({ host, port, noDelay: true, keepAlive: true });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new ConnectionError(
            this.address,
            `cannot connect to broker ${this.address}: no answer within ${connectTimeoutMs} ms`,
          ),
        );
      }, connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new ConnectionError(this.address, `cannot connect to broker ${this.address}: ${describeSocketError(err)}`, {
            cause: err,
            code: err.code,
          }),
        );
      });
    });
    socket.removeAllListeners('error');
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.fail(
        new ConnectionError(this.address, `connection to ${this.address} failed: ${describeSocketError(err)}`, {
          cause: err,
          code: err.code,
        }),
      );
    });
    socket.on('close', () =>
      this.fail(new ConnectionError(this.address, `connection to ${this.address} was closed by the broker`)),
    );
    this.negotiated = await this.negotiate();
    this.opts.logger?.debug({ broker: this.address }, 'connected');
  }

  /**
   * ApiVersions: starts at the client's newest version. A broker that does not know that version
   * answers in the v0 format with UNSUPPORTED_VERSION and (Kafka 2.4+) its own range, so the client
   * retries with the highest version both know.
   */
  private async negotiate(): Promise<NegotiatedVersions> {
    let version: number = CLIENT_VERSIONS.ApiVersions[1];
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await this.write<ApiVersionsResponse>(
        APIS.ApiVersions.key,
        'ApiVersions',
        version,
        (w, v) =>
          APIS.ApiVersions.writeRequest(w, v, {
            clientSoftwareName: CLIENT_SOFTWARE_NAME,
            clientSoftwareVersion: CLIENT_SOFTWARE_VERSION,
          }),
        (r) => {
          // The error code leads the body in every version; an error reply is always v0-shaped.
          const code = r.buf.readInt16BE(r.pos);
          return readApiVersionsResponse(r, code === ErrorCode.UNSUPPORTED_VERSION ? 0 : version);
        },
        this.opts.connectTimeoutMs,
      );
      const ranges = new Map<number, VersionRange>();
      for (const k of res.apiKeys) ranges.set(k.apiKey, { minVersion: k.minVersion, maxVersion: k.maxVersion });
      if (res.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
        const own = ranges.get(APIS.ApiVersions.key);
        const next = own === undefined ? 0 : Math.min(version - 1, own.maxVersion);
        if (next < 0 || next >= version) break;
        version = next;
        continue;
      }
      if (res.errorCode !== ErrorCode.NONE) throw kafkaError(res.errorCode, `ApiVersions from ${this.address}`);
      return new NegotiatedVersions(this.address, ranges);
    }
    throw new ConnectionError(this.address, `broker ${this.address} accepts no ApiVersions version this client speaks`);
  }

  /** Sends a request at the negotiated version and resolves with the decoded response. */
  request<K extends ClientApi>(
    api: K,
    build: (version: number) => Request<K>,
    options?: RequestOptions,
  ): Promise<Response<K>> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    let version: number;
    try {
      version = options?.version ?? this.versions.version(api);
    } catch (err) {
      return Promise.reject(err);
    }
    const desc = APIS[api] as unknown as {
      key: number;
      writeRequest(w: Writer, v: number, m: unknown): void;
      readResponse(r: Reader, v: number): unknown;
    };
    return this.write<Response<K>>(
      desc.key,
      api,
      version,
      (w, v) => desc.writeRequest(w, v, build(v)),
      (r) => desc.readResponse(r, version),
      options?.timeoutMs ?? this.opts.requestTimeoutMs,
    );
  }

  /**
   * Writes a request that gets no response (Produce with acks=0). Resolves once the bytes are handed
   * to the socket.
   */
  send<K extends ClientApi>(api: K, build: (version: number) => Request<K>): void {
    if (this.closedError !== undefined) throw this.closedError;
    const version = this.versions.version(api);
    const desc = APIS[api] as unknown as { key: number; writeRequest(w: Writer, v: number, m: unknown): void };
    this.writeFrame(desc.key, version, this.nextCorrelationId(), (w, v) => desc.writeRequest(w, v, build(v)));
  }

  private nextCorrelationId(): number {
    this.correlationId = this.correlationId >= 0x7fffffff ? 1 : this.correlationId + 1;
    return this.correlationId;
  }

  private writeFrame(
    apiKey: number,
    version: number,
    correlationId: number,
    body: (w: Writer, version: number) => void,
  ): void {
    const w = new Writer(256);
    w.int32(0);
    writeRequestHeader(
      w,
      { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: this.opts.clientId },
      requestHeaderVersion(apiKey, version),
    );
    body(w, version);
    w.patchInt32(0, w.length - 4);
    const socket = this.socket!;
    const bufs = w.toBuffers();
    if (bufs.length === 1) {
      socket.write(bufs[0]!);
      return;
    }
    socket.cork();
    for (const b of bufs) socket.write(b);
    socket.uncork();
  }

  private write<T>(
    apiKey: number,
    api: string,
    version: number,
    body: (w: Writer, version: number) => void,
    decode: (r: Reader) => unknown,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const correlationId = this.nextCorrelationId();
      try {
        this.writeFrame(apiKey, version, correlationId, body);
      } catch (err) {
        reject(err as Error);
        return;
      }
      const pending: Pending = {
        correlationId,
        api,
        decode: (r) => {
          readResponseHeader(r, responseHeaderVersion(apiKey, version));
          return decode(r);
        },
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: setTimeout(() => {
          // Responses come back in order, so a lost one leaves the stream unusable: close it.
          const i = this.queue.indexOf(pending, this.queueHead);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new RequestTimeoutError(this.address, api, timeoutMs));
          this.fail(
            new ConnectionError(this.address, `connection to ${this.address} closed after a ${api} request timed out`),
          );
        }, timeoutMs),
      };
      this.queue.push(pending);
    });
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    for (;;) {
      if (this.frameSize < 0) {
        if (this.received < 4) return;
        const size = this.take(4).readInt32BE(0);
        if (size < 4 || size > MAX_RESPONSE_BYTES) {
          this.fail(
            new ConnectionError(
              this.address,
              `broker ${this.address} sent a response frame of ${size} bytes; closing the connection`,
            ),
          );
          return;
        }
        this.frameSize = size;
      }
      if (this.received < this.frameSize) return;
      const frame = this.take(this.frameSize);
      this.frameSize = -1;
      this.onFrame(frame);
      if (this.closedError !== undefined) return;
    }
  }

  /** Removes and returns the next `n` received bytes, copying only when they span chunks. */
  private take(n: number): Buffer {
    this.received -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled = n;
      }
    }
    return out;
  }

  private onFrame(frame: Buffer): void {
    const pending = this.queue[this.queueHead];
    const correlationId = frame.readInt32BE(0);
    if (pending === undefined || pending.correlationId !== correlationId) {
      this.fail(
        new ConnectionError(
          this.address,
          `broker ${this.address} answered correlation id ${correlationId}, expected ${pending?.correlationId ?? 'none'}`,
        ),
      );
      return;
    }
    this.queue[this.queueHead++] = undefined as unknown as Pending;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    clearTimeout(pending.timer);
    let value: unknown;
    try {
      value = pending.decode(new Reader(frame));
    } catch (err) {
      pending.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    pending.resolve(value);
  }

  private fail(err: Error): void {
    if (this.closedError !== undefined) return;
    this.closedError = err;
    this.socket?.destroy();
    const pending = this.queue.slice(this.queueHead);
    this.queue.length = 0;
    this.queueHead = 0;
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    for (const l of this.closeListeners) l(err);
  }

  /** Closes the socket; requests still waiting fail with a ConnectionError. */
  close(): void {
    this.fail(new ConnectionError(this.address, `connection to ${this.address} was closed by the client`));
  }
}

function describeSocketError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is a broker running there?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      return err.message;
  }
}
