// Decoders face bytes from the network. Whatever arrives, a decoder either returns a message or
// throws DecodeError (never RangeError, TypeError, ...), and a frame that lies about a length or
// count is refused before anything is sized by the lie. All randomness is seeded, so a failure
// prints the seed and iteration needed to reproduce it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { DecodeError } from '../../src/protocol/decode-error.js';
import { readRequestHeader } from '../../src/protocol/headers.js';
import { MESSAGE_SCHEMAS, Rng, codecOf, sampleMessage, versionsOf, type ReadFn } from './messages/sample.js';
import {
  readMetadataRequest,
  readProduceRequest,
  readApiVersionsResponse,
  readFetchResponse,
  readJoinGroupRequest,
} from '../../src/protocol/messages/index.js';

interface Frame {
  what: string;
  read: ReadFn;
  version: number;
  bytes: Buffer;
}

/** One valid frame per message per version. */
function buildFrames(seed: number): Frame[] {
  const frames: Frame[] = [];
  for (const schema of MESSAGE_SCHEMAS) {
    const { read, write } = codecOf(schema);
    for (const version of versionsOf(schema)) {
      const rng = new Rng(seed ^ (schema.name.length * 31 + version * 977 + frames.length * 7));
      const w = new Writer(64);
      write(w, version, sampleMessage(rng, schema, version));
      frames.push({ what: `${schema.name} v${version}`, read, version, bytes: w.toBuffer() });
    }
  }
  return frames;
}

const FRAMES = buildFrames(0x5eed);

/** Decodes; returns the message, or null after a DecodeError. Anything else is a failure. */
function decodeOrDecodeError(f: Frame, bytes: Buffer, context: string): unknown {
  try {
    return f.read(new Reader(bytes), f.version);
  } catch (e) {
    if (e instanceof DecodeError) return null;
    assert.fail(
      `${f.what}, ${context}: threw ${(e as Error)?.name}: ${(e as Error)?.message}\nframe ${bytes.toString('hex')}`,
    );
  }
}

function getGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test('every frame decodes back from its own bytes (the corpus the fuzzing starts from)', () => {
  assert.ok(FRAMES.length > 600, `${FRAMES.length} frames`);
  for (const f of FRAMES) {
    const r = new Reader(f.bytes);
    f.read(r, f.version);
    assert.equal(r.remaining(), 0, f.what);
  }
});

test('truncation at every length throws DecodeError', () => {
  let checked = 0;
  for (const f of FRAMES) {
    const limit = Math.min(f.bytes.length, 4096);
    for (let n = 0; n < limit; n++) {
      const cut = f.bytes.subarray(0, n);
      try {
        f.read(new Reader(cut), f.version);
      } catch (e) {
        if (e instanceof DecodeError) {
          checked++;
          continue;
        }
        assert.fail(`${f.what} cut at ${n}: threw ${(e as Error).name}: ${(e as Error).message}`);
      }
      // A complete decode reads every byte, so any shorter frame must come up short.
      assert.fail(`${f.what} cut at ${n} of ${f.bytes.length} decoded without error`);
    }
  }
  assert.ok(checked > 50_000, `${checked} truncations`);
});

test('random byte mutations decode or throw DecodeError, nothing else (seeded)', () => {
  const SEED = 20240611;
  const ITERATIONS = 30_000;
  const rng = new Rng(SEED);
  const special = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const f = rng.pick(FRAMES);
    if (f.bytes.length === 0) continue;
    const bytes = Buffer.from(f.bytes);
    const edits = rng.int(1, 4);
    for (let e = 0; e < edits; e++) {
      const at = rng.int(0, bytes.length - 1);
      bytes[at] = rng.chance(0.5) ? rng.pick(special) : rng.int(0, 255);
    }
    const out = decodeOrDecodeError(f, bytes, `seed ${SEED} iteration ${i}`);
    if (out === null) refused++;
    else decoded++;
  }
  // Both outcomes must really occur, or the mutations are not reaching the decoders.
  assert.ok(decoded > 1000 && refused > 1000, `decoded ${decoded}, refused ${refused}`);
});

test('random mutations of whole request frames (header + body) never escape DecodeError (seeded)', () => {
  const SEED = 77;
  const rng = new Rng(SEED);
  const requests = MESSAGE_SCHEMAS.filter((s) => s.kind === 'request');
  for (let i = 0; i < 5000; i++) {
    const schema = rng.pick(requests);
    const versions = versionsOf(schema);
    const version = rng.pick(versions);
    const { write } = codecOf(schema);
    const w = new Writer();
    // Header v1 or v2 as the API version asks, then the body.
    w.int16(schema.apiKey).int16(version).int32(i).string('fuzz');
    if (schema.flexibleVersions !== null && version >= schema.flexibleVersions[0]) w.uint8(0);
    write(w, version, sampleMessage(rng, schema, version));
    const bytes = w.toBuffer();
    for (let e = rng.int(1, 3); e > 0; e--) bytes[rng.int(0, Math.min(bytes.length - 1, 12))] = rng.int(0, 255);
    try {
      const r = new Reader(bytes);
      const h = readRequestHeader(r);
      const api = MESSAGE_SCHEMAS.find((s) => s.kind === 'request' && s.apiKey === h.requestApiKey);
      if (
        api !== undefined &&
        h.requestApiVersion >= api.validVersions[0] &&
        h.requestApiVersion <= api.validVersions[1]
      ) {
        codecOf(api).read(r, h.requestApiVersion);
      }
    } catch (e) {
      if (!(e instanceof DecodeError))
        assert.fail(`seed ${SEED} iteration ${i}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
});

test('lying lengths and counts at every position: DecodeError or a decode bounded by the frame size', () => {
  const gc = getGc();
  const lies = [
    Buffer.from('7fffffff', 'hex'), // int32 count or bytes length
    Buffer.from('7fff', 'hex'), // int16 string length
    Buffer.from('ffffffff0f', 'hex'), // unsigned varint 2^32 - 1
    Buffer.from('80808080', 'hex'), // varint that never ends within 4 bytes
  ];
  const kept: unknown[] = [];
  let keptBytes = 0;
  let refused = 0;
  gc();
  const before = memory();
  for (let i = 0; i < FRAMES.length; i += 5) {
    const f = FRAMES[i]!;
    if (f.bytes.length > 1024) continue;
    for (let at = 0; at < f.bytes.length; at++) {
      for (const lie of lies) {
        // Unpooled, so a kept view accounts for its own frame only.
        const bytes = Buffer.allocUnsafeSlow(f.bytes.length);
        f.bytes.copy(bytes);
        lie.copy(bytes, at);
        const out = decodeOrDecodeError(f, bytes, `lie ${lie.toString('hex')} at ${at}`);
        if (out === null) refused++;
        else {
          kept.push(out);
          keptBytes += bytes.length;
        }
      }
    }
  }
  gc();
  const growth = memory() - before;
  assert.ok(refused > 5_000, `${refused} refused`);
  // Everything decoded is still referenced, so this is all the memory the decodes kept: a small
  // multiple of the bytes they came from (objects, arrays and strings built from them).
  assert.ok(
    growth < 16 * keptBytes + 8 * 1024 * 1024,
    `grew ${growth} bytes for ${kept.length} decodes of ${keptBytes} bytes`,
  );
});

test('crafted lying frames are refused at once, without allocating by the lie', () => {
  const gc = getGc();
  const cases: [string, () => unknown, RegExp][] = [
    // Metadata v0: topic count 2^31 - 1 in a 20-byte frame.
    [
      'array count 2^31-1',
      () => readMetadataRequest(new Reader(Buffer.from('7fffffff' + '00'.repeat(16), 'hex')), 0),
      /claims 2147483647 elements/,
    ],
    // Metadata v0: one topic whose name claims 32767 bytes.
    [
      'string length 32767',
      () => readMetadataRequest(new Reader(Buffer.from('00000001 7fff'.replace(/ /g, '') + '61'.repeat(14), 'hex')), 0),
      /need 32767 bytes/,
    ],
    // Metadata v9: compact topic count 2^32 - 2.
    [
      'compact count 2^32-2',
      () => readMetadataRequest(new Reader(Buffer.from('ffffffff0f' + '00'.repeat(15), 'hex')), 9),
      /elements/,
    ],
    // Produce v3: one partition whose records claim 2^31 - 1 bytes.
    [
      'records length 2^31-1',
      () =>
        readProduceRequest(
          new Reader(
            Buffer.from('ffff 0001 00000000 00000001 0001 74 00000001 00000000 7fffffff 00'.replace(/ /g, ''), 'hex'),
          ),
          3,
        ),
      /need 2147483647 bytes/,
    ],
    // Produce v9: one topic with 10 partitions of at least 6 bytes each, in 12 bytes.
    [
      'struct count beyond the minimum element size',
      () =>
        readProduceRequest(
          new Reader(Buffer.from('00 0001 00000000 02 02 74 0b'.replace(/ /g, '') + '00'.repeat(12), 'hex')),
          9,
        ),
      /cannot fit/,
    ],
    // ApiVersions v3 response: 2^32 - 1 tagged fields announced in a short frame.
    [
      'tagged field count',
      () =>
        readApiVersionsResponse(new Reader(Buffer.from('0000 01 00000000 ffffffff0f 00'.replace(/ /g, ''), 'hex')), 3),
      /truncated varint|need/,
    ],
    // Fetch v12 response: a tagged field claiming 2^31 bytes.
    [
      'tagged field size',
      () =>
        readFetchResponse(
          new Reader(Buffer.from('00000000 0000 00000000 01 01 05 8080808008 00'.replace(/ /g, ''), 'hex')),
          12,
        ),
      /need 2147483648 bytes/,
    ],
    // JoinGroup v5: protocol count 2^31 - 1 with nothing after it.
    [
      'struct array count',
      () =>
        readJoinGroupRequest(
          new Reader(Buffer.from('0001 67 00000000 00000000 0000 ffff 0001 63 7fffffff'.replace(/ /g, ''), 'hex')),
          5,
        ),
      /claims 2147483647/,
    ],
  ];
  for (const [name, decode, message] of cases) {
    gc();
    const before = memory();
    for (let i = 0; i < 200; i++) {
      assert.throws(decode, (e: unknown) => e instanceof DecodeError && message.test(e.message), name);
    }
    const perDecode = (memory() - before) / 200;
    // The only allocation is the DecodeError itself (message and stack), far from the claimed size.
    assert.ok(perDecode < 8 * 1024, `${name}: ${perDecode} bytes per refused decode`);
  }
});
