import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import {
  baseOffset as batchBaseOffset,
  isCrcValid,
  lastOffset as batchLastOffset,
} from '../../src/protocol/records/batch-header.js';
import { cleanLog } from '../../src/storage/cleaner.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { buildBatch, decodeRecords, rng, splitBatches, tempDir } from './helpers.js';

/**
 * Random appends (keyed records, tombstones, a few keyless records, gzip batches), clock moves,
 * cleaner passes, DeleteRecords and restarts, checked against a record-level model of the rules:
 * below the cleaner's end offset a record survives only if no later record has its key; keyless
 * records go; a tombstone survives until the delete horizon its batch got at the first clean that
 * kept it (now + delete.retention.ms) has passed. Offsets, timestamps and batch boundaries stay.
 */
interface MRecord {
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
}
interface MBatch {
  base: number;
  last: number;
  records: MRecord[];
  horizon?: number;
}

class Model {
  batches: MBatch[] = [];
  lso = 0;
  leo = 0;
  firstDirty = 0;
  constructor(readonly deleteRetentionMs: number) {}

  append(records: Array<Omit<MRecord, 'offset'>>): void {
    const base = this.leo;
    this.batches.push({
      base,
      last: base + records.length - 1,
      records: records.map((r, i) => ({ ...r, offset: base + i })),
    });
    this.leo += records.length;
  }

  clean(endOffset: number, now: number): void {
    const latest = new Map<string, number>();
    // The offset map covers the dirty part only, as the cleaner's does.
    const from = Math.max(this.firstDirty, this.lso);
    for (const b of this.batches) {
      for (const r of b.records)
        if (r.key !== null && r.offset >= from && r.offset < endOffset) latest.set(r.key, r.offset);
    }
    const out: MBatch[] = [];
    for (const b of this.batches) {
      if (b.last >= endOffset) {
        out.push(b);
        continue;
      }
      const passed = b.horizon !== undefined && now >= b.horizon;
      const kept = b.records.filter((r) => {
        if (r.key === null) return false;
        const last = latest.get(r.key);
        if (last !== undefined && r.offset < last) return false;
        if (r.value === null && passed) return false;
        return true;
      });
      if (kept.length === 0) continue;
      const horizon = b.horizon ?? (kept.some((r) => r.value === null) ? now + this.deleteRetentionMs : undefined);
      out.push({ ...b, records: kept, horizon });
    }
    this.batches = out;
    this.firstDirty = endOffset;
  }

  deleteRecords(offset: number): void {
    if (offset > this.lso) this.lso = offset;
    this.firstDirty = Math.max(this.firstDirty, this.lso);
  }

  visible(): MRecord[] {
    const out: MRecord[] = [];
    for (const b of this.batches) if (b.last >= this.lso) out.push(...b.records);
    return out;
  }
}

async function readAll(
  log: PartitionLog,
): Promise<{ records: Awaited<ReturnType<typeof decodeRecords>>; batches: Array<[number, number]> }> {
  const parts: Buffer[] = [];
  for await (const b of log.batches(log.logStartOffset)) {
    assert.ok(isCrcValid(b), 'every served batch has a valid CRC');
    parts.push(Buffer.from(b));
  }
  const all = Buffer.concat(parts);
  return {
    records: await decodeRecords(all),
    batches: splitBatches(all).map((b) => [batchBaseOffset(b), batchLastOffset(b)]),
  };
}

describe('compaction model', () => {
  for (const seed of [11, 12, 13, 14, 15]) {
    it(`matches the model under random operations (seed ${seed})`, async () => {
      const random = rng(seed);
      const t = tempDir('brook-compact-');
      let clock = 1_800_000_000_000;
      const deleteRetentionMs = 2_000 + Math.floor(random() * 8_000);
      const opts = {
        time: () => clock,
        scheduler: false,
        defaultConfig: {
          cleanupPolicy: 'compact' as const,
          segmentBytes: 500 + Math.floor(random() * 1500),
          deleteRetentionMs,
          minCleanableDirtyRatio: 0,
          fileDeleteDelayMs: 0,
        },
      };
      const model = new Model(deleteRetentionMs);
      let mgr = await LogManager.open(t.dir, opts);
      let log = mgr.createLog('c', 0);
      let cleans = 0;
      let tombstonesRemoved = 0;
      try {
        for (let step = 0; step < 300; step++) {
          const op = random();
          if (op < 0.6) {
            const n = 1 + Math.floor(random() * 4);
            const recs = [];
            for (let i = 0; i < n; i++) {
              const keyless = random() < 0.04;
              const tomb = random() < 0.2;
              recs.push({
                key: keyless ? null : `key${Math.floor(random() * 12)}`,
                value: tomb ? null : `v${step}-${i}-${'x'.repeat(Math.floor(random() * 40))}`,
                timestamp: clock + i,
              });
            }
            await log.append(buildBatch(recs, { baseTimestamp: clock, compression: random() < 0.3 ? 1 : 0 }));
            model.append(recs);
          } else if (op < 0.72) {
            clock += Math.floor(random() * 3000);
          } else if (op < 0.9) {
            const end = log.activeSegment.baseOffset;
            const res = await cleanLog(log, { now: clock });
            if (end > model.firstDirty) {
              assert.ok(res.cleaned, `seed ${seed} step ${step}: expected a clean (${res.reason})`);
              assert.equal(res.endOffset, end);
              model.clean(end, clock);
              cleans++;
              tombstonesRemoved += res.tombstonesRemoved;
            } else if (res.cleaned) {
              // Nothing dirty, but kept tombstones were past their horizon: only they may go.
              model.clean(model.firstDirty, clock);
              tombstonesRemoved += res.tombstonesRemoved;
            }
          } else if (op < 0.95) {
            const target = model.lso + Math.floor(random() * (model.leo - model.lso + 1));
            await log.deleteRecordsBefore(target);
            model.deleteRecords(target);
          } else {
            if (random() < 0.5) await mgr.close();
            else {
              mgr.writeCheckpoints();
              mgr.halt();
            }
            mgr = await LogManager.open(t.dir, opts);
            log = mgr.getLog('c', 0)!;
          }
          const where = `seed ${seed} step ${step}`;
          assert.equal(log.logEndOffset, model.leo, where);
          assert.equal(log.logStartOffset, model.lso, where);
          const got = await readAll(log);
          assert.deepEqual(got.records, model.visible(), where);
          assert.deepEqual(
            got.batches,
            model.batches.filter((b) => b.last >= model.lso).map((b) => [b.base, b.last]),
            where,
          );
        }
        assert.ok(cleans >= 5, `only ${cleans} cleans ran`);
        assert.ok(tombstonesRemoved > 0 || seed !== 11, 'some tombstone outlived its horizon');
        const leftovers = fs.readdirSync(log.dir).filter((f) => /\.(cleaned|swap)$/.test(f));
        assert.deepEqual(leftovers, []);
      } finally {
        await mgr.close();
        t.cleanup();
      }
    });
  }

  it('waits for min.cleanable.dirty.ratio and min.compaction.lag.ms', async () => {
    const t = tempDir('brook-compact-');
    let clock = 1_800_000_000_000;
    const mgr = await LogManager.open(t.dir, {
      time: () => clock,
      scheduler: false,
      defaultConfig: {
        cleanupPolicy: 'compact',
        segmentBytes: 400,
        minCleanableDirtyRatio: 0.5,
        minCompactionLagMs: 10_000,
      },
    });
    try {
      const log = mgr.createLog('c', 0);
      for (let i = 0; i < 30; i++)
        await log.append(buildBatch([{ key: `k${i % 3}`, value: `value-${i}`, timestamp: clock }]));
      log.roll();
      let res = await cleanLog(log, { now: clock });
      assert.equal(res.cleaned, false, 'records younger than the lag are not cleanable');
      clock += 20_000;
      res = await cleanLog(log, { now: clock });
      assert.ok(res.cleaned);
      // Three keys survive; one small dirty batch on top stays below the ratio.
      const cleanBytes = log.segments.slice(0, -1).reduce((a, s) => a + s.size, 0);
      await log.append(buildBatch([{ key: 'k0', value: 'y', timestamp: clock }]));
      log.roll();
      clock += 20_000;
      res = await cleanLog(log, { now: clock });
      assert.equal(res.reason, 'below-ratio');
      assert.ok(res.dirtyRatio > 0 && res.dirtyRatio < 0.5, `ratio ${res.dirtyRatio}`);
      // Enough dirty bytes tip it over.
      let dirtyBytes = log.segments[log.segments.length - 2]!.size;
      while (dirtyBytes <= cleanBytes) {
        const b = buildBatch([{ key: 'k1', value: 'z'.repeat(50), timestamp: clock }]);
        dirtyBytes += b.length;
        await log.append(b);
      }
      log.roll();
      clock += 20_000;
      res = await cleanLog(log, { now: clock });
      assert.ok(res.cleaned, `expected a clean, got ${res.reason} at ratio ${res.dirtyRatio}`);
      const { records } = await readAll(log);
      assert.deepEqual(records.map((r) => r.key).sort(), ['k0', 'k1', 'k2'], 'one record per key after cleaning');
      assert.equal(records.find((r) => r.key === 'k1')!.value, 'z'.repeat(50));
    } finally {
      await mgr.close();
      t.cleanup();
    }
  });
});
