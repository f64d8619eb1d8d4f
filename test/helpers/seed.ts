/**
 * Seeded randomness for tests, so a failure reproduces. The seed comes from the environment
 * (`TEST_SEED=1234 node --test ...`) or, without it, is drawn once per process; tests put it in
 * their names and assertion messages so a red run says how to replay it.
 */

function fromEnvironment(): number | undefined {
  const raw = process.env.TEST_SEED;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`TEST_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return n >>> 0;
}

/** This process's seed: TEST_SEED, or one drawn at random (the only unseeded draw in the tests). */
export const TEST_SEED: number = fromEnvironment() ?? Math.floor(Math.random() * 2 ** 32);

/** "(TEST_SEED=n)", to append to a test name or an assertion message. */
export const seedNote = (seed = TEST_SEED): string => `(TEST_SEED=${seed})`;

/** A small deterministic generator (mulberry32): the same numbers for the same seed on every machine. */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number = TEST_SEED) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1), like Math.random(). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min));
  }

  /** `n` pseudo-random (incompressible) bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(Math.floor(this.next() * 4294967296), i);
    for (; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}
