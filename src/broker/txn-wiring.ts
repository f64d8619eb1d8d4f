import { OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC } from '../cluster/topic-name.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { TransactionCoordinator, type TxnCoordinatorConfig, type TxnStateLog } from '../txn/coordinator.js';
import { ProducerIdManager } from '../txn/producer-id-manager.js';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.js';
import type { GroupCoordinator } from '../group/group-coordinator.js';
import type { ReplicaManager } from './replica/replica-manager.js';
import type { TopicManager } from './topic-manager.js';

/** How long a __transaction_state write may wait for the in-sync replicas (Kafka: request.timeout.ms). */
const STATE_WRITE_TIMEOUT_MS = 30_000;

/** What the transaction wiring uses of the broker. */
export interface TxnWiringDeps {
  readonly config: BrokerConfig;
  readonly dataDir: string;
  readonly log: Logger;
  readonly topics: TopicManager;
  readonly replicaManager: ReplicaManager;
  readonly groups: GroupCoordinator;
  /** The data dir had a clean-shutdown marker (producer state need not be replayed). */
  readonly hadCleanShutdown: boolean;
}

/**
 * Idempotence and transactions on this broker: the producer-id allocator, the transaction
 * coordinator (state in __transaction_state, markers through the partitions' producer state),
 * producer-state recovery of every partition at start-up (through the replica manager) and
 * producer.id.expiration.ms housekeeping.
 */
export class TransactionSupport {
  readonly coordinator: TransactionCoordinator;
  readonly producerIds: ProducerIdManager;
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly broker: TxnWiringDeps) {
    const c = broker.config;
    this.producerIds = new ProducerIdManager(broker.dataDir, (err) =>
      broker.log.error({ err }, 'reserving the next block of producer ids failed (retried on next use)'),
    );
    const config: TxnCoordinatorConfig = {
      get transactionMaxTimeoutMs() {
        return c.int('transaction.max.timeout.ms');
      },
      get transactionalIdExpirationMs() {
        return c.int('transactional.id.expiration.ms');
      },
      get abortTimedOutTransactionsIntervalMs() {
        return c.int('transaction.abort.timed.out.transaction.cleanup.interval.ms');
      },
      get removeExpiredTransactionalIdsIntervalMs() {
        return c.int('transaction.remove.expired.transaction.cleanup.interval.ms');
      },
    };
    // Kafka fixes the partition count when the topic is first created; keep it if it exists.
    const partitionCount =
      broker.topics.topic(TRANSACTION_STATE_TOPIC)?.partitions ?? c.int('transaction.state.log.num.partitions');
    const stateLog: TxnStateLog = {
      partitionCount: () => broker.topics.topic(TRANSACTION_STATE_TOPIC)?.partitions,
      async ensureCreated() {
        const t = await broker.topics.autoCreate(TRANSACTION_STATE_TOPIC, {
          partitions: partitionCount,
          internal: true,
          configs: {
            'cleanup.policy': 'compact',
            'segment.bytes': String(c.int('transaction.state.log.segment.bytes')),
            'compression.type': 'uncompressed',
          },
        });
        return t.partitions;
      },
      async append(partition, batch) {
        const p = broker.topics.partition(TRANSACTION_STATE_TOPIC, partition);
        if (!p)
          throw new KafkaError(
            ErrorCode.COORDINATOR_NOT_AVAILABLE,
            `${TRANSACTION_STATE_TOPIC}-${partition} does not exist`,
          );
        const [appended] = broker.replicaManager.appendRecords({
          acks: -1,
          timeoutMs: STATE_WRITE_TIMEOUT_MS,
          origin: 'coordinator',
          entries: [{ partition: p, records: batch }],
        });
        await appended;
      },
      async read(partition, visitor) {
        const p = broker.topics.partition(TRANSACTION_STATE_TOPIC, partition);
        if (p) await broker.replicaManager.scanBatches(p, p.logStartOffset, visitor);
      },
      coordinatorEpoch: (partition) => broker.topics.partition(TRANSACTION_STATE_TOPIC, partition)?.leaderEpoch ?? 0,
    };
    this.coordinator = new TransactionCoordinator({
      stateLog,
      markers: {
        async writeMarker(topic, partition, marker) {
          const p = broker.topics.partition(topic, partition);
          if (!p) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition} does not exist`);
          await broker.replicaManager.appendTxnMarker(p, marker);
          // Transactional offset commits become visible (or vanish) once their marker is durable.
          if (topic === OFFSETS_TOPIC) broker.groups.completeTransaction(marker.producerId, marker.commit, [partition]);
        },
      },
      partitionExists: (topic, partition) => broker.topics.partition(topic, partition) !== undefined,
      offsetsPartitionFor: (groupId) => broker.groups.partitionFor(groupId),
      offsetsTopic: OFFSETS_TOPIC,
      generateProducerId: () => this.producerIds.generate(),
      config,
      logger: broker.log.child({ component: 'transaction-coordinator' }),
    });
  }

  /**
   * Before the listener opens: every partition's producer state (so no produce is checked against
   * a half-built state), then __transaction_state. Prepared transactions finish in the background.
   */
  async startup(): Promise<void> {
    await this.broker.replicaManager.loadProducerStates(this.broker.hadCleanShutdown, this.broker.log);
    await this.coordinator.startup();
    await this.endDanglingTransactions();
    const interval = this.broker.config.int('producer.id.expiration.check.interval.ms');
    this.expiryTimer = setInterval(() => this.expireProducers(), interval);
    this.expiryTimer.unref();
  }

  /**
   * Transactions open on a partition that the coordinator already finished (its marker was lost
   * with unflushed data in a machine crash) would hold the last stable offset back forever:
   * write the marker the coordinator's state calls for.
   */
  private async endDanglingTransactions(): Promise<void> {
    const log = this.broker.log;
    for (const p of this.broker.replicaManager.allPartitions()) {
      if (p.producers.ongoingCount === 0) continue;
      for (const e of [...p.producers.producers.values()]) {
        if (e.currentTxnFirstOffset < 0) continue;
        const marker = this.coordinator.danglingTransactionMarker(e.producerId, e.producerEpoch, p.topic, p.index);
        if (!marker) continue;
        log.warn(
          {
            partition: `${p.topic}-${p.index}`,
            producerId: e.producerId,
            firstOffset: e.currentTxnFirstOffset,
            commit: marker.commit,
          },
          'ending a transaction the coordinator already finished',
        );
        try {
          await this.broker.replicaManager.appendTxnMarker(p, marker);
        } catch (err) {
          log.error({ err, partition: `${p.topic}-${p.index}` }, 'could not end a dangling transaction');
        }
      }
    }
  }

  /** Forgets producer ids idle for producer.id.expiration.ms on every partition. */
  expireProducers(now = Date.now()): number {
    const ms = this.broker.config.int('producer.id.expiration.ms');
    let n = 0;
    for (const p of this.broker.replicaManager.allPartitions())
      if (p.producers.size > 0) n += p.producers.removeExpired(now, ms);
    return n;
  }

  /** Stops the coordinator and the expiry timer (producer snapshots are the replica manager's, at its shutdown). */
  shutdown(): void {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = null;
    this.coordinator.shutdown();
  }
}
