import { collisionKey } from './topic-name.js';
import {
  MetadataKeys,
  brokerOf,
  partitionOf,
  type BrokerRegistration,
  type ConfigResourceType,
  type PartitionRecord,
  type TopicRecord,
  type TopicValue,
} from './metadata-records.js';
import type { MetadataDelta, MetadataSnapshot, VersionedEntry } from './metadata-store.js';

/**
 * A broker's view of cluster metadata at one revision, built from a snapshot and kept current by
 * the store's deltas (Kafka's MetadataImage). Everything a request reads comes from here, never
 * from the store, so reads stay synchronous whatever the store is.
 */
export class MetadataImage {
  revision = 0;
  private readonly entries = new Map<string, VersionedEntry>();
  private readonly topicsByName = new Map<string, TopicRecord>();
  private readonly topicsById = new Map<string, TopicRecord>();
  private readonly partitionsByTopic = new Map<string, PartitionRecord[]>();
  private readonly brokersById = new Map<number, BrokerRegistration>();

  load(snapshot: MetadataSnapshot): void {
    this.entries.clear();
    this.topicsByName.clear();
    this.topicsById.clear();
    this.partitionsByTopic.clear();
    this.brokersById.clear();
    for (const e of snapshot.entries) this.entries.set(e.key, e);
    for (const e of snapshot.entries) this.reindex(e.key);
    this.revision = snapshot.revision;
  }

  apply(delta: MetadataDelta): void {
    if (delta.revision <= this.revision) return;
    for (const w of delta.writes) {
      if (w.value === null) this.entries.delete(w.key);
      else this.entries.set(w.key, { key: w.key, value: w.value, version: delta.revision });
    }
    for (const w of delta.writes) this.reindex(w.key, w.value === null);
    this.revision = delta.revision;
  }

  /** The version a compare-and-swap on `key` must expect (0: absent). */
  versionOf(key: string): number {
    return this.entries.get(key)?.version ?? 0;
  }

  topic(name: string): TopicRecord | undefined {
    return this.topicsByName.get(name);
  }

  topicById(id: string): TopicRecord | undefined {
    return this.topicsById.get(id);
  }

  topics(): IterableIterator<TopicRecord> {
    return this.topicsByName.values();
  }

  /** A topic whose name collides with `name` on '.' versus '_', if any. */
  collidingTopic(name: string): TopicRecord | undefined {
    const key = collisionKey(name);
    for (const t of this.topicsByName.values()) if (t.name !== name && collisionKey(t.name) === key) return t;
    return undefined;
  }

  /** The partition records of a topic, by index (a hole where a record is missing). */
  partitions(topic: string): readonly PartitionRecord[] {
    return this.partitionsByTopic.get(topic) ?? [];
  }

  partition(topic: string, index: number): PartitionRecord | undefined {
    return this.partitionsByTopic.get(topic)?.[index];
  }

  brokers(): BrokerRegistration[] {
    return [...this.brokersById.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  broker(nodeId: number): BrokerRegistration | undefined {
    return this.brokersById.get(nodeId);
  }

  configs(resource: ConfigResourceType, name: string): Record<string, string> {
    const v = this.entries.get(MetadataKeys.config(resource, name))?.value;
    return v?.kind === 'config' ? { ...v.configs } : {};
  }

  private reindex(key: string, removed = false): void {
    const [, kind, a, b] = key.split('/');
    if (kind === 'topics' || (kind === 'configs' && a === 'topic')) {
      const name = kind === 'topics' ? a! : b!;
      const old = this.topicsByName.get(name);
      if (old) this.topicsById.delete(old.topicId);
      this.topicsByName.delete(name);
      const v = this.entries.get(MetadataKeys.topic(name))?.value;
      if (v?.kind === 'topic') this.indexTopic(v);
      else if (kind === 'topics' && removed) this.partitionsByTopic.delete(name);
    } else if (kind === 'partitions') {
      const index = Number(b);
      const v = this.entries.get(key)?.value;
      let list = this.partitionsByTopic.get(a!);
      if (v?.kind === 'partition') {
        if (!list) this.partitionsByTopic.set(a!, (list = []));
        list[index] = partitionOf(v);
      } else if (list) {
        delete list[index];
        while (list.length > 0 && list[list.length - 1] === undefined) list.pop();
        if (list.length === 0) this.partitionsByTopic.delete(a!);
      }
    } else if (kind === 'brokers') {
      const v = this.entries.get(key)?.value;
      if (v?.kind === 'broker') this.brokersById.set(v.nodeId, brokerOf(v));
      else this.brokersById.delete(Number(a));
    }
  }

  private indexTopic(v: TopicValue): void {
    // A fresh object per change: a handler holding the old record keeps a consistent view.
    const t: TopicRecord = {
      name: v.name,
      topicId: v.topicId,
      partitions: v.partitions,
      configs: this.configs('topic', v.name),
      internal: v.internal,
    };
    this.topicsByName.set(t.name, t);
    this.topicsById.set(t.topicId, t);
  }
}
