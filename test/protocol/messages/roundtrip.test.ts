import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../../src/protocol/reader.js';
import { Writer } from '../../../src/protocol/writer.js';
import { MESSAGE_SCHEMAS, Rng, codecOf, sampleMessage, versionsOf } from './sample.js';

const SAMPLES_PER_VERSION = 6;

function encode(write: (w: Writer, v: number, m: unknown) => void, version: number, m: unknown): Buffer {
  const w = new Writer(64);
  write(w, version, m);
  return w.toBuffer();
}

test('the generator covers every definition: 88 request/response pairs, 2 headers, 8 data types', () => {
  const kinds = new Map<string, number>();
  for (const s of MESSAGE_SCHEMAS) kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(kinds), { request: 88, response: 88, header: 2, data: 8 });
});

for (const schema of MESSAGE_SCHEMAS) {
  test(`${schema.name}: encode, decode and re-encode at every version ${schema.validVersions.join('-')}`, () => {
    const { read, write } = codecOf(schema);
    for (const version of versionsOf(schema)) {
      for (let i = 0; i < SAMPLES_PER_VERSION; i++) {
        const seed = (schema.name.length * 7919 + version * 104729 + i * 15485863) >>> 0;
        const sample = sampleMessage(new Rng(seed), schema, version);
        const what = `${schema.name} v${version} seed ${seed}`;
        const bytes = encode(write, version, sample);
        const r = new Reader(bytes);
        const decoded = read(r, version);
        assert.equal(r.pos, bytes.length, `${what}: decoder stopped at ${r.pos} of ${bytes.length}`);
        assert.deepStrictEqual(decoded, sample, what);
        const again = encode(write, version, decoded);
        assert.ok(again.equals(bytes), `${what}: re-encoding changed the bytes`);
      }
    }
  });
}
