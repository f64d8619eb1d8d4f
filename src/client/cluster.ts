import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import { ZERO_UUID } from '../protocol/messages/support.js';
import type { MetadataResponse } from '../protocol/messages/metadata-response.js';
import { Connection } from './connection.js';
import { ClientClosedError, ConnectionError, kafkaError, isRetriableError } from './errors.js';
import { silentLogger } from '../logger.js';

/** Options shared by the producer, consumer and admin client. */
export interface ClientOptions {
  /** Broker addresses to start from: "host:port,host:port" or a list. Default localhost:9092. */
  bootstrap?: string | string[];
  /** Sent in every request header; brokers log it and show it in group descriptions. Default "brook". */
  clientId?: string;
  /** TCP connect plus ApiVersions exchange. Default 10000. */
  connectTimeoutMs?: number;
  /** Time a request may wait for its response (Kafka's request.timeout.ms). Default 30000. */
  requestTimeoutMs?: number;
  /** First wait before a retry; doubles up to retryBackoffMaxMs (Kafka's retry.backoff.ms). Default 100. */
  retryBackoffMs?: number;
  /** Default 1000. */
  retryBackoffMaxMs?: number;
  /** Refresh cached metadata at least this often (Kafka's metadata.max.age.ms). Default 300000. */
  metadataMaxAgeMs?: number;
  /** pino logger; silent by default. */
  logger?: Logger;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  /** Node id of the leader, -1 when there is none. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  /** All zeros when the broker does not report topic ids (Metadata before v10). */
  topicId: string;
  isInternal: boolean;
  /** Indexed by partition number. */
  partitions: PartitionInfo[];
  fetchedAt: number;
}

export type CoordinatorType = 'group' | 'transaction';

export interface TopicPartition {
  topic: string;
  partition: number;
}

const DEFAULTS = {
  clientId: 'brook',
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  retryBackoffMs: 100,
  retryBackoffMaxMs: 1_000,
  metadataMaxAgeMs: 300_000,
};

export type ResolvedClientOptions = Required<Omit<ClientOptions, 'bootstrap' | 'logger'>> & {
  bootstrap: { host: string; port: number }[];
  logger: Logger;
};

export function resolveClientOptions(opts: ClientOptions): ResolvedClientOptions {
  return {
    clientId: opts.clientId ?? DEFAULTS.clientId,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    retryBackoffMs: opts.retryBackoffMs ?? DEFAULTS.retryBackoffMs,
    retryBackoffMaxMs: opts.retryBackoffMaxMs ?? DEFAULTS.retryBackoffMaxMs,
    metadataMaxAgeMs: opts.metadataMaxAgeMs ?? DEFAULTS.metadataMaxAgeMs,
    bootstrap: parseBootstrap(opts.bootstrap ?? 'localhost:9092'),
    logger: opts.logger ?? silentLogger(),
  };
}

/** Parses "host:port,host:port" (IPv6 as [addr]:port); the port defaults to 9092. */
export function parseBootstrap(spec: string | string[]): { host: string; port: number }[] {
  const parts = (Array.isArray(spec) ? spec : spec.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new TypeError('bootstrap: no broker address given');
  return parts.map((p) => {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(p) ?? /^([^:]+)(?::(\d+))?$/.exec(p);
    if (m === null) throw new TypeError(`bootstrap: cannot parse broker address "${p}" (expected host:port)`);
    const port = m[2] === undefined ? 9092 : Number(m[2]);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new TypeError(`bootstrap: bad port in "${p}"`);
    return { host: m[1]!, port };
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exponential backoff with jitter, as Kafka's retry.backoff.ms / retry.backoff.max.ms. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.max(baseMs, Math.round(exp * (0.8 + Math.random() * 0.4)));
}

/**
 * What a client knows about the cluster: brokers, topic metadata (refreshed on demand and when
 * errors say it is stale), group and transaction coordinators, and one pooled connection per
 * (broker, channel). Channels keep long-polling fetches from delaying coordinator traffic.
 */
export class Cluster {
  readonly opts: ResolvedClientOptions;
  readonly logger: Logger;
  private readonly brokers = new Map<number, BrokerInfo>();
  private readonly topics = new Map<string, TopicInfo>();
  private readonly topicNamesById = new Map<string, string>();
  private readonly connections = new Map<string, Connection>();
  private readonly coordinators = new Map<string, BrokerInfo>();
  private closed = false;
  clusterId: string | null = null;
  controllerId = -1;

  constructor(opts: ClientOptions) {
    this.opts = resolveClientOptions(opts);
    this.logger = this.opts.logger;
  }

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('client');
  }

  private connectionFor(key: string, host: string, port: number): Connection {
    let conn = this.connections.get(key);
    if (conn !== undefined && !conn.isClosed) return conn;
    conn = new Connection({
      host,
      port,
      clientId: this.opts.clientId,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      logger: this.logger,
    });
    const created = conn;
    conn.onClose(() => {
      if (this.connections.get(key) === created) this.connections.delete(key);
    });
    this.connections.set(key, conn);
    return conn;
  }

  /** A connected connection to a broker by node id. */
  async broker(nodeId: number, channel = 'default'): Promise<Connection> {
    this.checkOpen();
    let info = this.brokers.get(nodeId);
    if (info === undefined) {
      await this.refreshMetadata([]);
      info = this.brokers.get(nodeId);
      if (info === undefined)
        throw new ConnectionError(`node ${nodeId}`, `broker ${nodeId} is not in the cluster metadata`);
    }
    const conn = this.connectionFor(`${channel}:${nodeId}`, info.host, info.port);
    await conn.connect();
    return conn;
  }

  /** The pooled connection to a broker if it is open right now (no I/O). */
  openBroker(nodeId: number, channel = 'default'): Connection | undefined {
    const conn = this.connections.get(`${channel}:${nodeId}`);
    return conn !== undefined && conn.isOpen ? conn : undefined;
  }

  /** A connection to any reachable broker: a known broker first, else the bootstrap list. */
  async any(): Promise<Connection> {
    this.checkOpen();
    for (const conn of this.connections.values()) if (conn.isOpen) return conn;
    const errors: ConnectionError[] = [];
    const candidates: [string, string, number][] = [];
    for (const b of this.brokers.values()) candidates.push([`default:${b.nodeId}`, b.host, b.port]);
    for (const b of this.opts.bootstrap) candidates.push([`bootstrap:${b.host}:${b.port}`, b.host, b.port]);
    for (const [key, host, port] of candidates) {
      const conn = this.connectionFor(key, host, port);
      try {
        await conn.connect();
        return conn;
      } catch (err) {
        if (!(err instanceof ConnectionError)) throw err;
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0]!;
    const list = this.opts.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ');
    const codes = new Set(errors.map((e) => e.code));
    throw new ConnectionError(list, `cannot reach any broker (${errors.map((e) => e.message).join('; ')})`, {
      code: codes.size === 1 ? errors[0]!.code : undefined,
    });
  }

  /** The controller (admin requests that change topics go there), or any broker if unknown. */
  async controller(): Promise<Connection> {
    if (this.controllerId < 0) await this.refreshMetadata([]);
    if (this.controllerId >= 0 && this.brokers.has(this.controllerId)) return this.broker(this.controllerId);
    return this.any();
  }

  /**
   * Fetches metadata for `topics` (null: every topic; []: brokers only) and merges it into the
   * cache.
   */
  async refreshMetadata(topics: string[] | null, allowAutoTopicCreation = false): Promise<MetadataResponse> {
    this.checkOpen();
    const conn = await this.any();
    const res = await conn.request('Metadata', (v) => ({
      topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
      // Not carried before v4 (the broker's own setting decides), where it must stay at its default.
      allowAutoTopicCreation: v >= 4 ? allowAutoTopicCreation : true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    }));
    this.applyMetadata(res, topics === null);
    return res;
  }

  private applyMetadata(res: MetadataResponse, allTopics: boolean): void {
    const now = Date.now();
    if (res.brokers.length > 0) {
      this.brokers.clear();
      for (const b of res.brokers)
        this.brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack });
    }
    this.clusterId = res.clusterId;
    this.controllerId = res.controllerId;
    if (allTopics) {
      const present = new Set(res.topics.map((t) => t.name));
      for (const name of this.topics.keys()) if (!present.has(name)) this.topics.delete(name);
    }
    for (const t of res.topics) {
      if (t.name === null) continue;
      if (t.errorCode !== ErrorCode.NONE) {
        this.topics.delete(t.name);
        continue;
      }
      const partitions: PartitionInfo[] = [];
      for (const p of t.partitions) {
        partitions[p.partitionIndex] = {
          partition: p.partitionIndex,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          offlineReplicas: p.offlineReplicas,
          errorCode: p.errorCode,
        };
      }
      this.topics.set(t.name, {
        name: t.name,
        topicId: t.topicId,
        isInternal: t.isInternal,
        partitions,
        fetchedAt: now,
      });
      if (t.topicId !== ZERO_UUID) this.topicNamesById.set(t.topicId, t.name);
    }
  }

  /** Cached metadata for a topic, or undefined. */
  cachedTopic(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  topicNameById(topicId: string): string | undefined {
    return this.topicNamesById.get(topicId);
  }

  knownBrokers(): BrokerInfo[] {
    return [...this.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** Forgets a topic's metadata so the next use refreshes it (after NOT_LEADER and similar errors). */
  invalidateTopic(name: string): void {
    this.topics.delete(name);
  }

  /**
   * Metadata for a topic, refreshing when it is missing or older than metadata.max.age.ms.
   * Retries while the topic is being created (LEADER_NOT_AVAILABLE); throws
   * UNKNOWN_TOPIC_OR_PARTITION when it does not exist.
   */
  async topic(name: string, opts: { autoCreate?: boolean; timeoutMs?: number } = {}): Promise<TopicInfo> {
    const cached = this.topics.get(name);
    if (cached !== undefined && Date.now() - cached.fetchedAt < this.opts.metadataMaxAgeMs) return cached;
    const deadline = Date.now() + (opts.timeoutMs ?? this.opts.requestTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      const res = await this.refreshMetadata([name], opts.autoCreate ?? false);
      const t = res.topics.find((x) => x.name === name);
      const code = t === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : t.errorCode;
      const info = this.topics.get(name);
      if (
        code === ErrorCode.NONE &&
        info !== undefined &&
        info.partitions.length > 0 &&
        info.partitions.every((p) => p !== undefined && p.leader >= 0)
      )
        return info;
      const retriable =
        code === ErrorCode.NONE ||
        code === ErrorCode.LEADER_NOT_AVAILABLE ||
        (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && opts.autoCreate === true);
      if (!retriable || Date.now() >= deadline) {
        if (code === ErrorCode.NONE && info !== undefined) return info;
        throw kafkaError(code === ErrorCode.NONE ? ErrorCode.LEADER_NOT_AVAILABLE : code, `topic "${name}"`);
      }
      await sleep(backoff(attempt, this.opts.retryBackoffMs, this.opts.retryBackoffMaxMs));
    }
  }

  /** Node id leading a partition, refreshing metadata when unknown. */
  async leader(topic: string, partition: number): Promise<number> {
    const info = await this.topic(topic);
    const p = info.partitions[partition];
    if (p === undefined)
      throw kafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${topic}" has no partition ${partition}`);
    if (p.leader < 0) {
      this.invalidateTopic(topic);
      throw kafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}-${partition}`);
    }
    return p.leader;
  }

  /** Finds (and caches) the coordinator of a group or transactional id and connects to it. */
  async coordinator(type: CoordinatorType, key: string): Promise<Connection> {
    this.checkOpen();
    const cacheKey = `${type}:${key}`;
    let info = this.coordinators.get(cacheKey);
    if (info === undefined) {
      info = await this.findCoordinator(type, key);
      this.coordinators.set(cacheKey, info);
    }
    const conn = this.connectionFor(`coordinator:${info.nodeId}`, info.host, info.port);
    try {
      await conn.connect();
    } catch (err) {
      this.coordinators.delete(cacheKey);
      throw err;
    }
    return conn;
  }

  invalidateCoordinator(type: CoordinatorType, key: string): void {
    this.coordinators.delete(`${type}:${key}`);
  }

  private async findCoordinator(type: CoordinatorType, key: string): Promise<BrokerInfo> {
    const keyType = type === 'group' ? 0 : 1;
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const conn = await this.any();
      const res = await conn.request('FindCoordinator', (v) => ({
        key: v < 4 ? key : '',
        keyType,
        coordinatorKeys: v >= 4 ? [key] : [],
      }));
      let code: number, nodeId: number, host: string, port: number, message: string | null;
      if (res.coordinators.length > 0) {
        const c = res.coordinators[0]!;
        ({ errorCode: code, nodeId, host, port, errorMessage: message } = c);
      } else {
        ({ errorCode: code, nodeId, host, port, errorMessage: message } = res);
      }
      if (code === ErrorCode.NONE) return { nodeId, host, port, rack: null };
      const err = kafkaError(code, `${type} coordinator for "${key}"`, message);
      if (!err.retriable || Date.now() >= deadline) throw err;
      await sleep(backoff(attempt, this.opts.retryBackoffMs, this.opts.retryBackoffMaxMs));
    }
  }

  /**
   * Runs `fn`, retrying retriable failures (network errors, timeouts, retriable Kafka errors) with
   * backoff until `timeoutMs`; `onRetry` can drop stale metadata between attempts.
   */
  async retry<T>(
    what: string,
    fn: (attempt: number) => Promise<T>,
    opts: { timeoutMs?: number; onRetry?: (err: unknown) => void; retriable?: (err: unknown) => boolean } = {},
  ): Promise<T> {
    const deadline = Date.now() + (opts.timeoutMs ?? this.opts.requestTimeoutMs);
    const retriable = opts.retriable ?? isRetriableError;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (err) {
        if (this.closed || !retriable(err) || Date.now() >= deadline) throw err;
        this.logger.debug({ err, what, attempt }, 'retrying');
        opts.onRetry?.(err);
        await sleep(backoff(attempt, this.opts.retryBackoffMs, this.opts.retryBackoffMaxMs));
      }
    }
  }

  /** Closes every connection. */
  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
