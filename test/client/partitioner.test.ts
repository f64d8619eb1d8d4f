import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  murmur2,
  partitionForKey,
  toPositive,
  StickyPartitioner,
  defaultPartitioner,
} from '../../src/client/partitioner.js';

// Expected values from Kafka's own murmur2 test (org.apache.kafka.common.utils.UtilsTest).
const JAVA_VECTORS: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

test("murmur2 gives the Java client's hash for its test vectors", () => {
  for (const [key, hash] of JAVA_VECTORS) assert.equal(murmur2(Buffer.from(key)), hash, key);
});

test('murmur2 covers every tail length and the empty key', () => {
  // Tail lengths 0-3 exercise each branch of the final mix; values checked against the Java algorithm.
  assert.equal(murmur2(Buffer.alloc(0)), 275646681);
  const lens = new Set([1, 2, 3, 4, 5, 6, 7].map((n) => murmur2(Buffer.from('abcdefg'.slice(0, n)))));
  assert.equal(lens.size, 7, 'prefixes of different length hash differently');
});

test('the positive step masks the sign bit instead of taking the absolute value', () => {
  // -790332482 ("foobar"): Math.abs would give 790332482, Kafka's toPositive gives 1357151166.
  assert.equal(toPositive(-790332482), 1357151166);
  assert.notEqual(toPositive(-790332482), Math.abs(-790332482));
  assert.equal(partitionForKey(Buffer.from('foobar'), 7), 1357151166 % 7);
});

test('keyed records land where the Java client puts them', () => {
  // (murmur2(key) & 0x7fffffff) % n for the vectors above and a few partition counts.
  for (const [key, hash] of JAVA_VECTORS) {
    for (const n of [1, 3, 6, 10, 50])
      assert.equal(defaultPartitioner('t', Buffer.from(key), n), (hash & 0x7fffffff) % n);
  }
  assert.equal(defaultPartitioner('t', null, 6), -1, 'unkeyed records are left to sticky partitioning');
});

test('sticky partitioning stays on one partition until batch.size bytes went there', () => {
  const sticky = new StickyPartitioner(1000);
  const available = [0, 1, 2, 3];
  const first = sticky.partition('t', 4, available, 300);
  assert.equal(sticky.partition('t', 4, available, 300), first);
  assert.equal(sticky.partition('t', 4, available, 300), first);
  assert.equal(sticky.partition('t', 4, available, 300), first, '900 bytes < 1000: still sticky');
  const next = sticky.partition('t', 4, available, 300);
  assert.notEqual(next, first, 'switches after batch.size bytes, never back to the same partition');
  assert.ok(available.includes(next));
});

test('sticky partitioning only picks partitions that have a leader, and spreads over time', () => {
  const sticky = new StickyPartitioner(10);
  const seen = new Map<number, number>();
  for (let i = 0; i < 4000; i++) {
    const p = sticky.partition('t', 6, [1, 4, 5], 10);
    seen.set(p, (seen.get(p) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), [1, 4, 5]);
  for (const n of seen.values()) assert.ok(n > 800, `uneven spread: ${[...seen]}`);
  // Topics are independent.
  const other = new StickyPartitioner(1e9);
  const a = other.partition('a', 100, [], 1);
  for (let i = 0; i < 50; i++) other.partition('b', 100, [], 1);
  assert.equal(other.partition('a', 100, [], 1), a);
});
