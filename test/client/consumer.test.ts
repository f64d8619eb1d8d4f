import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer } from '../../src/client/consumer.js';
import { KafkaError } from '../../src/client/errors.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { ControlRecordType, encodeControlBatch } from '../../src/protocol/records/control.js';
import { FakeBroker } from './helpers/fake-broker.js';

const rec = (v: string, timestamp = 1000) => ({ key: null, value: Buffer.from(v), timestamp });

/** A partition log with committed, aborted and plain data plus the markers, as a broker returns it. */
function transactionalLog(): Buffer {
  return Buffer.concat([
    encodeRecordBatch({ baseOffset: 0, records: [rec('a'), rec('b')] }),
    encodeRecordBatch({
      baseOffset: 2,
      transactional: true,
      producerId: 10,
      producerEpoch: 0,
      baseSequence: 0,
      records: [rec('aborted-1'), rec('aborted-2')],
    }),
    encodeRecordBatch({
      baseOffset: 4,
      transactional: true,
      producerId: 11,
      producerEpoch: 0,
      baseSequence: 0,
      records: [rec('committed')],
    }),
    encodeControlBatch({
      baseOffset: 5,
      producerId: 10,
      producerEpoch: 0,
      type: ControlRecordType.ABORT,
      coordinatorEpoch: 1,
      timestamp: 1000,
    }),
    encodeControlBatch({
      baseOffset: 6,
      producerId: 11,
      producerEpoch: 0,
      type: ControlRecordType.COMMIT,
      coordinatorEpoch: 1,
      timestamp: 1000,
    }),
    encodeRecordBatch({ baseOffset: 7, records: [rec('c')] }),
  ]);
}

function fetchBroker(
  b: FakeBroker,
  log: Buffer,
  opts: { highWatermark: number; aborted?: { producerId: number; firstOffset: number }[]; outOfRangeBelow?: number },
) {
  b.handlers.Metadata = b.metadata({ t: 1 });
  b.handlers.ListOffsets = (req) => ({
    topics: req.body.topics.map((t: { name: string; partitions: { partitionIndex: number; timestamp: number }[] }) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: 0,
        timestamp: -1,
        offset: p.timestamp === -2 ? (opts.outOfRangeBelow ?? 0) : opts.highWatermark,
      })),
    })),
  });
  b.handlers.Fetch = async (req) => {
    const p = req.body.topics[0].partitions[0];
    if (opts.outOfRangeBelow !== undefined && p.fetchOffset < opts.outOfRangeBelow) {
      return {
        responses: [
          { topic: 't', partitions: [{ partitionIndex: 0, errorCode: 1, highWatermark: -1, records: null }] },
        ],
      };
    }
    // Kafka returns whole batches from the one holding the fetch offset; a real fetch may also end
    // with a batch cut short by the size limit.
    let records: Buffer | null = null;
    if (p.fetchOffset < opts.highWatermark) {
      let pos = 0;
      while (pos < log.length) {
        const size = log.readInt32BE(pos + 8) + 12;
        const last = Number(log.readBigInt64BE(pos)) + log.readInt32BE(pos + 23);
        if (last >= p.fetchOffset) break;
        pos += size;
      }
      const cut = encodeRecordBatch({ baseOffset: opts.highWatermark, records: [rec('beyond the size limit')] });
      records = Buffer.concat([log.subarray(pos), cut.subarray(0, 30)]);
    } else await new Promise((r) => setTimeout(r, 20));
    return {
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: opts.highWatermark,
              lastStableOffset: opts.highWatermark,
              logStartOffset: 0,
              abortedTransactions: opts.aborted ?? [],
              records,
            },
          ],
        },
      ],
    };
  };
}

async function readAll(c: Consumer, n: number, timeoutMs = 3000): Promise<{ offset: number; value: string }[]> {
  const out: { offset: number; value: string }[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < deadline)
    for (const r of await c.poll(100)) out.push({ offset: r.offset, value: r.value!.toString() });
  return out;
}

test('read_committed drops aborted transactions and control records; read_uncommitted keeps aborted data', async () => {
  const b = await new FakeBroker().start();
  fetchBroker(b, transactionalLog(), { highWatermark: 8, aborted: [{ producerId: 10, firstOffset: 2 }] });
  const committed = new Consumer({ bootstrap: b.bootstrap, isolationLevel: 'read_committed' });
  const uncommitted = new Consumer({ bootstrap: b.bootstrap });
  try {
    committed.assign([{ topic: 't', partition: 0 }]);
    committed.seek({ topic: 't', partition: 0, offset: 0 });
    assert.deepEqual(await readAll(committed, 4), [
      { offset: 0, value: 'a' },
      { offset: 1, value: 'b' },
      { offset: 4, value: 'committed' },
      { offset: 7, value: 'c' },
    ]);
    assert.equal(await committed.position({ topic: 't', partition: 0 }), 8, 'position moves past the markers');
    assert.equal(b.of('Fetch')[0]!.body.isolationLevel, 1);

    uncommitted.assign([{ topic: 't', partition: 0 }]);
    uncommitted.seek({ topic: 't', partition: 0, offset: 0 });
    assert.deepEqual(
      (await readAll(uncommitted, 6)).map((r) => r.value),
      ['a', 'b', 'aborted-1', 'aborted-2', 'committed', 'c'],
    );
  } finally {
    await committed.close();
    await uncommitted.close();
    await b.close();
  }
});

test('a fetch starting inside a batch skips the records before the fetch offset', async () => {
  const b = await new FakeBroker().start();
  fetchBroker(b, transactionalLog(), { highWatermark: 8 });
  const c = new Consumer({ bootstrap: b.bootstrap });
  try {
    c.assign([{ topic: 't', partition: 0 }]);
    c.seek({ topic: 't', partition: 0, offset: 3 });
    assert.deepEqual(
      (await readAll(c, 3)).map((r) => r.offset),
      [3, 4, 7],
    );
    assert.equal(c.lag({ topic: 't', partition: 0 }), 0);
  } finally {
    await c.close();
    await b.close();
  }
});

test('an out-of-range offset resets to auto.offset.reset, or fails with "none"', async () => {
  const b = await new FakeBroker().start();
  fetchBroker(b, transactionalLog().subarray(0), { highWatermark: 8, outOfRangeBelow: 7 });
  const earliest = new Consumer({ bootstrap: b.bootstrap, autoOffsetReset: 'earliest' });
  const none = new Consumer({ bootstrap: b.bootstrap, autoOffsetReset: 'none' });
  try {
    earliest.assign([{ topic: 't', partition: 0 }]);
    earliest.seek({ topic: 't', partition: 0, offset: 2 });
    assert.deepEqual(
      (await readAll(earliest, 1)).map((r) => r.offset),
      [7],
      'reset to the log start (7 here)',
    );
    none.assign([{ topic: 't', partition: 0 }]);
    none.seek({ topic: 't', partition: 0, offset: 2 });
    await assert.rejects(readAll(none, 1), (err: unknown) => err instanceof KafkaError && err.code === 1);
  } finally {
    await earliest.close();
    await none.close();
    await b.close();
  }
});

test('paused partitions return nothing until resumed; the iterator yields records one by one', async () => {
  const b = await new FakeBroker().start();
  fetchBroker(b, transactionalLog(), { highWatermark: 8 });
  const c = new Consumer({ bootstrap: b.bootstrap });
  const tp = { topic: 't', partition: 0 };
  try {
    c.assign([tp]);
    c.seek({ ...tp, offset: 0 });
    c.pause([tp]);
    assert.deepEqual(c.paused(), [tp]);
    assert.deepEqual(await c.poll(300), []);
    c.resume([tp]);
    const seen: number[] = [];
    for await (const r of c) {
      seen.push(r.offset);
      if (r.offset === 4) break;
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    // What the loop did not reach is still there for the next read.
    assert.deepEqual(
      (await c.poll(500)).map((r) => r.offset),
      [7],
    );
  } finally {
    await c.close();
    await b.close();
  }
});
