import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from '../../src/util/buffer-pool.js';

test('a released buffer is handed out again for the same size class', () => {
  const pool = new BufferPool();
  const a = pool.acquire(3 * 1024 * 1024 + 5);
  assert.equal(a.length, 3 * 1024 * 1024 + 5);
  const block = a.buffer;
  pool.release(a.subarray(100, 200)); // any view releases the whole block
  const b = pool.acquire(3 * 1024 * 1024 + 100);
  assert.equal(b.buffer, block, 'the same memory is reused');
  const c = pool.acquire(3 * 1024 * 1024 + 100);
  assert.notEqual(c.buffer, block, 'a block is never handed out twice at once');
});

test('small buffers bypass the pool and the pool never holds more than its bound', () => {
  const pool = new BufferPool(2 * 1024 * 1024);
  const small = pool.acquire(100);
  pool.release(small);
  assert.equal(pool.size, 0);
  const blocks = [pool.acquire(1024 * 1024), pool.acquire(1024 * 1024), pool.acquire(1024 * 1024)];
  for (const b of blocks) pool.release(b);
  assert.equal(pool.size, 2 * 1024 * 1024);
});

test('buffers not made by the pool are ignored on release', () => {
  const pool = new BufferPool();
  pool.release(Buffer.alloc(3_000_000));
  pool.release(Buffer.allocUnsafeSlow(1024 * 1024)); // exactly a size class, but not the pool's
  assert.equal(pool.size, 0);
});
