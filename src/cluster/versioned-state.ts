import { keyOf, partitionOf, brokerOf, type MetadataValue } from './metadata-records.js';
import {
  MetadataCompactedError,
  MetadataConflictError,
  type DeltaListener,
  type MetadataChange,
  type MetadataDelta,
  type MetadataSnapshot,
  type MetadataWrite,
  type VersionedEntry,
} from './metadata-store.js';

/** How many deltas a store keeps for watchers that resume from an older revision. */
const DEFAULT_RETAINED_DELTAS = 10_000;

/** A checked transaction, not yet applied: what it writes and the revision it will create. */
export interface PlannedTxn {
  revision: number;
  writes: { key: string; previous: VersionedEntry | undefined; value: MetadataValue | null }[];
}

/**
 * The part both stores share: records with versions, the compare-and-swap check, the deltas a
 * transaction produces, and the retained deltas watchers resume from.
 */
export class VersionedState {
  revision: number;
  readonly entries = new Map<string, VersionedEntry>();
  private readonly history: MetadataDelta[] = [];
  private readonly watchers = new Set<DeltaListener>();

  constructor(
    snapshot: MetadataSnapshot = { revision: 0, entries: [] },
    private readonly onListenerError: (err: unknown) => void = () => {},
    private readonly retained = DEFAULT_RETAINED_DELTAS,
  ) {
    this.revision = snapshot.revision;
    for (const e of snapshot.entries) this.entries.set(e.key, { ...e });
  }

  /** Checks every compare-and-swap against the current versions; throws MetadataConflictError. */
  plan(writes: MetadataWrite[]): PlannedTxn {
    const seen = new Set<string>();
    const planned: PlannedTxn['writes'] = [];
    for (const w of writes) {
      if (seen.has(w.key)) throw new Error(`metadata transaction writes ${w.key} twice`);
      seen.add(w.key);
      if (w.value !== null && keyOf(w.value) !== w.key) throw new Error(`metadata value does not belong at ${w.key}`);
      const previous = this.entries.get(w.key);
      const actual = previous?.version ?? 0;
      if (actual !== w.expectedVersion) throw new MetadataConflictError(w.key, w.expectedVersion, actual);
      planned.push({ key: w.key, previous, value: w.value });
    }
    return { revision: this.revision + 1, writes: planned };
  }

  /** Every entry as it will be once `txn` is applied (for a store that persists before applying). */
  *entriesAfter(txn: PlannedTxn): Generator<VersionedEntry> {
    const changed = new Map(txn.writes.map((w) => [w.key, w.value]));
    for (const e of this.entries.values()) if (!changed.has(e.key)) yield e;
    for (const w of txn.writes) if (w.value !== null) yield { key: w.key, value: w.value, version: txn.revision };
  }

  /** Applies a planned transaction and delivers its delta to every watcher. */
  apply(txn: PlannedTxn): MetadataDelta {
    if (txn.revision !== this.revision + 1) throw new Error('metadata transaction planned against an older revision');
    const changes: MetadataChange[] = [];
    for (const w of txn.writes) {
      if (w.value === null) this.entries.delete(w.key);
      else this.entries.set(w.key, { key: w.key, value: w.value, version: txn.revision });
      const change = changeOf(w.previous?.value ?? null, w.value);
      if (change) changes.push(change);
    }
    this.revision = txn.revision;
    const delta: MetadataDelta = {
      revision: txn.revision,
      changes,
      writes: txn.writes.map((w) => ({ key: w.key, value: w.value })),
    };
    this.history.push(delta);
    if (this.history.length > this.retained) this.history.splice(0, this.history.length - this.retained);
    for (const l of this.watchers) this.deliver(l, delta);
    return delta;
  }

  snapshot(): MetadataSnapshot {
    return { revision: this.revision, entries: [...this.entries.values()].map((e) => ({ ...e })) };
  }

  watch(fromRevision: number, listener: DeltaListener): () => void {
    if (fromRevision < this.revision) {
      const oldest = this.history[0]?.revision ?? this.revision + 1;
      if (fromRevision + 1 < oldest) throw new MetadataCompactedError(fromRevision, oldest);
      for (const d of this.history) if (d.revision > fromRevision) this.deliver(listener, d);
    }
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** A watcher that throws must not fail the writer's commit nor starve the other watchers. */
  private deliver(listener: DeltaListener, delta: MetadataDelta): void {
    try {
      listener(delta);
    } catch (err) {
      this.onListenerError(err);
    }
  }
}

function changeOf(before: MetadataValue | null, after: MetadataValue | null): MetadataChange | null {
  const v = after ?? before;
  if (!v) return null;
  switch (v.kind) {
    case 'topic':
      if (!before) return { type: 'topic-created', topic: v };
      return after ? { type: 'topic-changed', topic: v } : { type: 'topic-deleted', topic: v };
    case 'partition':
      if (!after) return { type: 'partition-removed', partition: partitionOf(v) };
      return {
        type: 'partition-changed',
        partition: partitionOf(v),
        previous: before?.kind === 'partition' ? partitionOf(before) : null,
      };
    case 'config':
      return {
        type: 'config-changed',
        resource: v.resource,
        name: v.name,
        configs: after?.kind === 'config' ? { ...after.configs } : {},
      };
    case 'broker':
      return after
        ? { type: 'broker-registered', broker: brokerOf(v) }
        : { type: 'broker-unregistered', nodeId: v.nodeId };
  }
}
