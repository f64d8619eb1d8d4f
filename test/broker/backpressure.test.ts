import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { spawnBroker } from './child.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  batch,
  createTopic,
  fetchRequest,
  produce,
  produceRequest,
  removeDir,
  sleep,
  tempDir,
  within,
} from './support.js';

const MB = 1024 * 1024;

test('a client that pipelines large fetches and produces without reading answers cannot grow broker memory unboundedly', async () => {
  const dir = await tempDir();
  const queued = 16 * MB;
  const broker = await spawnBroker(dir, { 'queued.max.request.bytes': String(queued) }, ['--expose-gc']);
  const raw = connect({ host: broker.bootstrap.split(':')[0], port: Number(broker.bootstrap.split(':')[1]) });
  raw.on('error', () => {});
  const connected = new Promise<void>((resolve) => raw.once('connect', () => resolve()));
  try {
    const c = await WireClient.open(broker.bootstrap);
    await createTopic(c, 'big', 1);
    for (let i = 0; i < 8; i++)
      assertCode(
        (await produce(c, 'big', 0, batch([{ value: Buffer.alloc(1_000_000, i) }]), { acks: 1 })).errorCode,
        ErrorCode.NONE,
      );
    await sleep(200);
    const baseline = await broker.memory();

    // 300 fetches of ~3 MB each (900 MB of answers) on a socket whose reader never reads.
    await connected;
    const fetches: Buffer[] = [];
    for (let i = 0; i < 300; i++)
      fetches.push(
        c.encode(
          'Fetch',
          11,
          fetchRequest([{ topic: 'big', partition: 0, fetchOffset: 0, partitionMaxBytes: 3 * MB }]),
          10_000 + i,
        ),
      );
    raw.write(Buffer.concat(fetches));
    await sleep(1500);
    const afterFetches = await broker.memory();

    // Then 150 produce requests of 1 MB: the broker must stop reading once its queue is full.
    const value = Buffer.alloc(1_000_000, 7);
    const frame = c.encode('Produce', 9, produceRequest('big', 0, batch([{ value }]), { acks: 1 }), 20_000);
    for (let i = 0; i < 150; i++) raw.write(frame);
    await sleep(1500);
    const afterProduces = await broker.memory();
    const unread = raw.writableLength;

    const growth = (m: NodeJS.MemoryUsage) => ({
      rss: Math.round((m.rss - baseline.rss) / MB),
      buffers: Math.round((m.arrayBuffers - baseline.arrayBuffers) / MB),
    });
    const g1 = growth(afterFetches);
    const g2 = growth(afterProduces);
    assert.ok(
      g1.buffers < 64 && g1.rss < 150,
      `900 MB of unread fetch answers grew the broker by ${JSON.stringify(g1)} MB`,
    );
    assert.ok(
      g2.buffers < 64 + queued / MB && g2.rss < 200,
      `150 MB of unread produces grew the broker by ${JSON.stringify(g2)} MB`,
    );
    assert.ok(
      unread > 100 * MB,
      `the broker stopped reading: ${Math.round(unread / MB)} MB still unsent in the client`,
    );

    // Once the greedy client goes away, the broker serves others as before.
    raw.destroy();
    const v = await within(
      c.request('ApiVersions', 3, { clientSoftwareName: 'after', clientSoftwareVersion: '1' }),
      5000,
      'ApiVersions after the flood',
    );
    assertCode(v.errorCode, ErrorCode.NONE);
    c.close();
  } finally {
    raw.destroy();
    broker.child.kill('SIGKILL');
    await broker.exited;
    await removeDir(dir);
  }
});
