import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type BrokerConfig } from '../config/broker-config.js';
import { ClusterMetadata } from '../cluster/cluster-metadata.js';
import { FileMetadataStore } from '../cluster/file-store.js';
import type { MetadataStore } from '../cluster/metadata-store.js';
import { compressAsync, decompressAsync, isSupportedCodec } from '../protocol/compression/index.js';
import { LogManager, type RecordsCodec } from '../storage/index.js';
import type { ApiHandler } from './api-handler.js';
import type { AdvertisedEndpoint, HandlerContext } from './handlers/context.js';
import { createHandlers } from './handlers/index.js';
import { Listener } from './network/listener.js';
import { startSampler } from './observability.js';
import { RequestPipeline } from './pipeline/hooks.js';
import { KafkaRequestProcessor } from './request-processor.js';
import { logConfigFor } from './topic-config.js';
import { TopicManager } from './topic-manager.js';
import { FetchPurgatory } from './fetch/purgatory.js';
import { FetchSessionCache } from './fetch/fetch-session.js';
import { BufferPool } from '../util/buffer-pool.js';
import type { GroupCoordinator } from '../group/group-coordinator.js';
import { createGroupCoordinator } from './group-wiring.js';
import { TransactionSupport } from './txn-wiring.js';
import { ReplicaManager } from './replica/replica-manager.js';

/** The storage layer reaches every compression codec through the protocol layer's codecs. */
const storageCodec: RecordsCodec = {
  decompress: (codec, data) => (isSupportedCodec(codec) ? decompressAsync(codec, data) : null),
  compress: (codec, data) => (isSupportedCodec(codec) ? compressAsync(codec, data) : null),
};

export type { AdvertisedEndpoint } from './handlers/context.js';

export interface BrokerStartOptions {
  /**
   * Where cluster metadata lives. Default: the data dir's own file store (a single node). Brokers
   * given one shared store (InMemoryMetadataStore) form a cluster; the caller closes that store.
   */
  metadataStore?: MetadataStore;
}

/**
 * One Brook broker: the composition root. It opens configuration, metadata and the partition logs,
 * builds the replica manager, coordinators and listener on them, and hands each part only what it
 * needs (handlers get a HandlerContext, not this object).
 */
export class Broker {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly topics: TopicManager;
  /** The partitions hosted here: the only way to append to or read from their logs. */
  readonly replicaManager: ReplicaManager;
  readonly purgatory: FetchPurgatory;
  readonly fetchSessions: FetchSessionCache;
  /** Buffers fetch reads land in, recycled once the response is written (see BufferPool). */
  readonly readBuffers = new BufferPool();
  readonly groups: GroupCoordinator;
  /** Producer ids, the transaction coordinator and producer-state recovery (see txn-wiring.ts). */
  readonly transactions: TransactionSupport;
  /** Where clients of the first listener are told to connect; known once bound (port 0 resolves then). */
  advertised: AdvertisedEndpoint = { host: 'localhost', port: 0 };
  /** Every configured listener, bound at start, in the order of `listeners`. */
  listeners: Listener[] = [];
  /** Hooks around every connection and request (authentication, authorization, quotas later). */
  readonly pipeline = new RequestPipeline();
  private stopSampler: (() => void) | null = null;
  private processor: KafkaRequestProcessor | null = null;
  private closing: Promise<void> | null = null;
  /** The metadata store was opened by this broker (not shared), so closing it is ours to do. */
  private ownStore = false;
  /** The group coordinator's load from __consumer_offsets, awaited by close so nothing writes after it. */
  private groupsLoading: Promise<void> = Promise.resolve();

  private constructor(
    readonly config: BrokerConfig,
    readonly log: Logger,
    readonly metadata: ClusterMetadata,
    readonly logs: LogManager,
  ) {
    this.nodeId = config.nodeId;
    this.clusterId = metadata.clusterId;
    this.dataDir = logs.dataDir;
    this.replicaManager = new ReplicaManager(logs, config.nodeId);
    this.topics = new TopicManager(metadata, this.replicaManager, config, log);
    this.purgatory = new FetchPurgatory();
    this.fetchSessions = new FetchSessionCache(config.int('max.incremental.fetch.session.cache.slots'));
    this.groups = createGroupCoordinator(this);
    this.transactions = new TransactionSupport({
      config,
      dataDir: this.dataDir,
      log,
      topics: this.topics,
      replicaManager: this.replicaManager,
      groups: this.groups,
      hadCleanShutdown: logs.hadCleanShutdown,
    });
  }

  /** Opens the data dir (recovering logs after a crash) and starts serving on every listener. */
  static async start(config: BrokerConfig, log: Logger, opts: BrokerStartOptions = {}): Promise<Broker> {
    const started = performance.now();
    const dataDir = config.dataDir;
    await mkdir(dataDir, { recursive: true });
    const onListenerError = (err: unknown) => log.error({ err }, 'applying a metadata change failed');
    const store = opts.metadataStore ?? (await FileMetadataStore.open(dataDir, config.nodeId, onListenerError));
    const ownStore = opts.metadataStore === undefined;
    const metadata = await ClusterMetadata.open(store, config.nodeId, log);
    for (const scope of ['default', 'broker'] as const) {
      for (const [k, v] of Object.entries(metadata.dynamicBrokerConfigs(scope))) {
        try {
          config.setDynamic(scope, k, v);
        } catch (err) {
          log.warn({ err, property: k }, 'ignoring a stored dynamic broker config');
        }
      }
    }
    const logs = await LogManager.open(dataDir, {
      defaultConfig: logConfigFor({}, config),
      topicConfig: (topic) => logConfigFor(metadata.topic(topic)?.configs ?? {}, config),
      codec: storageCodec,
      retentionCheckIntervalMs: config.int('log.retention.check.interval.ms'),
      checkpointIntervalMs: config.int('log.flush.offset.checkpoint.interval.ms'),
      cleanerBackoffMs: config.int('log.cleaner.backoff.ms'),
      cleanerEnabled: config.bool('log.cleaner.enable'),
      onError: (err, task) => log.error({ err, task }, 'storage background task failed'),
    });
    if (!logs.hadCleanShutdown && logs.logs().length > 0)
      log.warn('previous shutdown was not clean; logs were recovered');
    const broker = new Broker(config, log, metadata, logs);
    try {
      await broker.topics.reconcile();
      // Producer state must be rebuilt before the first produce is checked against it.
      await broker.transactions.startup();
      await broker.listen();
      broker.ownStore = ownStore;
      await broker.register();
      // Groups load from __consumer_offsets while the broker already serves (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
      broker.groupsLoading = broker.groups.startup().catch((err) => {
        if (!broker.closing) log.error({ err }, 'group coordinator failed to load');
      });
    } catch (err) {
      broker.stopSampler?.();
      await Promise.all(broker.listeners.map((l) => l.close(0).catch(() => {})));
      await metadata.close().catch(() => {});
      if (ownStore) await store.close().catch(() => {});
      await logs.close().catch(() => {});
      throw err;
    }
    log.info(
      {
        nodeId: broker.nodeId,
        clusterId: broker.clusterId,
        dataDir,
        startupMs: Math.round(performance.now() - started),
        listeners: broker.listeners.map((l) => `${l.name}://${l.advertised.host}:${l.advertised.port}`),
      },
      `Brook broker ${broker.nodeId} listening on ${broker.advertised.host}:${broker.advertised.port}`,
    );
    return broker;
  }

  private async listen(): Promise<void> {
    const handlers: ApiHandler[] = createHandlers(this.handlerContext());
    this.processor = new KafkaRequestProcessor(handlers, this.log, this.pipeline);
    const queued = this.config.int('queued.max.request.bytes');
    const limits = {
      maxFrameBytes: this.config.int('socket.request.max.bytes'),
      maxQueuedRequestBytes: queued > 0 ? queued : 100 * 1024 * 1024,
      maxQueuedResponseBytes: 4 * 1024 * 1024,
      idleTimeoutMs: this.config.int('connections.max.idle.ms'),
    };
    const specs = this.config.listenerSpecs();
    if (specs.length === 0) throw new Error('no listener configured (listeners is empty)');
    // Every listener is checked (security protocol) before any is bound.
    const listeners = specs.map((spec) => new Listener(spec, this.processor!, limits, this.log, this.pipeline));
    this.listeners = listeners;
    const backlog = this.config.int('socket.listen.backlog.size');
    try {
      for (const l of listeners) await l.start(backlog);
    } catch (err) {
      await Promise.all(listeners.map((l) => l.close(0)));
      throw err;
    }
    this.advertised = listeners[0]!.advertised;
    this.stopSampler = startSampler({ nodeId: this.nodeId, fetchWaiting: () => this.purgatory.size });
  }

  /** The endpoint advertised to clients of `listenerName` (Kafka answers Metadata per listener). */
  advertisedFor(listenerName: string | undefined): AdvertisedEndpoint {
    for (const l of this.listeners) if (l.name === listenerName) return l.advertised;
    return this.advertised;
  }

  /** What request handlers may use of this broker (see HandlerContext). */
  private handlerContext(): HandlerContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- read live: the endpoint is set once bound
    const broker = this;
    return {
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      dataDir: this.dataDir,
      config: this.config,
      log: this.log,
      get advertised() {
        return broker.advertised;
      },
      advertisedFor: (name) => broker.advertisedFor(name),
      metadata: this.metadata,
      topics: this.topics,
      replicaManager: this.replicaManager,
      purgatory: this.purgatory,
      fetchSessions: this.fetchSessions,
      readBuffers: this.readBuffers,
      groups: this.groups,
      transactions: this.transactions,
      supportedApis: () => this.supportedApis(),
    };
  }

  /** Announces this broker in the cluster metadata, so Metadata responses everywhere list it. */
  private register(): Promise<void> {
    return this.metadata.register({
      host: this.advertised.host,
      port: this.advertised.port,
      listeners: this.listeners.map((l) => ({
        name: l.name,
        host: l.advertised.host,
        port: l.advertised.port,
        securityProtocol: l.securityProtocol,
      })),
      rack: null,
    });
  }

  /** The API versions this broker serves (what ApiVersions advertises). */
  supportedApis(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return this.processor?.supportedApis() ?? [];
  }

  /** Graceful stop: stop accepting, finish requests in flight, flush, write the clean-shutdown marker. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.log.info('shutting down');
      // Waiting fetches are answered first, so they do not hold the connections' grace period.
      this.purgatory.close();
      this.stopSampler?.();
      await Promise.all(this.listeners.map((l) => l.close()));
      // Unregisters this broker; after the listeners, so no request in flight waits on a delta.
      await this.metadata.close();
      if (this.ownStore) await this.metadata.store.close();
      await this.groupsLoading;
      this.groups.shutdown();
      this.transactions.shutdown();
      this.replicaManager.shutdown(this.log); // producer snapshots at each log end offset, before the logs close
      await this.logs.close();
      this.log.info('shutdown complete');
    })();
    return this.closing;
  }
}
