// Frames worked out by hand from the protocol rules (big-endian integers, int16-prefixed strings,
// int32-prefixed arrays; in flexible versions unsigned-varint length+1 prefixes and a tagged-field
// section at the end of every struct), checked in both directions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../../src/protocol/reader.js';
import { Writer } from '../../../src/protocol/writer.js';
import { DecodeError } from '../../../src/protocol/decode-error.js';
import {
  readRequestHeader,
  writeRequestHeader,
  writeResponseHeader,
  readResponseHeader,
} from '../../../src/protocol/headers.js';
import {
  EncodeError,
  readApiVersionsRequest,
  writeApiVersionsRequest,
  readApiVersionsResponse,
  writeApiVersionsResponse,
  readMetadataRequest,
  writeMetadataRequest,
  readProduceRequest,
  writeProduceRequest,
  readFetchResponse,
  writeFetchResponse,
  readDescribeTopicPartitionsRequest,
  writeDescribeTopicPartitionsRequest,
  type ApiVersionsResponse,
  type MetadataRequest,
} from '../../../src/protocol/messages/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const str = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

function written(fn: (w: Writer) => void): Buffer {
  const w = new Writer(16);
  fn(w);
  return w.toBuffer();
}

test('ApiVersions v0 request: header v1 with client id, empty body', () => {
  const frame = hex(`0012 0000 00000001 0003 ${str('abc')}`);
  const r = new Reader(frame);
  const header = readRequestHeader(r);
  assert.deepEqual(header, { requestApiKey: 18, requestApiVersion: 0, correlationId: 1, clientId: 'abc' });
  const body = readApiVersionsRequest(r, 0);
  assert.deepEqual(body, { clientSoftwareName: '', clientSoftwareVersion: '' });
  assert.equal(r.remaining(), 0);
  const out = written((w) => {
    writeRequestHeader(w, header, 1);
    writeApiVersionsRequest(w, 0, body);
  });
  assert.deepEqual(out, frame);
});

test('ApiVersions v3 request: header v2 keeps a classic client id string, body uses compact strings', () => {
  const frame = hex(`0012 0003 0000002a 0005 ${str('brook')} 00   06 ${str('brook')} 06 ${str('0.1.0')} 00`);
  const r = new Reader(frame);
  const header = readRequestHeader(r);
  assert.deepEqual(header, { requestApiKey: 18, requestApiVersion: 3, correlationId: 42, clientId: 'brook' });
  const body = readApiVersionsRequest(r, 3);
  assert.deepEqual(body, { clientSoftwareName: 'brook', clientSoftwareVersion: '0.1.0' });
  assert.equal(r.remaining(), 0);
  assert.deepEqual(
    written((w) => {
      writeRequestHeader(w, header, 2);
      writeApiVersionsRequest(w, 3, body);
    }),
    frame,
  );
});

test('ApiVersions v3 response: header v0, compact api key array, tagged features section', () => {
  const frame = hex(`
    00000001
    0000
    03  0000 0000 000b 00   0012 0000 0004 00
    00000000
    02
      00 17  02 11 ${str('metadata.version')} 0001 0014 00
      01 08  0000000000000007
  `);
  const r = new Reader(frame);
  assert.deepEqual(readResponseHeader(r, 0), { correlationId: 1 });
  const body = readApiVersionsResponse(r, 3);
  const expected: ApiVersionsResponse = {
    errorCode: 0,
    apiKeys: [
      { apiKey: 0, minVersion: 0, maxVersion: 11 },
      { apiKey: 18, minVersion: 0, maxVersion: 4 },
    ],
    throttleTimeMs: 0,
    supportedFeatures: [{ name: 'metadata.version', minVersion: 1, maxVersion: 20 }],
    finalizedFeaturesEpoch: 7,
    finalizedFeatures: [],
    zkMigrationReady: false,
  };
  assert.deepEqual(body, expected);
  assert.equal(r.remaining(), 0);
  assert.deepEqual(
    written((w) => {
      writeResponseHeader(w, 1, 0);
      writeApiVersionsResponse(w, 3, expected);
    }),
    frame,
  );
});

test('Metadata v0 request: int32 topic count and int16-prefixed names; null client id', () => {
  const frame = hex(`0003 0000 00000007 ffff   00000002 0003 ${str('foo')} 0003 ${str('bar')}`);
  const r = new Reader(frame);
  const header = readRequestHeader(r);
  assert.deepEqual(header, { requestApiKey: 3, requestApiVersion: 0, correlationId: 7, clientId: null });
  const body = readMetadataRequest(r, 0);
  assert.deepEqual(body.topics, [
    { topicId: '00000000-0000-0000-0000-000000000000', name: 'foo' },
    { topicId: '00000000-0000-0000-0000-000000000000', name: 'bar' },
  ]);
  // Fields Metadata v0 lacks come back at their defaults.
  assert.equal(body.allowAutoTopicCreation, true);
  assert.equal(body.includeTopicAuthorizedOperations, false);
  assert.deepEqual(
    written((w) => {
      writeRequestHeader(w, header, 1);
      writeMetadataRequest(w, 0, body);
    }),
    frame,
  );
});

test('request header v2 (Metadata v12) with a client id and an empty tagged section', () => {
  const frame = hex(`0003 000c 0000002a 0007 ${str('console')} 00`);
  const r = new Reader(frame);
  const h = readRequestHeader(r);
  assert.deepEqual(h, { requestApiKey: 3, requestApiVersion: 12, correlationId: 42, clientId: 'console' });
  assert.equal(r.pos, frame.length);
});

test('compact encodings: null is 0, empty is 1, lengths are unsigned varints', () => {
  const base: MetadataRequest = {
    topics: null,
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
  const cases: [MetadataRequest, string][] = [
    [base, '00 01 00 00'],
    [{ ...base, topics: [] }, '01 01 00 00'],
    [
      { ...base, topics: [{ topicId: '00000000-0000-0000-0000-000000000001', name: null }] },
      `02 ${'00'.repeat(15)}01 00 00 01 00 00`,
    ],
    [
      { ...base, topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: '' }] },
      `02 ${'00'.repeat(16)} 01 00 01 00 00`,
    ],
    // 200 characters: length + 1 = 201 = 0xc9 -> varint c9 01
    [
      { ...base, topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'x'.repeat(200) }] },
      `02 ${'00'.repeat(16)} c901 ${'78'.repeat(200)} 00 01 00 00`,
    ],
  ];
  for (const [m, bytes] of cases) {
    const frame = hex(bytes);
    assert.deepEqual(
      written((w) => writeMetadataRequest(w, 12, m)),
      frame,
    );
    const r = new Reader(frame);
    assert.deepEqual(readMetadataRequest(r, 12), m);
    assert.equal(r.remaining(), 0);
  }
});

test('null where a version does not allow it: refused on decode and on encode', () => {
  // Metadata v9 topic names are not nullable (that starts at v10).
  assert.throws(() => readMetadataRequest(new Reader(hex('02 00 00 01 00 00 00'.replace(/ /g, ''))), 9), DecodeError);
  const m: MetadataRequest = {
    topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: null }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
  assert.throws(() => writeMetadataRequest(new Writer(), 9, m), EncodeError);
  // Metadata v0 has no null topic list (v1+ uses null for "all topics").
  assert.throws(() => readMetadataRequest(new Reader(hex('ffffffff')), 0), DecodeError);
  assert.throws(() => writeMetadataRequest(new Writer(), 0, { ...m, topics: null }), /topics is null/);
  // Produce v9 topic data is never null.
  assert.throws(() => readProduceRequest(new Reader(hex('00 0001 00000000 00 00')), 9), /topicData is null/);
});

test('unknown tagged fields survive decode and re-encode, also under tags a later version knows', () => {
  // Fetch response v12: tag 0 is NodeEndpoints only from v16 on, so at v12 it is unknown.
  const frame = hex('00000000 0000 00000000 01   02 00 01 ff 04 00');
  const r = new Reader(frame);
  const m = readFetchResponse(r, 12);
  assert.deepEqual(m.unknownTaggedFields, [
    { tag: 0, data: hex('ff') },
    { tag: 4, data: Buffer.alloc(0) },
  ]);
  assert.deepEqual(m.nodeEndpoints, []);
  assert.deepEqual(
    written((w) => writeFetchResponse(w, 12, m)),
    frame,
  );
  // Unknown fields are views into the frame, not copies.
  assert.equal(m.unknownTaggedFields![0]!.data.buffer, frame.buffer);
});

test('known and unknown tagged fields are written in ascending tag order; bad unknown tags are refused', () => {
  const m: ApiVersionsResponse = {
    errorCode: 0,
    apiKeys: [],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: 9,
    finalizedFeatures: [],
    zkMigrationReady: true,
    // Tag 2 belongs to FinalizedFeatures, left at its default (empty) so not written itself.
    unknownTaggedFields: [
      { tag: 2, data: hex('01') },
      { tag: 6, data: hex('abcd') },
    ],
  };
  const frame = written((w) => writeApiVersionsResponse(w, 3, m));
  assert.deepEqual(frame, hex('0000 01 00000000   04  01 08 0000000000000009  02 01 01  03 01 01  06 02 abcd'));
  // Read back, tag 2 is the known FinalizedFeatures field (an empty array), tag 6 stays unknown.
  const back = readApiVersionsResponse(new Reader(frame), 3);
  assert.deepEqual(back.finalizedFeatures, []);
  assert.deepEqual(back.unknownTaggedFields, [{ tag: 6, data: hex('abcd') }]);

  assert.throws(
    () =>
      writeApiVersionsResponse(new Writer(), 3, {
        ...m,
        unknownTaggedFields: [
          { tag: 6, data: hex('') },
          { tag: 5, data: hex('') },
        ],
      }),
    EncodeError,
  );
  assert.throws(
    () => writeApiVersionsResponse(new Writer(), 3, { ...m, unknownTaggedFields: [{ tag: 3, data: hex('01') }] }),
    /duplicates/,
  );
  assert.throws(
    () => writeApiVersionsResponse(new Writer(), 2, { ...m, zkMigrationReady: false, finalizedFeaturesEpoch: -1 }),
    /not flexible/,
  );
});

test('a known tagged field must fill exactly its declared size', () => {
  // ApiVersions v3 response whose tag 1 (int64) claims 9 bytes.
  const frame = hex('0000 01 00000000 01 01 09 000000000000000700');
  assert.throws(() => readApiVersionsResponse(new Reader(frame), 3), /left over/);
  const short = hex('0000 01 00000000 01 01 04 00000007');
  assert.throws(() => readApiVersionsResponse(new Reader(short), 3), DecodeError);
});

test('a nullable struct is an int8 marker: -1 for null, 1 before the struct', () => {
  const none = hex('01 00000064 ff 00');
  const m = readDescribeTopicPartitionsRequest(new Reader(none), 0);
  assert.deepEqual(m, { topics: [], responsePartitionLimit: 100, cursor: null });
  assert.deepEqual(
    written((w) => writeDescribeTopicPartitionsRequest(w, 0, m)),
    none,
  );
  const some = hex(`01 00000064 01 04${str('foo')} 00000002 00 00`);
  const c = readDescribeTopicPartitionsRequest(new Reader(some), 0);
  assert.deepEqual(c.cursor, { topicName: 'foo', partitionIndex: 2 });
  assert.deepEqual(
    written((w) => writeDescribeTopicPartitionsRequest(w, 0, c)),
    some,
  );
});

test('produce records are a view into the request frame, never a copy', () => {
  const records = Buffer.alloc(5000, 7);
  const w = new Writer();
  writeProduceRequest(w, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 't', partitionData: [{ index: 0, records }] }],
  });
  const frame = w.toBuffer();
  const m = readProduceRequest(new Reader(frame), 9);
  const got = m.topicData[0]!.partitionData[0]!.records!;
  assert.equal(got.buffer, frame.buffer);
  assert.equal(got.length, 5000);
  // Writing it again keeps it by reference (the writer only copies small pieces).
  const w2 = new Writer();
  writeProduceRequest(w2, 9, m);
  assert.ok(w2.toBuffers().includes(got));
});
