import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixturesDir } from '../helpers/paths.js';
import {
  ErrorCode,
  Resource,
  Source,
  assertCode,
  describeConfigs,
  fetchPartition,
  metadata,
  onDataDir,
  topicConfig,
  valuesOf,
  type WireClient,
} from '../broker/support.js';

/**
 * test/fixtures/data-dir-v1 was written by the broker as it was before versioned metadata (format-1
 * meta/metadata.json), node.id 1: topic orders (3 partitions, retention.ms=3600000,
 * cleanup.policy=compact) with v0 and v1 produced to partitions 0 and 1; topic plain grown from 1
 * to 2 partitions with hello in partition 1; log.cleaner.threads=2 set on broker 1; shut down cleanly.
 */
async function assertFixtureServed(c: WireClient): Promise<void> {
  const md = await metadata(c, null);
  const byName = new Map(md.topics.map((t) => [t.name, t]));
  assert.equal(byName.get('orders')?.topicId, '4f5c3148-8d3c-4054-a7c7-975728197f76', 'topic ids are kept');
  assert.equal(byName.get('orders')?.partitions.length, 3);
  assert.equal(byName.get('plain')?.partitions.length, 2);
  for (const p of byName.get('orders')!.partitions) {
    assert.equal(p.leaderId, 1);
    assert.equal(p.leaderEpoch, 0);
  }
  const retention = await topicConfig(c, 'orders', 'retention.ms');
  assert.deepEqual(retention, { value: '3600000', source: Source.DYNAMIC_TOPIC_CONFIG });
  const threads = await describeConfigs(c, Resource.BROKER, '1', ['log.cleaner.threads']);
  assert.equal(threads.configs[0]?.value, '2');
  assert.equal(threads.configs[0]?.configSource, Source.DYNAMIC_BROKER_CONFIG);
  const fetched = await fetchPartition(c, { topic: 'orders', partition: 1, fetchOffset: 0 });
  assertCode(fetched.errorCode, ErrorCode.NONE);
  assert.deepEqual(valuesOf(fetched.records), ['v1']);
  const plain = await fetchPartition(c, { topic: 'plain', partition: 1, fetchOffset: 0 });
  assert.deepEqual(valuesOf(plain.records), ['hello']);
}

test('a data dir written before versioned metadata is served as it was, before and after its migration', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'brook-upgrade-'));
  try {
    await cp(join(fixturesDir, 'data-dir-v1'), dir, { recursive: true });
    await onDataDir(dir, { 'node.id': '1' }, (_b, c) => assertFixtureServed(c));
    // The second start reads the migrated (format 2) file.
    await onDataDir(dir, { 'node.id': '1' }, (_b, c) => assertFixtureServed(c));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
