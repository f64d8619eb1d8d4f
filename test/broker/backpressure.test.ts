import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { spawnBroker, type ChildBroker } from './child.js';
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

/**
 * Samples the broker's memory (after a GC) until it stops growing — no new high by more than 1 MB
 * for ten samples in a row — and `settled()` holds, then returns the peak seen. Waiting for the
 * broker to finish what it will do, instead of a fixed sleep, keeps a slow machine from measuring
 * before the growth happened.
 */
async function peakOnceSettled(
  broker: ChildBroker,
  what: string,
  settled: () => boolean = () => true,
): Promise<{ rss: number; arrayBuffers: number }> {
  const peak = { rss: 0, arrayBuffers: 0 };
  const deadline = Date.now() + 60_000;
  let quiet = 0;
  while (quiet < 10 || !settled()) {
    if (Date.now() > deadline) assert.fail(`${what}: the broker's memory did not settle within 60 s`);
    const m = await broker.memory();
    const grew = m.rss > peak.rss + MB || m.arrayBuffers > peak.arrayBuffers + MB;
    peak.rss = Math.max(peak.rss, m.rss);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
    quiet = grew ? 0 : quiet + 1;
    await sleep(100);
  }
  return peak;
}

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
    const afterFetches = await peakOnceSettled(broker, 'the unread fetches');

    // Then 150 produce requests of 1 MB: the broker must stop reading once its queue is full.
    const value = Buffer.alloc(1_000_000, 7);
    const frame = c.encode('Produce', 9, produceRequest('big', 0, batch([{ value }]), { acks: 1 }), 20_000);
    for (let i = 0; i < 150; i++) raw.write(frame);
    // Settled also means the broker has stopped reading: the client's unsent bytes no longer shrink.
    let lastUnread = -1;
    const afterProduces = await peakOnceSettled(broker, 'the unread produces', () => {
      const same = raw.writableLength === lastUnread;
      lastUnread = raw.writableLength;
      return same;
    });
    const unread = raw.writableLength;

    const growth = (m: { rss: number; arrayBuffers: number }) => ({
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
      30_000,
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
