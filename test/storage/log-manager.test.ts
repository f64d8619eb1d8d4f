import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLEAN_SHUTDOWN_FILE, LogManager } from '../../src/storage/log-manager.js';
import { buildBatch, tempDir } from './helpers.js';
import { until } from '../helpers/wait.js';

const kv = (i: number): Buffer => buildBatch([{ key: `k${i}`, value: `v${i}` }]);

describe('LogManager', () => {
  it('writes the clean-shutdown marker on close, opens without scanning after it and removes it', async () => {
    const t = tempDir();
    try {
      let mgr = await LogManager.open(t.dir, { scheduler: false });
      const log = mgr.createLog('orders', 3, { segmentBytes: 1024 });
      for (let i = 0; i < 50; i++) await log.append(kv(i));
      await mgr.close();
      assert.ok(fs.existsSync(join(t.dir, CLEAN_SHUTDOWN_FILE)));
      mgr = await LogManager.open(t.dir, { scheduler: false, topicConfig: () => ({ segmentBytes: 1024 }) });
      assert.equal(mgr.hadCleanShutdown, true);
      assert.equal(fs.existsSync(join(t.dir, CLEAN_SHUTDOWN_FILE)), false, 'marker removed so a crash is noticed');
      const again = mgr.getLog('orders', 3)!;
      assert.equal(again.logEndOffset, 50);
      assert.equal(again.recovery.segmentsScanned, 0);
      assert.equal(again.config.segmentBytes, 1024);
      mgr.halt();
      mgr = await LogManager.open(t.dir, { scheduler: false });
      assert.equal(mgr.hadCleanShutdown, false);
      // The recovery point written at the previous open limits the rescan to the active segment.
      assert.equal(mgr.getLog('orders', 3)!.recovery.segmentsScanned, 1);
      assert.deepEqual(
        mgr.listLogs().map((l) => [l.topic, l.partition, l.logEndOffset, l.segments > 1]),
        [['orders', 3, 50, true]],
      );
      await mgr.close();
    } finally {
      t.cleanup();
    }
  });

  it('deletes a log by renaming its folder, and cleans leftover -delete folders at open', async () => {
    const t = tempDir();
    try {
      let mgr = await LogManager.open(t.dir, { scheduler: false });
      const log = mgr.createLog('gone', 0);
      await log.append(kv(1));
      mgr.createLog('kept', 0);
      assert.equal(await mgr.deleteLog('gone', 0), true);
      assert.equal(mgr.getLog('gone', 0), undefined);
      await assert.rejects(log.append(kv(2)), (e: unknown) => (e as { code?: number }).code === 56);
      fs.mkdirSync(join(t.dir, 'old-7.abc-delete'));
      assert.throws(() => mgr.createLog('bad/name', 0), RangeError);
      await mgr.close();
      mgr = await LogManager.open(t.dir, { scheduler: false });
      await mgr.close();
      assert.deepEqual(
        fs.readdirSync(t.dir).filter((n) => fs.statSync(join(t.dir, n)).isDirectory()),
        ['kept-0'],
      );
    } finally {
      t.cleanup();
    }
  });

  it('serves thousands of partitions with a bounded number of open files', async () => {
    const t = tempDir();
    const partitions = Number(process.env.BROOK_MANY_PARTITIONS ?? 500);
    try {
      let mgr = await LogManager.open(t.dir, { scheduler: false, maxOpenFiles: 64 });
      for (let p = 0; p < partitions; p++) {
        const log = mgr.createLog('wide', p);
        await log.append(kv(p));
        assert.ok(mgr.openFileCount <= 64);
      }
      for (let p = 0; p < partitions; p += 97) {
        const r = await mgr.getLog('wide', p)!.read(0, 1000);
        assert.ok(r.records.length > 0);
      }
      await mgr.close();
      mgr = await LogManager.open(t.dir, { scheduler: false, maxOpenFiles: 64 });
      assert.equal(mgr.logs().length, partitions);
      for (let p = 0; p < partitions; p += 13) {
        const log = mgr.getLog('wide', p)!;
        assert.equal(log.logEndOffset, 1);
        await log.append(kv(p));
        assert.ok(mgr.openFileCount <= 64);
      }
      await mgr.close();
    } finally {
      t.cleanup();
    }
  });

  it('flushes on flush.ms and applies retention from the background scheduler', async () => {
    const t = tempDir();
    let clock = 1_800_000_000_000;
    try {
      const mgr = await LogManager.open(t.dir, {
        time: () => clock,
        schedulerTickMs: 10,
        retentionCheckIntervalMs: 1000,
        defaultConfig: { flushMs: 500, segmentBytes: 300, retentionMs: 60_000, fileDeleteDelayMs: 0 },
      });
      const log = mgr.createLog('bg', 0);
      for (let i = 0; i < 20; i++)
        await log.append(buildBatch([{ key: `k${i}`, value: 'x'.repeat(50), timestamp: clock }]));
      assert.ok(log.unflushedOffsets > 0);
      clock += 600;
      // The scheduler ticks on real time (10 ms); a busy machine may take longer to get there.
      await until(() => log.unflushedOffsets === 0, 30_000, 'flush.ms elapsed: the flusher to sync the log');
      const segs = log.segments.length;
      clock += 120_000;
      await until(() => log.segments.length < segs, 30_000, 'retention.ms elapsed: old segments to be deleted');
      assert.equal(log.logStartOffset, 20);
      await mgr.close();
    } finally {
      t.cleanup();
    }
  });
});
