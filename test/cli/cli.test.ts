import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir, truncate, stat, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import type { BrokerHandle } from '../../src/broker/start.js';
import { partitionForKey } from '../../src/client/partitioner.js';
import { eventually, startTestBroker, uniq } from '../client/helpers/broker.js';
import { parkedFetches, untilParked } from '../broker/support.js';
import { brook, brookBackground } from './helpers.js';

let broker: BrokerHandle;
let b: string[];

before(async () => {
  broker = await startTestBroker();
  b = ['--bootstrap', broker.bootstrap];
});
after(async () => {
  await broker.close();
});

// Each test uses its own topics and groups, so they run side by side: most of the time goes to
// starting node for each command.
describe('brook CLI', { concurrency: 4 }, () => {
  test('topics: create, list, describe, alter, delete, with JSON for scripts', async () => {
    const name = uniq('cli-topic');
    let r = await brook(['topics', 'create', name, '--partitions', '3', '--config', 'retention.ms=3600000', ...b]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `Created topic ${name} with 3 partitions and replication factor 1.`);

    r = await brook(['topics', 'list', ...b]);
    assert.ok(r.stdout.split('\n').includes(name));

    r = await brook(['topics', 'describe', name, '--json', ...b]);
    assert.equal(r.code, 0, r.stderr);
    const [d] = JSON.parse(r.stdout);
    assert.equal(d.topic, name);
    assert.equal(d.partitionCount, 3);
    assert.deepEqual(d.configs, { 'retention.ms': '3600000' });
    assert.deepEqual(
      d.partitions.map((p: { partition: number }) => p.partition),
      [0, 1, 2],
    );

    r = await brook(['topics', 'describe', name, ...b]);
    assert.match(
      r.stdout,
      new RegExp(
        `Topic: ${name}\\s+TopicId: [0-9a-f-]{36}\\s+PartitionCount: 3\\s+ReplicationFactor: 1\\s+Configs: retention.ms=3600000`,
      ),
    );
    assert.match(r.stdout, /PARTITION\s+LEADER\s+REPLICAS\s+ISR\n\s+0\s+1\s+1\s+1/);

    r = await brook([
      'topics',
      'alter',
      name,
      '--partitions',
      '5',
      '--config',
      'cleanup.policy=compact',
      '--delete-config',
      'retention.ms',
      ...b,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout.trim(),
      `Altered topic ${name}: partitions 3 -> 5, cleanup.policy=compact, retention.ms reset to default.`,
    );
    const after = JSON.parse((await brook(['topics', 'describe', name, '--json', ...b])).stdout)[0];
    assert.equal(after.partitionCount, 5);
    assert.deepEqual(after.configs, { 'cleanup.policy': 'compact' });

    r = await brook(['topics', 'delete', name, ...b]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `Deleted topic ${name}.`);
    await eventually(
      async () => !(await brook(['topics', 'list', ...b])).stdout.split('\n').includes(name),
      10_000,
      'the topic to disappear',
    );
  });

  test('errors are clear and exit non-zero: existing topic, missing topic, bad flags, no broker', async () => {
    const name = uniq('cli-err');
    assert.equal((await brook(['topics', 'create', name, ...b])).code, 0);
    let r = await brook(['topics', 'create', name, ...b]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `brook: topic "${name}" already exists`);
    assert.equal((await brook(['topics', 'create', name, '--if-not-exists', ...b])).code, 0);

    r = await brook(['topics', 'describe', 'no-such-topic', ...b]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /brook: topic "no-such-topic" does not exist \(see `brook topics list`/);
    r = await brook(['consume', 'no-such-topic', ...b]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /topic "no-such-topic" does not exist/);
    r = await brook(['produce', 'no-such-topic', ...b], { input: 'x\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /topic "no-such-topic" does not exist/);

    r = await brook(['topics', 'create', uniq('x'), '--partitions', 'many', ...b]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--partitions: "many" is not a positive integer/);
    r = await brook(['consume', name, '--nope', ...b]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--nope'/);

    // A port nothing listens on.
    const srv = net.createServer();
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((res) => srv.close(() => res()));
    r = await brook(['topics', 'list', '--bootstrap', `127.0.0.1:${port}`]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, new RegExp(`brook: cannot connect to broker 127\\.0\\.0\\.1:${port}: connection refused`));
    assert.match(r.stderr, /start a broker with `brook start`/);
  });

  test('produce lines with keys and headers; consume them back with a format template', async () => {
    const name = uniq('cli-pc');
    await brook(['topics', 'create', name, '--partitions', '3', ...b]);
    const lines = ['alice:{"amount":10}', 'bob:{"amount":20}', 'alice:{"amount":30}', 'carol:{"amount":40}'];
    let r = await brook(
      [
        'produce',
        name,
        '--key-separator',
        ':',
        '--header',
        'source=cli',
        '--header',
        'v=1',
        '--value-format',
        'json',
        ...b,
      ],
      { input: lines.join('\n') + '\n' },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Produced 4 records to /);

    r = await brook([
      'consume',
      name,
      '--from-beginning',
      '--end',
      '--format',
      '{partition}|{offset}|{key}|{value}|{headers}|{header.source}',
      ...b,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('|'));
    assert.equal(rows.length, 4);
    for (const [partition, , key, value, headers, source] of rows) {
      assert.equal(Number(partition), partitionForKey(Buffer.from(key!), 3), `${key} on its murmur2 partition`);
      assert.equal(headers, 'source=cli,v=1');
      assert.equal(source, 'cli');
      assert.ok(lines.includes(`${key}:${value}`));
    }
    const alice = rows.filter((x) => x[2] === 'alice');
    assert.deepEqual(
      alice.map((x) => x[3]),
      ['{"amount":10}', '{"amount":30}'],
      'per-key order kept',
    );
    assert.ok(Number(alice[0]![1]) < Number(alice[1]![1]));

    r = await brook([
      'consume',
      name,
      '--from-beginning',
      '-n',
      '2',
      '--partition',
      String(partitionForKey(Buffer.from('alice'), 3)),
      '--json',
      ...b,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const json = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const onAlicePartition = rows
      .filter((x) => Number(x[0]) === partitionForKey(Buffer.from('alice'), 3))
      .sort((x, y) => Number(x[1]) - Number(y[1]))
      .slice(0, 2);
    assert.deepEqual(
      json.map((j: { key: string; value: string; headers: string[][] }) => [j.key, j.value, j.headers]),
      onAlicePartition.map((x) => [
        x[2],
        x[3],
        [
          ['source', 'cli'],
          ['v', '1'],
        ],
      ]),
    );

    r = await brook(['produce', name, '--value-format', 'json', ...b], { input: '{"ok":1}\nnot json\n' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line 2: value is not valid JSON/);
  });

  test('produce from a file to one partition; consume from an offset and the last N records', async () => {
    const name = uniq('cli-offsets');
    await brook(['topics', 'create', name, '--partitions', '2', ...b]);
    const dir = await mkdtemp(join(tmpdir(), 'brook-cli-'));
    try {
      const file = join(dir, 'records.txt');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(file, Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n') + '\n');
      let r = await brook(['produce', name, '--file', file, '--partition', '1', '--json', ...b]);
      assert.equal(r.code, 0, r.stderr);
      const acks = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        acks.map((a: { partition: number; offset: number }) => [a.partition, a.offset]),
        Array.from({ length: 20 }, (_, i) => [1, i]),
      );

      r = await brook(['consume', name, '--partition', '1', '--offset', '7', '-n', '4', '--format', '{offset}', ...b]);
      assert.deepEqual(r.stdout.trim().split('\n'), ['7', '8', '9', '10']);
      r = await brook([
        'consume',
        name,
        '--partition',
        '1',
        '--offset',
        '-3',
        '--end',
        '--format',
        '{offset}:{value}',
        ...b,
      ]);
      assert.deepEqual(r.stdout.trim().split('\n'), ['17:line 17', '18:line 18', '19:line 19']);
      r = await brook(['consume', name, '--partition', '0', '--from-beginning', '--end', ...b]);
      assert.equal(r.stdout, '', 'partition 0 is empty');
      r = await brook(['consume', name, '--partition', '5', ...b]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /has partitions 0-1, not 5/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('consume follows new records until interrupted, then exits cleanly', async () => {
    const name = uniq('cli-follow');
    await brook(['topics', 'create', name, ...b]);
    // Long polls of earlier tests' consumers stay parked until their max wait even after those
    // processes exit; once none is left, the next parked fetch is the follower's, at the end.
    await eventually(() => parkedFetches(broker) === 0, 30_000, 'earlier long polls to finish');
    const follower = brookBackground(['consume', name, '--group', uniq('followers'), '--format', '{value}', ...b]);
    try {
      // The follower has joined, found its position at the end and long-polls before anything is produced.
      await untilParked(broker);
      await brook(['produce', name, ...b], { input: 'first\nsecond\n' });
      await eventually(() => follower.output().includes('second'), 15_000, 'the follower to print new records');
      follower.child.kill('SIGINT');
      assert.equal(await follower.exited, 0, follower.errors());
      assert.deepEqual(follower.output().trim().split('\n'), ['first', 'second']);
    } finally {
      follower.child.kill('SIGKILL');
    }
    // A reader that goes away (as `brook consume t | head -1` does) ends the command quietly.
    const reader = brookBackground(['consume', name, '--from-beginning', ...b]);
    try {
      await eventually(() => reader.output().includes('first'), 15_000, 'the first record');
      reader.child.stdout.destroy();
      // More than a pipe holds, so the write has to wait for a reader that is gone.
      await brook(['produce', name, ...b], { input: `${'x'.repeat(300_000)}\n` });
      assert.equal(await reader.exited, 0, reader.errors());
      assert.equal(reader.errors(), '');
    } finally {
      reader.child.kill('SIGKILL');
    }
  });

  test('groups: list, describe with lag, reset offsets (dry run and for real), delete', async () => {
    const name = uniq('cli-groups');
    const group = uniq('cli-group');
    await brook(['topics', 'create', name, '--partitions', '2', ...b]);
    await brook(['produce', name, '--partition', '0', ...b], { input: 'a\nb\nc\nd\n' });
    await brook(['produce', name, '--partition', '1', ...b], { input: 'e\nf\n' });
    let r = await brook(['consume', name, '--group', group, '--from-beginning', '-n', '6', ...b]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 6);

    r = await brook(['groups', 'list', ...b]);
    assert.match(r.stdout, new RegExp(`${group}\\s+Empty`));
    r = await brook(['groups', 'describe', group, '--json', ...b]);
    const [g] = JSON.parse(r.stdout);
    assert.equal(g.state, 'Empty');
    assert.deepEqual(
      g.offsets.map((o: { partition: number; committedOffset: number; lag: number }) => [
        o.partition,
        o.committedOffset,
        o.lag,
      ]),
      [
        [0, 4, 0],
        [1, 2, 0],
      ],
    );

    r = await brook(['groups', 'reset-offsets', group, '--to-earliest', '--dry-run', ...b]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Dry run: nothing was committed\./);
    assert.match(r.stdout, new RegExp(`${name}\\s+0\\s+4\\s+0`));
    r = await brook(['groups', 'describe', group, ...b]);
    assert.match(r.stdout, /Total lag: 0/);

    r = await brook(['groups', 'reset-offsets', group, '--shift-by', '-1', '--topic', `${name}:0`, ...b]);
    assert.equal(r.code, 0, r.stderr);
    r = await brook(['groups', 'describe', group, ...b]);
    assert.match(r.stdout, new RegExp(`${name}\\s+0\\s+3\\s+4\\s+1`));
    assert.match(r.stdout, /Total lag: 1/);
    r = await brook(['consume', name, '--group', group, '-n', '1', ...b]);
    assert.equal(r.stdout.trim(), 'd', 'the group re-reads from the reset offset');

    r = await brook([
      'groups',
      'reset-offsets',
      group,
      '--to-datetime',
      '1970-01-01T00:00:00Z',
      '--dry-run',
      '--json',
      ...b,
    ]);
    assert.deepEqual(
      JSON.parse(r.stdout).offsets.map((o: { partition: number; newOffset: number }) => [o.partition, o.newOffset]),
      [
        [0, 0],
        [1, 0],
      ],
    );
    r = await brook(['groups', 'reset-offsets', group, '--to-datetime', 'yesterday-ish', ...b]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--to-datetime: "yesterday-ish" is not a date-time/);

    r = await brook(['groups', 'reset-offsets', group, ...b]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exactly one of --to-earliest/);
    r = await brook(['groups', 'delete', group, ...b]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!(await brook(['groups', 'list', ...b])).stdout.includes(group));
  });

  test('perf produce and consume report throughput and latency percentiles', async () => {
    const name = uniq('cli-perf');
    await brook(['topics', 'create', name, '--partitions', '2', ...b]);
    let r = await brook(['perf', 'produce', name, '--records', '20000', '--record-size', '200', '--json', ...b]);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout);
    assert.equal(p.records, 20000);
    assert.equal(p.bytes, 20000 * 200);
    assert.ok(p.recordsPerSec > 0 && p.mbPerSec > 0);
    assert.ok(p.latencyMs.p50 <= p.latencyMs.p99 && p.latencyMs.p99 <= p.latencyMs.max);
    r = await brook(['perf', 'consume', name, '--records', '20000', '--json', ...b]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.equal(c.records, 20000);
    assert.equal(c.bytes, 20000 * 200);
    r = await brook(['perf', 'produce', name, '--records', '300', '--throughput', '1000', ...b]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /300 records sent in (0\.\d+|[1-9][\d.]*) s: \d+ records\/s \([\d.]+ MB\/s\)/);
    const secs = Number(/sent in ([\d.]+) s/.exec(r.stdout)![1]);
    assert.ok(secs >= 0.25, `throttled to 1000 records/s, took ${secs} s`);
    assert.match(r.stdout, /latency ms: avg [\d.]+, p50 [\d.]+, p95 [\d.]+, p99 [\d.]+, p99\.9 [\d.]+, max [\d.]+/);
    // The idle timeout also covers the wait for the first record, so it must outlast a busy machine's start-up.
    r = await brook(['perf', 'consume', name, '--records', '999999', '--idle-timeout-ms', '5000', ...b]);
    assert.equal(r.code, 1, 'fewer records than asked for');
    assert.match(r.stderr, /only 20300 of 999999 records arrived/);
  });

  test('log dump reads segment files offline, with records, and flags a torn tail', async () => {
    const name = uniq('cli-dump');
    await brook(['topics', 'create', name, ...b]);
    await brook(['produce', name, '--key-separator', '=', '--header', 'h=1', '--compression', 'gzip', ...b], {
      input: 'k1=hello\nk2=world\n',
    });
    await brook(['produce', name, ...b], { input: 'third\n' });
    const dir = join(broker.dataDir, `${name}-0`);
    const segment = join(
      dir,
      (await readdir(dir)).find((f) => f.endsWith('.log'))!,
    );
    let r = await brook(['log', 'dump', segment, '--print-data']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `Dumping ${segment}`);
    assert.equal(lines[1], 'Log starting offset: 0');
    assert.match(
      lines[2]!,
      /^baseOffset: 0 lastOffset: 1 count: 2 .*isTransactional: false isControl: false position: 0 CreateTime: \d+ size: \d+ magic: 2 compresscodec: gzip crc: \d+ isvalid: true$/,
    );
    assert.match(
      lines[3]!,
      /^\| offset: 0 CreateTime: \d+ keySize: 2 valueSize: 5 sequence: \d+ headerKeys: \[h\] key: k1 payload: hello$/,
    );
    assert.match(lines[4]!, /^\| offset: 1 .* key: k2 payload: world$/);
    assert.match(lines[5]!, /^baseOffset: 2 lastOffset: 2 count: 1 .*compresscodec: none/);
    assert.match(lines[6]!, /key: null payload: third$/);

    r = await brook(['log', 'dump', segment, '--json']);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(
      j.batches.map((x: { baseOffset: number; count: number }) => [x.baseOffset, x.count]),
      [
        [0, 2],
        [2, 1],
      ],
    );

    const tmp = await mkdtemp(join(tmpdir(), 'brook-dump-'));
    try {
      const copy = join(tmp, '00000000000000000000.log');
      await copyFile(segment, copy);
      await truncate(copy, (await stat(copy)).size - 5);
      r = await brook(['log', 'dump', copy]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /Found \d+ invalid bytes at the end of 00000000000000000000\.log/);
      r = await brook(['log', 'dump', join(tmp, 'missing.log')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /ENOENT/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
