import type {
  BrokerRegistration,
  ConfigResourceType,
  MetadataValue,
  PartitionRecord,
  TopicValue,
} from './metadata-records.js';

export type { TopicRecord } from './metadata-records.js';

/** One stored record and its version: the store revision that last wrote it (etcd's mod revision). */
export interface VersionedEntry {
  key: string;
  value: MetadataValue;
  version: number;
}

/** Every record at one revision: what a broker builds its metadata image from. */
export interface MetadataSnapshot {
  revision: number;
  entries: VersionedEntry[];
}

/**
 * One compare-and-swap: the write applies only if the key's version is still `expectedVersion`
 * (0: the key must not exist). `value` null deletes the key.
 */
export interface MetadataWrite {
  key: string;
  expectedVersion: number;
  value: MetadataValue | null;
}

/** What one committed transaction changed, in the order its writes were given. */
export type MetadataChange =
  | { type: 'topic-created'; topic: TopicValue }
  | { type: 'topic-changed'; topic: TopicValue }
  | { type: 'topic-deleted'; topic: TopicValue }
  | { type: 'partition-changed'; partition: PartitionRecord; previous: PartitionRecord | null }
  | { type: 'partition-removed'; partition: PartitionRecord }
  | { type: 'config-changed'; resource: ConfigResourceType; name: string; configs: Record<string, string> }
  | { type: 'broker-registered'; broker: BrokerRegistration }
  | { type: 'broker-unregistered'; nodeId: number };

/** The changes of one transaction and the revision it created (the shape of an etcd watch event batch). */
export interface MetadataDelta {
  revision: number;
  changes: MetadataChange[];
  /** The raw writes, for an image that mirrors the store's keys and versions. */
  writes: { key: string; value: MetadataValue | null }[];
}

export type DeltaListener = (delta: MetadataDelta) => void;

/**
 * Where cluster metadata lives. Every write is a transaction of compare-and-swaps on key versions
 * (an etcd Txn comparing mod revisions) and creates one new store-wide revision; every committed
 * transaction reaches watchers as one delta, in revision order (an etcd watch). Implementations:
 * FileMetadataStore (one node, a file in the data dir) and InMemoryMetadataStore (brokers sharing
 * one process); an etcd store comes with replication.
 */
export interface MetadataStore {
  readonly clusterId: string;
  /** All records at the newest revision whose delta has been delivered. */
  snapshot(): Promise<MetadataSnapshot>;
  /**
   * Applies every write or none. Resolves with the new revision once the change is durable and
   * its delta has been delivered to watchers; rejects with MetadataConflictError when any
   * expected version is stale.
   */
  commit(writes: MetadataWrite[]): Promise<number>;
  /**
   * Delivers every delta after `fromRevision` (those already committed first, at once), then each
   * new one as it commits. Throws MetadataCompactedError when deltas after `fromRevision` are no
   * longer retained: the watcher must start again from a snapshot. Returns the unsubscribe.
   */
  watch(fromRevision: number, listener: DeltaListener): () => void;
  /** Waits for writes in flight; later commits are refused. */
  close(): Promise<void>;
}

/** A compare-and-swap lost: the key changed since the writer read it. Re-read and retry. */
export class MetadataConflictError extends Error {
  constructor(
    readonly key: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`metadata key ${key} is at version ${actualVersion}, not the expected ${expectedVersion}`);
    this.name = 'MetadataConflictError';
  }
}

/** The deltas a watcher asked for are gone (etcd's ErrCompacted): resume from a fresh snapshot. */
export class MetadataCompactedError extends Error {
  constructor(
    readonly fromRevision: number,
    readonly oldestRetained: number,
  ) {
    super(`metadata deltas after revision ${fromRevision} are compacted; the oldest retained is ${oldestRetained}`);
    this.name = 'MetadataCompactedError';
  }
}
