const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * MurmurHash2 (32-bit) as the Java client computes it for keyed records: seed 0x9747b28c, the
 * key bytes read as little-endian 32-bit words, then the tail and the final mix. Returns a signed
 * 32-bit integer, like Java's int.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[end + 2]! << 16;
  if (tail >= 2) h ^= data[end + 1]! << 8;
  if (tail >= 1) {
    h ^= data[end]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils.toPositive: clears the sign bit (not Math.abs, which differs for negative values). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition the Java client (and librdkafka's murmur2_random) picks for a key. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions;
}

/**
 * Chooses a partition for a record. Return a partition number, or -1 to let the producer's
 * sticky partitioning choose (what the default does for records without a key).
 */
export type Partitioner = (topic: string, key: Buffer | null, numPartitions: number) => number;

/** Keyed records: murmur2, as the Java client. Unkeyed: -1 (sticky). */
export const defaultPartitioner: Partitioner = (_topic, key, numPartitions) =>
  key === null ? -1 : partitionForKey(key, numPartitions);

/**
 * Sticky partitioning for unkeyed records (KIP-480, with KIP-794's byte-based switching): all
 * unkeyed records of a topic go to one partition until batch.size bytes were added there, then
 * another partition is picked at random among those with a leader. Larger batches and fewer
 * requests than round-robin, and an even spread over time.
 */
export class StickyPartitioner {
  private readonly current = new Map<string, { partition: number; bytes: number }>();

  constructor(private readonly switchBytes: number) {}

  /** The partition for an unkeyed record of `size` bytes. `available` lists partitions with a leader. */
  partition(topic: string, numPartitions: number, available: readonly number[], size: number): number {
    let s = this.current.get(topic);
    if (s === undefined || s.partition >= numPartitions || s.bytes >= this.switchBytes) {
      s = { partition: this.pick(available, numPartitions, s?.partition ?? -1), bytes: 0 };
      this.current.set(topic, s);
    }
    s.bytes += size;
    return s.partition;
  }

  private pick(available: readonly number[], numPartitions: number, previous: number): number {
    const choices = available.length > 0 ? available : Array.from({ length: numPartitions }, (_, i) => i);
    if (choices.length === 1) return choices[0]!;
    for (;;) {
      const p = choices[Math.floor(Math.random() * choices.length)]!;
      if (p !== previous) return p;
    }
  }
}
