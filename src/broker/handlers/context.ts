import type { Logger } from 'pino';
import type { ClusterMetadata } from '../../cluster/cluster-metadata.js';
import type { BrokerConfig } from '../../config/broker-config.js';
import type { GroupCoordinator } from '../../group/group-coordinator.js';
import type { BufferPool } from '../../util/buffer-pool.js';
import type { FetchPurgatory } from '../fetch/purgatory.js';
import type { FetchSessionCache } from '../fetch/fetch-session.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { TopicManager } from '../topic-manager.js';
import type { TransactionSupport } from '../txn-wiring.js';

/** Where clients are told to connect (known once the listener is bound). */
export interface AdvertisedEndpoint {
  host: string;
  port: number;
}

/**
 * What request handlers may use of the broker, instead of the Broker object: each handler file
 * declares the few members it needs (a Pick of this), so its dependencies are visible in its
 * signature and a test can hand it fakes.
 */
export interface HandlerContext {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly config: BrokerConfig;
  readonly log: Logger;
  /** Where clients are told to connect; read live (port 0 resolves once the listener is bound). */
  readonly advertised: AdvertisedEndpoint;
  /** The endpoint advertised to clients that came in on `listenerName` (the first listener's if unknown). */
  advertisedFor(listenerName: string | undefined): AdvertisedEndpoint;
  /** The broker's image of the cluster metadata: partition records, live brokers, dynamic configs. */
  readonly metadata: ClusterMetadata;
  /** Topics as this broker serves them: the metadata cache and topic administration. */
  readonly topics: TopicManager;
  /** The only way to append to or read from a partition. */
  readonly replicaManager: ReplicaManager;
  readonly purgatory: FetchPurgatory;
  readonly fetchSessions: FetchSessionCache;
  /** Buffers fetch reads land in, recycled once the response is written. */
  readonly readBuffers: BufferPool;
  readonly groups: GroupCoordinator;
  readonly transactions: TransactionSupport;
  /** The API versions this broker serves (what ApiVersions advertises). */
  supportedApis(): { apiKey: number; minVersion: number; maxVersion: number }[];
}
