import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { buildBatch, rng, tempDir } from './helpers.js';

/**
 * Random operations (append, clock moves, retention passes, DeleteRecords, clean and crash
 * restarts) against a plain model of Kafka's rules: segments roll when the next append would
 * pass segment.bytes; retention deletes leading segments wholly below the log start offset, then
 * those whose newest timestamp is older than retention.ms (rolling first if the active one is
 * expired too), then the oldest while the log exceeds retention.bytes by at least a segment.
 */
interface MBatch {
  base: number;
  last: number;
  bytes: Buffer;
  maxTs: number;
}
interface MSegment {
  base: number;
  batches: MBatch[];
}

class Model {
  segments: MSegment[] = [{ base: 0, batches: [] }];
  lso = 0;
  leo = 0;
  constructor(
    readonly segmentBytes: number,
    readonly retentionMs: number,
    readonly retentionBytes: number,
  ) {}

  size(s: MSegment): number {
    return s.batches.reduce((a, b) => a + b.bytes.length, 0);
  }

  maxTs(s: MSegment): number {
    return s.batches.reduce((a, b) => Math.max(a, b.maxTs), -1);
  }

  get active(): MSegment {
    return this.segments[this.segments.length - 1]!;
  }

  append(bytes: Buffer, count: number, maxTs: number): void {
    const a = this.active;
    if (this.size(a) > 0 && this.size(a) + bytes.length > this.segmentBytes)
      this.segments.push({ base: this.leo, batches: [] });
    this.active.batches.push({ base: this.leo, last: this.leo + count - 1, bytes, maxTs });
    this.leo += count;
  }

  private deleteLeading(expired: (s: MSegment) => boolean): void {
    for (;;) {
      const seg = this.segments[0]!;
      const next = this.segments[1];
      const belowStart = next !== undefined && next.base <= this.lso;
      if (!belowStart) {
        if (this.size(seg) === 0 && !next) break;
        if (!expired(seg)) break;
      }
      if (!next) this.segments.push({ base: this.leo, batches: [] });
      this.segments.shift();
    }
    this.lso = Math.max(this.lso, this.segments[0]!.base);
  }

  retention(now: number): void {
    this.deleteLeading(() => false);
    if (this.retentionMs >= 0) this.deleteLeading((s) => now - this.maxTs(s) > this.retentionMs);
    if (this.retentionBytes >= 0) {
      let diff = this.segments.reduce((a, s) => a + this.size(s), 0) - this.retentionBytes;
      this.deleteLeading((s) => {
        if (diff - this.size(s) < 0) return false;
        diff -= this.size(s);
        return true;
      });
    }
  }

  deleteRecords(offset: number): void {
    if (offset > this.lso) this.lso = offset;
    this.deleteLeading(() => false);
  }

  /** What a read of everything from the log start offset must return. */
  visible(): Buffer {
    const parts: Buffer[] = [];
    for (const s of this.segments) for (const b of s.batches) if (b.last >= this.lso) parts.push(b.bytes);
    return Buffer.concat(parts);
  }
}

async function readAll(log: PartitionLog): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of log.batches(log.logStartOffset)) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

describe('retention model', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`matches the model under random operations (seed ${seed})`, async () => {
      const random = rng(seed);
      const t = tempDir('brook-retention-');
      let clock = 1_800_000_000_000;
      const segmentBytes = 600 + Math.floor(random() * 1500);
      const retentionMs = random() < 0.3 ? -1 : 5_000 + Math.floor(random() * 20_000);
      const retentionBytes = random() < 0.4 ? -1 : 2_000 + Math.floor(random() * 6_000);
      const opts = {
        time: () => clock,
        scheduler: false,
        defaultConfig: { segmentBytes, retentionMs, retentionBytes, fileDeleteDelayMs: 0 },
      };
      const model = new Model(segmentBytes, retentionMs, retentionBytes);
      let mgr = await LogManager.open(t.dir, opts);
      let log = mgr.createLog('r', 0);
      try {
        for (let step = 0; step < 400; step++) {
          const op = random();
          if (op < 0.6) {
            const count = 1 + Math.floor(random() * 4);
            const recs = [];
            for (let i = 0; i < count; i++) {
              recs.push({
                key: `k${step}-${i}`,
                value: 'v'.repeat(Math.floor(random() * 120)),
                timestamp: clock - Math.floor(random() * 3000),
              });
            }
            const batch = buildBatch(recs, { baseTimestamp: clock - 3000 });
            await log.append(batch);
            model.append(Buffer.from(batch), count, Math.max(...recs.map((r) => r.timestamp)));
          } else if (op < 0.75) {
            clock += Math.floor(random() * 4000);
          } else if (op < 0.85) {
            await mgr.runRetention(clock);
            model.retention(clock);
          } else if (op < 0.92) {
            const target = model.lso + Math.floor(random() * (model.leo - model.lso + 1));
            assert.equal(await log.deleteRecordsBefore(target), Math.max(target, model.lso));
            model.deleteRecords(target);
          } else {
            // Restart, cleanly or not: the log start offset and the data must survive either way.
            if (random() < 0.5) await mgr.close();
            else mgr.halt();
            mgr = await LogManager.open(t.dir, opts);
            log = mgr.getLog('r', 0)!;
          }
          const where = `seed ${seed} step ${step} op ${op.toFixed(2)} clock ${clock}: log segments ${JSON.stringify(log.segments.map((s) => [s.baseOffset, s.size, s.maxTimestamp]))} model ${JSON.stringify(model.segments.map((s) => [s.base, model.size(s), model.maxTs(s)]))}`;
          if (process.env.DEBUG_MODEL && step > 340) console.log(where);
          assert.equal(log.logEndOffset, model.leo, where);
          assert.equal(log.logStartOffset, model.lso, where);
          assert.deepEqual(
            log.segments.map((s) => s.baseOffset),
            model.segments.map((s) => s.base),
            where,
          );
          assert.deepEqual(await readAll(log), model.visible(), where);
        }
      } finally {
        await mgr.close();
        t.cleanup();
      }
    });
  }
});
