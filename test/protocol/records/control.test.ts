import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/protocol/decode-error.js';
import {
  ControlRecordType,
  decodeRecordBatch,
  encodeControlBatch,
  encodeControlRecordKey,
  encodeRecordBatch,
  forEachRecord,
  parseControlRecordKey,
  parseEndTxnMarkerValue,
  readControlRecordType,
  readEndTxnMarker,
} from '../../../src/protocol/records/index.js';

const T0 = 1_700_000_000_000;

test('a COMMIT marker batch has the layout the read path expects', () => {
  const buf = encodeControlBatch({
    producerId: 4242,
    producerEpoch: 7,
    type: ControlRecordType.COMMIT,
    coordinatorEpoch: 13,
    baseOffset: 99,
    timestamp: T0,
    partitionLeaderEpoch: 2,
  });
  const b = decodeRecordBatch(buf);
  assert.equal(b.attributes, 0x30, 'transactional + control, uncompressed, CreateTime');
  assert.equal(b.isControl, true);
  assert.equal(b.isTransactional, true);
  assert.deepEqual(
    [
      b.baseOffset,
      b.partitionLeaderEpoch,
      b.producerId,
      b.producerEpoch,
      b.baseSequence,
      b.recordsCount,
      b.lastOffsetDelta,
    ],
    [99, 2, 4242, 7, -1, 1, 0],
  );
  assert.deepEqual([b.baseTimestamp, b.maxTimestamp], [T0, T0]);
  const [r] = b.records;
  assert.equal(r!.offset, 99);
  assert.equal(r!.key!.toString('hex'), '00000001', 'key: version 0, type COMMIT');
  assert.equal(r!.value!.toString('hex'), '00000000000d', 'value: version 0, coordinator epoch 13');
  assert.equal(readControlRecordType(buf), ControlRecordType.COMMIT);
  assert.deepEqual(readEndTxnMarker(buf), { type: 1, coordinatorEpoch: 13, producerId: 4242, producerEpoch: 7 });
});

test('ABORT markers read back as ABORT, also from inside a larger blob', () => {
  const data = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('x'), timestamp: T0 }] });
  const abort = encodeControlBatch({
    producerId: 1,
    producerEpoch: 0,
    type: ControlRecordType.ABORT,
    coordinatorEpoch: 0,
    timestamp: T0,
    baseOffset: 1,
  });
  const blob = Buffer.concat([data, abort]);
  assert.equal(readControlRecordType(blob, data.length), ControlRecordType.ABORT);
  const flags: boolean[] = [];
  forEachRecord(blob, (c) => flags.push(c.isControl));
  assert.deepEqual(flags, [false, true], 'consumers can tell control records apart and skip them');
});

test('non-control batches, short keys and non-marker types are refused', () => {
  const data = encodeRecordBatch({ records: [{ key: Buffer.from('k'), value: null, timestamp: T0 }] });
  assert.throws(() => readControlRecordType(data), DecodeError);
  assert.throws(() => parseControlRecordKey(Buffer.from([0, 0, 1])), DecodeError);
  assert.throws(() => parseControlRecordKey(null), DecodeError);
  assert.throws(() => parseEndTxnMarkerValue(Buffer.from([0, 0, 0])), DecodeError);
  assert.throws(
    () => encodeControlBatch({ producerId: 1, producerEpoch: 0, type: 2, coordinatorEpoch: 0, timestamp: T0 }),
    RangeError,
  );
  // A KRaft control record (type 5) still reports its type, but is not a transaction marker.
  const kraft = encodeRecordBatch({
    control: true,
    records: [{ key: encodeControlRecordKey(ControlRecordType.KRAFT_VERSION), value: Buffer.alloc(4), timestamp: T0 }],
  });
  assert.equal(readControlRecordType(kraft), 5);
  assert.throws(() => readEndTxnMarker(kraft), DecodeError);
  const empty = encodeRecordBatch({ control: true, records: [] });
  assert.throws(() => readControlRecordType(empty), /no record/);
});

test('newer control key versions keep the type field in place', () => {
  const key = Buffer.from([0x00, 0x01, 0x00, 0x00, 0xff]);
  assert.deepEqual(parseControlRecordKey(key), { version: 1, type: ControlRecordType.ABORT });
});
