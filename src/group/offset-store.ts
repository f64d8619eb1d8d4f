/** A committed offset as the coordinator keeps it (and as __consumer_offsets stores it). */
export interface CommittedOffset {
  offset: number;
  /** -1 when the client did not send one. */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** -1, or the time a commit with an explicit retention (OffsetCommit v2-v4) expires. */
  expireTimestamp: number;
}

type PartitionOffsets = Map<number, CommittedOffset>;
type TopicOffsets = Map<string, PartitionOffsets>;

interface GroupOffsets {
  committed: TopicOffsets;
  /**
   * Transactional commits (TxnOffsetCommit) waiting for their transaction's end marker, by producer
   * id. They become committed offsets on commit and vanish on abort; OffsetFetch with
   * requireStable reports UNSTABLE_OFFSET_COMMIT for partitions that have one.
   */
  pendingTxn: Map<number, TopicOffsets>;
}

function setIn(t: TopicOffsets, topic: string, partition: number, v: CommittedOffset): void {
  let p = t.get(topic);
  if (p === undefined) t.set(topic, (p = new Map()));
  p.set(partition, v);
}

/** Committed offsets of every group, by group, topic and partition. */
export class OffsetStore {
  private readonly groups = new Map<string, GroupOffsets>();
  /** Producer id → groups holding its pending transactional offsets (a marker touches only those). */
  private readonly pendingByProducer = new Map<number, Set<string>>();

  private entry(group: string): GroupOffsets {
    let g = this.groups.get(group);
    if (g === undefined) this.groups.set(group, (g = { committed: new Map(), pendingTxn: new Map() }));
    return g;
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.committed.get(topic)?.get(partition);
  }

  put(group: string, topic: string, partition: number, v: CommittedOffset): void {
    setIn(this.entry(group).committed, topic, partition, v);
  }

  delete(group: string, topic: string, partition: number): boolean {
    const g = this.groups.get(group);
    const p = g?.committed.get(topic);
    if (p === undefined || !p.delete(partition)) return false;
    if (p.size === 0) g!.committed.delete(topic);
    this.dropIfEmpty(group);
    return true;
  }

  /** Forgets a group's committed offsets; returns the partitions it had. */
  deleteGroup(group: string): Array<[string, number]> {
    const g = this.groups.get(group);
    if (g === undefined) return [];
    const out: Array<[string, number]> = [];
    for (const [topic, parts] of g.committed) for (const p of parts.keys()) out.push([topic, p]);
    g.committed.clear();
    this.dropIfEmpty(group);
    return out;
  }

  hasOffsets(group: string): boolean {
    const g = this.groups.get(group);
    return g !== undefined && (g.committed.size > 0 || g.pendingTxn.size > 0);
  }

  /** Topic → partition → offset of one group (live view; do not mutate). */
  committed(group: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> {
    return this.groups.get(group)?.committed ?? new Map();
  }

  groupIds(): IterableIterator<string> {
    return this.groups.keys();
  }

  hasPendingTransactionalOffset(group: string, topic: string, partition: number): boolean {
    const g = this.groups.get(group);
    if (g === undefined) return false;
    for (const t of g.pendingTxn.values()) if (t.get(topic)?.has(partition)) return true;
    return false;
  }

  addPendingTransactionalOffset(
    group: string,
    producerId: number,
    topic: string,
    partition: number,
    v: CommittedOffset,
  ): void {
    const g = this.entry(group);
    let t = g.pendingTxn.get(producerId);
    if (t === undefined) g.pendingTxn.set(producerId, (t = new Map()));
    setIn(t, topic, partition, v);
    let groups = this.pendingByProducer.get(producerId);
    if (groups === undefined) this.pendingByProducer.set(producerId, (groups = new Set()));
    groups.add(group);
  }

  /** Groups with pending transactional offsets of a producer. */
  groupsWithPendingTransaction(producerId: number): string[] {
    return [...(this.pendingByProducer.get(producerId) ?? [])];
  }

  /**
   * Ends a producer's transaction in the given groups (every group when omitted): committed
   * transactional offsets replace the current ones, aborted ones are dropped. Returns the groups touched.
   */
  completeTransaction(producerId: number, commit: boolean, groups?: Iterable<string>): string[] {
    const touched: string[] = [];
    const index = this.pendingByProducer.get(producerId);
    for (const group of groups ?? [...(index ?? [])]) {
      const g = this.groups.get(group);
      const t = g?.pendingTxn.get(producerId);
      if (t === undefined) continue;
      g!.pendingTxn.delete(producerId);
      index?.delete(group);
      touched.push(group);
      if (commit) for (const [topic, parts] of t) for (const [p, v] of parts) setIn(g!.committed, topic, p, v);
      this.dropIfEmpty(group);
    }
    if (index?.size === 0) this.pendingByProducer.delete(producerId);
    return touched;
  }

  /**
   * The offsets of a group that are due for removal at `now`: an explicit expire timestamp that has
   * passed, or `retentionMs` elapsed since `baseTimestamp` (the time the group became empty) or,
   * without one, since the commit. Topics in `keepTopics` (still consumed) and partitions with a
   * pending transactional commit are kept.
   */
  expired(
    group: string,
    now: number,
    retentionMs: number,
    baseTimestamp: number | null,
    keepTopics?: ReadonlySet<string>,
  ): Array<[string, number]> {
    const g = this.groups.get(group);
    if (g === undefined) return [];
    const out: Array<[string, number]> = [];
    for (const [topic, parts] of g.committed) {
      if (keepTopics?.has(topic)) continue;
      for (const [p, v] of parts) {
        if (this.hasPendingTransactionalOffset(group, topic, p)) continue;
        const due =
          v.expireTimestamp >= 0 ? now >= v.expireTimestamp : now - (baseTimestamp ?? v.commitTimestamp) >= retentionMs;
        if (due) out.push([topic, p]);
      }
    }
    return out;
  }

  private dropIfEmpty(group: string): void {
    const g = this.groups.get(group);
    if (g !== undefined && g.committed.size === 0 && g.pendingTxn.size === 0) this.groups.delete(group);
  }
}
