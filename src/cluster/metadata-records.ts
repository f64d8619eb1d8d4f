/**
 * The records cluster metadata is made of, and the keys they are stored under. Keys look like
 * etcd keys (one flat, ordered namespace of paths), so that an etcd-backed store can keep each
 * record under its own key and compare its mod revision on every write.
 */

/** A topic as the broker serves it: its record joined with its config overrides. */
export interface TopicRecord {
  name: string;
  topicId: string;
  /** Partition count; each partition has its own PartitionRecord. */
  partitions: number;
  /** Topic-level config overrides (Kafka names), as set at creation or through the config APIs. */
  configs: Record<string, string>;
  internal: boolean;
}

/** Kafka's PartitionRecord/PartitionChangeRecord: who holds a partition and who leads it. */
export interface PartitionRecord {
  topic: string;
  topicId: string;
  partition: number;
  replicas: number[];
  isr: number[];
  /** Node id of the leader, -1 when there is none. */
  leader: number;
  /** Bumped whenever the leader changes; fences requests aimed at an older leader. */
  leaderEpoch: number;
  /** Bumped on every change of the record (replicas, ISR, leader). */
  partitionEpoch: number;
}

export interface BrokerEndpoint {
  name: string;
  host: string;
  port: number;
  securityProtocol: string;
}

/** Kafka's RegisterBrokerRecord: where clients reach a broker. */
export interface BrokerRegistration {
  nodeId: number;
  host: string;
  port: number;
  listeners: BrokerEndpoint[];
  rack: string | null;
}

/** Config overrides of a resource: a topic, or a broker ('' names the cluster-wide default). */
export type ConfigResourceType = 'topic' | 'broker';

export type MetadataValue =
  | { kind: 'topic'; name: string; topicId: string; partitions: number; internal: boolean }
  | ({ kind: 'partition' } & PartitionRecord)
  | { kind: 'config'; resource: ConfigResourceType; name: string; configs: Record<string, string> }
  | ({ kind: 'broker' } & BrokerRegistration);

export type TopicValue = Extract<MetadataValue, { kind: 'topic' }>;
export type ConfigValue = Extract<MetadataValue, { kind: 'config' }>;

/** Topic names are [a-zA-Z0-9._-]+, so '/' separates key parts unambiguously. */
export const MetadataKeys = {
  topic: (name: string) => `/topics/${name}`,
  partition: (topic: string, partition: number) => `/partitions/${topic}/${partition}`,
  config: (resource: ConfigResourceType, name: string) => `/configs/${resource}/${name}`,
  broker: (nodeId: number) => `/brokers/${nodeId}`,
  /** Broker registrations live as long as the broker's session (an etcd lease later): never persisted. */
  isEphemeral: (key: string) => key.startsWith('/brokers/'),
} as const;

export function keyOf(v: MetadataValue): string {
  switch (v.kind) {
    case 'topic':
      return MetadataKeys.topic(v.name);
    case 'partition':
      return MetadataKeys.partition(v.topic, v.partition);
    case 'config':
      return MetadataKeys.config(v.resource, v.name);
    case 'broker':
      return MetadataKeys.broker(v.nodeId);
  }
}

export function partitionOf(v: Extract<MetadataValue, { kind: 'partition' }>): PartitionRecord {
  const { kind: _kind, ...rec } = v;
  return rec;
}

export function brokerOf(v: Extract<MetadataValue, { kind: 'broker' }>): BrokerRegistration {
  const { kind: _kind, ...reg } = v;
  return reg;
}
