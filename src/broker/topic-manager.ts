import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.js';
import { ConfigError } from '../config/config-def.js';
import type { ClusterMetadata } from '../cluster/cluster-metadata.js';
import type { PartitionRecord, TopicRecord } from '../cluster/metadata-records.js';
import type { PartitionStateListener, TopicChangeListener } from '../cluster/partition-state.js';
import { INTERNAL_TOPICS, topicNameProblem } from '../cluster/topic-name.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { PartitionView, ReplicaManager } from './replica/replica-manager.js';
import {
  logConfigFor,
  produceConfigFor,
  resolveTopicConfig,
  validateTopicConfigs,
  type ProduceConfig,
} from './topic-config.js';

/** Kafka caps partitions per CreateTopics/CreatePartitions well below what would exhaust a node. */
const MAX_PARTITIONS_PER_TOPIC = 100_000;

export interface CreateTopicOptions {
  partitions: number;
  replicationFactor: number;
  configs?: Record<string, string | null>;
  validateOnly?: boolean;
  /** Internal topics (__consumer_offsets, __transaction_state) may only be created by the broker. */
  internal?: boolean;
}

export type TopicListener = (event: 'created' | 'deleted' | 'partitions' | 'configs', topic: TopicRecord) => void;

/**
 * Topics as the broker serves them: the cluster metadata's records joined with the partition logs
 * this broker leads. Writes go to the metadata store; the logs follow the store's deltas (this
 * broker's or another's) through the PartitionStateListener calls, so the two never disagree; a
 * crash between the two steps is repaired by `reconcile()` at start-up.
 */
export class TopicManager implements PartitionStateListener, TopicChangeListener {
  private readonly listeners: TopicListener[] = [];
  /** Effective topic config values (overrides over broker defaults), resolved once per change. */
  private readonly effective = new Map<string, Map<string, string>>();
  /** Typed produce-path configs per topic, built once per change (see ProduceConfig). */
  private readonly produceConfigs = new Map<string, ProduceConfig>();
  /** Topics whose creation is not yet durable: invisible to clients until it is. */
  private readonly creating = new Map<string, Promise<TopicRecord>>();

  constructor(
    private readonly metadata: ClusterMetadata,
    private readonly replicas: ReplicaManager,
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {}

  onChange(listener: TopicListener): void {
    this.listeners.push(listener);
  }

  private emit(event: Parameters<TopicListener>[0], topic: TopicRecord): void {
    for (const l of this.listeners) l(event, topic);
  }

  /**
   * Makes the logs on disk match the metadata: removes orphans, then opens what this broker
   * leads and from then on follows the metadata's deltas.
   */
  async reconcile(): Promise<void> {
    await this.replicas.removeStrayLogs((topic, partition) => {
      const t = this.metadata.topic(topic);
      return t !== undefined && partition < t.partitions;
    }, this.log);
    this.metadata.attach(this, this);
  }

  becomeLeader(t: TopicRecord, rec: PartitionRecord): void {
    this.replicas.becomeLeader(t.name, t.topicId, rec.partition, rec.leaderEpoch, () =>
      logConfigFor(t.configs, this.config),
    );
  }

  becomeFollower(t: TopicRecord, rec: PartitionRecord): void {
    this.replicas.becomeFollower(t.name, rec.partition);
    // Replication comes with the next step: until then a follower only stops taking appends.
    this.log.info({ topic: t.name, partition: rec.partition, leader: rec.leader }, 'became follower');
  }

  async stopReplica(topic: string, index: number, deleted: boolean): Promise<void> {
    await this.replicas.stopReplica(topic, index, deleted);
  }

  topicChanged(event: 'created' | 'deleted' | 'partitions' | 'configs', t: TopicRecord): void {
    if (event === 'deleted') {
      this.effective.delete(t.name);
      this.produceConfigs.delete(t.name);
    } else if (event === 'configs') {
      this.applyConfigs(t);
    }
    this.emit(event, t);
  }

  brokerConfigsChanged(scope: 'default' | 'broker', configs: Record<string, string>): void {
    const next = new Map<string, string | null>(Object.entries(configs));
    for (const k of this.config.dynamicValues(scope).keys()) if (!next.has(k)) next.set(k, null);
    for (const [k, v] of next) {
      try {
        this.config.setDynamic(scope, k, v);
      } catch (err) {
        this.log.warn({ err, property: k }, 'ignoring a stored dynamic broker config');
      }
    }
    this.reapplyAllConfigs();
  }

  topic(name: string): TopicRecord | undefined {
    return this.creating.has(name) ? undefined : this.metadata.topic(name);
  }

  topicById(id: string): TopicRecord | undefined {
    const t = this.metadata.topicById(id);
    return t && !this.creating.has(t.name) ? t : undefined;
  }

  *topics(): IterableIterator<TopicRecord> {
    for (const t of this.metadata.topics()) if (!this.creating.has(t.name)) yield t;
  }

  partitionsOf(name: string): readonly PartitionView[] | undefined {
    return this.replicas.partitionsOf(name);
  }

  partition(name: string, index: number): PartitionView | undefined {
    return this.replicas.getPartition(name, index);
  }

  /**
   * Validates a creation request the way Kafka's controller does and returns the problem as a
   * KafkaError (TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, ...).
   */
  check(name: string, opts: CreateTopicOptions): Record<string, string> {
    const problem = topicNameProblem(name);
    if (problem) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
    if (this.metadata.topic(name) || this.creating.has(name)) {
      throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    }
    if (INTERNAL_TOPICS.has(name) && !opts.internal) {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${name} is reserved to the broker`);
    }
    const collision = this.metadata.collidingTopic(name);
    if (collision) {
      throw new KafkaError(
        ErrorCode.INVALID_TOPIC_EXCEPTION,
        `Topic '${name}' collides with existing topic: ${collision.name}`,
      );
    }
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.');
    }
    if (opts.partitions > MAX_PARTITIONS_PER_TOPIC) {
      throw new KafkaError(
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions must not exceed ${MAX_PARTITIONS_PER_TOPIC}.`,
      );
    }
    if (opts.replicationFactor < 1) {
      throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.');
    }
    if (opts.replicationFactor > 1) {
      throw new KafkaError(
        ErrorCode.INVALID_REPLICATION_FACTOR,
        `Unable to replicate the partition ${opts.replicationFactor} time(s): The target replication factor of ${opts.replicationFactor} cannot be reached because only 1 broker(s) are registered.`,
      );
    }
    try {
      return validateTopicConfigs(opts.configs ?? {});
    } catch (err) {
      if (err instanceof ConfigError) throw new KafkaError(ErrorCode.INVALID_CONFIG, err.message);
      throw err;
    }
  }

  async createTopic(name: string, opts: CreateTopicOptions): Promise<TopicRecord> {
    const configs = this.check(name, opts);
    if (opts.validateOnly) {
      return {
        name,
        topicId: '00000000-0000-0000-0000-000000000000',
        partitions: opts.partitions,
        configs,
        internal: INTERNAL_TOPICS.has(name),
      };
    }
    // The metadata delta opens the partitions this broker leads before the creation resolves.
    const creation = this.metadata.createTopic(name, opts.partitions, configs);
    this.creating.set(name, creation);
    try {
      const t = await creation;
      this.log.info({ topic: name, partitions: opts.partitions, configs }, 'created topic');
      return t;
    } finally {
      this.creating.delete(name);
    }
  }

  /**
   * Auto-creation on first use (Metadata with allow_auto_topic_creation, FindCoordinator for the
   * internal topics). Concurrent callers for one name share one creation.
   */
  async autoCreate(name: string, opts?: Partial<CreateTopicOptions>): Promise<TopicRecord> {
    const pending = this.creating.get(name);
    if (pending) return pending;
    const existing = this.metadata.topic(name);
    if (existing) return existing;
    return this.createTopic(name, {
      partitions: opts?.partitions ?? this.config.int('num.partitions'),
      // A single node cannot honour a larger default.replication.factor; auto-created topics get 1.
      replicationFactor: 1,
      configs: opts?.configs,
      internal: opts?.internal,
    });
  }

  async deleteTopic(name: string): Promise<TopicRecord> {
    const t = this.metadata.topic(name);
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist`);
    if (!this.config.bool('delete.topic.enable')) {
      throw new KafkaError(ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled (delete.topic.enable=false)');
    }
    // The metadata delta stops the partitions and deletes their logs before this resolves.
    await this.metadata.deleteTopic(name);
    this.log.info({ topic: name }, 'deleted topic');
    return t;
  }

  /** CreatePartitions: grows a topic to `total` partitions (never shrinks, as in Kafka). */
  checkPartitionIncrease(name: string, total: number): TopicRecord {
    const t = this.metadata.topic(name);
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
    if (total < t.partitions) {
      throw new KafkaError(
        ErrorCode.INVALID_PARTITIONS,
        `Topic currently has ${t.partitions} partitions, which is higher than the requested ${total}.`,
      );
    }
    if (total === t.partitions) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${t.partitions} partitions.`);
    }
    if (total > MAX_PARTITIONS_PER_TOPIC) {
      throw new KafkaError(
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions must not exceed ${MAX_PARTITIONS_PER_TOPIC}.`,
      );
    }
    return t;
  }

  async increasePartitions(name: string, total: number): Promise<void> {
    this.checkPartitionIncrease(name, total);
    await this.metadata.setPartitionCount(name, total);
    this.log.info({ topic: name, partitions: total }, 'added partitions');
  }

  /** Replaces a topic's config overrides and applies them to its logs at once. */
  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const t = this.metadata.topic(name);
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist`);
    // The metadata delta applies the new configs to the logs (topicChanged) before this resolves.
    await this.metadata.setTopicConfigs(name, configs);
  }

  /** Re-applies effective configs to every log (after a dynamic broker config change). */
  reapplyAllConfigs(): void {
    for (const t of this.metadata.topics()) this.applyConfigs(t);
  }

  /** The effective value of a topic config, as the produce path needs it on every request. */
  configValue(t: TopicRecord, name: string): string {
    let values = this.effective.get(t.name);
    if (!values) this.effective.set(t.name, (values = new Map()));
    let v = values.get(name);
    if (v === undefined) {
      v = resolveTopicConfig(name, t.configs, this.config).value ?? '';
      values.set(name, v);
    }
    return v;
  }

  /** The typed configs the produce path reads for every partition of every request, cached per topic. */
  produceConfig(t: TopicRecord): ProduceConfig {
    let c = this.produceConfigs.get(t.name);
    if (c === undefined) {
      c = produceConfigFor(t.configs, this.config);
      this.produceConfigs.set(t.name, c);
    }
    return c;
  }

  private applyConfigs(t: TopicRecord): void {
    this.effective.delete(t.name);
    this.produceConfigs.delete(t.name);
    this.replicas.updateLogConfig(t.name, logConfigFor(t.configs, this.config));
  }
}
