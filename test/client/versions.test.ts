import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { Reader } from '../../src/protocol/reader.js';
import { readResponseHeader } from '../../src/protocol/headers.js';
import { readApiVersionsResponse } from '../../src/protocol/messages/api-versions-response.js';
import { APIS } from '../../src/protocol/apis.js';
import {
  CLIENT_VERSIONS,
  NegotiatedVersions,
  pickVersion,
  type ClientApi,
  type VersionRange,
} from '../../src/client/versions.js';
import { startBroker } from '../../src/broker/start.js';
import { WireClient } from '../helpers/wire-client.js';
import { UnsupportedVersionError } from '../../src/client/errors.js';

const fixture = (name: string) =>
  Buffer.from(readFileSync(join(repoRoot, 'test/client/fixtures', name), 'utf8').trim(), 'hex');

function ranges(res: {
  apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[];
}): Map<number, VersionRange> {
  return new Map(res.apiKeys.map((k) => [k.apiKey, { minVersion: k.minVersion, maxVersion: k.maxVersion }]));
}

test('picks min(client max, broker max) when the ranges overlap, -1 when they do not', () => {
  assert.equal(pickVersion('Fetch', { minVersion: 0, maxVersion: 17 }), 12, 'client max wins');
  assert.equal(pickVersion('Fetch', { minVersion: 0, maxVersion: 7 }), 7, 'broker max wins');
  assert.equal(
    pickVersion('Produce', { minVersion: 0, maxVersion: 2 }),
    -1,
    'broker max below the client minimum (record batches need v3)',
  );
  assert.equal(pickVersion('Metadata', { minVersion: 13, maxVersion: 15 }), -1, 'broker min above the client max');
  assert.equal(pickVersion('Metadata', undefined), -1, 'API not offered');
});

/** Every API this client speaks is negotiable, at the highest version both sides know. */
function assertNegotiatesEveryApi(v: NegotiatedVersions, offered: Map<number, VersionRange>, who: string): void {
  for (const api of Object.keys(CLIENT_VERSIONS) as ClientApi[]) {
    const range = offered.get(APIS[api].key);
    assert.ok(range, `${who} offers ${api}`);
    const [, clientMax] = CLIENT_VERSIONS[api];
    assert.equal(v.version(api), Math.min(clientMax, range.maxVersion), `${who}: ${api} version`);
  }
}

test('parses a recorded Brook ApiVersions v3 answer (fixture bytes) and negotiates every API the client uses', () => {
  // Response frame recorded from a running Brook broker (header v0 + v3 body). It tests the
  // parsing and negotiation code on real bytes; the live test below keeps Brook itself honest.
  const r = new Reader(fixture('brook-api-versions-v3.hex'));
  assert.equal(readResponseHeader(r, 0).correlationId, 7);
  const res = readApiVersionsResponse(r, 3);
  assert.equal(res.errorCode, 0);
  const v = new NegotiatedVersions('brook', ranges(res));
  assertNegotiatesEveryApi(v, ranges(res), 'the recorded answer');
  assert.equal(v.version('Fetch'), 12);
  assert.equal(v.version('Metadata'), 12);
  assert.equal(v.version('ApiVersions'), 3);
});

test('a running Brook broker offers every API the client uses, and the client negotiates each', async () => {
  const b = await startBroker({ logLevel: 'silent' });
  const c = await WireClient.open(b.bootstrap);
  try {
    const res = await c.request('ApiVersions', 3, { clientSoftwareName: 'brook-test', clientSoftwareVersion: '0' });
    assert.equal(res.errorCode, 0);
    assertNegotiatesEveryApi(new NegotiatedVersions('live', ranges(res)), ranges(res), 'the running broker');
  } finally {
    c.close();
    await b.close();
  }
});

test("parses a recorded UNSUPPORTED_VERSION reply (fixture bytes): v0-shaped, with the broker's own ApiVersions range", () => {
  // Brook's answer to ApiVersions v5, a version it does not know.
  const r = new Reader(fixture('brook-api-versions-v5-unsupported.hex'));
  readResponseHeader(r, 0);
  const res = readApiVersionsResponse(r, 0);
  assert.equal(res.errorCode, 35);
  const own = res.apiKeys.find((k) => k.apiKey === APIS.ApiVersions.key)!;
  assert.ok(own.maxVersion >= 3 && own.maxVersion < 5);
  assert.equal(r.remaining(), 0, 'the whole reply is read as v0');
});

test('an older, non-flexible broker gets non-flexible versions', () => {
  // The "non-flexible max" column of the protocol notes: what a Kafka 2.3-era broker offers.
  const old = new Map<number, VersionRange>([
    [APIS.ApiVersions.key, { minVersion: 0, maxVersion: 2 }],
    [APIS.Metadata.key, { minVersion: 0, maxVersion: 8 }],
    [APIS.Produce.key, { minVersion: 0, maxVersion: 7 }],
    [APIS.Fetch.key, { minVersion: 0, maxVersion: 11 }],
    [APIS.ListOffsets.key, { minVersion: 0, maxVersion: 5 }],
    [APIS.FindCoordinator.key, { minVersion: 0, maxVersion: 2 }],
    [APIS.JoinGroup.key, { minVersion: 0, maxVersion: 5 }],
    [APIS.OffsetCommit.key, { minVersion: 0, maxVersion: 7 }],
    [APIS.OffsetFetch.key, { minVersion: 0, maxVersion: 5 }],
  ]);
  const v = new NegotiatedVersions('old', old);
  for (const [api, key] of [
    ['Metadata', APIS.Metadata.key],
    ['Produce', APIS.Produce.key],
    ['Fetch', APIS.Fetch.key],
    ['JoinGroup', APIS.JoinGroup.key],
  ] as const) {
    const version = v.version(api);
    const desc = Object.values(APIS).find((d) => d.key === key)!;
    assert.ok(desc.firstFlexibleVersion < 0 || version < desc.firstFlexibleVersion, `${api} v${version} is flexible`);
  }
  assert.equal(v.version('Produce'), 7);
  assert.equal(v.version('FindCoordinator'), 2);
});

test('no overlap raises a clear UnsupportedVersionError naming both ranges', () => {
  const v = new NegotiatedVersions('b:9092', new Map([[APIS.Produce.key, { minVersion: 0, maxVersion: 2 }]]));
  assert.throws(
    () => v.version('Produce'),
    (err: unknown) => {
      assert.ok(err instanceof UnsupportedVersionError);
      assert.match(
        err.message,
        /b:9092 cannot serve Produce: this client speaks versions 3-11, the broker offers versions 0-2/,
      );
      return true;
    },
  );
  assert.throws(() => v.version('EndTxn'), /does not offer it/);
  assert.equal(v.supports('EndTxn'), false);
});
