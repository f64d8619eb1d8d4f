import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIS, ApiKey, type ApiName } from '../../src/protocol/apis.js';
import { readResponseHeader } from '../../src/protocol/headers.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  batch,
  closedWithin,
  createTopic,
  fetchRequest,
  metadata,
  produceRequest,
  topicName,
  within,
} from './support.js';

const MAX_REQUEST = 200_000;

/** A request frame with header v1 (int16 client id length) and an arbitrary body. */
function rawFrame(
  apiKey: number,
  version: number,
  correlationId: number,
  body: Buffer = Buffer.alloc(0),
  flexibleHeader = false,
): Buffer {
  const w = new Writer();
  w.int32(0);
  w.int16(apiKey);
  w.int16(version);
  w.int32(correlationId);
  w.string('raw-test');
  if (flexibleHeader) w.uvarint(0);
  w.raw(body);
  w.patchInt32(0, w.length - 4);
  return w.toBuffer();
}

/** Decodes a response frame for `api` at `version`, returning its correlation id and body. */
function decodeResponse<K extends ApiName>(api: K, version: number, frame: Buffer) {
  const d = APIS[api];
  const r = new Reader(frame);
  const header = readResponseHeader(r, api === 'ApiVersions' ? 0 : version >= firstFlexible(api) ? 1 : 0);
  const body = d.readResponse(r, version);
  assert.equal(r.remaining(), 0, `${api} v${version} response has no trailing bytes`);
  return { correlationId: header.correlationId, body };
}

function firstFlexible(api: ApiName): number {
  const flex: Partial<Record<ApiName, number>> = { Produce: 9, Fetch: 12, ListOffsets: 6, Metadata: 9, ApiVersions: 3 };
  return flex[api] ?? 99;
}

describe('network layer', () => {
  let b: BrokerHandle;
  let bystander: WireClient;
  let topic: string;

  before(async () => {
    b = await startBroker({ logLevel: 'silent', config: { 'socket.request.max.bytes': String(MAX_REQUEST) } });
    // A connection that stays open through every abuse below: only offending connections may close.
    bystander = await WireClient.open(b.bootstrap);
    topic = topicName('net');
    await createTopic(bystander, topic, 1);
  });

  after(async () => {
    // The bystander must still be served after all the malformed traffic on other connections.
    const v = await within(
      bystander.request('ApiVersions', 3, { clientSoftwareName: 'bystander', clientSoftwareVersion: '1' }),
      30_000,
      'bystander',
    );
    assertCode(v.errorCode, ErrorCode.NONE);
    bystander.close();
    await b.close();
  });

  test('50 pipelined mixed requests are answered in request order', async () => {
    const c = await WireClient.open(b.bootstrap);
    try {
      const kinds: ApiName[] = [];
      const frames: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        switch (i % 5) {
          case 0:
            kinds.push('ApiVersions');
            frames.push(
              c.encode('ApiVersions', 3, { clientSoftwareName: 'pipeline', clientSoftwareVersion: '1' }, 1000 + i),
            );
            break;
          case 1:
            kinds.push('Metadata');
            frames.push(
              c.encode(
                'Metadata',
                12,
                {
                  topics: [{ name: topic, topicId: '00000000-0000-0000-0000-000000000000' }],
                  allowAutoTopicCreation: false,
                  includeClusterAuthorizedOperations: false,
                  includeTopicAuthorizedOperations: false,
                },
                1000 + i,
              ),
            );
            break;
          case 2:
            kinds.push('Produce');
            frames.push(c.encode('Produce', 9, produceRequest(topic, 0, batch([`v${i}`]), { acks: 1 }), 1000 + i));
            break;
          case 3:
            kinds.push('Fetch');
            frames.push(c.encode('Fetch', 12, fetchRequest([{ topic, partition: 0, fetchOffset: 0 }]), 1000 + i));
            break;
          default:
            kinds.push('ListOffsets');
            frames.push(
              c.encode(
                'ListOffsets',
                7,
                {
                  replicaId: -1,
                  isolationLevel: 0,
                  topics: [
                    {
                      name: topic,
                      partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }],
                    },
                  ],
                },
                1000 + i,
              ),
            );
        }
      }
      const answers = frames.map(() => c.nextFrame());
      c.sendRaw(Buffer.concat(frames));
      const got = await within(Promise.all(answers), 10_000, 'pipelined answers');
      const produced: number[] = [];
      let lastEnd = -1;
      got.forEach((frame, i) => {
        const kind = kinds[i]!;
        const version = { ApiVersions: 3, Metadata: 12, Produce: 9, Fetch: 12, ListOffsets: 7 }[kind as 'Produce'];
        const { correlationId, body } = decodeResponse(kind, version, frame);
        assert.equal(correlationId, 1000 + i, `answer ${i} carries request ${i}'s correlation id`);
        if (kind === 'Produce') {
          const p = (body as { responses: { partitionResponses: { errorCode: number; baseOffset: number }[] }[] })
            .responses[0]!.partitionResponses[0]!;
          assertCode(p.errorCode, ErrorCode.NONE);
          produced.push(p.baseOffset);
        }
        if (kind === 'ListOffsets') {
          // Each ListOffsets sees exactly the produces that were pipelined before it.
          const end = (body as { topics: { partitions: { offset: number }[] }[] }).topics[0]!.partitions[0]!.offset;
          assert.ok(end >= lastEnd, 'the log end never goes backwards between pipelined requests');
          assert.equal(end, produced.length + (produced[0] ?? 0));
          lastEnd = end;
        }
      });
      assert.deepEqual(
        produced,
        produced.map((_, i) => produced[0]! + i),
        'produces appended in pipeline order',
      );
    } finally {
      c.close();
    }
  });

  test('200 connections at once are all served', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => WireClient.open(b.bootstrap)));
    try {
      const results = await within(
        Promise.all(
          clients.map(async (c, i) => {
            const [v, m] = await Promise.all([
              c.request('ApiVersions', 3, { clientSoftwareName: 'many', clientSoftwareVersion: String(i) }),
              metadata(c, [topic]),
            ]);
            return v.errorCode === 0 && m.topics[0]!.errorCode === 0 && m.topics[0]!.name === topic;
          }),
        ),
        15_000,
        '200 connections',
      );
      assert.equal(results.filter(Boolean).length, 200);
    } finally {
      for (const c of clients) c.close();
    }
  });

  test('a size prefix above socket.request.max.bytes closes that connection', async () => {
    for (const size of [MAX_REQUEST + 1, 0x7ffffff0, -5]) {
      const c = await WireClient.open(b.bootstrap);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(size);
      c.sendRaw(prefix);
      assert.ok(await closedWithin(c, 30_000), `size prefix ${size} closes the connection`);
    }
  });

  test('a request of exactly socket.request.max.bytes is still served', async () => {
    const c = await WireClient.open(b.bootstrap);
    try {
      // Fill a Produce frame up to the limit with one record's value (varint lengths grow with it).
      const frameWith = (n: number) =>
        c.encode('Produce', 3, produceRequest(topic, 0, batch([{ value: Buffer.alloc(n, 7) }]), { acks: 1 }), 77);
      let n = MAX_REQUEST - 200;
      n += MAX_REQUEST - (frameWith(n).length - 4);
      const frame = frameWith(n);
      assert.equal(frame.length - 4, MAX_REQUEST, 'frame is exactly at the limit');
      const answer = c.nextFrame();
      c.sendRaw(frame);
      const { body } = decodeResponse('Produce', 3, await within(answer, 30_000, 'produce at the limit'));
      assertCode(body.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    } finally {
      c.close();
    }
  });

  test('a truncated frame followed by a half-close closes the connection', async () => {
    const c = await WireClient.open(b.bootstrap);
    const frame = c.encode('ApiVersions', 0, { clientSoftwareName: '', clientSoftwareVersion: '' });
    c.sendRaw(frame.subarray(0, frame.length - 3));
    c.socket.end();
    assert.ok(await closedWithin(c, 30_000), 'closed after the half-close');
  });

  test('a frame shorter than a request header closes the connection', async () => {
    const c = await WireClient.open(b.bootstrap);
    c.sendRaw(Buffer.from([0, 0, 0, 3, 0, 18, 0]));
    assert.ok(await closedWithin(c, 30_000));
  });

  test('an unknown API key closes the connection', async () => {
    for (const key of [9999, -1, ApiKey.LeaderAndIsr]) {
      const c = await WireClient.open(b.bootstrap);
      c.sendRaw(rawFrame(key, 0, 7));
      assert.ok(await closedWithin(c, 30_000), `api key ${key} closes the connection`);
    }
  });

  test('an unsupported version of a known API closes the connection (kafka-python probes rely on it)', async () => {
    for (const [key, version] of [
      [ApiKey.Metadata, 13],
      [ApiKey.Produce, 12],
      [ApiKey.Fetch, 18],
      [ApiKey.Metadata, -1],
    ] as const) {
      const c = await WireClient.open(b.bootstrap);
      c.sendRaw(rawFrame(key, version, 9));
      assert.ok(await closedWithin(c, 30_000), `api ${key} v${version} closes the connection`);
    }
  });

  test('ApiVersions v127 is answered with UNSUPPORTED_VERSION in a v0 body under header v0 (KIP-511)', async () => {
    const c = await WireClient.open(b.bootstrap);
    try {
      // What a client newer than the broker sends: header v2 and a body the broker cannot know.
      const body = new Writer()
        .uvarint(5)
        .raw(Buffer.from('newer'))
        .uvarint(2)
        .raw(Buffer.from('9'))
        .uvarint(0)
        .toBuffer();
      const answer = c.nextFrame();
      c.sendRaw(rawFrame(ApiKey.ApiVersions, 127, 4242, body, true));
      const frame = await within(answer, 30_000, 'ApiVersions v127');
      const r = new Reader(frame);
      assert.equal(r.int32(), 4242, 'header v0: just the correlation id');
      const res = APIS.ApiVersions.readResponse(r, 0);
      assert.equal(r.remaining(), 0, 'nothing after the v0 body');
      assertCode(res.errorCode, ErrorCode.UNSUPPORTED_VERSION);
      const av = res.apiKeys.find((k) => k.apiKey === ApiKey.ApiVersions);
      assert.ok(av, 'the list names ApiVersions so the client can pick a version');
      assert.equal(av.maxVersion, 4);
      // The connection stays usable: the client retries with a version the broker knows.
      const retry = await c.request('ApiVersions', 3, { clientSoftwareName: 'retry', clientSoftwareVersion: '1' });
      assertCode(retry.errorCode, ErrorCode.NONE);
      assert.ok(retry.apiKeys.length >= res.apiKeys.length);
    } finally {
      c.close();
    }
  });

  test('a body with a lying array length closes the connection', async () => {
    const c = await WireClient.open(b.bootstrap);
    // Metadata v1: topics array claims 5 entries, none follow.
    c.sendRaw(rawFrame(ApiKey.Metadata, 1, 11, new Writer().int32(5).toBuffer()));
    assert.ok(await closedWithin(c, 30_000));
  });

  test('garbage bytes close the connection', async () => {
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(64, 0xff)]) {
      const c = await WireClient.open(b.bootstrap);
      c.sendRaw(junk);
      assert.ok(await closedWithin(c, 30_000), `closes on ${JSON.stringify(junk.subarray(0, 8).toString('latin1'))}`);
    }
  });

  test('ApiVersions v3 with an invalid client software name answers INVALID_REQUEST and keeps the connection', async () => {
    const c = await WireClient.open(b.bootstrap);
    try {
      for (const [name, version] of [
        ['bad name!', '1.0'],
        ['-leading-dash', '1.0'],
        ['ok', 'trailing.'],
        ['', '1'],
      ]) {
        const res = await c.request('ApiVersions', 3, { clientSoftwareName: name, clientSoftwareVersion: version });
        assertCode(
          res.errorCode,
          ErrorCode.INVALID_REQUEST,
          `software ${JSON.stringify(name)} ${JSON.stringify(version)}`,
        );
      }
      const ok = await c.request('ApiVersions', 4, {
        clientSoftwareName: 'apache-kafka-java',
        clientSoftwareVersion: '3.9.0',
      });
      assertCode(ok.errorCode, ErrorCode.NONE);
    } finally {
      c.close();
    }
  });
});

test('an idle connection is closed after connections.max.idle.ms, a busy one is not', async () => {
  const idleMs = 1000;
  const b = await startBroker({ logLevel: 'silent', config: { 'connections.max.idle.ms': String(idleMs) } });
  try {
    const openedAt = Date.now();
    const idle = await WireClient.open(b.bootstrap);
    const busy = await WireClient.open(b.bootstrap);
    // The busy connection keeps talking (gaps far below the idle time) until the idle one is closed.
    let idleClosed = false;
    const keepBusy = (async () => {
      while (!idleClosed) {
        await busy.request('ApiVersions', 0, { clientSoftwareName: '', clientSoftwareVersion: '' });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const closed = await closedWithin(idle, 30_000);
    idleClosed = true;
    const after = Date.now() - openedAt;
    assert.ok(closed, 'idle connection closed');
    // The broker's idle clock starts after openedAt, so an earlier close broke the rule.
    assert.ok(after >= idleMs - 5, `closed ${after} ms after opening, before the idle time ${idleMs} ms`);
    await keepBusy;
    const v = await busy.request('ApiVersions', 0, { clientSoftwareName: '', clientSoftwareVersion: '' });
    assertCode(v.errorCode, ErrorCode.NONE);
    busy.close();
  } finally {
    await b.close();
  }
});
