import type { HandlerContext } from './handlers/context.js';
import { OFFSETS_TOPIC } from '../cluster/topic-name.js';
import { KafkaError, ErrorCode } from '../protocol/errors.js';
import { GroupCoordinator } from '../group/group-coordinator.js';
import type { GroupCoordinatorConfig, OffsetsLog, TopicMetadataView } from '../group/types.js';

/** What the group coordinator's wiring uses of the broker. */
export type GroupWiringDeps = Pick<
  HandlerContext,
  'config' | 'log' | 'topics' | 'replicaManager' | 'nodeId' | 'advertised'
>;

/**
 * The group coordinator's view of this broker: `__consumer_offsets` through the replica manager,
 * topic metadata for commits and assignment, and configs read live so dynamic changes apply.
 */
export function createGroupCoordinator(broker: GroupWiringDeps): GroupCoordinator {
  const c = broker.config;
  const config: GroupCoordinatorConfig = {
    get groupInitialRebalanceDelayMs() {
      return c.int('group.initial.rebalance.delay.ms');
    },
    get groupMinSessionTimeoutMs() {
      return c.int('group.min.session.timeout.ms');
    },
    get groupMaxSessionTimeoutMs() {
      return c.int('group.max.session.timeout.ms');
    },
    get groupMaxSize() {
      return c.int('group.max.size');
    },
    get offsetsRetentionMinutes() {
      return c.int('offsets.retention.minutes');
    },
    get offsetsRetentionCheckIntervalMs() {
      return c.int('offsets.retention.check.interval.ms');
    },
    get offsetMetadataMaxBytes() {
      return c.int('offset.metadata.max.bytes');
    },
    get rebalanceProtocols() {
      return c.list('group.coordinator.rebalance.protocols');
    },
    get consumerSessionTimeoutMs() {
      return c.int('group.consumer.session.timeout.ms');
    },
    get consumerHeartbeatIntervalMs() {
      return c.int('group.consumer.heartbeat.interval.ms');
    },
    get consumerMaxSize() {
      return c.int('group.consumer.max.size');
    },
    get consumerAssignors() {
      return c.list('group.consumer.assignors');
    },
  };
  // Kafka fixes the partition count when the topic is first created; keep it if it already exists.
  const partitionCount = broker.topics.topic(OFFSETS_TOPIC)?.partitions ?? c.int('offsets.topic.num.partitions');
  const create = () => ensureOffsetsTopic(broker);
  const offsetsLog: OffsetsLog = {
    async ensureCreated() {
      // Nothing to load until the topic exists; `append` creates it.
    },
    async append(partition, batch) {
      await create();
      const p = broker.topics.partition(OFFSETS_TOPIC, partition);
      if (!p) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${OFFSETS_TOPIC}-${partition} does not exist`);
      // Through the producer state, so transactional offset commits are epoch-checked like any write.
      const [appended] = broker.replicaManager.appendRecords({
        acks: -1,
        timeoutMs: c.int('offsets.commit.timeout.ms'),
        origin: 'coordinator',
        entries: [{ partition: p, records: batch }],
      });
      const r = await appended!;
      return { baseOffset: r.baseOffset };
    },
    async read(partition, fromOffset, visitor) {
      const p = broker.topics.partition(OFFSETS_TOPIC, partition);
      if (!p) return;
      await broker.replicaManager.scanBatches(p, fromOffset, visitor);
    },
  };
  const topics: TopicMetadataView = {
    partitionCount: (t) => broker.topics.topic(t)?.partitions,
    topicIdOf: (t) => broker.topics.topic(t)?.topicId,
    topicNameOf: (id) => broker.topics.topicById(id)?.name,
    logEndOffset: (t, p) => broker.topics.partition(t, p)?.highWatermark,
  };
  return new GroupCoordinator({
    node: () => ({ nodeId: broker.nodeId, host: broker.advertised.host, port: broker.advertised.port }),
    config,
    offsetsTopicPartitionCount: partitionCount,
    offsetsLog,
    topics,
    logger: broker.log.child({ component: 'group-coordinator' }),
  });
}

/**
 * Creates __consumer_offsets on first use, as Kafka does (on the first FindCoordinator for a group,
 * the first commit, or a transaction's AddOffsetsToTxn), not at start-up: a broker that never sees a
 * group has no 50 empty partitions to open. The partition count is fixed once it exists.
 */
export async function ensureOffsetsTopic(broker: Pick<HandlerContext, 'topics' | 'config'>): Promise<void> {
  if (broker.topics.topic(OFFSETS_TOPIC)) return;
  const c = broker.config;
  await broker.topics.autoCreate(OFFSETS_TOPIC, {
    partitions: c.int('offsets.topic.num.partitions'),
    internal: true,
    configs: {
      'cleanup.policy': 'compact',
      'segment.bytes': String(c.int('offsets.topic.segment.bytes')),
      'compression.type': 'producer',
    },
  });
}
