import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAbsolute, resolve } from 'node:path';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  batch,
  createTopic,
  fetchPartition,
  listOffset,
  metadata,
  offsetsOf,
  onDataDir,
  produce,
  produceValues,
  removeDir,
  tempDir,
  topicName,
} from './support.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;

describe('offsets and cluster APIs', () => {
  let b: BrokerHandle;
  let c: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
    c = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    await b.close();
  });

  const deleteRecords = async (topic: string, partition: number, offset: number) =>
    (
      await c.request('DeleteRecords', 2, {
        topics: [{ name: topic, partitions: [{ partitionIndex: partition, offset }] }],
        timeoutMs: 5000,
      })
    ).topics[0]!.partitions[0]!;

  test('ListOffsets earliest and latest at every version', async () => {
    const t = topicName('lo');
    await createTopic(c, t, 1);
    for (const v of [1, 4, 7, 9]) {
      assert.equal((await listOffset(c, t, 0, EARLIEST, v)).offset, 0, `v${v} earliest of an empty log`);
      assert.equal((await listOffset(c, t, 0, LATEST, v)).offset, 0, `v${v} latest of an empty log`);
    }
    await produceValues(c, t, 0, ['a', 'b', 'c']);
    await produceValues(c, t, 0, ['d', 'e']);
    for (const v of [1, 4, 7, 9]) {
      assert.equal((await listOffset(c, t, 0, EARLIEST, v)).offset, 0);
      assert.equal((await listOffset(c, t, 0, LATEST, v)).offset, 5, `v${v} latest is the high watermark`);
    }
    const rc = await c.request('ListOffsets', 5, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [
        { name: t, partitions: [{ partitionIndex: 0, currentLeaderEpoch: 0, timestamp: LATEST, maxNumOffsets: 1 }] },
      ],
    });
    const p = rc.topics[0]!.partitions[0]!;
    assert.deepEqual(
      [p.errorCode, p.offset, p.leaderEpoch],
      [0, 5, 0],
      'read_committed latest is the LSO (= HW without transactions)',
    );
  });

  test('ListOffsets by timestamp finds the first offset at or after it; max timestamp (v7+) finds the newest record', async () => {
    const t = topicName('ts');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, [
      { value: 'a', timestamp: 1000 },
      { value: 'b', timestamp: 2000 },
    ]); // offsets 0, 1
    await produceValues(c, t, 0, [{ value: 'c', timestamp: 5000 }]); // offset 2
    await produceValues(c, t, 0, [
      { value: 'd', timestamp: 3000 },
      { value: 'e', timestamp: 4000 },
    ]); // offsets 3, 4
    const cases: [number, number, number][] = [
      [0, 0, 1000],
      [1000, 0, 1000],
      [1500, 1, 2000],
      [2500, 2, 5000],
      [5000, 2, 5000],
    ];
    for (const [ts, offset, foundTs] of cases) {
      const r = await listOffset(c, t, 0, ts, 7);
      assert.deepEqual([r.errorCode, r.offset, r.timestamp], [0, offset, foundTs], `timestamp ${ts}`);
    }
    const none = await listOffset(c, t, 0, 5001, 7);
    assert.deepEqual([none.errorCode, none.offset, none.timestamp], [0, -1, -1], 'nothing that new');
    const max = await listOffset(c, t, 0, MAX_TIMESTAMP, 7);
    assert.deepEqual([max.errorCode, max.offset, max.timestamp], [0, 2, 5000]);
  });

  test('ListOffsets v0 answers old-style offset lists', async () => {
    const t = topicName('v0');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['a', 'b']);
    const ask = async (timestamp: number) =>
      (
        await c.request('ListOffsets', 0, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [
            { name: t, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] },
          ],
        })
      ).topics[0]!.partitions[0]!;
    const latest = await ask(LATEST);
    assertCode(latest.errorCode, ErrorCode.NONE);
    assert.deepEqual(latest.oldStyleOffsets, [2]);
    assert.deepEqual((await ask(EARLIEST)).oldStyleOffsets, [0]);
  });

  test('ListOffsets errors: unknown partition, newer leader epoch', async () => {
    const t = topicName('loerr');
    await createTopic(c, t, 1);
    assertCode((await listOffset(c, topicName('none'), 0, LATEST)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assertCode((await listOffset(c, t, 3, LATEST)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const res = await c.request('ListOffsets', 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        { name: t, partitions: [{ partitionIndex: 0, currentLeaderEpoch: 4, timestamp: LATEST, maxNumOffsets: 1 }] },
      ],
    });
    assertCode(res.topics[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
  });

  test('DeleteRecords moves the log start offset; ListOffsets and Fetch follow it', async () => {
    const t = topicName('dr');
    await createTopic(c, t, 1);
    for (let i = 0; i < 10; i++) await produceValues(c, t, 0, [`r${i}`]);
    const r = await deleteRecords(t, 0, 4);
    assertCode(r.errorCode, ErrorCode.NONE);
    assert.equal(r.lowWatermark, 4);
    assert.equal((await listOffset(c, t, 0, EARLIEST)).offset, 4);
    assert.equal((await listOffset(c, t, 0, LATEST)).offset, 10, 'the end does not move');
    assertCode(
      (await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 3 })).errorCode,
      ErrorCode.OFFSET_OUT_OF_RANGE,
    );
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 4 });
    assert.equal(p.logStartOffset, 4);
    assert.equal(offsetsOf(p.records)[0], 4);
    // A lower offset than the current start changes nothing.
    assert.equal((await deleteRecords(t, 0, 2)).lowWatermark, 4);
    // -1 means up to the high watermark.
    assert.equal((await deleteRecords(t, 0, -1)).lowWatermark, 10);
    assert.equal((await listOffset(c, t, 0, EARLIEST)).offset, 10);
    assert.equal(await produceValues(c, t, 0, ['after']), 10);
  });

  test('DeleteRecords errors: beyond the high watermark, unknown partition', async () => {
    const t = topicName('drerr');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['a']);
    assertCode((await deleteRecords(t, 0, 2)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    assertCode((await deleteRecords(t, 1, 0)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await listOffset(c, t, 0, EARLIEST)).offset, 0);
  });

  test('DescribeLogDirs reports the data dir and each partition size in bytes', async () => {
    const t = topicName('dirs');
    await createTopic(c, t, 2);
    let bytes = 0;
    for (const values of [['a'], ['bb', 'cc'], ['ddd']]) {
      const bt = batch(values);
      bytes += bt.length;
      assertCode((await produce(c, t, 1, bt)).errorCode, ErrorCode.NONE);
    }
    for (const v of [0, 1, 4]) {
      const res = await c.request('DescribeLogDirs', v, { topics: [{ topic: t, partitions: [0, 1] }] });
      assert.equal(res.results.length, 1);
      const dir = res.results[0]!;
      assertCode(dir.errorCode, ErrorCode.NONE);
      assert.ok(isAbsolute(dir.logDir));
      assert.equal(dir.logDir, resolve(b.dataDir));
      assert.deepEqual(
        dir.topics.map((x) => x.name),
        [t],
        'only the topic asked for',
      );
      const sizes = new Map(dir.topics[0]!.partitions.map((p) => [p.partitionIndex, p.partitionSize]));
      assert.equal(sizes.get(0), 0);
      assert.equal(sizes.get(1), bytes, `v${v}: partition size is the bytes of its batches`);
      if (v >= 4) {
        assert.ok(dir.totalBytes > 0 && dir.usableBytes > 0 && dir.usableBytes <= dir.totalBytes, 'disk totals');
      }
    }
    const all = await c.request('DescribeLogDirs', 4, { topics: null });
    assert.ok(
      all.results[0]!.topics.some((x) => x.name === t),
      'null means every topic',
    );
  });

  const askEpoch = async (topic: string, partition: number, leaderEpoch: number, currentLeaderEpoch = -1) =>
    (
      await c.request('OffsetForLeaderEpoch', 4, {
        replicaId: -1,
        topics: [{ topic, partitions: [{ partition, currentLeaderEpoch, leaderEpoch }] }],
      })
    ).topics[0]!.partitions[0]!;

  test('OffsetForLeaderEpoch answers the end offset of the current leader epoch', async () => {
    const t = topicName('ofle');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['a', 'b', 'c']);
    await produceValues(c, t, 0, ['d', 'e']);
    for (const current of [-1, 0]) {
      const e0 = await askEpoch(t, 0, 0, current);
      assert.deepEqual([e0.errorCode, e0.leaderEpoch, e0.endOffset], [0, 0, 5], 'epoch 0 ends at the log end');
    }
    assertCode((await askEpoch(t, 0, 0, 5)).errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
    assertCode((await askEpoch(topicName('none'), 0, 0)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('OffsetForLeaderEpoch for an epoch above every known one is UNDEFINED (-1, -1)', async () => {
    // Kafka's LeaderEpochFileCache.endOffsetFor: no higher entry and not the latest epoch -> (-1, -1).
    const t = topicName('oflefuture');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['a', 'b']);
    const future = await askEpoch(t, 0, 3);
    assert.deepEqual([future.errorCode, future.leaderEpoch, future.endOffset], [0, -1, -1]);
  });

  test('OffsetForLeaderEpoch on a partition without data: epoch 0 ends at offset 0', async () => {
    // Kafka assigns the leader epoch's start offset when the replica becomes leader, before any append.
    const t = topicName('ofleempty');
    await createTopic(c, t, 1);
    const empty = await askEpoch(t, 0, 0);
    assert.deepEqual([empty.errorCode, empty.leaderEpoch, empty.endOffset], [0, 0, 0]);
  });

  test('DescribeCluster lists this broker, the cluster id and the controller', async () => {
    const md = await metadata(c, []);
    for (const v of [0, 1]) {
      const res = await c.request('DescribeCluster', v, { includeClusterAuthorizedOperations: true, endpointType: 1 });
      assertCode(res.errorCode, ErrorCode.NONE);
      assert.equal(res.clusterId, md.clusterId);
      assert.equal(res.controllerId, b.broker.nodeId);
      assert.deepEqual(
        res.brokers.map((x) => [x.brokerId, x.host, x.port]),
        [[b.broker.nodeId, b.host, b.port]],
      );
      assert.notEqual(res.clusterAuthorizedOperations, -2147483648, 'authorized operations when asked for');
    }
    // Kafka's broker listener answers a request for controller endpoints with MISMATCHED_ENDPOINT_TYPE
    // ("The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER").
    const ctl = await c.request('DescribeCluster', 1, { includeClusterAuthorizedOperations: false, endpointType: 2 });
    assertCode(ctl.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE);
  });

  test('ListPartitionReassignments: none in progress on a single broker', async () => {
    const t = topicName('reassign');
    await createTopic(c, t, 1);
    for (const topics of [null, [{ name: t, partitionIndexes: [0] }]]) {
      const res = await c.request('ListPartitionReassignments', 0, { timeoutMs: 5000, topics });
      assertCode(res.errorCode, ErrorCode.NONE);
      assert.deepEqual(res.topics, []);
    }
  });
});

test('the log start offset moved by DeleteRecords survives a restart', async () => {
  const dir = await tempDir();
  try {
    const t = topicName('drrestart');
    await onDataDir(dir, {}, async (_b, c) => {
      await createTopic(c, t, 1);
      for (let i = 0; i < 6; i++) await produceValues(c, t, 0, [`v${i}`]);
      const r = await c.request('DeleteRecords', 2, {
        topics: [{ name: t, partitions: [{ partitionIndex: 0, offset: 4 }] }],
        timeoutMs: 5000,
      });
      assertCode(r.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    });
    await onDataDir(dir, {}, async (_b, c) => {
      assert.equal((await listOffset(c, t, 0, EARLIEST)).offset, 4);
      assert.equal((await listOffset(c, t, 0, LATEST)).offset, 6);
      assertCode(
        (await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 2 })).errorCode,
        ErrorCode.OFFSET_OUT_OF_RANGE,
      );
    });
  } finally {
    await removeDir(dir);
  }
});
