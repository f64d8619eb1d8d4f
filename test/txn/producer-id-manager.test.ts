import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PRODUCER_ID_BLOCK_SIZE, PRODUCER_ID_FILE, ProducerIdManager } from '../../src/txn/producer-id-manager.js';

/** Takes `n` ids, waiting for the background block reservation whenever the manager asks to. */
async function take(m: ProducerIdManager, n: number): Promise<number[]> {
  const ids: number[] = [];
  while (ids.length < n) {
    const id = m.generate();
    if (id < 0) await m.idle();
    else ids.push(id);
  }
  return ids;
}

test('producer ids are unique across restarts and blocks, reserved ahead in the background', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-pid-'));
  try {
    const first = new ProducerIdManager(dir);
    const a = await take(first, PRODUCER_ID_BLOCK_SIZE * 2 + 10);
    await first.idle();
    assert.deepEqual(
      a,
      a.map((_, i) => i),
      'ids count up from 0',
    );
    // What is durably reserved always covers every id handed out, so a crash cannot reuse one.
    const reserved = Number(/nextBlockStart=(\d+)/.exec(readFileSync(join(dir, PRODUCER_ID_FILE), 'utf8'))![1]);
    assert.ok(reserved > a.at(-1)!, `reserved ${reserved} covers the last id ${a.at(-1)}`);

    const second = new ProducerIdManager(dir); // a restart (or a crash) of the broker
    const b = await take(second, 5);
    assert.ok(b[0]! >= reserved, `after a restart ids start past the reserved block (${b[0]} >= ${reserved})`);
    await second.idle();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generate() hands out a whole block without waiting for any write', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-pid-'));
  const m = new ProducerIdManager(dir);
  try {
    // Synchronously: the block reserved at start-up serves every id of it; the refill is in flight.
    for (let i = 0; i < PRODUCER_ID_BLOCK_SIZE; i++) assert.equal(m.generate(), i);
    assert.equal(m.generate(), -1, 'the next block is not durable yet: the caller answers a retriable error');
    await m.idle();
    assert.equal(m.generate(), PRODUCER_ID_BLOCK_SIZE, 'once it is, ids go on without a gap');
  } finally {
    await m.idle();
    rmSync(dir, { recursive: true, force: true });
  }
});
