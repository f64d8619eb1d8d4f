import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesDeserializer,
  bytesSerializer,
  jsonDeserializer,
  jsonSerializer,
  stringDeserializer,
  stringSerializer,
} from '../../src/client/serializers.js';
import { toRecordHeaders } from '../../src/client/headers.js';

test('JSON values round-trip and null stays a tombstone', () => {
  const order = { id: 7, items: ['book', 'pen'], total: 12.5, note: 'façade ✓' };
  const bytes = jsonSerializer(order, 'orders');
  assert.ok(Buffer.isBuffer(bytes));
  assert.equal(bytes!.toString('utf8'), JSON.stringify(order));
  assert.deepEqual(jsonDeserializer(bytes, 'orders'), order);
  assert.equal(jsonSerializer(null, 'orders'), null);
  assert.equal(jsonSerializer(undefined, 'orders'), null);
  assert.equal(jsonDeserializer(null, 'orders'), null);
  assert.throws(() => jsonDeserializer(Buffer.from('{not json'), 'orders'), SyntaxError);
});

test('strings are UTF-8; bytes pass through without a copy', () => {
  assert.deepEqual(stringSerializer('héllo', 't'), Buffer.from([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]));
  assert.equal(stringDeserializer(Buffer.from('héllo'), 't'), 'héllo');
  const b = Buffer.from([0, 255, 1]);
  assert.equal(bytesSerializer(b, 't'), b, 'same buffer, no copy');
  assert.deepEqual(bytesSerializer(new Uint8Array([9, 8]), 't'), Buffer.from([9, 8]));
  assert.deepEqual(bytesSerializer('x', 't'), Buffer.from('x'));
  assert.equal(bytesSerializer(null, 't'), null);
  assert.equal(bytesDeserializer(b, 't'), b);
});

test('headers keep order and duplicates from a list, and expand arrays from an object', () => {
  assert.deepEqual(
    toRecordHeaders([
      ['dup', '1'],
      ['a', null],
      ['dup', Buffer.from([2])],
    ]),
    [
      { key: 'dup', value: Buffer.from('1') },
      { key: 'a', value: null },
      { key: 'dup', value: Buffer.from([2]) },
    ],
  );
  assert.deepEqual(toRecordHeaders({ trace: 'abc', dup: ['1', '2'], empty: '' }), [
    { key: 'trace', value: Buffer.from('abc') },
    { key: 'dup', value: Buffer.from('1') },
    { key: 'dup', value: Buffer.from('2') },
    { key: 'empty', value: Buffer.alloc(0) },
  ]);
  assert.equal(toRecordHeaders(undefined), undefined);
});
