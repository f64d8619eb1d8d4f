// Throughput of the generated codecs on the hot paths:
//   - Produce request decode (header + body), v9 (flexible) and v3, one 16 KiB batch per partition
//   - Fetch response encode with 1 MiB record buffers (records go by reference, not copied)
//   - Metadata request/response encode + decode round trips
//
//   npx tsc -p <your tsconfig> && node dist/bench/protocol-codec.js [seconds per case]

import { validateProduceRecords } from '../src/protocol/records/validate.js';
import { Reader } from '../src/protocol/reader.js';
import { Writer } from '../src/protocol/writer.js';
import { readRequestHeader, writeRequestHeader, writeResponseHeader } from '../src/protocol/headers.js';
import { requestHeaderVersion, responseHeaderVersion, ApiKey } from '../src/protocol/apis.js';
import {
  readProduceRequest,
  writeProduceRequest,
  writeFetchResponse,
  readMetadataRequest,
  writeMetadataRequest,
  readMetadataResponse,
  writeMetadataResponse,
  type ProduceRequest,
  type FetchResponse,
  type MetadataRequest,
  type MetadataResponse,
} from '../src/protocol/messages/index.js';
import {
  RECORD_BATCH_OVERHEAD,
  LOG_OVERHEAD,
  BATCH_LENGTH_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  MAGIC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_ID_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  BASE_SEQUENCE_OFFSET,
  RECORDS_COUNT_OFFSET,
  setBaseOffset,
  updateCrc,
} from '../src/protocol/records/batch-header.js';

const SECONDS = Number(process.argv[2] ?? 3);
const PARTITIONS = 8;

/** A plausible magic-2 batch of `size` bytes: real header and CRC, opaque record bytes. */
function recordBatch(size: number, records: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = RECORD_BATCH_OVERHEAD; i < size; i++) b[i] = (i * 31) & 0xff;
  setBaseOffset(b, 0, 0);
  b.writeInt32BE(size - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  b.writeInt32BE(-1, PARTITION_LEADER_EPOCH_OFFSET);
  b.writeInt8(2, MAGIC_OFFSET);
  b.writeInt32BE(records - 1, LAST_OFFSET_DELTA_OFFSET);
  b.writeBigInt64BE(1_700_000_000_000n, BASE_TIMESTAMP_OFFSET);
  b.writeBigInt64BE(1_700_000_000_100n, MAX_TIMESTAMP_OFFSET);
  b.writeBigInt64BE(-1n, PRODUCER_ID_OFFSET);
  b.writeInt16BE(-1, PRODUCER_EPOCH_OFFSET);
  b.writeInt32BE(-1, BASE_SEQUENCE_OFFSET);
  b.writeInt32BE(records, RECORDS_COUNT_OFFSET);
  updateCrc(b, 0);
  return b;
}

function produceFrame(version: number): Buffer {
  const m: ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [
      {
        name: 'bench-topic',
        partitionData: Array.from({ length: PARTITIONS }, (_, index) => ({
          index,
          records: recordBatch(16 * 1024, 100),
        })),
      },
    ],
  };
  const w = new Writer();
  writeRequestHeader(
    w,
    { requestApiKey: ApiKey.Produce, requestApiVersion: version, correlationId: 1, clientId: 'bench-producer' },
    requestHeaderVersion(ApiKey.Produce, version),
  );
  writeProduceRequest(w, version, m);
  return w.toBuffer();
}

interface Result {
  name: string;
  ops: number;
  seconds: number;
  bytes: number;
}

function run(name: string, bytesPerOp: number, op: () => void): Result {
  // Warm up so the measured part runs optimised code.
  const warmEnd = performance.now() + 300;
  while (performance.now() < warmEnd) for (let i = 0; i < 100; i++) op();
  let ops = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) op();
    ops += 100;
    now = performance.now();
  }
  const seconds = (now - start) / 1000;
  return { name, ops, seconds, bytes: ops * bytesPerOp };
}

let sink = 0;
const results: Result[] = [];

for (const version of [9, 3]) {
  const frame = produceFrame(version);
  results.push(
    run(`Produce v${version} decode (header+body, ${PARTITIONS} x 16 KiB)`, frame.length, () => {
      const r = new Reader(frame);
      const h = readRequestHeader(r);
      const m = readProduceRequest(r, h.requestApiVersion);
      sink += m.topicData[0]!.partitionData[PARTITIONS - 1]!.records!.length;
    }),
  );
}

{
  // What the broker's produce path does before appending: decode, then check every batch's
  // framing and CRC32C from its header (records untouched).
  const frame = produceFrame(9);
  results.push(
    run(`Produce v9 decode + batch validation incl. CRC32C (${PARTITIONS} x 16 KiB)`, frame.length, () => {
      const r = new Reader(frame);
      const h = readRequestHeader(r);
      const m = readProduceRequest(r, h.requestApiVersion);
      for (const p of m.topicData[0]!.partitionData) {
        const v = validateProduceRecords(p.records!, { singleBatch: true });
        if (!v.ok) throw new Error(v.reason);
        sink += v.recordCount;
      }
    }),
  );
}

{
  const version = 12;
  const blob = Buffer.alloc(1024 * 1024, 1);
  const m: FetchResponse = {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 'bench-topic',
        topicId: '00000000-0000-0000-0000-000000000000',
        partitions: Array.from({ length: 4 }, (_, partitionIndex) => ({
          partitionIndex,
          errorCode: 0,
          highWatermark: 1_000_000,
          lastStableOffset: 1_000_000,
          logStartOffset: 0,
          divergingEpoch: { epoch: -1, endOffset: -1 },
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
          snapshotId: { endOffset: -1, epoch: -1 },
          abortedTransactions: [],
          preferredReadReplica: -1,
          records: blob,
        })),
      },
    ],
    nodeEndpoints: [],
  };
  const probe = new Writer();
  writeFetchResponse(probe, version, m);
  const size = probe.length;
  results.push(
    run('Fetch v12 response encode (4 x 1 MiB records)', size, () => {
      const w = new Writer(256);
      writeResponseHeader(w, 7, responseHeaderVersion(ApiKey.Fetch, version));
      writeFetchResponse(w, version, m);
      sink += w.toBuffers().length;
    }),
  );
}

{
  const version = 12;
  const req: MetadataRequest = {
    topics: ['orders', 'payments', 'shipments'].map((name) => ({
      topicId: '00000000-0000-0000-0000-000000000000',
      name,
    })),
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
  const res: MetadataResponse = {
    throttleTimeMs: 0,
    brokers: [0, 1, 2].map((nodeId) => ({ nodeId, host: `broker-${nodeId}.local`, port: 9092, rack: null })),
    clusterId: 'brook-cluster',
    controllerId: 0,
    topics: ['orders', 'payments', 'shipments'].map((name, t) => ({
      errorCode: 0,
      name,
      topicId: `0000000${t}-0000-4000-8000-000000000001`,
      isInternal: false,
      partitions: Array.from({ length: 6 }, (_, partitionIndex) => ({
        errorCode: 0,
        partitionIndex,
        leaderId: partitionIndex % 3,
        leaderEpoch: 4,
        replicaNodes: [0, 1, 2],
        isrNodes: [0, 1, 2],
        offlineReplicas: [],
      })),
      topicAuthorizedOperations: -2147483648,
    })),
    clusterAuthorizedOperations: -2147483648,
  };
  const sizing = new Writer();
  writeMetadataRequest(sizing, version, req);
  writeMetadataResponse(sizing, version, res);
  const bytes = sizing.length;
  results.push(
    run('Metadata v12 request+response round trip (3 topics x 6 partitions)', bytes, () => {
      const wq = new Writer(256);
      writeMetadataRequest(wq, version, req);
      const q = readMetadataRequest(new Reader(wq.toBuffer()), version);
      const ws = new Writer(1024);
      writeMetadataResponse(ws, version, res);
      const s = readMetadataResponse(new Reader(ws.toBuffer()), version);
      sink += q.topics!.length + s.topics.length;
    }),
  );
}

const rows = results.map((r) => [r.name, (r.ops / r.seconds).toFixed(0), (r.bytes / r.seconds / 1e6).toFixed(0)]);
const header = ['case', 'ops/s', 'MB/s'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(`node ${process.version}, ${SECONDS} s per case`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
if (sink === 0) console.log('(unreachable)');
