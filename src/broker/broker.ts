import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type BrokerConfig } from '../config/broker-config.js';
import { MetadataStore } from '../cluster/metadata-store.js';
import { compressAsync, decompressAsync, isSupportedCodec } from '../protocol/compression/index.js';
import { LogManager, type RecordsCodec } from '../storage/index.js';
import type { ApiHandler } from './api-handler.js';
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

/** The storage layer reaches every compression codec through the protocol layer's codecs. */
const storageCodec: RecordsCodec = {
  decompress: (codec, data) => (isSupportedCodec(codec) ? decompressAsync(codec, data) : null),
  compress: (codec, data) => (isSupportedCodec(codec) ? compressAsync(codec, data) : null),
};

export interface AdvertisedEndpoint {
  host: string;
  port: number;
}

/**
 * One Brook broker: configuration, metadata, partition logs, coordinators and the listener.
 * Everything a request handler needs hangs off this object.
 */
export class Broker {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly topics: TopicManager;
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
  /** The group coordinator's load from __consumer_offsets, awaited by close so nothing writes after it. */
  private groupsLoading: Promise<void> = Promise.resolve();

  private constructor(
    readonly config: BrokerConfig,
    readonly log: Logger,
    readonly metadata: MetadataStore,
    readonly logs: LogManager,
  ) {
    this.nodeId = config.nodeId;
    this.clusterId = metadata.clusterId;
    this.dataDir = logs.dataDir;
    this.topics = new TopicManager(metadata, logs, config, log);
    this.purgatory = new FetchPurgatory();
    this.fetchSessions = new FetchSessionCache(config.int('max.incremental.fetch.session.cache.slots'));
    this.groups = createGroupCoordinator(this);
    this.transactions = new TransactionSupport(this);
  }

  /** Opens the data dir (recovering logs after a crash) and starts serving on every listener. */
  static async start(config: BrokerConfig, log: Logger): Promise<Broker> {
    const started = performance.now();
    const dataDir = config.dataDir;
    await mkdir(dataDir, { recursive: true });
    const metadata = await MetadataStore.open(dataDir, config.nodeId);
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
      // Groups load from __consumer_offsets while the broker already serves (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
      broker.groupsLoading = broker.groups.startup().catch((err) => {
        if (!broker.closing) log.error({ err }, 'group coordinator failed to load');
      });
    } catch (err) {
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
    const handlers: ApiHandler[] = createHandlers(this);
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
      await this.groupsLoading;
      this.groups.shutdown();
      this.transactions.shutdown(); // producer snapshots at each log end offset, before the logs close
      await this.logs.close();
      this.log.info('shutdown complete');
    })();
    return this.closing;
  }
}
