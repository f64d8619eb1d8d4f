// What happens to fields a version does not carry: defaults on decode; on encode, ignorable fields
// are dropped and non-default, non-ignorable ones are refused with a clear error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../../src/protocol/reader.js';
import { Writer } from '../../../src/protocol/writer.js';
import { DecodeError } from '../../../src/protocol/decode-error.js';
import {
  EncodeError,
  readFetchResponse,
  writeFetchResponse,
  writeMetadataRequest,
  readMetadataRequest,
  writeProduceRequest,
  writeApiVersionsResponse,
  readApiVersionsResponse,
  readProduceRequest,
  type FetchResponse,
  type FetchResponsePartitionData,
  type MetadataRequest,
} from '../../../src/protocol/messages/index.js';

function roundTrip<T>(
  write: (w: Writer, v: number, m: T) => void,
  read: (r: Reader, v: number) => T,
  version: number,
  m: T,
): T {
  const w = new Writer();
  write(w, version, m);
  return read(new Reader(w.toBuffer()), version);
}

function partition(over: Partial<FetchResponsePartitionData> = {}): FetchResponsePartitionData {
  return {
    partitionIndex: 0,
    errorCode: 0,
    highWatermark: 10,
    lastStableOffset: -1,
    logStartOffset: -1,
    divergingEpoch: { epoch: -1, endOffset: -1 },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1, epoch: -1 },
    abortedTransactions: [],
    preferredReadReplica: -1,
    records: null,
    ...over,
  };
}

function fetchResponse(p: FetchResponsePartitionData, over: Partial<FetchResponse> = {}): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [{ topic: 't', topicId: '00000000-0000-0000-0000-000000000000', partitions: [p] }],
    nodeEndpoints: [],
    ...over,
  };
}

test('a non-ignorable field with a non-default value cannot be written to a version without it', () => {
  // TransactionalId starts at Produce v3 and is not ignorable.
  const produce = { transactionalId: 'tx-1', acks: -1, timeoutMs: 1000, topicData: [] };
  assert.throws(
    () => writeProduceRequest(new Writer(), 2, produce),
    (e: unknown) => e instanceof EncodeError && /ProduceRequest\.transactionalId.*version 2/.test(e.message),
  );
  // At its default (null) the same field is fine.
  writeProduceRequest(new Writer(), 2, { ...produce, transactionalId: null });
  // Metadata AllowAutoTopicCreation (v4+, default true, not ignorable).
  const md: MetadataRequest = {
    topics: [],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
  assert.throws(() => writeMetadataRequest(new Writer(), 3, md), /allowAutoTopicCreation/);
  assert.equal(roundTrip(writeMetadataRequest, readMetadataRequest, 4, md).allowAutoTopicCreation, false);
  // A tagged field counts the same way: Fetch DivergingEpoch exists from v12 and is not ignorable.
  assert.throws(
    () =>
      writeFetchResponse(new Writer(), 11, fetchResponse(partition({ divergingEpoch: { epoch: 3, endOffset: 40 } }))),
    /divergingEpoch/,
  );
});

test('ignorable fields are dropped silently and read back as their defaults', () => {
  const m = fetchResponse(partition({ lastStableOffset: 5, logStartOffset: 2 }), { throttleTimeMs: 250 });
  const v0 = roundTrip(writeFetchResponse, readFetchResponse, 0, m);
  assert.equal(v0.throttleTimeMs, 0);
  assert.equal(v0.responses[0]!.partitions[0]!.lastStableOffset, -1);
  assert.equal(v0.responses[0]!.partitions[0]!.logStartOffset, -1);
  const v5 = roundTrip(writeFetchResponse, readFetchResponse, 5, m);
  assert.equal(v5.throttleTimeMs, 250);
  assert.equal(v5.responses[0]!.partitions[0]!.lastStableOffset, 5);
  // Tagged and ignorable: ApiVersions ZkMigrationReady vanishes below v3.
  const av = {
    errorCode: 0,
    apiKeys: [],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: true,
  };
  assert.equal(roundTrip(writeApiVersionsResponse, readApiVersionsResponse, 2, av).zkMigrationReady, false);
  assert.equal(roundTrip(writeApiVersionsResponse, readApiVersionsResponse, 3, av).zkMigrationReady, true);
});

test('topic name up to Fetch v12, topic id from v13: each read back at its default in the other range', () => {
  const id = '0123abcd-0000-4000-8000-00000000beef';
  const m = fetchResponse(partition());
  m.responses[0] = { topic: 'orders', topicId: id, partitions: [partition()] };
  const v12 = roundTrip(writeFetchResponse, readFetchResponse, 12, m).responses[0]!;
  assert.equal(v12.topic, 'orders');
  assert.equal(v12.topicId, '00000000-0000-0000-0000-000000000000');
  const v13 = roundTrip(writeFetchResponse, readFetchResponse, 13, m).responses[0]!;
  assert.equal(v13.topic, '');
  assert.equal(v13.topicId, id);
});

test('a tagged field at its default is not written at all', () => {
  const w = new Writer();
  writeFetchResponse(w, 12, fetchResponse(partition()));
  const plain = w.toBuffer();
  const w2 = new Writer();
  writeFetchResponse(w2, 12, fetchResponse(partition({ currentLeader: { leaderId: 1, leaderEpoch: 5 } })));
  const withLeader = w2.toBuffer();
  // The count byte stays one byte; added are tag 1, size 9 and the payload (int32, int32, empty tagged section).
  assert.equal(withLeader.length - plain.length, 1 + 1 + 9);
  assert.deepEqual(readFetchResponse(new Reader(withLeader), 12).responses[0]!.partitions[0]!.currentLeader, {
    leaderId: 1,
    leaderEpoch: 5,
  });
});

test('versions outside the valid range are refused by both directions', () => {
  assert.throws(() => readProduceRequest(new Reader(Buffer.alloc(64)), 12), DecodeError);
  assert.throws(() => readProduceRequest(new Reader(Buffer.alloc(64)), -1), DecodeError);
  assert.throws(
    () => writeProduceRequest(new Writer(), 12, { transactionalId: null, acks: 1, timeoutMs: 0, topicData: [] }),
    EncodeError,
  );
});

test('unknown tagged fields cannot be written to a non-flexible version', () => {
  const m = {
    transactionalId: null,
    acks: 1,
    timeoutMs: 0,
    topicData: [],
    unknownTaggedFields: [{ tag: 1, data: Buffer.from([1]) }],
  };
  assert.throws(() => writeProduceRequest(new Writer(), 8, m), /not flexible/);
  writeProduceRequest(new Writer(), 9, m);
});
