import { connect, type Socket } from 'node:net';
import {
  APIS,
  type ApiMessages,
  type ApiName,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/protocol/apis.js';
import { readResponseHeader, writeRequestHeader } from '../../src/protocol/headers.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';

/**
 * A deliberately small Kafka protocol client for tests: one connection, pipelined requests,
 * responses matched in order, raw frames when a test needs to send garbage.
 */
export class WireClient {
  private correlation = 1;
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private need = -1;
  private readonly waiting: { resolve: (frame: Buffer) => void; reject: (e: Error) => void }[] = [];
  private closedError: Error | null = null;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
      for (;;) {
        if (this.need < 0) {
          if (this.bufferedBytes < 4) return;
          this.need = 4 + this.joined().readInt32BE(0);
        }
        if (this.bufferedBytes < this.need) return;
        const all = this.joined();
        const frame = all.subarray(4, this.need);
        const rest = all.subarray(this.need);
        this.chunks = rest.length ? [rest] : [];
        this.bufferedBytes = rest.length;
        this.need = -1;
        this.waiting.shift()?.resolve(frame);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedError = new ConnectionClosedError('connection closed by the broker');
        for (const w of this.waiting.splice(0)) w.reject(this.closedError);
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  /** The buffered bytes as one buffer (joined only when a whole frame or size is needed). */
  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  static open(bootstrap: string): Promise<WireClient> {
    const [host, port] = splitHostPort(bootstrap);
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => resolve(new WireClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends raw bytes (a whole frame including its size prefix, or garbage). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits for the next response frame (without its size prefix). */
  nextFrame(): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  encode<K extends ApiName>(
    api: K,
    version: number,
    body: ApiMessages[K]['request'],
    correlationId = this.correlation++,
  ): Buffer {
    const d = APIS[api];
    const w = new Writer();
    w.int32(0);
    writeRequestHeader(
      w,
      { requestApiKey: d.key, requestApiVersion: version, correlationId, clientId: 'brook-test' },
      requestHeaderVersion(d.key, version),
    );
    d.writeRequest(w, version, body as never);
    w.patchInt32(0, w.length - 4);
    return w.toBuffer();
  }

  /** Sends one request and decodes its response. */
  async request<K extends ApiName>(
    api: K,
    version: number,
    body: ApiMessages[K]['request'],
  ): Promise<ApiMessages[K]['response']> {
    const correlationId = this.correlation++;
    const frame = this.encode(api, version, body, correlationId);
    const response = this.nextFrame();
    this.sendRaw(frame);
    const r = new Reader(await response);
    const d = APIS[api];
    const header = readResponseHeader(r, responseHeaderVersion(d.key, version));
    if (header.correlationId !== correlationId)
      throw new Error(`correlation id ${header.correlationId}, expected ${correlationId}`);
    const body2 = d.readResponse(r, version) as ApiMessages[K]['response'];
    if (r.remaining() !== 0) throw new Error(`${r.remaining()} bytes left after the ${api} v${version} response`);
    return body2;
  }

  close(): void {
    this.socket.destroy();
  }
}

export class ConnectionClosedError extends Error {}

export function splitHostPort(bootstrap: string): [string, number] {
  const i = bootstrap.lastIndexOf(':');
  return [bootstrap.slice(0, i).replace(/^\[|\]$/g, ''), Number(bootstrap.slice(i + 1))];
}
