import { keyOf, type MetadataValue } from './metadata-records.js';
import type { MetadataSnapshot, VersionedEntry } from './metadata-store.js';

/** `meta/metadata.json` as Brook wrote it before versions and partition records (format 1). */
export interface SnapshotV1 {
  version?: 1;
  topics: { name: string; topicId: string; partitions: number; configs?: Record<string, string>; internal?: boolean }[];
  brokerConfigs?: { default?: Record<string, string>; broker?: Record<string, string> };
}

/**
 * Format 1 to records: a topic record, its config overrides, and one partition record per
 * partition led by the node that owned the data dir at leader epoch 0 (what its partitions ran
 * at). The node's dynamic broker configs become the configs of broker `nodeId`. Everything is
 * written at revision 1.
 */
export function migrateV1(old: SnapshotV1, nodeId: number): MetadataSnapshot {
  const values: MetadataValue[] = [];
  for (const t of old.topics ?? []) {
    const internal = t.internal ?? false;
    values.push({ kind: 'topic', name: t.name, topicId: t.topicId, partitions: t.partitions, internal });
    if (t.configs && Object.keys(t.configs).length > 0) {
      values.push({ kind: 'config', resource: 'topic', name: t.name, configs: { ...t.configs } });
    }
    for (let p = 0; p < t.partitions; p++) {
      values.push({
        kind: 'partition',
        topic: t.name,
        topicId: t.topicId,
        partition: p,
        replicas: [nodeId],
        isr: [nodeId],
        leader: nodeId,
        leaderEpoch: 0,
        partitionEpoch: 0,
      });
    }
  }
  const bc = old.brokerConfigs ?? {};
  if (bc.default && Object.keys(bc.default).length > 0) {
    values.push({ kind: 'config', resource: 'broker', name: '', configs: { ...bc.default } });
  }
  if (bc.broker && Object.keys(bc.broker).length > 0) {
    values.push({ kind: 'config', resource: 'broker', name: String(nodeId), configs: { ...bc.broker } });
  }
  const entries: VersionedEntry[] = values.map((value) => ({ key: keyOf(value), value, version: 1 }));
  return { revision: entries.length > 0 ? 1 : 0, entries };
}
