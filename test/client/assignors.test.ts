import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cooperativeStickyAssignor,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssign,
  type MemberSubscription,
} from '../../src/client/assignors.js';
import type { TopicPartition } from '../../src/client/cluster.js';

const member = (
  memberId: string,
  topics: string[],
  owned: TopicPartition[] = [],
  generationId = -1,
): MemberSubscription => ({
  memberId,
  groupInstanceId: null,
  topics,
  ownedPartitions: owned,
  generationId,
  userData: null,
});
const fmt = (tps: TopicPartition[] | undefined) => (tps ?? []).map((tp) => `${tp.topic}-${tp.partition}`).sort();
const tps = (topic: string, ...ps: number[]) => ps.map((partition) => ({ topic, partition }));

test('range: contiguous ranges per topic, the first members take the remainder', () => {
  const a = rangeAssignor.assign(
    [member('c', ['t', 'u']), member('a', ['t', 'u']), member('b', ['t'])],
    new Map([
      ['t', 7],
      ['u', 2],
    ]),
  );
  // t: 7 partitions over a, b, c -> 3, 2, 2; u: 2 partitions over a, c -> 1, 1.
  assert.deepEqual(fmt(a.get('a')), ['t-0', 't-1', 't-2', 'u-0']);
  assert.deepEqual(fmt(a.get('b')), ['t-3', 't-4']);
  assert.deepEqual(fmt(a.get('c')), ['t-5', 't-6', 'u-1']);
});

test('roundrobin: partitions dealt in turn to subscribed members', () => {
  const a = roundRobinAssignor.assign([member('a', ['t']), member('b', ['t'])], new Map([['t', 5]]));
  assert.deepEqual(fmt(a.get('a')), ['t-0', 't-2', 't-4']);
  assert.deepEqual(fmt(a.get('b')), ['t-1', 't-3']);
});

test('sticky: members keep what they own and the assignment stays balanced', () => {
  const counts = new Map([['t', 6]]);
  const first = stickyAssign([member('a', ['t']), member('b', ['t'])], counts, false);
  assert.equal(first.get('a')!.length, 3);
  assert.equal(first.get('b')!.length, 3);
  // c joins: a and b keep two each of their old partitions, c gets one from each.
  const second = stickyAssign(
    [member('a', ['t'], first.get('a')!, 1), member('b', ['t'], first.get('b')!, 1), member('c', ['t'])],
    counts,
    false,
  );
  for (const m of ['a', 'b']) {
    const kept = second.get(m)!.filter((tp) => first.get(m)!.some((x) => x.partition === tp.partition));
    assert.equal(kept.length, 2, `${m} keeps two`);
    assert.equal(second.get(m)!.length, 2);
  }
  assert.equal(second.get('c')!.length, 2);
  const all = [...second.values()]
    .flat()
    .map((tp) => tp.partition)
    .sort();
  assert.deepEqual(all, [0, 1, 2, 3, 4, 5], 'every partition exactly once');
});

test('cooperative: a partition changing owner is left out until its owner gave it up', () => {
  const counts = new Map([['t', 4]]);
  const round1 = cooperativeStickyAssignor.assign(
    [member('a', ['t'], tps('t', 0, 1), 1), member('b', ['t'], tps('t', 2, 3), 1), member('c', ['t'])],
    counts,
  );
  // c should end up with one partition, but it is still owned by a or b: nobody gets it this round.
  assert.equal(round1.get('c')!.length, 0);
  const moving = [...fmt(tps('t', 0, 1, 2, 3))].filter(
    (p) => ![...fmt(round1.get('a')), ...fmt(round1.get('b'))].includes(p),
  );
  assert.equal(moving.length, 1, 'exactly one partition is revoked this round');
  // Round 2: the owner revoked it; now c gets it.
  const round2 = cooperativeStickyAssignor.assign(
    [member('a', ['t'], round1.get('a')!, 2), member('b', ['t'], round1.get('b')!, 2), member('c', ['t'], [], 2)],
    counts,
  );
  assert.deepEqual(fmt(round2.get('c')), moving);
  assert.deepEqual(fmt(round2.get('a')), fmt(round1.get('a')));
  assert.deepEqual(fmt(round2.get('b')), fmt(round1.get('b')));
});

test('cooperative: partitions of a member that left are handed out at once', () => {
  const a = cooperativeStickyAssignor.assign([member('a', ['t'], tps('t', 0), 4)], new Map([['t', 2]]));
  assert.deepEqual(fmt(a.get('a')), ['t-0', 't-1']);
  // An older generation's claim loses to a newer one.
  const b = stickyAssign(
    [member('a', ['t'], tps('t', 0), 3), member('b', ['t'], tps('t', 0), 5)],
    new Map([['t', 2]]),
    true,
  );
  assert.deepEqual(fmt(b.get('b')), ['t-0']);
});

test('subscriptions and assignments round-trip through the consumer protocol encoding', () => {
  const sub = encodeSubscription(['b', 'a'], tps('a', 2, 0), 9, 'rack-1');
  assert.equal(sub.readInt16BE(0), 3, 'written as version 3, like Kafka 3.9');
  const d = decodeSubscription('m1', 'inst', sub);
  assert.deepEqual(d.topics, ['a', 'b']);
  assert.deepEqual(fmt(d.ownedPartitions), ['a-0', 'a-2']);
  assert.equal(d.generationId, 9);
  assert.deepEqual(
    decodeAssignment(encodeAssignment([...tps('x', 3, 1), ...tps('y', 0)])).map((tp) => `${tp.topic}-${tp.partition}`),
    ['x-1', 'x-3', 'y-0'],
  );
  assert.deepEqual(decodeAssignment(Buffer.alloc(0)), [], 'an empty assignment');
  // A version-0 subscription (older clients) has no owned partitions.
  const v0 = Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0xff, 0xff, 0xff, 0xff]);
  const d0 = decodeSubscription('old', null, v0);
  assert.deepEqual([d0.topics, d0.ownedPartitions, d0.generationId], [['t'], [], -1]);
});
