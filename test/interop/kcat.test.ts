import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import { WireClient } from '../helpers/wire-client.js';
import { KCAT, kcatMissing } from '../helpers/requires.js';
import {
  createTopic,
  eventually,
  fetchPartition,
  parkedFetches,
  recordsOf,
  topicName,
  untilParked,
} from '../broker/support.js';

/** Runs kcat against the broker; rejects with its stderr on a non-zero exit or after 60 s (a generous deadline for a busy machine). */
function kcat(bootstrap: string, args: string[], input?: string): Promise<string> {
  return kcatRun(bootstrap, args, input).then((r) => r.out);
}

/** kcat with its stderr too, for a test that must explain an early exit. */
function kcatRun(bootstrap: string, args: string[], input?: string): Promise<{ out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KCAT, ['-b', bootstrap, '-X', 'socket.timeout.ms=10000', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kcat ${args.join(' ')} did not finish within 60 s: ${err}`));
    }, 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ out, err });
      else reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${err}`));
    });
    child.stdin.end(input ?? '');
  });
}

interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

const jsonLines = (out: string): KcatMessage[] =>
  out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as KcatMessage);

/** kcat 1.7 on librdkafka 2.0.2: ApiVersions v3, feature checks on advertised ranges, Fetch v11. */
describe('kcat (librdkafka)', { skip: kcatMissing(KCAT) }, () => {
  let b: BrokerHandle;
  let wire: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
    wire = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    wire?.close();
    await b?.close();
  });

  test('metadata -L -J lists this broker and the topic with leaders, replicas and ISR', async () => {
    const t = topicName('kcat-md');
    await createTopic(wire, t, 3);
    const md = JSON.parse(await kcat(b.bootstrap, ['-L', '-J', '-t', t])) as {
      brokers: { id: number; name: string }[];
      topics: {
        topic: string;
        error?: string;
        partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[];
      }[];
    };
    assert.deepEqual(
      md.brokers.map((x) => [x.id, x.name]),
      [[b.broker.nodeId, `${b.host}:${b.port}`]],
    );
    assert.equal(md.topics.length, 1);
    assert.equal(md.topics[0]!.topic, t);
    assert.equal(md.topics[0]!.error, undefined);
    const parts = md.topics[0]!.partitions.sort((x, y) => x.partition - y.partition);
    assert.deepEqual(
      parts.map((p) => [p.partition, p.leader, p.replicas.map((r) => r.id), p.isrs.map((r) => r.id)]),
      [0, 1, 2].map((i) => [i, b.broker.nodeId, [b.broker.nodeId], [b.broker.nodeId]]),
    );
    const plain = await kcat(b.bootstrap, ['-L', '-t', t]);
    assert.match(plain, new RegExp(`topic "${t}" with 3 partitions:`));
  });

  test('produce with keys and headers to one partition; consume with -o offsets and -c counts', async () => {
    const t = topicName('kcat-kv');
    await createTopic(wire, t, 2);
    const lines = Array.from({ length: 12 }, (_, i) => `key-${i}:value ${i} ${'ñ'.repeat(i)}`);
    await kcat(
      b.bootstrap,
      ['-P', '-t', t, '-p', '1', '-K:', '-H', 'trace=abc', '-H', 'dup=1', '-H', 'dup=2', '-H', 'empty='],
      lines.join('\n') + '\n',
    );
    await kcat(b.bootstrap, ['-P', '-t', t, '-p', '0'], 'zero-a\nzero-b\n');

    const all = jsonLines(await kcat(b.bootstrap, ['-C', '-t', t, '-p', '1', '-o', 'beginning', '-e', '-q', '-J']));
    assert.deepEqual(
      all.map((m) => m.offset),
      Array.from({ length: 12 }, (_, i) => i),
    );
    assert.deepEqual(
      all.map((m) => `${m.key}:${m.payload}`),
      lines,
    );
    for (const m of all) assert.deepEqual(m.headers, ['trace', 'abc', 'dup', '1', 'dup', '2', 'empty', '']);

    const from7 = jsonLines(await kcat(b.bootstrap, ['-C', '-t', t, '-p', '1', '-o', '7', '-e', '-q', '-J']));
    assert.deepEqual(
      from7.map((m) => m.offset),
      [7, 8, 9, 10, 11],
    );
    const four = jsonLines(await kcat(b.bootstrap, ['-C', '-t', t, '-p', '1', '-o', '3', '-c', '4', '-q', '-J']));
    assert.deepEqual(
      four.map((m) => m.offset),
      [3, 4, 5, 6],
    );
    const last3 = jsonLines(await kcat(b.bootstrap, ['-C', '-t', t, '-p', '1', '-o', '-3', '-e', '-q', '-J']));
    assert.deepEqual(
      last3.map((m) => m.offset),
      [9, 10, 11],
    );
    const p0 = jsonLines(await kcat(b.bootstrap, ['-C', '-t', t, '-p', '0', '-o', 'beginning', '-e', '-q', '-J']));
    assert.deepEqual(
      p0.map((m) => [m.offset, m.key, m.payload]),
      [
        [0, null, 'zero-a'],
        [1, null, 'zero-b'],
      ],
    );
    assert.equal(p0[0]!.headers, undefined, 'no headers were sent');

    // The broker holds exactly what kcat sent.
    const stored = recordsOf((await fetchPartition(wire, { topic: t, partition: 1, fetchOffset: 0 })).records);
    assert.deepEqual(
      stored.map((r) => `${r.key}:${r.value}`),
      lines,
    );
  });

  test('every codec librdkafka offers is stored and read back intact', async () => {
    const t = topicName('kcat-codec');
    await createTopic(wire, t, 1);
    const codecs = ['gzip', 'snappy', 'lz4', 'zstd'];
    const sent: string[] = [];
    for (const codec of codecs) {
      const lines = Array.from({ length: 50 }, (_, i) => `${codec}-${i}-${'payload '.repeat(i % 9)}`);
      sent.push(...lines);
      await kcat(b.bootstrap, ['-P', '-t', t, '-p', '0', '-z', codec, '-X', 'linger.ms=50'], lines.join('\n') + '\n');
    }
    const got = jsonLines(await kcat(b.bootstrap, ['-C', '-t', t, '-p', '0', '-o', 'beginning', '-e', '-q', '-J']));
    assert.deepEqual(
      got.map((m) => m.payload),
      sent,
    );
    assert.deepEqual(
      got.map((m) => m.offset),
      sent.map((_, i) => i),
    );
  });

  test('a fresh kcat consumer at the end waits for new data (long poll) and gets it', async () => {
    const t = topicName('kcat-tail');
    await createTopic(wire, t, 1);
    // Long polls of earlier tests' clients stay parked until their max wait even after those clients
    // exit; once none is left, the next parked fetch is this kcat's, positioned at the end.
    await eventually(() => parkedFetches(b) === 0, 30_000, 'earlier long polls to finish');
    const consuming = kcatRun(b.bootstrap, ['-C', '-t', t, '-p', '0', '-o', 'end', '-c', '2', '-J']);
    await untilParked(b);
    await kcat(b.bootstrap, ['-P', '-t', t, '-p', '0'], 'late-1\nlate-2\n');
    const result = await consuming;
    // Seen rarely on a loaded machine: kcat exiting 0 having printed nothing; its stderr says why.
    const got = jsonLines(result.out);
    if (got.length === 0) assert.fail(`kcat consumer exited 0 with no records; its stderr:\n${result.err}`);
    assert.deepEqual(
      got.map((m) => [m.offset, m.payload]),
      [
        [0, 'late-1'],
        [1, 'late-2'],
      ],
    );
  });
});
