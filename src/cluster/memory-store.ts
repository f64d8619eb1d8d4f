import { randomBytes } from 'node:crypto';
import type { MetadataSnapshot, MetadataStore, MetadataWrite, DeltaListener } from './metadata-store.js';
import { VersionedState } from './versioned-state.js';

/**
 * Cluster metadata held in memory, for several brokers in one process (tests, an embedded
 * multi-broker cluster). Commits apply at once and reach every watcher before they resolve;
 * nothing survives the process.
 */
export class InMemoryMetadataStore implements MetadataStore {
  readonly clusterId: string;
  private readonly state: VersionedState;
  private closed = false;

  constructor(opts: { clusterId?: string; retainedDeltas?: number; onListenerError?: (err: unknown) => void } = {}) {
    this.clusterId = opts.clusterId ?? randomBytes(16).toString('base64url');
    this.state = new VersionedState(undefined, opts.onListenerError, opts.retainedDeltas);
  }

  get revision(): number {
    return this.state.revision;
  }

  snapshot(): Promise<MetadataSnapshot> {
    return Promise.resolve(this.state.snapshot());
  }

  commit(writes: MetadataWrite[]): Promise<number> {
    try {
      if (this.closed) throw new Error('metadata store is closed');
      return Promise.resolve(this.state.apply(this.state.plan(writes)).revision);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  watch(fromRevision: number, listener: DeltaListener): () => void {
    return this.state.watch(fromRevision, listener);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
