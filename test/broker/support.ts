import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type BrokerHandle, type StartBrokerOptions } from '../../src/broker/start.js';
import { ErrorCode, errorName } from '../../src/protocol/errors.js';
import type { FetchRequest } from '../../src/protocol/messages/fetch-request.js';
import type { FetchResponse, FetchResponsePartitionData } from '../../src/protocol/messages/fetch-response.js';
import type { ProduceResponsePartitionProduceResponse } from '../../src/protocol/messages/produce-response.js';
import {
  decodeRecordBatches,
  encodeRecordBatch,
  type DecodedRecord,
  type EncodeRecordBatchOptions,
  type RecordHeader,
} from '../../src/protocol/records/record-batch.js';
import { WireClient } from '../helpers/wire-client.js';

export { ErrorCode, WireClient };

export const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

/** Asserts a Kafka error code, naming both codes on failure. */
export function assertCode(actual: number, expected: number, what = 'error code'): void {
  assert.equal(
    actual,
    expected,
    `${what}: got ${actual} ${errorName(actual)}, want ${expected} ${errorName(expected)}`,
  );
}

/** A fresh data directory under the OS temp dir; the caller removes it. */
export function tempDir(prefix = 'brook-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

let uniq = 0;
/** Topic names unique within a test process, so tests sharing one broker never collide. */
export function topicName(what: string): string {
  return `${what}-${process.pid}-${++uniq}`;
}

/**
 * Starts an embedded broker and one connected WireClient, runs `fn`, then closes both (also on
 * failure). The client is closed first so a hanging request cannot hold the broker open.
 */
export async function withBroker<T>(
  opts: StartBrokerOptions,
  fn: (b: BrokerHandle, c: WireClient) => Promise<T>,
): Promise<T> {
  const b = await startBroker({ logLevel: 'silent', ...opts });
  let c: WireClient | null = null;
  try {
    c = await WireClient.open(b.bootstrap);
    return await fn(b, c);
  } finally {
    c?.close();
    await b.close();
  }
}

/** Resolves with `p`, or rejects after `ms` (so a missing answer fails the test instead of hanging it). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`${what}: not true within ${ms} ms`);
    await sleep(20);
  }
}

/** How many fetches wait in the broker's purgatory for data or for max_wait. */
export const parkedFetches = (b: BrokerHandle): number => b.broker.purgatory.size;

/**
 * Waits until `n` fetches are parked in the purgatory, so what a test does next (a produce, a
 * close) is sure to meet a waiting fetch rather than race the fetch's arrival.
 */
export async function untilParked(b: BrokerHandle, n = 1, ms = 30_000): Promise<void> {
  await eventually(() => parkedFetches(b) >= n, ms, `${n} fetch(es) parked in the purgatory`);
}

/** Resolves true when the broker closes the client's connection within `ms`, false otherwise. */
export async function closedWithin(c: WireClient, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    c.closed.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Records

export interface RecordSpec {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: { key: string; value: string | Buffer | null }[];
  timestamp?: number;
}

const buf = (v: string | Buffer | null | undefined): Buffer | null =>
  v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v);

/** One magic-2 batch as a producer writes it (base offset 0, no producer id). */
export function batch(records: (RecordSpec | string)[], opts: Partial<EncodeRecordBatchOptions> = {}): Buffer {
  const now = Date.now();
  return encodeRecordBatch({
    ...opts,
    records: records.map((r) => {
      const s: RecordSpec = typeof r === 'string' ? { value: r } : r;
      const headers: RecordHeader[] = (s.headers ?? []).map((h) => ({ key: h.key, value: buf(h.value) }));
      return { key: buf(s.key), value: buf(s.value), headers, timestamp: s.timestamp ?? now };
    }),
  });
}

/** Every record of the whole batches in a fetched `records` blob. */
export function recordsOf(blob: Buffer | null): DecodedRecord[] {
  if (!blob || blob.length === 0) return [];
  return decodeRecordBatches(blob).flatMap((b) => b.records);
}

export function valuesOf(blob: Buffer | null): string[] {
  return recordsOf(blob).map((r) => (r.value === null ? '<null>' : r.value.toString()));
}

export function offsetsOf(blob: Buffer | null): number[] {
  return recordsOf(blob).map((r) => r.offset);
}

// ---------------------------------------------------------------------------------------------
// Requests

export async function createTopic(
  c: WireClient,
  name: string,
  partitions = 1,
  configs: Record<string, string> = {},
): Promise<string> {
  const res = await c.request('CreateTopics', 7, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  const t = res.topics[0]!;
  assertCode(t.errorCode, ErrorCode.NONE, `create topic ${name} (${t.errorMessage ?? ''})`);
  return t.topicId;
}

export interface ProduceOptions {
  version?: number;
  acks?: number;
  timeoutMs?: number;
}

/** One Produce request for one partition; returns that partition's response. */
export async function produce(
  c: WireClient,
  topic: string,
  partition: number,
  records: Buffer | null,
  o: ProduceOptions = {},
): Promise<ProduceResponsePartitionProduceResponse> {
  const res = await c.request('Produce', o.version ?? 9, produceRequest(topic, partition, records, o));
  assert.equal(res.responses.length, 1);
  assert.equal(res.responses[0]!.name, topic);
  return res.responses[0]!.partitionResponses[0]!;
}

export function produceRequest(topic: string, partition: number, records: Buffer | null, o: ProduceOptions = {}) {
  return {
    transactionalId: null,
    acks: o.acks ?? -1,
    timeoutMs: o.timeoutMs ?? 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

/** Produces one batch of `values` and asserts success; returns the base offset. */
export async function produceValues(
  c: WireClient,
  topic: string,
  partition: number,
  values: (RecordSpec | string)[],
  o: ProduceOptions = {},
): Promise<number> {
  const r = await produce(c, topic, partition, batch(values), o);
  assertCode(r.errorCode, ErrorCode.NONE, `produce to ${topic}-${partition} (${r.errorMessage ?? ''})`);
  return r.baseOffset;
}

export interface FetchPartitionSpec {
  topic?: string;
  topicId?: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes?: number;
  currentLeaderEpoch?: number;
}

export function fetchRequest(partitions: FetchPartitionSpec[], o: Partial<FetchRequest> = {}): FetchRequest {
  const topics: FetchRequest['topics'] = [];
  for (const p of partitions) {
    const topic = p.topic ?? '';
    const topicId = p.topicId ?? NO_TOPIC_ID;
    let t = topics.find((x) => x.topic === topic && x.topicId === topicId);
    if (!t) topics.push((t = { topic, topicId, partitions: [] }));
    t.partitions.push({
      partition: p.partition,
      currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
      fetchOffset: p.fetchOffset,
      lastFetchedEpoch: -1,
      logStartOffset: -1,
      partitionMaxBytes: p.partitionMaxBytes ?? 1024 * 1024,
      replicaDirectoryId: NO_TOPIC_ID,
    });
  }
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics,
    forgottenTopicsData: [],
    rackId: '',
    ...o,
  };
}

/** Fetches one partition (no fetch session) and returns its partition data. */
export async function fetchPartition(
  c: WireClient,
  spec: FetchPartitionSpec,
  o: Partial<FetchRequest> & { version?: number } = {},
): Promise<FetchResponsePartitionData> {
  const { version = 11, ...req } = o;
  const res = await c.request('Fetch', version, fetchRequest([spec], req));
  if (version >= 7) assertCode(res.errorCode, ErrorCode.NONE, 'fetch top-level error');
  const p = onlyPartition(res);
  assert.equal(p.partitionIndex, spec.partition);
  return p;
}

export function onlyPartition(res: FetchResponse): FetchResponsePartitionData {
  assert.equal(res.responses.length, 1, 'one topic in the fetch response');
  assert.equal(res.responses[0]!.partitions.length, 1, 'one partition in the fetch response');
  return res.responses[0]!.partitions[0]!;
}

export async function listOffset(
  c: WireClient,
  topic: string,
  partition: number,
  timestamp: number,
  version = 7,
): Promise<{ errorCode: number; offset: number; timestamp: number }> {
  const res = await c.request('ListOffsets', version, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      { name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] },
    ],
  });
  const p = res.topics[0]!.partitions[0]!;
  return { errorCode: p.errorCode, offset: p.offset, timestamp: p.timestamp };
}

export async function metadata(c: WireClient, topics: string[] | null, version = 12, allowAutoTopicCreation = false) {
  return c.request('Metadata', version, {
    topics: topics === null ? null : topics.map((name) => ({ name, topicId: NO_TOPIC_ID })),
    // Before v4 the field does not exist and auto-creation is implied; the codec wants the default there.
    allowAutoTopicCreation: version >= 4 ? allowAutoTopicCreation : true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
}

/** Config resource types of DescribeConfigs / AlterConfigs. */
export const Resource = { TOPIC: 2, BROKER: 4 } as const;
/** Config sources (DescribeConfigs v1+). */
export const Source = {
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

export async function describeConfigs(
  c: WireClient,
  resourceType: number,
  resourceName: string,
  keys: string[] | null = null,
  version = 4,
  extra: { synonyms?: boolean; docs?: boolean } = {},
) {
  const res = await c.request('DescribeConfigs', version, {
    resources: [{ resourceType, resourceName, configurationKeys: keys }],
    includeSynonyms: extra.synonyms ?? false,
    includeDocumentation: extra.docs ?? false,
  });
  return res.results[0]!;
}

export async function topicConfig(
  c: WireClient,
  topic: string,
  key: string,
): Promise<{ value: string | null; source: number }> {
  const r = await describeConfigs(c, Resource.TOPIC, topic, [key]);
  assertCode(r.errorCode, ErrorCode.NONE, `describe ${topic}`);
  const e = r.configs.find((x) => x.name === key);
  assert.ok(e, `${key} is described`);
  return { value: e.value, source: e.configSource };
}

export async function incrementalAlter(
  c: WireClient,
  resourceType: number,
  resourceName: string,
  ops: { name: string; op: 'SET' | 'DELETE' | 'APPEND' | 'SUBTRACT'; value?: string | null }[],
  validateOnly = false,
) {
  const code = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
  const res = await c.request('IncrementalAlterConfigs', 1, {
    resources: [
      {
        resourceType,
        resourceName,
        configs: ops.map((o) => ({ name: o.name, configOperation: code[o.op], value: o.value ?? null })),
      },
    ],
    validateOnly,
  });
  return res.responses[0]!;
}

/** Starts a broker on an existing data dir (kept across restarts), runs fn, closes it. */
export async function onDataDir<T>(
  dataDir: string,
  config: Record<string, string>,
  fn: (b: BrokerHandle, c: WireClient) => Promise<T>,
): Promise<T> {
  return withBroker({ dataDir, config }, fn);
}
