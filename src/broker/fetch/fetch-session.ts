import { randomInt } from 'node:crypto';

/** Fetch session epochs (KIP-227). */
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;

/** What the session remembers of one partition between fetches. */
export interface CachedPartition {
  topic: string;
  topicId: string;
  partition: number;
  fetchOffset: number;
  maxBytes: number;
  currentLeaderEpoch: number;
  /** What the last response told the client, to send the partition again only when it changes. */
  lastHighWatermark: number;
  lastLastStableOffset: number;
  lastLogStartOffset: number;
}

/**
 * An incremental fetch session: the partitions a client fetches, so that later requests only name
 * what changed and responses only carry partitions with news.
 */
export class FetchSession {
  /** The epoch the next incremental request must carry. */
  epoch = 1;
  lastUsed = Date.now();
  readonly partitions = new Map<string, CachedPartition>();

  constructor(
    readonly id: number,
    readonly usesTopicIds: boolean,
  ) {}

  static key(topicOrId: string, partition: number): string {
    return `${topicOrId}\u0000${partition}`;
  }
}

/** A session unused this long may be evicted by any newcomer (Kafka's 120 s). */
export const SESSION_EVICTION_MS = 120_000;

/**
 * The bounded set of live fetch sessions. When full, a new session may take the slot of a stale
 * one (unused for two minutes) or of a smaller one (fewer partitions), as Kafka's KIP-227 cache
 * does; otherwise the client gets no session (id 0) and keeps sending full fetches. So clients
 * beyond the slot count cannot keep evicting each other.
 */
export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();

  constructor(
    private readonly maxSlots: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A new session for `partitionCount` partitions, or null when there is no slot for it. */
  create(usesTopicIds: boolean, partitionCount: number): FetchSession | null {
    if (this.maxSlots <= 0) return null;
    if (this.sessions.size >= this.maxSlots && !this.evictFor(partitionCount)) return null;
    let id = 0;
    while (id === 0 || this.sessions.has(id)) id = randomInt(1, 2 ** 31 - 1);
    const s = new FetchSession(id, usesTopicIds);
    s.lastUsed = this.now();
    this.sessions.set(id, s);
    return s;
  }

  private evictFor(partitionCount: number): boolean {
    const now = this.now();
    let stale: FetchSession | null = null;
    let smallest: FetchSession | null = null;
    for (const s of this.sessions.values()) {
      if (now - s.lastUsed >= SESSION_EVICTION_MS && (!stale || s.lastUsed < stale.lastUsed)) stale = s;
      const size = s.partitions.size;
      if (
        !smallest ||
        size < smallest.partitions.size ||
        (size === smallest.partitions.size && s.lastUsed < smallest.lastUsed)
      )
        smallest = s;
    }
    const victim = stale ?? (smallest && smallest.partitions.size < partitionCount ? smallest : null);
    if (!victim) return false;
    this.sessions.delete(victim.id);
    return true;
  }

  get(id: number): FetchSession | undefined {
    const s = this.sessions.get(id);
    if (s) s.lastUsed = this.now();
    return s;
  }

  remove(id: number): void {
    this.sessions.delete(id);
  }
}
