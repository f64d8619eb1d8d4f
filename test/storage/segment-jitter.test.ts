// segment.jitter.ms: each segment rolls a random amount before segment.ms, as Kafka's
// randomSegmentJitter does; the randomness is injected so the roll points are exact.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { defaultLogConfig, resolveLogConfig } from '../../src/storage/config.js';
import { FilePool } from '../../src/storage/file-pool.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { buildBatch, rng, tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;

describe('segment.jitter.ms', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  function openLog(segmentJitterMs: number, random: () => number): PartitionLog {
    return PartitionLog.open({
      topic: 't',
      partition: 0,
      dir: join(t.dir, 't-0'),
      config: resolveLogConfig(defaultLogConfig(), { segmentMs: 1000, segmentJitterMs }),
      pool: new FilePool(16),
      cleanShutdown: true,
      random,
    });
  }

  /** Appends one record at T0, then one at T0 + ageMs; returns how many segments the log has. */
  async function segmentsAfter(log: PartitionLog, ageMs: number): Promise<number> {
    await log.append(buildBatch([{ key: 'a', value: '1', timestamp: T0 }]));
    await log.append(buildBatch([{ key: 'b', value: '2', timestamp: T0 + ageMs }]));
    const n = log.segments.length;
    await log.close();
    return n;
  }

  it('a draw of 0.5 with a jitter of 800 ms rolls the segment 400 ms before segment.ms', async () => {
    assert.equal(
      await segmentsAfter(
        openLog(800, () => 0.5),
        601,
      ),
      2,
      'older than 1000 - 400 ms: rolled',
    );
  });

  it('a segment younger than segment.ms minus its jitter is not rolled', async () => {
    assert.equal(
      await segmentsAfter(
        openLog(800, () => 0.5),
        599,
      ),
      1,
    );
  });

  it('no jitter (the default) rolls at segment.ms exactly', async () => {
    assert.equal(
      await segmentsAfter(
        openLog(0, () => 0.999),
        999,
      ),
      1,
    );
    t.cleanup();
    t = tempDir();
    assert.equal(
      await segmentsAfter(
        openLog(0, () => 0.999),
        1001,
      ),
      2,
    );
  });

  it('the jitter is capped by segment.ms and drawn again for every new segment', async () => {
    const seed = Date.now() % 100_000;
    const random = rng(seed);
    const draws: number[] = [];
    const log = openLog(5000, () => {
      const r = random();
      draws.push(Math.floor(r * 1000));
      return r;
    });
    let ts = T0;
    await log.append(buildBatch([{ key: 'k', value: 'v', timestamp: ts }]));
    for (let i = 0; i < 20; i++) {
      const jitter = draws[draws.length - 1]!;
      const before = log.segments.length;
      // One ms past this segment's roll point (segment.ms - jitter, with jitter < segment.ms).
      ts += 1000 - jitter + 1;
      await log.append(buildBatch([{ key: 'k', value: 'v', timestamp: ts }]));
      assert.equal(log.segments.length, before + 1, `seed ${seed}: roll ${i} at jitter ${jitter}`);
    }
    assert.equal(draws.length, 21, `seed ${seed}: one draw at open and one per rolled segment`);
    await log.close();
  });
});
