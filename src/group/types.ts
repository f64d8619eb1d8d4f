import type { Logger } from 'pino';
import type { Time } from './time.js';

/**
 * Access to the internal topic __consumer_offsets through the partition log. The coordinator
 * writes whole magic-2 batches (one per commit or group change) and reads them back on start-up.
 */
export interface OffsetsLog {
  /** Creates __consumer_offsets (cleanup.policy=compact, offsetsTopicPartitionCount partitions) if missing. */
  ensureCreated(): Promise<void>;
  /**
   * Appends one magic-2 batch (base offset 0, as a producer writes it) to a partition. Resolves once
   * it is durable per the topic's flush policy; rejects (a KafkaError when it has a code) otherwise.
   */
  append(partition: number, batch: Buffer): Promise<{ baseOffset: number }>;
  /**
   * Visits the whole batches of a partition from `fromOffset` to the log end, in offset order.
   * The buffer passed to the visitor holds exactly one batch. Returning false stops the scan.
   */
  read(
    partition: number,
    fromOffset: number,
    visitor: (batch: Buffer) => boolean | void | Promise<boolean | void>,
  ): Promise<void>;
}

/** Topic metadata the coordinator needs: commit validation, KIP-848 assignment, lag. */
export interface TopicMetadataView {
  /** Partition count, or undefined when the topic does not exist. */
  partitionCount(topic: string): number | undefined;
  /** Lowercase dashed uuid, or undefined when the topic does not exist. */
  topicIdOf(topic: string): string | undefined;
  topicNameOf(topicId: string): string | undefined;
  /**
   * The offset a consumer can read up to (high watermark) for lag, or undefined when the
   * partition does not exist.
   */
  logEndOffset(topic: string, partition: number): number | undefined;
}

/**
 * Broker settings the coordinator reads on every use (so a getter-backed object sees dynamic
 * changes). Names follow Kafka's properties; values are plain numbers and strings.
 */
export interface GroupCoordinatorConfig {
  /** group.initial.rebalance.delay.ms (3000) */
  groupInitialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms (6000) */
  groupMinSessionTimeoutMs: number;
  /** group.max.session.timeout.ms (1800000) */
  groupMaxSessionTimeoutMs: number;
  /** group.max.size (2147483647) */
  groupMaxSize: number;
  /** offsets.retention.minutes (10080) */
  offsetsRetentionMinutes: number;
  /** offsets.retention.check.interval.ms (600000) */
  offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes (4096) */
  offsetMetadataMaxBytes: number;
  /** group.coordinator.rebalance.protocols ("classic,consumer") */
  rebalanceProtocols: readonly string[];
  /** group.consumer.session.timeout.ms (45000) */
  consumerSessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms (5000) */
  consumerHeartbeatIntervalMs: number;
  /** group.consumer.max.size (2147483647) */
  consumerMaxSize: number;
  /** group.consumer.assignors ("uniform,range"); the first is the default. */
  consumerAssignors: readonly string[];
}

export const DEFAULT_GROUP_CONFIG: GroupCoordinatorConfig = {
  groupInitialRebalanceDelayMs: 3000,
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1_800_000,
  groupMaxSize: 2147483647,
  offsetsRetentionMinutes: 10080,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataMaxBytes: 4096,
  rebalanceProtocols: ['classic', 'consumer'],
  consumerSessionTimeoutMs: 45_000,
  consumerHeartbeatIntervalMs: 5000,
  consumerMaxSize: 2147483647,
  consumerAssignors: ['uniform', 'range'],
};

export interface CoordinatorNode {
  nodeId: number;
  host: string;
  port: number;
}

export interface GroupCoordinatorDeps {
  /** The node that coordinates every group and transaction: with one broker, this one. Read per request (the port may be known only after listen). */
  node(): CoordinatorNode;
  config: GroupCoordinatorConfig;
  /** offsets.topic.num.partitions (50); fixed once the topic exists. */
  offsetsTopicPartitionCount: number;
  offsetsLog: OffsetsLog;
  topics: TopicMetadataView;
  time?: Time;
  logger?: Logger;
}

/** Who sent a request, as group descriptions report it. */
export interface ClientInfo {
  clientId: string;
  /** Kafka's form: "/" + the client's IP address. */
  clientHost: string;
}

/** One key/value record of __consumer_offsets, as the coordinator writes it. */
export interface OffsetsRecord {
  key: Buffer;
  /** null: a tombstone. */
  value: Buffer | null;
}
