import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type BrokerHandle, type StartBrokerOptions } from '../../src/broker/start.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { WireClient } from '../helpers/wire-client.js';
import {
  READ_COMMITTED,
  READ_UNCOMMITTED,
  RawTxnProducer,
  assertCode,
  committedOffset,
  deliveredValues,
  eventually,
  fetchFrom,
  markersOf,
  produceBatch,
  producerBatch,
} from './helpers.js';

const BASE_CONFIG = {
  'num.partitions': '1',
  'group.initial.rebalance.delay.ms': '0',
  'offsets.topic.num.partitions': '3',
  'transaction.state.log.num.partitions': '3',
};

async function withBroker<T>(opts: StartBrokerOptions, fn: (b: BrokerHandle, c: WireClient) => Promise<T>): Promise<T> {
  const b = await startBroker({ logLevel: 'silent', ...opts, config: { ...BASE_CONFIG, ...opts.config } });
  const c = await WireClient.open(b.bootstrap);
  try {
    return await fn(b, c);
  } finally {
    c.close();
    await b.close();
  }
}

async function createTopic(c: WireClient, name: string, partitions = 1): Promise<void> {
  const r = await c.request('CreateTopics', 5, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assertCode(r.topics[0]!.errorCode, ErrorCode.NONE, `create ${name}`);
}

/** Waits until the group coordinator has loaded (__consumer_offsets exists). */
async function groupsReady(b: BrokerHandle): Promise<void> {
  await eventually(() => !b.broker.groups.isLoading, 10_000, 'group coordinator loaded');
}

/** Stops the broker the way a kill would: no flush, no snapshots, no clean-shutdown marker. */
async function crash(b: BrokerHandle): Promise<void> {
  b.broker.logs.halt();
  await b.broker.close();
}

test('idempotent producer over the wire: retries answered with the original offset, gaps refused, state kept across clean and unclean restarts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'brook-txn-'));
  try {
    let pid = -1;
    await withBroker({ dataDir: dir }, async (_b, c) => {
      await createTopic(c, 'idem');
      const a = await c.request('InitProducerId', 0, {
        transactionalId: null,
        transactionTimeoutMs: 0,
        producerId: -1,
        producerEpoch: -1,
      });
      const b2 = await c.request('InitProducerId', 4, {
        transactionalId: null,
        transactionTimeoutMs: 0,
        producerId: -1,
        producerEpoch: -1,
      });
      assertCode(a.errorCode, ErrorCode.NONE);
      assert.equal(a.producerEpoch, 0);
      assert.notEqual(
        a.producerId,
        b2.producerId,
        'every InitProducerId without a transactional id gets a new producer id',
      );
      pid = a.producerId;
      for (const version of [3, 9]) {
        const seq = version === 3 ? 0 : 2;
        const r = await produceBatch(c, 'idem', 0, producerBatch(['a', 'b'], { pid, epoch: 0, seq }), { version });
        assertCode(r.errorCode, ErrorCode.NONE);
        assert.equal(r.baseOffset, seq);
        const retry = await produceBatch(c, 'idem', 0, producerBatch(['a', 'b'], { pid, epoch: 0, seq }), { version });
        assertCode(retry.errorCode, ErrorCode.NONE, 'a retry is a success');
        assert.equal(retry.baseOffset, seq, 'with the original offset');
      }
      const gap = await produceBatch(c, 'idem', 0, producerBatch(['x'], { pid, epoch: 0, seq: 7 }));
      assertCode(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      const second = await produceBatch(c, 'idem', 0, producerBatch(['x'], { pid: b2.producerId, epoch: 0, seq: 0 }));
      assertCode(second.errorCode, ErrorCode.NONE);
      assert.deepEqual(deliveredValues(await fetchFrom(c, 'idem', 0, READ_UNCOMMITTED)), ['a', 'b', 'a', 'b', 'x']);
    });
    // Clean restart: the snapshot at the log end offset carries the state.
    await withBroker({ dataDir: dir }, async (b, c) => {
      const retry = await produceBatch(c, 'idem', 0, producerBatch(['a', 'b'], { pid, epoch: 0, seq: 2 }));
      assertCode(retry.errorCode, ErrorCode.NONE);
      assert.equal(retry.baseOffset, 2);
      const next = await produceBatch(c, 'idem', 0, producerBatch(['c'], { pid, epoch: 0, seq: 4 }));
      assert.equal(next.baseOffset, 5);
      await crash(b);
    });
    // Unclean restart: rebuilt from the log.
    await withBroker({ dataDir: dir }, async (b, c) => {
      const retry = await produceBatch(c, 'idem', 0, producerBatch(['c'], { pid, epoch: 0, seq: 4 }));
      assert.equal(retry.baseOffset, 5);
      assertCode(
        (await produceBatch(c, 'idem', 0, producerBatch(['d'], { pid, epoch: 0, seq: 6 }))).errorCode,
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      );
      // DescribeProducers shows what the partition remembers; producer.id.expiration.ms forgets it.
      const d = await c.request('DescribeProducers', 0, { topics: [{ name: 'idem', partitionIndexes: [0, 5] }] });
      const [p0, p5] = d.topics[0]!.partitions;
      assertCode(p5!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const mine = p0!.activeProducers.find((x) => x.producerId === pid)!;
      assert.deepEqual([mine.producerEpoch, mine.lastSequence, mine.currentTxnStartOffset], [0, 4, -1]);
      assert.equal(b.broker.transactions.expireProducers(Date.now() + 86_400_000 + 1), 2);
      const after = await c.request('DescribeProducers', 0, { topics: [{ name: 'idem', partitionIndexes: [0] }] });
      assert.deepEqual(after.topics[0]!.partitions[0]!.activeProducers, []);
      const again = await produceBatch(c, 'idem', 0, producerBatch(['c'], { pid, epoch: 0, seq: 4 }));
      assert.equal(again.baseOffset, 6, 'after expiry the retry is no longer recognised');
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('read_committed stops at the last stable offset; aborted data is listed for the consumer to drop and stays visible to read_uncommitted', async () => {
  await withBroker({}, async (_b, c) => {
    await createTopic(c, 'pay', 2);
    const p = new RawTxnProducer(c, 'tx-pay');
    assertCode(await p.init(), ErrorCode.NONE);
    // txn 1: committed, both partitions.
    assert.deepEqual(
      [
        ...(
          await p.addPartitions([
            ['pay', 0],
            ['pay', 1],
          ])
        ).values(),
      ],
      [0, 0],
    );
    await p.send('pay', 0, ['c1', 'c2']);
    await p.send('pay', 1, ['c3']);
    const open = await fetchFrom(c, 'pay', 0, READ_COMMITTED);
    assert.equal(open.lastStableOffset, 0, 'open transaction pins the LSO at its first offset');
    assert.equal(open.highWatermark, 2);
    assert.deepEqual(deliveredValues(open), []);
    assertCode(await p.end(true), ErrorCode.NONE);
    // txn 2: aborted; interleaved with non-transactional data.
    await p.addPartitions([['pay', 0]]);
    await p.send('pay', 0, ['a1']);
    await produceBatch(c, 'pay', 0, producerBatch(['plain'], { pid: -1, epoch: -1, seq: -1 }));
    await p.send('pay', 0, ['a2']);
    assertCode(await p.end(false), ErrorCode.NONE);
    // txn 3: committed after more plain data.
    await p.addPartitions([['pay', 0]]);
    await p.send('pay', 0, ['c4']);
    assertCode(await p.end(true), ErrorCode.NONE);
    const committed = await fetchFrom(c, 'pay', 0, READ_COMMITTED);
    assert.equal(committed.lastStableOffset, committed.highWatermark);
    assert.deepEqual(committed.abortedTransactions, [{ producerId: p.producerId, firstOffset: 3 }]);
    assert.deepEqual(deliveredValues(committed), ['c1', 'c2', 'plain', 'c4']);
    assert.deepEqual(
      markersOf(committed).map((m) => m[1]),
      ['COMMIT', 'ABORT', 'COMMIT'],
    );
    const uncommitted = await fetchFrom(c, 'pay', 0, READ_UNCOMMITTED);
    assert.equal(uncommitted.abortedTransactions, null, 'read_uncommitted gets no aborted list');
    assert.deepEqual(deliveredValues(uncommitted), ['c1', 'c2', 'a1', 'plain', 'a2', 'c4']);
    // A fetch starting after the aborted transaction does not list it.
    const tail = await fetchFrom(c, 'pay', 0, READ_COMMITTED, 8);
    assert.deepEqual(tail.abortedTransactions, []);
    assert.deepEqual(deliveredValues(await fetchFrom(c, 'pay', 1, READ_COMMITTED)), ['c3']);
    // ListOffsets with read_committed answers the LSO for "latest".
    await p.addPartitions([['pay', 1]]);
    await p.send('pay', 1, ['pending']);
    const lo = await c.request('ListOffsets', 5, {
      replicaId: -1,
      isolationLevel: READ_COMMITTED,
      topics: [
        { name: 'pay', partitions: [{ partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] },
      ],
    });
    assert.equal(lo.topics[0]!.partitions[0]!.offset, 2);
  });
});

test('fencing: a new instance bumps the epoch, aborts the open transaction and the old instance is refused everywhere', async () => {
  await withBroker({}, async (b, c) => {
    await createTopic(c, 'fence');
    await groupsReady(b);
    const c2 = await WireClient.open(b.bootstrap);
    try {
      const zombie = new RawTxnProducer(c, 'tx-fence');
      assertCode(await zombie.init(), ErrorCode.NONE);
      await zombie.addPartitions([['fence', 0]]);
      await zombie.send('fence', 0, ['zombie-1']);
      const fresh = new RawTxnProducer(c2, 'tx-fence');
      // The open transaction is aborted first: the new instance is told to retry.
      assertCode(await fresh.init(), ErrorCode.CONCURRENT_TRANSACTIONS);
      await fresh.initRetrying();
      assert.equal(fresh.producerId, zombie.producerId);
      assert.equal(fresh.epoch, zombie.epoch + 2, 'one bump to fence and abort, one for the new instance');
      assertCode((await zombie.send('fence', 0, ['zombie-2'])).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
      assertCode(await zombie.end(true, 3), ErrorCode.PRODUCER_FENCED);
      assertCode(
        await zombie.end(true, 1),
        ErrorCode.INVALID_PRODUCER_EPOCH,
        'EndTxn before v2 has no PRODUCER_FENCED',
      );
      assert.deepEqual(
        [...(await zombie.addPartitions([['fence', 0]], 1)).values()],
        [ErrorCode.INVALID_PRODUCER_EPOCH],
      );
      assert.deepEqual([...(await zombie.addPartitions([['fence', 0]], 2)).values()], [ErrorCode.PRODUCER_FENCED]);
      assertCode(await zombie.addOffsets('g', 2), ErrorCode.PRODUCER_FENCED);
      // The zombie's transaction was aborted; the new instance starts from Empty at the new epoch.
      assert.deepEqual(
        markersOf(await fetchFrom(c, 'fence', 0, READ_UNCOMMITTED)).map((m) => m[1]),
        ['ABORT'],
      );
      const d = await c.request('DescribeTransactions', 0, { transactionalIds: ['tx-fence', 'nope'] });
      assert.equal(d.transactionStates[0]!.transactionState, 'Empty');
      assert.equal(d.transactionStates[0]!.producerEpoch, fresh.epoch);
      assertCode(d.transactionStates[1]!.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
      await fresh.addPartitions([['fence', 0]]);
      await fresh.send('fence', 0, ['fresh']);
      assertCode(await fresh.end(true), ErrorCode.NONE);
      assert.deepEqual(deliveredValues(await fetchFrom(c, 'fence', 0, READ_COMMITTED)), ['fresh']);
    } finally {
      c2.close();
    }
  });
});

test('InitProducerId (KIP-360): resuming with the current epoch bumps it, a lost answer is retried idempotently, anything else is fenced', async () => {
  await withBroker({}, async (_b, c) => {
    const init = (version: number, producerId: number, producerEpoch: number, id = 'tx-360') =>
      c.request('InitProducerId', version, {
        transactionalId: id,
        transactionTimeoutMs: 10_000,
        producerId,
        producerEpoch,
      });
    const first = await init(4, -1, -1);
    assertCode(first.errorCode, ErrorCode.NONE);
    assert.equal(first.producerEpoch, 0);
    const bumped = await init(4, first.producerId, 0);
    assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [0, first.producerId, 1]);
    const retried = await init(4, first.producerId, 0);
    assert.deepEqual(
      [retried.errorCode, retried.producerEpoch],
      [0, 1],
      'the same bump again: answer lost, not a new producer',
    );
    assertCode((await init(4, first.producerId, 7)).errorCode, ErrorCode.PRODUCER_FENCED);
    assertCode((await init(3, first.producerId, 7)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assertCode((await init(4, first.producerId + 1000, 1)).errorCode, ErrorCode.PRODUCER_FENCED);
    // A new instance (no expected id) resets the retry window: the old epoch is now fenced.
    const other = await init(1, -1, -1);
    assert.equal(other.producerEpoch, 2);
    assertCode((await init(4, first.producerId, 1)).errorCode, ErrorCode.PRODUCER_FENCED);
    // Bad requests.
    assertCode(
      (
        await c.request('InitProducerId', 2, {
          transactionalId: 'tx-t',
          transactionTimeoutMs: 900_001,
          producerId: -1,
          producerEpoch: -1,
        })
      ).errorCode,
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
    );
    assertCode(
      (
        await c.request('InitProducerId', 2, {
          transactionalId: 'tx-t',
          transactionTimeoutMs: 0,
          producerId: -1,
          producerEpoch: -1,
        })
      ).errorCode,
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
    );
    assertCode(
      (
        await c.request('InitProducerId', 2, {
          transactionalId: '',
          transactionTimeoutMs: 1000,
          producerId: -1,
          producerEpoch: -1,
        })
      ).errorCode,
      ErrorCode.INVALID_REQUEST,
    );
  });
});

test('AddPartitionsToTxn: unknown partitions, the v4+ batched form with VerifyOnly, and produce verification', async () => {
  await withBroker({}, async (b, c) => {
    await createTopic(c, 'v', 2);
    const p = new RawTxnProducer(c, 'tx-v');
    await p.init();
    const bad = await p.addPartitions([
      ['v', 0],
      ['v', 9],
      ['missing', 0],
    ]);
    assert.deepEqual(Object.fromEntries(bad), {
      'v-0': ErrorCode.OPERATION_NOT_ATTEMPTED,
      'v-9': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      'missing-0': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    });
    // A transactional batch for a partition the transaction does not have is refused.
    assertCode((await p.send('v', 0, ['early'])).errorCode, ErrorCode.INVALID_TXN_STATE);
    const batched = (verifyOnly: boolean, partitions: number[], epoch = p.epoch) =>
      c.request('AddPartitionsToTxn', 4, {
        transactions: [
          {
            transactionalId: 'tx-v',
            producerId: p.producerId,
            producerEpoch: epoch,
            verifyOnly,
            topics: [{ name: 'v', partitions }],
          },
        ],
        v3AndBelowTransactionalId: '',
        v3AndBelowProducerId: 0,
        v3AndBelowProducerEpoch: 0,
        v3AndBelowTopics: [],
      });
    const codes = (r: Awaited<ReturnType<typeof batched>>) =>
      r.resultsByTransaction[0]!.topicResults[0]!.resultsByPartition.map((x) => x.partitionErrorCode);
    assert.deepEqual(codes(await batched(true, [0, 1])), [ErrorCode.INVALID_TXN_STATE, ErrorCode.INVALID_TXN_STATE]);
    const added = await batched(false, [0]);
    assertCode(added.errorCode, ErrorCode.NONE);
    assert.equal(added.resultsByTransaction[0]!.transactionalId, 'tx-v');
    assert.deepEqual(codes(added), [ErrorCode.NONE]);
    assert.deepEqual(codes(await batched(true, [0, 1])), [ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE]);
    assert.deepEqual(codes(await batched(true, [0], p.epoch + 1)), [ErrorCode.PRODUCER_FENCED]);
    assertCode((await p.send('v', 0, ['ok'])).errorCode, ErrorCode.NONE);
    assertCode((await p.send('v', 1, ['not added'])).errorCode, ErrorCode.INVALID_TXN_STATE);
    // With verification switched off (dynamic broker config) the partition check is skipped.
    b.broker.config.setDynamic('broker', 'transaction.partition.verification.enable', 'false');
    assertCode((await p.send('v', 1, ['unverified'])).errorCode, ErrorCode.NONE);
    b.broker.config.setDynamic('broker', 'transaction.partition.verification.enable', 'true');
    // EndTxn state rules.
    assertCode(await p.end(true), ErrorCode.NONE);
    assertCode(await p.end(true), ErrorCode.NONE, 'a retried commit');
    assertCode(await p.end(false), ErrorCode.INVALID_TXN_STATE);
    const q = new RawTxnProducer(c, 'tx-v2');
    await q.init();
    assertCode(await q.end(false), ErrorCode.INVALID_TXN_STATE, 'nothing to end');
    q.producerId += 1;
    assertCode(await q.end(false), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });
});

test('TxnOffsetCommit: offsets commit with the transaction, vanish with an abort, and are unstable meanwhile', async () => {
  await withBroker({}, async (b, c) => {
    await createTopic(c, 'in', 1);
    await createTopic(c, 'out', 1);
    await groupsReady(b);
    const p = new RawTxnProducer(c, 'tx-rpw');
    await p.init();
    // Without AddOffsetsToTxn no marker would ever settle the offsets: refused.
    await p.addPartitions([['out', 0]]);
    assert.deepEqual(await p.commitOffsets('grp', [['in', 0, 5]]), [ErrorCode.INVALID_TXN_STATE]);
    assertCode(await p.addOffsets('grp'), ErrorCode.NONE);
    await p.send('out', 0, ['r1']);
    assert.deepEqual(await p.commitOffsets('grp', [['in', 0, 5]]), [ErrorCode.NONE]);
    assert.deepEqual(await committedOffset(c, 'grp', 'in', 0), { offset: -1, errorCode: 0 });
    assertCode((await committedOffset(c, 'grp', 'in', 0, true)).errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT);
    assertCode(await p.end(true), ErrorCode.NONE);
    assert.deepEqual(await committedOffset(c, 'grp', 'in', 0, true), { offset: 5, errorCode: 0 });
    await p.addPartitions([['out', 0]]);
    await p.addOffsets('grp');
    await p.send('out', 0, ['r2']);
    assert.deepEqual(await p.commitOffsets('grp', [['in', 0, 9]], 0), [ErrorCode.NONE]);
    assertCode(await p.end(false), ErrorCode.NONE);
    assert.deepEqual(await committedOffset(c, 'grp', 'in', 0, true), { offset: 5, errorCode: 0 });
    assert.deepEqual(deliveredValues(await fetchFrom(c, 'out', 0, READ_COMMITTED)), ['r1']);
    const ep = p.epoch;
    p.epoch = ep - 1;
    assert.deepEqual(await p.commitOffsets('grp', [['in', 0, 11]]), [ErrorCode.INVALID_PRODUCER_EPOCH]);
    p.epoch = ep;
    // The commit markers landed in __consumer_offsets too.
    const offsetsPartition = b.broker.groups.partitionFor('grp');
    const markers = markersOf(await fetchFrom(c, '__consumer_offsets', offsetsPartition, READ_UNCOMMITTED));
    assert.deepEqual(
      markers.map((m) => m[1]),
      ['COMMIT', 'ABORT'],
    );
  });
});

test('the coordinator aborts a transaction past its timeout and fences its producer', async () => {
  await withBroker(
    { config: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '50' } },
    async (_b, c) => {
      await createTopic(c, 'slow');
      const p = new RawTxnProducer(c, 'tx-slow', 300);
      await p.init();
      await p.addPartitions([['slow', 0]]);
      await p.send('slow', 0, ['late']);
      await eventually(
        async () =>
          (await c.request('DescribeTransactions', 0, { transactionalIds: ['tx-slow'] })).transactionStates[0]!
            .transactionState === 'CompleteAbort',
        30_000,
        'timed-out transaction aborted',
      );
      const r = await fetchFrom(c, 'slow', 0, READ_COMMITTED);
      assert.equal(r.lastStableOffset, r.highWatermark);
      assert.deepEqual(deliveredValues(r), []);
      assert.deepEqual(
        markersOf(r).map((m) => m[1]),
        ['ABORT'],
      );
      assertCode((await p.send('slow', 0, ['later'])).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
      assertCode(await p.end(true), ErrorCode.PRODUCER_FENCED);
    },
  );
});

test('ListTransactions filters by state, producer id and duration; idle transactional ids expire durably', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'brook-txn-'));
  try {
    await withBroker({ dataDir: dir }, async (_b, c) => {
      await createTopic(c, 'l');
      const a = new RawTxnProducer(c, 'tx-a');
      const b2 = new RawTxnProducer(c, 'tx-b');
      await a.init();
      await b2.init();
      await b2.addPartitions([['l', 0]]);
      const list = async (states: string[], pids: number[] = [], duration = -1, version = 1) =>
        await c.request('ListTransactions', version, {
          stateFilters: states,
          producerIdFilters: pids,
          durationFilter: version >= 1 ? duration : -1,
        });
      const ids = (r: Awaited<ReturnType<typeof list>>) =>
        r.transactionStates.map((t) => `${t.transactionalId}:${t.transactionState}`).sort();
      assert.deepEqual(ids(await list([])), ['tx-a:Empty', 'tx-b:Ongoing']);
      assert.deepEqual(ids(await list(['Ongoing'])), ['tx-b:Ongoing']);
      assert.deepEqual(ids(await list([], [a.producerId])), ['tx-a:Empty']);
      const unknown = await list(['Ongoing', 'Sleeping']);
      assert.deepEqual(unknown.unknownStateFilters, ['Sleeping']);
      assert.deepEqual(ids(await list(['Ongoing'], [], 60_000)), [], 'not running for a minute yet');
      assert.deepEqual(ids(await list(['Ongoing'], [], 60_000, 0)), ['tx-b:Ongoing'], 'v0 has no duration filter');
      await new Promise((r) => setTimeout(r, 30));
      assert.deepEqual(ids(await list(['Ongoing'], [], 20)), ['tx-b:Ongoing'], 'running for more than 20 ms');
      const d = (await c.request('DescribeTransactions', 0, { transactionalIds: ['tx-b'] })).transactionStates[0]!;
      assert.deepEqual(d.topics, [{ topic: 'l', partitions: [0] }]);
      assert.equal(d.transactionTimeoutMs, 60_000);
      assert.ok(d.transactionStartTimeMs > 0);
      assertCode(await b2.end(false), ErrorCode.NONE);
    });
    await withBroker(
      {
        dataDir: dir,
        config: {
          'transactional.id.expiration.ms': '1',
          'transaction.remove.expired.transaction.cleanup.interval.ms': '50',
        },
      },
      async (_b, c) => {
        await eventually(
          async () =>
            (await c.request('ListTransactions', 1, { stateFilters: [], producerIdFilters: [], durationFilter: -1 }))
              .transactionStates.length === 0,
          30_000,
          'ids expired',
        );
      },
    );
    await withBroker({ dataDir: dir }, async (_b, c) => {
      const d = await c.request('DescribeTransactions', 0, { transactionalIds: ['tx-a', 'tx-b'] });
      assert.deepEqual(
        d.transactionStates.map((s) => s.errorCode),
        [ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND],
        'expiry is durable',
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a broker killed between the commit decision and the last marker completes the commit on restart; readers never see half of it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'brook-txn-'));
  try {
    let pid = -1;
    await withBroker({ dataDir: dir }, async (b, c) => {
      await createTopic(c, 'half', 2);
      await groupsReady(b);
      const p = new RawTxnProducer(c, 'tx-half');
      await p.init();
      pid = p.producerId;
      await p.addPartitions([
        ['half', 0],
        ['half', 1],
      ]);
      await p.addOffsets('half-group');
      await p.send('half', 0, ['h0']);
      await p.send('half', 1, ['h1']);
      assert.deepEqual(await p.commitOffsets('half-group', [['half', 0, 1]]), [0]);
      // The marker for half-1 (and __consumer_offsets) never gets written: the broker dies first.
      const markers = (
        b.broker.transactions.coordinator as unknown as {
          deps: { markers: { writeMarker: (t: string, p: number, m: unknown) => Promise<void> } };
        }
      ).deps.markers;
      const real = markers.writeMarker.bind(markers);
      markers.writeMarker = (t, part, m) => (t === 'half' && part === 0 ? real(t, part, m) : new Promise(() => {}));
      void b.broker.transactions.coordinator.endTxn('tx-half', p.producerId, p.epoch, true);
      await eventually(
        () => b.broker.transactions.coordinator.metadata('tx-half')!.state === 2 /* PrepareCommit */,
        30_000,
        'commit decided',
      );
      await eventually(
        async () => markersOf(await fetchFrom(c, 'half', 0, READ_UNCOMMITTED)).length === 1,
        30_000,
        'first marker written',
      );
      assert.deepEqual(deliveredValues(await fetchFrom(c, 'half', 0, READ_COMMITTED)), ['h0']);
      const pinned = await fetchFrom(c, 'half', 1, READ_COMMITTED);
      assert.equal(pinned.lastStableOffset, 0, 'the partition without its marker stays unstable');
      assert.deepEqual(await committedOffset(c, 'half-group', 'half', 0), { offset: -1, errorCode: 0 });
      await crash(b);
    });
    await withBroker({ dataDir: dir }, async (b, c) => {
      await eventually(
        () => b.broker.transactions.coordinator.metadata('tx-half')?.state === 4 /* CompleteCommit */,
        30_000,
        'commit completed after restart',
      );
      assert.deepEqual(deliveredValues(await fetchFrom(c, 'half', 0, READ_COMMITTED)), ['h0']);
      assert.deepEqual(deliveredValues(await fetchFrom(c, 'half', 1, READ_COMMITTED)), ['h1']);
      await groupsReady(b);
      await eventually(
        async () => (await committedOffset(c, 'half-group', 'half', 0, true)).offset === 1,
        30_000,
        'transactional offset committed',
      );
      // The marker on half-0 was written twice (before and after the crash); consumers skip both.
      assert.deepEqual(
        markersOf(await fetchFrom(c, 'half', 0, READ_UNCOMMITTED)).map((m) => [m[1], m[2]]),
        [
          ['COMMIT', pid],
          ['COMMIT', pid],
        ],
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a transaction left open by a crash is aborted by its timeout after the restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'brook-txn-'));
  try {
    await withBroker({ dataDir: dir }, async (b, c) => {
      await createTopic(c, 'open');
      const p = new RawTxnProducer(c, 'tx-open', 500);
      await p.init();
      await p.addPartitions([['open', 0]]);
      await p.send('open', 0, ['o1']);
      await produceBatch(c, 'open', 0, producerBatch(['plain'], { pid: -1, epoch: -1, seq: -1 }));
      await crash(b);
    });
    await withBroker(
      { dataDir: dir, config: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '50' } },
      async (_b, c) => {
        const before = await fetchFrom(c, 'open', 0, READ_COMMITTED);
        assert.equal(before.lastStableOffset, 0, 'the open transaction is still pinning the LSO after recovery');
        await eventually(
          async () => (await fetchFrom(c, 'open', 0, READ_COMMITTED)).lastStableOffset === 3,
          30_000,
          'aborted by timeout',
        );
        assert.deepEqual(deliveredValues(await fetchFrom(c, 'open', 0, READ_COMMITTED)), ['plain']);
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('at start-up a transaction no coordinator owns is aborted so the last stable offset can move again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'brook-txn-'));
  try {
    await withBroker(
      { dataDir: dir, config: { 'transaction.partition.verification.enable': 'false' } },
      async (_b, c) => {
        await createTopic(c, 'hang', 2);
        const p = new RawTxnProducer(c, 'tx-hang');
        await p.init();
        await p.addPartitions([['hang', 0]]);
        await p.send('hang', 0, ['in-txn']);
        // Without verification a write to a partition never added slips in: no marker will ever reach it.
        assertCode((await p.send('hang', 1, ['hanging'])).errorCode, ErrorCode.NONE);
        assertCode(await p.end(true), ErrorCode.NONE);
        assert.equal((await fetchFrom(c, 'hang', 1, READ_COMMITTED)).lastStableOffset, 0, 'hanging');
      },
    );
    await withBroker({ dataDir: dir }, async (_b, c) => {
      const r = await fetchFrom(c, 'hang', 1, READ_COMMITTED);
      assert.equal(r.lastStableOffset, r.highWatermark);
      assert.deepEqual(
        markersOf(r).map((m) => m[1]),
        ['ABORT'],
      );
      assert.deepEqual(deliveredValues(r), []);
      assert.deepEqual(deliveredValues(await fetchFrom(c, 'hang', 0, READ_COMMITTED)), ['in-txn']);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
