import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/apis.js';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import type { Session } from '../../src/broker/network/session.js';
import type { RequestContext } from '../../src/broker/api-handler.js';
import { RequestPipeline } from '../../src/broker/pipeline/hooks.js';
import { Writer } from '../../src/protocol/writer.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  closedWithin,
  createTopic,
  eventually,
  metadata,
  topicName,
  within,
} from './support.js';

describe('request pipeline', () => {
  let b: BrokerHandle;
  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
  });
  after(async () => {
    await b.close();
  });

  test('hooks see each connection and request in order, with the session', async () => {
    const seen: string[] = [];
    let session: Session | null = null;
    const remove = b.broker.pipeline.add({
      name: 'recorder',
      onConnectionOpen(s) {
        session = s;
        seen.push('open');
        return undefined;
      },
      afterHeaderDecode(ctx) {
        seen.push(`header ${ctx.header.requestApiKey}`);
        return undefined;
      },
      beforeHandler(ctx) {
        seen.push(`handler ${ctx.header.requestApiKey}`);
        return undefined;
      },
      onResponse(ctx) {
        seen.push(`response ${ctx.header.requestApiKey}`);
        return undefined;
      },
      onConnectionClose() {
        seen.push('close');
      },
    });
    try {
      const c = await WireClient.open(b.bootstrap);
      const v = await c.request('ApiVersions', 3, { clientSoftwareName: 'hook-test', clientSoftwareVersion: '1.2.3' });
      assertCode(v.errorCode, ErrorCode.NONE);
      await metadata(c, []);
      c.close();
      await eventually(() => seen.includes('close'), 5000, 'close hook');
      const k = ApiKey.ApiVersions;
      const m = ApiKey.Metadata;
      assert.deepEqual(seen, [
        'open',
        `header ${k}`,
        `handler ${k}`,
        `response ${k}`,
        `header ${m}`,
        `handler ${m}`,
        `response ${m}`,
        'close',
      ]);
      const s = session as unknown as Session;
      assert.equal(`${s.principal.type}:${s.principal.name}`, 'User:ANONYMOUS');
      assert.equal(s.listenerName, 'PLAINTEXT');
      assert.equal(s.securityProtocol, 'PLAINTEXT');
      assert.equal(s.clientAddress, '127.0.0.1');
      assert.equal(s.clientId, 'brook-test');
      assert.equal(s.clientSoftwareName, 'hook-test');
      assert.equal(s.clientSoftwareVersion, '1.2.3');
    } finally {
      remove();
    }
  });

  test('a hook can close the connection before the body is read, as authentication will', async () => {
    // Until "authenticated", only ApiVersions may be sent: the shape of Kafka's SASL gate.
    const remove = b.broker.pipeline.add({
      name: 'gate',
      afterHeaderDecode: (ctx: RequestContext) =>
        ctx.header.requestApiKey === ApiKey.ApiVersions ? undefined : { action: 'close', reason: 'not authenticated' },
    });
    try {
      const c = await WireClient.open(b.bootstrap);
      const v = await c.request('ApiVersions', 3, { clientSoftwareName: 'gate', clientSoftwareVersion: '1' });
      assertCode(v.errorCode, ErrorCode.NONE);
      c.sendRaw(
        c.encode(
          'Metadata',
          12,
          {
            topics: null,
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          },
          99,
        ),
      );
      assert.ok(await closedWithin(c, 5000), 'the gated request closed the connection');
    } finally {
      remove();
    }
    // Without the hook the same request is served again.
    const c = await WireClient.open(b.bootstrap);
    try {
      await within(metadata(c, []), 5000, 'metadata after the gate is removed');
    } finally {
      c.close();
    }
  });

  test('a hook can answer instead of the handler, and a quota hook sets throttleTimeMs', async () => {
    const topic = topicName('pipeline');
    const admin = await WireClient.open(b.bootstrap);
    await createTopic(admin, topic, 1);
    admin.close();
    const remove = b.broker.pipeline.add({
      name: 'authorizer-and-quota',
      beforeHandler(ctx) {
        if (ctx.header.requestApiKey !== ApiKey.Metadata) return undefined;
        // An authorizer that denies describing any topic answers without the handler.
        return {
          action: 'respond',
          response: {
            throttleTimeMs: 0,
            brokers: [],
            clusterId: null,
            controllerId: -1,
            topics: [
              {
                errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                name: topic,
                topicId: '00000000-0000-0000-0000-000000000000',
                isInternal: false,
                partitions: [],
                topicAuthorizedOperations: -2147483648,
              },
            ],
            clusterAuthorizedOperations: -2147483648,
          },
        };
      },
      onResponse: (ctx) => (ctx.header.requestApiKey === ApiKey.ApiVersions ? 25 : undefined),
    });
    const c = await WireClient.open(b.bootstrap);
    try {
      const m = await metadata(c, [topic]);
      assertCode(m.topics[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      const v = await c.request('ApiVersions', 3, { clientSoftwareName: 'quota', clientSoftwareVersion: '1' });
      assert.equal(v.throttleTimeMs, 25);
    } finally {
      c.close();
      remove();
    }
  });

  test('onError sees a request whose body does not decode, then the connection closes', async () => {
    const errors: { api: number; error: unknown }[] = [];
    const remove = b.broker.pipeline.add({
      name: 'errors',
      onError: (ctx, error) => errors.push({ api: ctx.header.requestApiKey, error }),
    });
    const c = await WireClient.open(b.bootstrap);
    try {
      // A Metadata v1 request whose topic array claims 5 names and carries none.
      const w = new Writer();
      w.int32(0).int16(ApiKey.Metadata).int16(1).int32(7).string('broken').int32(5);
      w.patchInt32(0, w.length - 4);
      c.sendRaw(w.toBuffer());
      assert.ok(await closedWithin(c, 5000), 'the malformed request closed the connection');
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.api, ApiKey.Metadata);
    } finally {
      c.close();
      remove();
    }
  });
});

test('a pipeline without hooks has every stage null, and removing the last hook restores that', () => {
  const p = new RequestPipeline();
  const stages = () => [
    p.onConnectionOpen,
    p.onConnectionClose,
    p.afterHeaderDecode,
    p.beforeHandler,
    p.onResponse,
    p.onError,
  ];
  assert.deepEqual(stages(), [null, null, null, null, null, null]);
  const remove = p.add({ name: 'one', beforeHandler: () => undefined });
  assert.equal(p.beforeHandler?.length, 1);
  assert.equal(p.afterHeaderDecode, null, 'stages a hook set does not use stay null');
  remove();
  assert.deepEqual(stages(), [null, null, null, null, null, null]);
});
