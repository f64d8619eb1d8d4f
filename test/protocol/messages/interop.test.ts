// Frames from real client code: requests encoded by @platformatic/kafka (flexible versions) and
// kafkajs (classic versions) must decode with our codecs and re-encode to the very same bytes;
// responses we encode must parse in those clients with the values we put in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  Reader as PReader,
  apiVersionsV3,
  apiVersionsV4,
  metadataV9,
  metadataV12,
  produceV9,
  produceV11,
  fetchV12,
  fetchV15,
  fetchV17,
  joinGroupV6,
  joinGroupV9,
  syncGroupV5,
  offsetCommitV9,
  findCoordinatorV6,
  listOffsetsV9,
  initProducerIdV5,
} from '@platformatic/kafka';
import { Reader } from '../../../src/protocol/reader.js';
import { Writer } from '../../../src/protocol/writer.js';
import { APIS, ApiKey, type ApiName } from '../../../src/protocol/apis.js';
import { readRequestHeader } from '../../../src/protocol/headers.js';
import type * as m from '../../../src/protocol/messages/index.js';
import { magic, recordsCount } from '../../../src/protocol/records/batch-header.js';

const require = createRequire(import.meta.url);

/** Decodes a request body with our codec, checks every byte was read, and re-encodes it. */
function decodeAndReencode(api: ApiName, version: number, body: Buffer): unknown {
  const d = APIS[api];
  const r = new Reader(body);
  const decoded = d.readRequest(r, version);
  assert.equal(r.remaining(), 0, `${api} v${version}: ${r.remaining()} bytes left`);
  const w = new Writer();
  d.writeRequest(w, version, decoded as never);
  assert.deepEqual(w.toBuffer(), body, `${api} v${version}: re-encoding changed the bytes`);
  return decoded;
}

function encodeResponse(api: ApiName, version: number, res: unknown): Buffer {
  const w = new Writer();
  APIS[api].writeResponse(w, version, res as never);
  return w.toBuffer();
}

const TOPIC_ID = '3f2c9a10-5b7e-4c1d-9e8f-0a1b2c3d4e5f';

test('@platformatic/kafka requests (flexible versions) decode and re-encode byte for byte', () => {
  for (const [v, mod] of [
    [3, apiVersionsV3],
    [4, apiVersionsV4],
  ] as const) {
    const req = decodeAndReencode(
      'ApiVersions',
      v,
      mod.createRequest('platformatic-kafka', '1.35.0').buffer,
    ) as m.ApiVersionsRequest;
    assert.equal(req.clientSoftwareName, 'platformatic-kafka');
  }
  for (const [v, mod] of [
    [9, metadataV9],
    [12, metadataV12],
  ] as const) {
    const req = decodeAndReencode(
      'Metadata',
      v,
      mod.createRequest(['orders', 'payments'], true, false).buffer,
    ) as m.MetadataRequest;
    assert.deepEqual(
      req.topics!.map((t) => t.name),
      ['orders', 'payments'],
    );
    assert.equal(req.allowAutoTopicCreation, true);
  }
  for (const [v, mod] of [
    [9, produceV9],
    [11, produceV11],
  ] as const) {
    const records = [
      {
        topic: 'orders',
        partition: 0,
        key: Buffer.from('k1'),
        value: Buffer.from('v1'),
        timestamp: 1_700_000_000_000n,
      },
      {
        topic: 'orders',
        partition: 0,
        key: Buffer.from('k2'),
        value: Buffer.from('v2'),
        timestamp: 1_700_000_000_001n,
      },
      { topic: 'orders', partition: 3, value: Buffer.from('v3'), timestamp: 1_700_000_000_002n },
    ];
    const req = decodeAndReencode(
      'Produce',
      v,
      mod.createRequest(-1, 30_000, records, { compression: 'none' } as never).buffer,
    ) as m.ProduceRequest;
    assert.equal(req.acks, -1);
    assert.equal(req.timeoutMs, 30_000);
    const partitions = req.topicData.flatMap((t) => t.partitionData.map((p) => [t.name, p.index, p.records] as const));
    assert.deepEqual(partitions.map(([t, p]) => `${t}-${p}`).sort(), ['orders-0', 'orders-3']);
    for (const [, index, batch] of partitions) {
      assert.equal(magic(batch!), 2);
      assert.equal(recordsCount(batch!), index === 0 ? 2 : 1);
    }
  }
  const fetchTopics = [
    {
      topicId: TOPIC_ID,
      partitions: [
        { partition: 0, currentLeaderEpoch: 5, fetchOffset: 1234n, lastFetchedEpoch: 4, partitionMaxBytes: 1048576 },
      ],
    },
  ];
  for (const [v, mod] of [
    [12, fetchV12],
    [15, fetchV15],
    [17, fetchV17],
  ] as const) {
    const args =
      v === 12
        ? [500, 1, 52428800, 1, 0, -1, [{ topicId: 'orders', partitions: fetchTopics[0]!.partitions }], [], 'rack-a'] // v12 takes the name in topicId
        : [500, 1, 52428800, 1, 0, -1, fetchTopics, [], 'rack-a'];
    const req = decodeAndReencode(
      'Fetch',
      v,
      (mod.createRequest as (...a: unknown[]) => { buffer: Buffer })(...args).buffer,
    ) as m.FetchRequest;
    assert.equal(req.maxWaitMs, 500);
    assert.equal(req.isolationLevel, 1);
    assert.equal(req.rackId, 'rack-a');
    const p = req.topics[0]!.partitions[0]!;
    assert.deepEqual(
      [p.partition, p.currentLeaderEpoch, p.fetchOffset, p.lastFetchedEpoch, p.partitionMaxBytes],
      [0, 5, 1234, 4, 1048576],
    );
    if (v >= 13) assert.equal(req.topics[0]!.topicId, TOPIC_ID);
    else assert.equal(req.topics[0]!.topic, 'orders');
  }
  for (const [v, mod] of [
    [6, joinGroupV6],
    [9, joinGroupV9],
  ] as const) {
    const protocols = [
      {
        name: 'roundrobin',
        metadata: Buffer.from([0, 1, 0, 0, 0, 1, 0, 6, 111, 114, 100, 101, 114, 115, 255, 255, 255, 255]),
      },
    ];
    const req = decodeAndReencode(
      'JoinGroup',
      v,
      mod.createRequest('group-a', 30000, 60000, '', null, 'consumer', protocols, null).buffer,
    ) as m.JoinGroupRequest;
    assert.equal(req.groupId, 'group-a');
    assert.deepEqual(req.protocols[0]!.metadata, protocols[0]!.metadata);
  }
  const sync = decodeAndReencode(
    'SyncGroup',
    5,
    syncGroupV5.createRequest('group-a', 3, 'member-1', null, 'consumer', 'roundrobin', [
      { memberId: 'member-1', assignment: Buffer.from([0, 1, 2]) },
    ]).buffer,
  ) as m.SyncGroupRequest;
  assert.equal(sync.protocolName, 'roundrobin');
  const commit = decodeAndReencode(
    'OffsetCommit',
    9,
    offsetCommitV9.createRequest('group-a', 3, 'member-1', null, [
      {
        name: 'orders',
        partitions: [{ partitionIndex: 0, committedOffset: 99n, committedLeaderEpoch: 4, committedMetadata: null }],
      },
    ]).buffer,
  ) as m.OffsetCommitRequest;
  assert.equal(commit.topics[0]!.partitions[0]!.committedOffset, 99);
  const fc = decodeAndReencode(
    'FindCoordinator',
    6,
    findCoordinatorV6.createRequest(0, ['group-a', 'group-b']).buffer,
  ) as m.FindCoordinatorRequest;
  assert.deepEqual(fc.coordinatorKeys, ['group-a', 'group-b']);
  const lo = decodeAndReencode(
    'ListOffsets',
    9,
    listOffsetsV9.createRequest(-1, 1, [
      { name: 'orders', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] },
    ]).buffer,
  ) as m.ListOffsetsRequest;
  assert.equal(lo.topics[0]!.partitions[0]!.timestamp, -1);
  const ip = decodeAndReencode(
    'InitProducerId',
    5,
    initProducerIdV5.createRequest('tx-1', 60000, -1n, -1).buffer,
  ) as m.InitProducerIdRequest;
  assert.equal(ip.transactionalId, 'tx-1');
});

test('@platformatic/kafka parses the responses we encode', () => {
  const av = encodeResponse('ApiVersions', 3, {
    errorCode: 0,
    apiKeys: [
      { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 11 },
      { apiKey: ApiKey.Fetch, minVersion: 0, maxVersion: 17 },
    ],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: false,
  } satisfies m.ApiVersionsResponse);
  const pav = apiVersionsV3.parseResponse(1, 18, 3, PReader.from(av));
  assert.deepEqual(
    pav.apiKeys.map((k: { apiKey: number; maxVersion: number }) => [k.apiKey, k.maxVersion]),
    [
      [0, 11],
      [1, 17],
    ],
  );

  const md: m.MetadataResponse = {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092, rack: null }],
    clusterId: 'brook-1',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 'orders',
        topicId: TOPIC_ID,
        isInternal: false,
        partitions: [
          {
            errorCode: 0,
            partitionIndex: 0,
            leaderId: 1,
            leaderEpoch: 7,
            replicaNodes: [1],
            isrNodes: [1],
            offlineReplicas: [],
          },
        ],
        topicAuthorizedOperations: -2147483648,
      },
    ],
    clusterAuthorizedOperations: -2147483648,
  };
  const pmd = metadataV12.parseResponse(1, 3, 12, PReader.from(encodeResponse('Metadata', 12, md)));
  assert.equal(pmd.clusterId, 'brook-1');
  assert.equal(pmd.brokers[0]!.host, '127.0.0.1');
  assert.equal(pmd.topics[0]!.topicId, TOPIC_ID);
  assert.equal(pmd.topics[0]!.partitions[0]!.leaderEpoch, 7);

  const pr: m.ProduceResponse = {
    responses: [
      {
        name: 'orders',
        partitionResponses: [
          {
            index: 0,
            errorCode: 0,
            baseOffset: 42,
            logAppendTimeMs: -1,
            logStartOffset: 0,
            recordErrors: [],
            errorMessage: null,
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
          },
        ],
      },
    ],
    throttleTimeMs: 0,
    nodeEndpoints: [],
  };
  const ppr = produceV9.parseResponse(1, 0, 9, PReader.from(encodeResponse('Produce', 9, pr)));
  assert.equal(ppr.responses[0]!.partitionResponses[0]!.baseOffset, 42n);

  const fc: m.FindCoordinatorResponse = {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    nodeId: 0,
    host: '',
    port: 0,
    coordinators: [{ key: 'group-a', nodeId: 1, host: 'localhost', port: 9092, errorCode: 0, errorMessage: null }],
  };
  const pfc = findCoordinatorV6.parseResponse(1, 10, 6, PReader.from(encodeResponse('FindCoordinator', 6, fc)));
  assert.deepEqual([pfc.coordinators[0]!.key, pfc.coordinators[0]!.port], ['group-a', 9092]);
});

// kafkajs request modules: require('kafkajs/src/protocol/requests/<api>/v<N>/request')(args) and
// the matching response module with decode() + parse().
interface KjsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}
interface KjsResponse {
  decode(raw: Buffer): Promise<unknown>;
  parse?(data: unknown): Promise<unknown>;
}
const kjs = (path: string): ((args: unknown) => KjsRequest) => require(`kafkajs/src/protocol/requests/${path}/request`);
const kjsResponse = (path: string): KjsResponse => require(`kafkajs/src/protocol/requests/${path}/response`);

/** A kafkajs request framed as kafkajs frames it (size, header v1, body), decoded by us. */
async function kafkajsFrame(req: KjsRequest): Promise<{ body: Buffer; frame: Buffer }> {
  const encodeRequest = require('kafkajs/src/protocol/request') as (a: unknown) => Promise<{ buffer: Buffer }>;
  const framed = (await encodeRequest({ correlationId: 77, clientId: 'kafkajs', request: req })).buffer;
  const frame = framed.subarray(4);
  assert.equal(framed.readInt32BE(0), frame.length);
  const r = new Reader(frame);
  const h = readRequestHeader(r);
  assert.deepEqual(h, {
    requestApiKey: req.apiKey,
    requestApiVersion: req.apiVersion,
    correlationId: 77,
    clientId: 'kafkajs',
  });
  return { body: frame.subarray(r.pos), frame };
}

test('kafkajs requests (classic versions) decode and re-encode byte for byte', async () => {
  for (let v = 0; v <= 2; v++) {
    const { body } = await kafkajsFrame(kjs(`apiVersions/v${v}`)({}));
    decodeAndReencode('ApiVersions', v, body);
  }
  for (let v = 0; v <= 6; v++) {
    const { body } = await kafkajsFrame(
      kjs(`metadata/v${v}`)({ topics: ['orders', 'payments'], allowAutoTopicCreation: false }),
    );
    const req = decodeAndReencode('Metadata', v, body) as m.MetadataRequest;
    assert.deepEqual(
      req.topics!.map((t) => t.name),
      ['orders', 'payments'],
    );
    if (v >= 4) assert.equal(req.allowAutoTopicCreation, false);
  }
  for (let v = 3; v <= 7; v++) {
    const topicData = [
      {
        topic: 'orders',
        partitions: [
          { partition: 2, firstSequence: 0, messages: [{ key: 'k', value: 'hello', timestamp: 1_700_000_000_000 }] },
        ],
      },
    ];
    const { body } = await kafkajsFrame(kjs(`produce/v${v}`)({ acks: 1, timeout: 1000, topicData }));
    const req = decodeAndReencode('Produce', v, body) as m.ProduceRequest;
    const p = req.topicData[0]!.partitionData[0]!;
    assert.equal(p.index, 2);
    assert.equal(magic(p.records!), 2);
    assert.equal(recordsCount(p.records!), 1);
  }
  for (let v = 4; v <= 11; v++) {
    const topics = [{ topic: 'orders', partitions: [{ partition: 1, fetchOffset: '55', maxBytes: 1048576 }] }];
    const { body } = await kafkajsFrame(
      kjs(`fetch/v${v}`)({
        replicaId: -1,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 10485760,
        isolationLevel: 1,
        topics,
        rackId: '',
      }),
    );
    const req = decodeAndReencode('Fetch', v, body) as m.FetchRequest;
    assert.equal(req.topics[0]!.partitions[0]!.fetchOffset, 55);
  }
  for (let v = 0; v <= 5; v++) {
    const groupProtocols = [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0]) }];
    const { body } = await kafkajsFrame(
      kjs(`joinGroup/v${v}`)({
        groupId: 'g',
        sessionTimeout: 30000,
        rebalanceTimeout: 60000,
        memberId: '',
        protocolType: 'consumer',
        groupProtocols,
      }),
    );
    const req = decodeAndReencode('JoinGroup', v, body) as m.JoinGroupRequest;
    assert.equal(req.protocols[0]!.name, 'RoundRobinAssigner');
  }
  for (let v = 0; v <= 2; v++) {
    const { body } = await kafkajsFrame(
      kjs(`findCoordinator/v${v}`)({ groupId: 'g', coordinatorKey: 'g', coordinatorType: 0 }),
    );
    assert.equal((decodeAndReencode('FindCoordinator', v, body) as m.FindCoordinatorRequest).key, 'g');
  }
});

test('kafkajs decodes the responses we encode', async () => {
  for (let v = 0; v <= 2; v++) {
    const raw = encodeResponse('ApiVersions', v, {
      errorCode: 0,
      apiKeys: [{ apiKey: 3, minVersion: 0, maxVersion: 12 }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1,
      finalizedFeatures: [],
      zkMigrationReady: false,
    });
    const res = (await kjsResponse(`apiVersions/v${v}`).decode(raw)) as {
      apiVersions: { apiKey: number; maxVersion: number }[];
    };
    assert.deepEqual(res.apiVersions, [{ apiKey: 3, minVersion: 0, maxVersion: 12 }]);
  }
  for (let v = 0; v <= 6; v++) {
    const md: m.MetadataResponse = {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
      clusterId: null,
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 'orders',
          topicId: '00000000-0000-0000-0000-000000000000',
          isInternal: false,
          partitions: [
            {
              errorCode: 0,
              partitionIndex: 0,
              leaderId: 1,
              leaderEpoch: -1,
              replicaNodes: [1],
              isrNodes: [1],
              offlineReplicas: [],
            },
          ],
          topicAuthorizedOperations: -2147483648,
        },
      ],
      clusterAuthorizedOperations: -2147483648,
    };
    const res = (await kjsResponse(`metadata/v${v}`).decode(encodeResponse('Metadata', v, md))) as {
      brokers: { nodeId: number; host: string; port: number }[];
      topicMetadata: {
        topic: string;
        partitionMetadata: { partitionId: number; leader: number; replicas: number[] }[];
      }[];
    };
    assert.deepEqual(
      res.brokers.map((b) => [b.nodeId, b.host, b.port]),
      [[1, 'localhost', 9092]],
    );
    assert.equal(res.topicMetadata[0]!.topic, 'orders');
    assert.deepEqual(res.topicMetadata[0]!.partitionMetadata[0]!.replicas, [1]);
  }
  for (let v = 3; v <= 7; v++) {
    const pr: m.ProduceResponse = {
      responses: [
        {
          name: 'orders',
          partitionResponses: [
            {
              index: 2,
              errorCode: 0,
              baseOffset: 4294967301,
              logAppendTimeMs: -1,
              logStartOffset: 0,
              recordErrors: [],
              errorMessage: null,
              currentLeader: { leaderId: -1, leaderEpoch: -1 },
            },
          ],
        },
      ],
      throttleTimeMs: 0,
      nodeEndpoints: [],
    };
    const res = (await kjsResponse(`produce/v${v}`).decode(encodeResponse('Produce', v, pr))) as {
      topics: { topicName: string; partitions: { partition: number; baseOffset: string }[] }[];
    };
    assert.equal(res.topics[0]!.topicName, 'orders');
    assert.deepEqual(
      [res.topics[0]!.partitions[0]!.partition, res.topics[0]!.partitions[0]!.baseOffset],
      [2, '4294967301'],
    );
  }
});

test('fetch responses carrying a client-built record batch parse in both clients', async () => {
  // A real batch: the one @platformatic/kafka puts in a Produce v9 request, taken from our decode.
  const produce = produceV9.createRequest(
    -1,
    1000,
    [
      {
        topic: 'orders',
        partition: 0,
        key: Buffer.from('k1'),
        value: Buffer.from('first'),
        timestamp: 1_700_000_000_000n,
      },
      {
        topic: 'orders',
        partition: 0,
        key: Buffer.from('k2'),
        value: Buffer.from('second'),
        timestamp: 1_700_000_000_001n,
      },
    ],
    { compression: 'none' } as never,
  ).buffer;
  const batch = (APIS.Produce.readRequest(new Reader(produce), 9) as m.ProduceRequest).topicData[0]!.partitionData[0]!
    .records!;

  const partition = (records: Buffer | null): m.FetchResponsePartitionData => ({
    partitionIndex: 0,
    errorCode: 0,
    highWatermark: 2,
    lastStableOffset: 2,
    logStartOffset: 0,
    divergingEpoch: { epoch: -1, endOffset: -1 },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1, epoch: -1 },
    abortedTransactions: [{ producerId: 9, firstOffset: 1 }],
    preferredReadReplica: -1,
    records,
  });
  const response = (records: Buffer | null): m.FetchResponse => ({
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [{ topic: 'orders', topicId: TOPIC_ID, partitions: [partition(records)] }],
    nodeEndpoints: [],
  });

  const p15 = fetchV15.parseResponse(1, 1, 15, PReader.from(encodeResponse('Fetch', 15, response(batch))));
  const part = p15.responses[0]!.partitions[0]!;
  assert.equal(p15.responses[0]!.topicId, TOPIC_ID);
  assert.deepEqual(part.abortedTransactions, [{ producerId: 9n, firstOffset: 1n }]);
  const values = part.records!.flatMap((b) => b.records.map((r) => String(r.value)));
  assert.deepEqual(values, ['first', 'second']);

  for (let v = 4; v <= 11; v++) {
    const res = (await kjsResponse(`fetch/v${v}`).decode(encodeResponse('Fetch', v, response(batch)))) as {
      responses: {
        topicName: string;
        partitions: {
          partition: number;
          highWatermark: string;
          abortedTransactions: unknown[];
          messages: { value: Buffer }[];
        }[];
      }[];
    };
    const p = res.responses[0]!.partitions[0]!;
    assert.equal(res.responses[0]!.topicName, 'orders');
    assert.equal(p.highWatermark, '2');
    assert.deepEqual(p.abortedTransactions, [{ producerId: '9', firstOffset: '1' }]);
    assert.deepEqual(
      p.messages.map((msg) => msg.value.toString()),
      ['first', 'second'],
      `kafkajs fetch v${v}`,
    );
  }
});
