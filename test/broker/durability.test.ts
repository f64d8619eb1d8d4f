import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLEAN_SHUTDOWN_FILE } from '../../src/storage/log-manager.js';
import { repoRoot } from '../helpers/paths.js';
import { spawnBroker } from './child.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  batch,
  createTopic,
  fetchPartition,
  listOffset,
  onDataDir,
  produce,
  produceValues,
  recordsOf,
  removeDir,
  sleep,
  tempDir,
  valuesOf,
  within,
} from './support.js';

const TOPIC = 'durable';
const ROUNDS = 4;

/** Reads a whole partition, fetch after fetch, up to its high watermark. */
async function readAll(c: WireClient, topic: string, partition: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = 0;
  for (;;) {
    const p = await fetchPartition(c, { topic, partition, fetchOffset: offset, partitionMaxBytes: 4 * 1024 * 1024 });
    assertCode(p.errorCode, ErrorCode.NONE);
    for (const r of recordsOf(p.records)) if (r.offset >= offset) out.set(r.offset, r.value!.toString());
    if (out.size === 0 && p.highWatermark === 0) return out;
    offset = Math.max(...out.keys()) + 1;
    if (offset >= p.highWatermark) return out;
  }
}

test('acks=-1 with flush.messages=1: every acknowledged record survives SIGKILL of the broker', async () => {
  const dir = await tempDir();
  const acked = new Map<number, string>(); // offset -> value, for every acknowledged record
  const children: Awaited<ReturnType<typeof spawnBroker>>[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const broker = await spawnBroker(dir);
      children.push(broker);
      const c = await WireClient.open(broker.bootstrap);
      if (round === 0) await createTopic(c, TOPIC, 1, { 'flush.messages': '1' });

      // What survived every earlier kill must be here, byte for byte.
      const log = await readAll(c, TOPIC, 0);
      for (const [offset, value] of acked)
        assert.equal(log.get(offset), value, `round ${round}: acknowledged offset ${offset}`);
      const values = [...log.values()];
      assert.equal(new Set(values).size, values.length, 'no record is stored twice');
      assert.deepEqual(
        [...log.keys()],
        [...log.keys()].sort((a, b) => a - b).map((_, i) => i),
        'offsets are contiguous from 0',
      );

      // Produce with up to 8 requests in flight until the kill comes.
      let seq = 0;
      let stop = false;
      const inflight = new Set<Promise<void>>();
      const killAfter = 150 + round * 60;
      const killer = sleep(killAfter).then(() => {
        stop = true;
        broker.child.kill('SIGKILL');
      });
      while (!stop) {
        const values = [0, 1, 2].map((i) => `r${round}-b${seq}-${i}`);
        seq++;
        const p = produce(c, TOPIC, 0, batch(values), { acks: -1 }).then(
          (r) => {
            if (r.errorCode === ErrorCode.NONE) values.forEach((v, i) => acked.set(r.baseOffset + i, v));
          },
          () => {}, // the connection died with the broker: not acknowledged
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        if (inflight.size >= 8) await Promise.race(inflight);
      }
      await killer;
      await Promise.allSettled([...inflight]);
      const exit = await within(broker.exited, 30_000, 'broker exit');
      assert.equal(exit.signal, 'SIGKILL');
      c.close();
      assert.ok(seq > 5, `round ${round} produced (${seq} requests)`);
    }
    assert.ok(acked.size > 0, 'something was acknowledged');

    // Last look, in this process, after the final crash.
    await onDataDir(dir, {}, async (b, c) => {
      assert.equal(b.broker.logs.hadCleanShutdown, false, 'the broker knows it recovers from a crash');
      const log = await readAll(c, TOPIC, 0);
      for (const [offset, value] of acked) assert.equal(log.get(offset), value, `acknowledged offset ${offset}`);
      assert.equal(
        await produceValues(c, TOPIC, 0, ['after-recovery']),
        log.size,
        'appends continue at the recovered end',
      );
    });
  } finally {
    for (const ch of children) if (ch.child.exitCode === null && ch.child.signalCode === null) ch.child.kill('SIGKILL');
    await removeDir(dir);
  }
});

test('SIGTERM to `brook start` shuts down gracefully: clean-shutdown marker written, data kept', async () => {
  const dir = await tempDir();
  const main = join(repoRoot, 'dist/src/cli/main.js');
  assert.ok(existsSync(main), `${main} is built`);
  const child = spawn(process.execPath, [main, 'start', '--port', '0', '--data-dir', dir, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    const deadline = Date.now() + 15_000;
    let bootstrap: string | null = null;
    while (!bootstrap) {
      const m = /listening on ([^\s"]+:\d+)/.exec(out);
      if (m) bootstrap = m[1]!;
      else if (Date.now() > deadline || child.exitCode !== null) assert.fail(`brook start did not come up: ${out}`);
      else await sleep(20);
    }
    const c = await WireClient.open(bootstrap);
    await createTopic(c, 'kept', 1);
    await produceValues(c, 'kept', 0, ['one', 'two']);
    c.close();
    assert.equal(existsSync(join(dir, CLEAN_SHUTDOWN_FILE)), false, 'no marker while running');
    child.kill('SIGTERM');
    const exit = await within(exited, 10_000, 'brook start exit after SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status (output: ${out})`);
    assert.ok(existsSync(join(dir, CLEAN_SHUTDOWN_FILE)), 'clean-shutdown marker written');
    await onDataDir(dir, {}, async (b, c2) => {
      assert.equal(b.broker.logs.hadCleanShutdown, true);
      assert.deepEqual(valuesOf((await fetchPartition(c2, { topic: 'kept', partition: 0, fetchOffset: 0 })).records), [
        'one',
        'two',
      ]);
      assert.equal((await listOffset(c2, 'kept', 0, -1)).offset, 2);
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await removeDir(dir);
  }
});
