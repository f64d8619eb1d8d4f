// A scripted Kafka broker on loopback for client unit tests: it decodes each request with the
// protocol codecs and answers what the test's handler returns, so tests can check exactly what
// the client sends (versions, fields, record batches) and how it reacts to chosen answers.

import * as net from 'node:net';
import { API_BY_KEY, APIS, responseHeaderVersion, type ApiMessages, type ApiName } from '../../../src/protocol/apis.js';
import { readRequestHeader, writeResponseHeader } from '../../../src/protocol/headers.js';
import { MESSAGE_SCHEMAS, type StructSchema } from '../../../src/protocol/messages/schemas.js';
import { ZERO_UUID } from '../../../src/protocol/messages/support.js';
import { Reader } from '../../../src/protocol/reader.js';
import { Writer } from '../../../src/protocol/writer.js';

/** Fills every field the partial object leaves out with its schema default, recursively. */
export function withDefaults(struct: StructSchema, partial: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of struct.fields) {
    const given = partial[f.name];
    if (given !== undefined) {
      if (f.struct !== null && given !== null) {
        out[f.name] = f.array
          ? (given as Record<string, unknown>[]).map((g) => withDefaults(f.struct!, g))
          : withDefaults(f.struct, given as Record<string, unknown>);
      } else out[f.name] = given;
      continue;
    }
    if (f.defaultNull) out[f.name] = null;
    else if (f.array) out[f.name] = [];
    else if (f.struct !== null) out[f.name] = withDefaults(f.struct, {});
    else if (f.type === 'string') out[f.name] = (f.defaultValue as string | null) ?? '';
    else if (f.type === 'bytes') out[f.name] = Buffer.alloc(0);
    else if (f.type === 'records') out[f.name] = null;
    else if (f.type === 'uuid') out[f.name] = ZERO_UUID;
    else if (f.type === 'bool') out[f.name] = (f.defaultValue as boolean | null) ?? false;
    else out[f.name] = (f.defaultValue as number | null) ?? 0;
  }
  return out;
}

function schema(name: string): StructSchema {
  const s = MESSAGE_SCHEMAS.find((m) => m.name === name);
  if (s === undefined) throw new Error(`no schema ${name}`);
  return s.struct;
}

/** A full response object from the fields a test cares about. */
export function response<K extends ApiName>(api: K, partial: Record<string, unknown>): ApiMessages[K]['response'] {
  return withDefaults(schema(`${api}Response`), partial) as unknown as ApiMessages[K]['response'];
}

export interface ReceivedRequest {
  api: string;
  apiKey: number;
  version: number;
  clientId: string | null;
  correlationId: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** What a handler answers: a response body, 'close' (drop the connection), or 'none' (no answer). */
export type Answer = Record<string, unknown> | 'close' | 'none';
export type Handler = (req: ReceivedRequest, conn: number) => Answer | Promise<Answer>;

/** Kafka 3.9's broker API ranges for the APIs the client uses (all from v0). */
export const FULL_RANGES: Record<string, [number, number]> = Object.fromEntries(
  [
    'Produce',
    'Fetch',
    'ListOffsets',
    'Metadata',
    'OffsetCommit',
    'OffsetFetch',
    'FindCoordinator',
    'JoinGroup',
    'Heartbeat',
    'LeaveGroup',
    'SyncGroup',
    'DescribeGroups',
    'ListGroups',
    'ApiVersions',
    'CreateTopics',
    'DeleteTopics',
    'InitProducerId',
    'AddPartitionsToTxn',
    'AddOffsetsToTxn',
    'EndTxn',
    'TxnOffsetCommit',
    'DescribeConfigs',
    'CreatePartitions',
    'DeleteGroups',
    'IncrementalAlterConfigs',
    'DescribeCluster',
  ].map((n) => {
    const d = APIS[n as ApiName];
    return [n, [d.minVersion, d.maxVersion]];
  }),
);

export class FakeBroker {
  readonly requests: ReceivedRequest[] = [];
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;
  readonly host = '127.0.0.1';
  /** API ranges advertised in ApiVersions. */
  ranges: Record<string, [number, number]> = { ...FULL_RANGES };
  handlers: Partial<Record<ApiName, Handler>> = {};
  private connCount = 0;
  /** When > 0, responses are written in pieces of this many bytes. */
  writeChunkSize = 0;

  constructor() {
    this.server = net.createServer((s) => this.onConnection(s));
  }

  get bootstrap(): string {
    return `${this.host}:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests of one API, in arrival order. */
  of(api: ApiName): ReceivedRequest[] {
    return this.requests.filter((r) => r.api === api);
  }

  /** Drops every open connection (simulates a broker restart or network failure). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  private onConnection(socket: net.Socket): void {
    const conn = ++this.connCount;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    // Answers go out in request order even when a handler is slow, as Kafka guarantees.
    let chain = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const size = buf.readInt32BE(0);
        if (buf.length < 4 + size) break;
        const frame = buf.subarray(4, 4 + size);
        buf = buf.subarray(4 + size);
        const req = this.decode(frame);
        this.requests.push(req);
        const answer = Promise.resolve().then(() => this.answer(req, conn));
        chain = chain.then(async () => {
          const a = await answer;
          if (a === 'close') socket.destroy();
          else if (a !== 'none' && !socket.destroyed) {
            const bytes = this.encode(req, a);
            if (this.writeChunkSize <= 0) socket.write(bytes);
            // Dribble the answer out in small pieces to exercise the client's reassembly.
            else
              for (let i = 0; i < bytes.length; i += this.writeChunkSize) {
                socket.write(bytes.subarray(i, i + this.writeChunkSize));
                await new Promise((r) => setImmediate(r));
              }
          }
        });
      }
    });
  }

  private decode(frame: Buffer): ReceivedRequest {
    const r = new Reader(frame);
    const h = readRequestHeader(r);
    const api = API_BY_KEY[h.requestApiKey]!;
    let body: unknown = undefined;
    if (h.requestApiVersion >= api.minVersion && h.requestApiVersion <= api.maxVersion)
      body = api.readRequest(r, h.requestApiVersion);
    return {
      api: api.name,
      apiKey: h.requestApiKey,
      version: h.requestApiVersion,
      clientId: h.clientId,
      correlationId: h.correlationId,
      body,
    };
  }

  private async answer(req: ReceivedRequest, conn: number): Promise<Answer> {
    const h = this.handlers[req.api as ApiName];
    if (h !== undefined) return h(req, conn);
    if (req.api === 'ApiVersions') return this.apiVersions(req);
    throw new Error(`fake broker: no handler for ${req.api}`);
  }

  /** The default ApiVersions answer, with Kafka's v0-format error for a version it does not know. */
  apiVersions(req: ReceivedRequest): Answer {
    const apiKeys = Object.entries(this.ranges).map(([name, [minVersion, maxVersion]]) => ({
      apiKey: APIS[name as ApiName].key,
      minVersion,
      maxVersion,
    }));
    const [, max] = this.ranges.ApiVersions ?? [0, 3];
    if (req.version > max) return { errorCode: 35, apiKeys, __version: 0 };
    return { errorCode: 0, apiKeys };
  }

  private encode(req: ReceivedRequest, body: Record<string, unknown>): Buffer {
    const api = API_BY_KEY[req.apiKey]!;
    const version = typeof body.__version === 'number' ? body.__version : req.version;
    const w = new Writer();
    w.int32(0);
    writeResponseHeader(w, req.correlationId, responseHeaderVersion(req.apiKey, req.version));
    const full = withDefaults(schema(`${api.name}Response`), body);
    api.writeResponse(w, version, full);
    w.patchInt32(0, w.length - 4);
    return w.toBuffer();
  }

  /** Metadata answer for one broker (this one) leading every partition of the given topics. */
  metadata(topics: Record<string, number>, opts: { topicIds?: Record<string, string> } = {}): Handler {
    return (req) => {
      const asked: string[] | null =
        req.body.topics === null ? null : req.body.topics.map((t: { name: string }) => t.name);
      const names = asked ?? Object.keys(topics);
      return {
        brokers: [{ nodeId: 1, host: this.host, port: this.port, rack: null }],
        clusterId: 'fake-cluster',
        controllerId: 1,
        topics: names.map((name) => {
          const n = topics[name];
          if (n === undefined) return { errorCode: 3, name, partitions: [] };
          return {
            errorCode: 0,
            name,
            topicId: opts.topicIds?.[name] ?? ZERO_UUID,
            partitions: Array.from({ length: n }, (_, i) => ({
              errorCode: 0,
              partitionIndex: i,
              leaderId: 1,
              leaderEpoch: 0,
              replicaNodes: [1],
              isrNodes: [1],
            })),
          };
        }),
      };
    };
  }
}
