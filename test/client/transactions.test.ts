import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Producer } from '../../src/client/producer.js';
import { KafkaError } from '../../src/client/errors.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import { FakeBroker, type ReceivedRequest } from './helpers/fake-broker.js';

// The broker side of transactions is not in Brook yet; these tests pin the client's half of the
// protocol: which requests go where, in which order, with which fields.

function txnBroker(b: FakeBroker, opts: { endTxnErrors?: number[]; produceError?: number } = {}) {
  const endTxnErrors = [...(opts.endTxnErrors ?? [])];
  b.handlers.Metadata = b.metadata({ out: 2, in: 1 });
  b.handlers.FindCoordinator = (req) => {
    const keys: string[] = req.version >= 4 ? req.body.coordinatorKeys : [req.body.key];
    if (req.version >= 4)
      return { coordinators: keys.map((key) => ({ key, nodeId: 1, host: b.host, port: b.port, errorCode: 0 })) };
    return { errorCode: 0, nodeId: 1, host: b.host, port: b.port };
  };
  b.handlers.InitProducerId = () => ({ errorCode: 0, producerId: 77, producerEpoch: 5 });
  b.handlers.AddPartitionsToTxn = (req) => ({
    resultsByTopicV3AndBelow: req.body.v3AndBelowTopics.map((t: { name: string; partitions: number[] }) => ({
      name: t.name,
      resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: 0 })),
    })),
  });
  let offset = 0;
  b.handlers.Produce = (req) => ({
    responses: req.body.topicData.map((t: { name: string; partitionData: { index: number; records: Buffer }[] }) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => ({
        index: p.index,
        errorCode: opts.produceError ?? 0,
        baseOffset: opts.produceError
          ? -1
          : (offset += decodeRecordBatches(p.records)[0]!.recordsCount) -
            decodeRecordBatches(p.records)[0]!.recordsCount,
      })),
    })),
  });
  b.handlers.AddOffsetsToTxn = () => ({ errorCode: 0 });
  b.handlers.TxnOffsetCommit = (req) => ({
    topics: req.body.topics.map((t: { name: string; partitions: { partitionIndex: number }[] }) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 0 })),
    })),
  });
  b.handlers.EndTxn = () => ({ errorCode: endTxnErrors.shift() ?? 0 });
}

const sequence = (b: FakeBroker) => b.requests.map((r) => r.api).filter((a) => a !== 'ApiVersions' && a !== 'Metadata');

test('a committed transaction: coordinator lookup, producer id, partitions added before produce, offsets, EndTxn', async () => {
  const b = await new FakeBroker().start();
  txnBroker(b);
  const p = new Producer({
    bootstrap: b.bootstrap,
    transactionalId: 'payments-tx',
    lingerMs: 5,
    transactionTimeoutMs: 15_000,
  });
  try {
    await p.beginTransaction();
    await Promise.all([
      p.send({ topic: 'out', partition: 0, value: 'a' }),
      p.send({ topic: 'out', partition: 1, value: 'b' }),
    ]);
    await p.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 5, metadata: 'processed' }], {
      groupId: 'payment-processors',
      generationId: 3,
      memberId: 'member-1',
      groupInstanceId: null,
    });
    await p.commitTransaction();

    const find = b.of('FindCoordinator');
    const keyOf = (r: ReceivedRequest) => (r.version >= 4 ? r.body.coordinatorKeys[0] : r.body.key);
    assert.deepEqual(
      find.map((r) => [r.body.keyType, keyOf(r)]),
      [
        [1, 'payments-tx'],
        [0, 'payment-processors'],
      ],
    );
    const init = b.of('InitProducerId')[0]!.body;
    assert.deepEqual([init.transactionalId, init.transactionTimeoutMs], ['payments-tx', 15_000]);

    const add = b.of('AddPartitionsToTxn');
    assert.equal(add.length, 1, 'both partitions join in one request');
    assert.deepEqual(
      [add[0]!.body.v3AndBelowTransactionalId, add[0]!.body.v3AndBelowProducerId, add[0]!.body.v3AndBelowProducerEpoch],
      ['payments-tx', 77, 5],
    );
    assert.deepEqual(add[0]!.body.v3AndBelowTopics, [{ name: 'out', partitions: [0, 1] }]);
    assert.ok(add[0]!.version <= 3, 'clients use the v0-3 form');

    const produce = b.of('Produce');
    assert.ok(
      b.requests.indexOf(add[0]!) < b.requests.indexOf(produce[0]!),
      'AddPartitionsToTxn precedes the first Produce',
    );
    for (const r of produce) {
      assert.equal(r.body.transactionalId, 'payments-tx');
      for (const pd of r.body.topicData[0].partitionData) {
        const [batch] = decodeRecordBatches(pd.records);
        assert.ok(batch!.isTransactional, 'transactional batch attribute');
        assert.deepEqual([batch!.producerId, batch!.producerEpoch], [77, 5]);
      }
    }

    assert.equal(b.of('AddOffsetsToTxn')[0]!.body.groupId, 'payment-processors');
    const toc = b.of('TxnOffsetCommit')[0]!;
    assert.deepEqual(
      [toc.body.groupId, toc.body.generationId, toc.body.memberId],
      ['payment-processors', 3, 'member-1'],
    );
    assert.deepEqual(toc.body.topics[0].partitions[0].committedOffset, 5);
    assert.deepEqual(toc.body.topics[0].partitions[0].committedMetadata, 'processed');

    const end = b.of('EndTxn');
    assert.equal(end.length, 1);
    assert.deepEqual(
      [end[0]!.body.transactionalId, end[0]!.body.producerId, end[0]!.body.producerEpoch, end[0]!.body.committed],
      ['payments-tx', 77, 5, true],
    );
    assert.deepEqual(
      sequence(b).slice(-4),
      ['AddOffsetsToTxn', 'FindCoordinator', 'TxnOffsetCommit', 'EndTxn'],
      'offsets join the transaction, then go to the group coordinator',
    );
  } finally {
    await p.close();
    await b.close();
  }
});

test('an aborted transaction ends with EndTxn(committed=false); the next transaction adds its partitions again', async () => {
  const b = await new FakeBroker().start();
  txnBroker(b);
  const p = new Producer({ bootstrap: b.bootstrap, transactionalId: 'tx-2', lingerMs: 0 });
  try {
    await p.transaction(async (tx) => {
      await tx.send({ topic: 'out', partition: 0, value: 'first' });
    });
    await assert.rejects(
      p.transaction(async (tx) => {
        await tx.send({ topic: 'out', partition: 0, value: 'second' });
        throw new Error('payment declined');
      }),
      /payment declined/,
    );
    assert.deepEqual(
      b.of('EndTxn').map((r) => r.body.committed),
      [true, false],
    );
    assert.equal(b.of('AddPartitionsToTxn').length, 2, 'partitions are added once per transaction');
    assert.equal(b.of('InitProducerId').length, 1);
  } finally {
    await p.close();
    await b.close();
  }
});

test('a transaction that touched nothing ends locally; CONCURRENT_TRANSACTIONS on EndTxn is retried', async () => {
  const b = await new FakeBroker().start();
  txnBroker(b, { endTxnErrors: [51, 51] });
  const p = new Producer({ bootstrap: b.bootstrap, transactionalId: 'tx-3', lingerMs: 0, retryBackoffMs: 10 });
  try {
    await p.beginTransaction();
    await p.commitTransaction();
    assert.equal(b.of('EndTxn').length, 0, 'nothing to commit on the broker');
    await p.beginTransaction();
    await p.send({ topic: 'out', value: 'x' });
    await p.commitTransaction();
    assert.deepEqual(b.of('EndTxn').length, 3, 'two busy answers, then success');
  } finally {
    await p.close();
    await b.close();
  }
});

test('sending outside a transaction is refused; a fenced producer stays failed', async () => {
  const b = await new FakeBroker().start();
  txnBroker(b, { produceError: 90 });
  const p = new Producer({ bootstrap: b.bootstrap, transactionalId: 'tx-4', lingerMs: 0 });
  try {
    await assert.rejects(
      p.send({ topic: 'out', value: 'x' }),
      (err: unknown) => err instanceof KafkaError && err.code === 48 && /beginTransaction/.test(err.message),
    );
    await p.beginTransaction();
    await assert.rejects(
      p.send({ topic: 'out', value: 'x' }),
      (err: unknown) => err instanceof KafkaError && err.code === 90,
    );
    await assert.rejects(
      p.beginTransaction().then(() => p.send({ topic: 'out', value: 'y' })),
      (err: unknown) => err instanceof KafkaError && err.code === 90,
    );
  } finally {
    await p.close().catch(() => undefined);
    await b.close();
  }
});
