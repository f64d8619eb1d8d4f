import type { PartitionRecord, TopicRecord } from './metadata-records.js';
import type { MetadataDelta } from './metadata-store.js';
import type { MetadataImage } from './metadata-image.js';

/**
 * What a broker does when metadata says a partition's role on it changed (Kafka's
 * ReplicaManager.applyDelta: makeLeaders / makeFollowers / stopReplicas). The broker's partition
 * owner implements it; calls for one partition come in revision order and may repeat (a record
 * can change without changing this broker's role: ISR, a new leader epoch), so each is idempotent.
 */
export interface PartitionStateListener {
  /** This broker leads the partition at `partition.leaderEpoch`: open its log, take appends. */
  becomeLeader(topic: TopicRecord, partition: PartitionRecord): void;
  /** This broker is a replica but not the leader: stop taking appends, follow `partition.leader`. */
  becomeFollower(topic: TopicRecord, partition: PartitionRecord): void;
  /** This broker no longer holds the partition; `deleted`: the partition is gone, remove its log. */
  stopReplica(topic: string, partition: number, deleted: boolean): Promise<void>;
}

/** Topic-level changes a broker reacts to (config reapplication, coordinator bookkeeping). */
export interface TopicChangeListener {
  topicChanged(event: 'created' | 'deleted' | 'partitions' | 'configs', topic: TopicRecord): void;
  /** Dynamic broker configs of `scope` ('default': cluster-wide, 'broker': this node) are now `configs`. */
  brokerConfigsChanged(scope: 'default' | 'broker', configs: Record<string, string>): void;
}

/** What this broker should do with one partition record. */
export function roleOf(nodeId: number, p: PartitionRecord): 'leader' | 'follower' | 'none' {
  if (p.leader === nodeId) return 'leader';
  return p.replicas.includes(nodeId) ? 'follower' : 'none';
}

/**
 * Turns one delta (already applied to `image`) into calls on the listeners. Partition roles go
 * first so a 'created' listener finds the topic's partitions open. Returns the stopReplica work.
 */
export function dispatchDelta(
  nodeId: number,
  image: MetadataImage,
  delta: MetadataDelta,
  partitions: PartitionStateListener,
  topics: TopicChangeListener,
): Promise<void>[] {
  const work: Promise<void>[] = [];
  const topicEvents: [Parameters<TopicChangeListener['topicChanged']>[0], TopicRecord][] = [];
  for (const c of delta.changes) {
    switch (c.type) {
      case 'partition-changed': {
        const t = image.topic(c.partition.topic);
        const role = roleOf(nodeId, c.partition);
        if (t && role === 'leader') partitions.becomeLeader(t, c.partition);
        else if (t && role === 'follower') partitions.becomeFollower(t, c.partition);
        else if (c.previous && roleOf(nodeId, c.previous) !== 'none') {
          work.push(partitions.stopReplica(c.partition.topic, c.partition.partition, false));
        }
        break;
      }
      case 'partition-removed':
        if (roleOf(nodeId, c.partition) !== 'none') {
          work.push(partitions.stopReplica(c.partition.topic, c.partition.partition, true));
        }
        break;
      case 'topic-created':
      case 'topic-changed': {
        const t = image.topic(c.topic.name);
        if (t) topicEvents.push([c.type === 'topic-created' ? 'created' : 'partitions', t]);
        break;
      }
      case 'topic-deleted':
        topicEvents.push([
          'deleted',
          {
            name: c.topic.name,
            topicId: c.topic.topicId,
            partitions: c.topic.partitions,
            configs: {},
            internal: c.topic.internal,
          },
        ]);
        break;
      case 'config-changed':
        if (c.resource === 'topic') {
          const t = image.topic(c.name);
          // A new topic's configs arrive with its creation; a deleted topic's go with it.
          const created = delta.changes.some((o) => o.type === 'topic-created' && o.topic.name === c.name);
          if (t && !created) topicEvents.push(['configs', t]);
        } else if (c.name === '') {
          topics.brokerConfigsChanged('default', c.configs);
        } else if (c.name === String(nodeId)) {
          topics.brokerConfigsChanged('broker', c.configs);
        }
        break;
      case 'broker-registered':
      case 'broker-unregistered':
        break;
    }
  }
  for (const [event, t] of topicEvents) topics.topicChanged(event, t);
  return work;
}
