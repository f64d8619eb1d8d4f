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

/**
 * The bounded set of live fetch sessions. When full, the least recently used session is evicted;
 * its client gets FETCH_SESSION_ID_NOT_FOUND on its next incremental fetch and starts over.
 */
export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();

  constructor(private readonly maxSlots: number) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A new session, or null when sessions are disabled (max slots 0). */
  create(usesTopicIds: boolean): FetchSession | null {
    if (this.maxSlots <= 0) return null;
    if (this.sessions.size >= this.maxSlots) {
      let oldest: FetchSession | null = null;
      for (const s of this.sessions.values()) if (!oldest || s.lastUsed < oldest.lastUsed) oldest = s;
      if (oldest) this.sessions.delete(oldest.id);
    }
    let id = 0;
    while (id === 0 || this.sessions.has(id)) id = randomInt(1, 2 ** 31 - 1);
    const s = new FetchSession(id, usesTopicIds);
    this.sessions.set(id, s);
    return s;
  }

  get(id: number): FetchSession | undefined {
    const s = this.sessions.get(id);
    if (s) s.lastUsed = Date.now();
    return s;
  }

  remove(id: number): void {
    this.sessions.delete(id);
  }
}
