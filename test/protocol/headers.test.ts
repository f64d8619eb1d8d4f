import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { DecodeError } from '../../src/protocol/decode-error.js';
import {
  readRequestHeader,
  writeRequestHeader,
  readResponseHeader,
  writeResponseHeader,
  requestHeaderVersion,
  type RequestHeader,
} from '../../src/protocol/headers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function encodeHeader(h: RequestHeader, version: number): Buffer {
  const w = new Writer();
  writeRequestHeader(w, h, version);
  return w.toBuffer();
}

test('the request header version follows the API key and version found in the frame', () => {
  const cases: [number, number, number][] = [
    [0, 8, 1], // Produce v8: classic
    [0, 9, 2], // Produce v9: flexible
    [18, 3, 2], // ApiVersions v3
    [7, 0, 0], // ControlledShutdown v0: no client id
  ];
  for (const [key, version, expected] of cases) {
    assert.equal(requestHeaderVersion(key, version), expected);
    const h: RequestHeader = {
      requestApiKey: key,
      requestApiVersion: version,
      correlationId: 99,
      clientId: expected === 0 ? '' : 'app',
    };
    const frame = Buffer.concat([encodeHeader(h, expected), hex('abcdef')]);
    const r = new Reader(frame);
    assert.deepEqual(readRequestHeader(r), h);
    // The body starts right after the header, whatever its version.
    assert.deepEqual(r.raw(r.remaining()), hex('abcdef'));
  }
});

test('unknown API keys and versions are read as header v1, so the broker can still answer or close', () => {
  // Key 1000 does not exist.
  let r = new Reader(hex('03e8 0000 00000005 0002 6964 0102'));
  assert.deepEqual(readRequestHeader(r), {
    requestApiKey: 1000,
    requestApiVersion: 0,
    correlationId: 5,
    clientId: 'id',
  });
  assert.equal(r.remaining(), 2);
  // ApiVersions v9 from a newer client (its header is v2; the trailing tagged byte stays unread).
  r = new Reader(hex('0012 0009 0000000b 0003 6b61 66 00'));
  const h = readRequestHeader(r);
  assert.equal(h.correlationId, 11);
  assert.equal(h.clientId, 'kaf');
  // Negative keys too.
  r = new Reader(hex('ffff 0000 00000001 ffff'));
  assert.equal(readRequestHeader(r).requestApiKey, -1);
});

test('header v2 keeps its client id as a classic string and carries tagged fields', () => {
  const h: RequestHeader = {
    requestApiKey: 3,
    requestApiVersion: 12,
    correlationId: 7,
    clientId: null,
    unknownTaggedFields: [{ tag: 0, data: hex('aa') }],
  };
  const bytes = encodeHeader(h, 2);
  assert.deepEqual(bytes, hex('0003 000c 00000007 ffff 01 00 01 aa'));
  assert.deepEqual(readRequestHeader(new Reader(bytes)), h);
});

test('truncated headers fail with DecodeError', () => {
  const full = encodeHeader({ requestApiKey: 0, requestApiVersion: 9, correlationId: 1, clientId: 'producer-1' }, 2);
  for (let n = 0; n < full.length; n++) {
    assert.throws(() => readRequestHeader(new Reader(full.subarray(0, n))), DecodeError, `length ${n}`);
  }
});

test('response headers: v0 is the correlation id, v1 adds an empty tagged section', () => {
  const w = new Writer();
  writeResponseHeader(w, 0x01020304, 0);
  writeResponseHeader(w, -2, 1);
  const bytes = w.toBuffer();
  assert.deepEqual(bytes, hex('01020304 fffffffe 00'));
  const r = new Reader(bytes);
  assert.deepEqual(readResponseHeader(r, 0), { correlationId: 0x01020304 });
  assert.deepEqual(readResponseHeader(r, 1), { correlationId: -2 });
  assert.equal(r.remaining(), 0);
  // Tagged fields a newer broker might add to the v1 header are kept.
  assert.deepEqual(readResponseHeader(new Reader(hex('00000001 01 05 00')), 1), {
    correlationId: 1,
    unknownTaggedFields: [{ tag: 5, data: Buffer.alloc(0) }],
  });
});
