import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { APIS, API_BY_KEY, requestHeaderVersion, responseHeaderVersion } from '../../src/protocol/apis.js';
import { startBroker } from '../../src/broker/start.js';
import {
  readRequestHeader,
  readResponseHeader,
  writeRequestHeader,
  writeResponseHeader,
} from '../../src/protocol/headers.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import { fixturesDir } from '../helpers/paths.js';
import { WireClient } from '../helpers/wire-client.js';
import { within } from '../helpers/wait.js';

/**
 * Frames recorded from real clients (kcat/librdkafka 2.0.2, kafkajs 2.2.4, kafka-python 2.0.2,
 * @platformatic/kafka 1.35.0) by scripts/capture-frames.mjs, with the broker's answers. Each
 * must decode at the version it carries and re-encode to exactly the same bytes.
 */
const root = join(fixturesDir, 'frames');
const clients = readdirSync(root).sort();

function roundTripRequest(frame: Buffer): { apiKey: number; version: number; body: unknown } {
  const r = new Reader(frame, 4);
  const header = readRequestHeader(r);
  const api = API_BY_KEY[header.requestApiKey];
  assert.ok(api, `api key ${header.requestApiKey} is known`);
  const body = api.readRequest(r, header.requestApiVersion);
  assert.equal(r.remaining(), 0, `${api.name} v${header.requestApiVersion}: every byte read`);
  const w = new Writer();
  w.int32(frame.length - 4);
  writeRequestHeader(w, header, requestHeaderVersion(header.requestApiKey, header.requestApiVersion));
  api.writeRequest(w, header.requestApiVersion, body);
  assert.ok(w.toBuffer().equals(frame), `${api.name} v${header.requestApiVersion} request re-encodes byte for byte`);
  return { apiKey: header.requestApiKey, version: header.requestApiVersion, body };
}

function roundTripResponse(frame: Buffer, apiKey: number, version: number): unknown {
  const api = API_BY_KEY[apiKey]!;
  const hv = responseHeaderVersion(apiKey, version);
  const r = new Reader(frame, 4);
  const header = readResponseHeader(r, hv);
  const body = api.readResponse(r, version);
  assert.equal(r.remaining(), 0, `${api.name} v${version} response: every byte read`);
  const w = new Writer();
  w.int32(frame.length - 4);
  writeResponseHeader(w, header.correlationId, hv);
  api.writeResponse(w, version, body);
  assert.ok(w.toBuffer().equals(frame), `${api.name} v${version} response re-encodes byte for byte`);
  return body;
}

test('fixtures from all four clients are present', () => {
  assert.deepEqual(clients, ['kafka-python', 'kafkajs', 'kcat', 'platformatic']);
});

for (const client of clients) {
  test(`${client}: captured requests and responses decode and re-encode byte-exactly`, () => {
    const dir = join(root, client);
    const seen = new Set<string>();
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith('.req'))
      .sort()) {
      const req = roundTripRequest(readFileSync(join(dir, file)));
      const api = API_BY_KEY[req.apiKey]!;
      seen.add(api.name);
      const resFile = join(dir, file.replace(/\.req$/, '.res'));
      if (existsSync(resFile)) roundTripResponse(readFileSync(resFile), req.apiKey, req.version);
    }
    for (const name of ['ApiVersions', 'Metadata', 'Produce', 'Fetch'])
      assert.ok(seen.has(name), `${client} sent ${name}`);
  });
}

test('compressed produce batches from real clients decode to their records', () => {
  let compressed = 0;
  for (const client of clients) {
    const dir = join(root, client);
    for (const file of readdirSync(dir).filter((f) => /-0-v\d+\.req$/.test(f))) {
      const frame = readFileSync(join(dir, file));
      const r = new Reader(frame, 4);
      const header = readRequestHeader(r);
      if (header.requestApiVersion < 3) continue;
      const body = API_BY_KEY[0]!.readRequest(r, header.requestApiVersion) as {
        topicData: { partitionData: { records: Buffer | null }[] }[];
      };
      for (const t of body.topicData) {
        for (const p of t.partitionData) {
          for (const batch of decodeRecordBatches(p.records!)) {
            assert.ok(batch.records.length > 0, `${client} ${file}: batch has records`);
            if (batch.compression !== 0) compressed++;
          }
        }
      }
    }
  }
  assert.ok(compressed >= 4, `compressed batches from real clients were decoded (${compressed})`);
});

test('the captured ApiVersions exchanges decode with the v0 response header every version uses', () => {
  for (const client of clients) {
    const dir = join(root, client);
    const file = readdirSync(dir).find((f) => /-18-v\d+\.res$/.test(f));
    assert.ok(file, `${client} recorded an ApiVersions exchange`);
    const res = readFileSync(join(dir, file));
    // ApiVersions responses always use header v0: correlation id, then the body's error code.
    const body = roundTripResponse(res, 18, Number(/-v(\d+)\.res$/.exec(file)![1])) as {
      errorCode: number;
      apiKeys: unknown[];
    };
    assert.equal(body.errorCode, 0);
    assert.ok(body.apiKeys.length > 10);
  }
});

test("a running broker answers each client's captured ApiVersions request, byte for byte as sent", async () => {
  const b = await startBroker({ logLevel: 'silent' });
  try {
    for (const client of clients) {
      const dir = join(root, client);
      const file = readdirSync(dir).find((f) => /-18-v\d+\.req$/.test(f));
      assert.ok(file, `${client} recorded an ApiVersions request`);
      const frame = readFileSync(join(dir, file));
      const request = readRequestHeader(new Reader(frame, 4));
      const c = await WireClient.open(b.bootstrap);
      try {
        const answer = c.nextFrame();
        c.sendRaw(frame);
        const r = new Reader(await within(answer, 30_000, `${client}: the answer to ${file}`));
        // Header v0 whatever the request version: the correlation id, then the body.
        assert.equal(readResponseHeader(r, 0).correlationId, request.correlationId, `${client}: correlation id`);
        const body = API_BY_KEY[18]!.readResponse(r, request.requestApiVersion) as {
          errorCode: number;
          apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[];
        };
        assert.equal(r.remaining(), 0, `${client}: the whole answer is read at v${request.requestApiVersion}`);
        assert.equal(body.errorCode, 0, `${client}: ApiVersions v${request.requestApiVersion} error code`);
        for (const api of ['ApiVersions', 'Metadata', 'Produce', 'Fetch'] as const) {
          const k = body.apiKeys.find((x) => x.apiKey === APIS[api].key);
          assert.ok(k, `${client}: the broker offers ${api}`);
          assert.ok(k.minVersion <= k.maxVersion, `${client}: ${api} range ${k.minVersion}-${k.maxVersion}`);
        }
      } finally {
        c.close();
      }
    }
  } finally {
    await b.close();
  }
});
