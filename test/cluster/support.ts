import { MetadataKeys, type MetadataValue } from '../../src/cluster/metadata-records.js';
import type { MetadataDelta, MetadataStore, MetadataWrite } from '../../src/cluster/metadata-store.js';

export function topicValue(name: string, partitions = 1, topicId = `id-${name}`): MetadataValue {
  return { kind: 'topic', name, topicId, partitions, internal: false };
}

export function partitionValue(topic: string, partition: number, leader: number, leaderEpoch = 0): MetadataValue {
  return {
    kind: 'partition',
    topic,
    topicId: `id-${topic}`,
    partition,
    replicas: [leader],
    isr: [leader],
    leader,
    leaderEpoch,
    partitionEpoch: leaderEpoch,
  };
}

export function configValue(name: string, configs: Record<string, string>): MetadataValue {
  return { kind: 'config', resource: 'topic', name, configs };
}

/** A create-if-absent write (expected version 0). */
export function create(value: MetadataValue, key = keyFor(value)): MetadataWrite {
  return { key, expectedVersion: 0, value };
}

export function keyFor(v: MetadataValue): string {
  if (v.kind === 'topic') return MetadataKeys.topic(v.name);
  if (v.kind === 'partition') return MetadataKeys.partition(v.topic, v.partition);
  if (v.kind === 'config') return MetadataKeys.config(v.resource, v.name);
  return MetadataKeys.broker(v.nodeId);
}

/** Creates a topic with `partitions` partitions led by `leader`; returns the revision. */
export function createTopic(store: MetadataStore, name: string, partitions: number, leader = 1): Promise<number> {
  const writes = [create(topicValue(name, partitions))];
  for (let p = 0; p < partitions; p++) writes.push(create(partitionValue(name, p, leader)));
  return store.commit(writes);
}

/** Collects deltas a watcher receives. */
export function collect(store: MetadataStore, from: number): { deltas: MetadataDelta[]; stop: () => void } {
  const deltas: MetadataDelta[] = [];
  const stop = store.watch(from, (d) => deltas.push(d));
  return { deltas, stop };
}
