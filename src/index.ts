/** Brook's public API: the embeddable broker and the TypeScript client. */
export { startBroker, type StartBrokerOptions, type BrokerHandle } from './broker/start.js';
export * from './client/index.js';
export { InMemoryMetadataStore } from './cluster/memory-store.js';
export { FileMetadataStore } from './cluster/file-store.js';
export {
  MetadataConflictError,
  MetadataCompactedError,
  type MetadataStore,
  type MetadataDelta,
  type MetadataChange,
  type MetadataSnapshot,
  type MetadataWrite,
  type VersionedEntry,
} from './cluster/metadata-store.js';
export type { PartitionStateListener } from './cluster/partition-state.js';
export type { BrokerRegistration, PartitionRecord, TopicRecord, MetadataValue } from './cluster/metadata-records.js';
