/**
 * Background syncs slowed down by an injected delay (fsutil's `syncDelay` seam): segments roll
 * while earlier index writes, directory fsyncs and checkpoints are still in flight, the cleaner
 * swaps segments and a truncation races appends. The log must stay readable and consistent, close
 * must wait for the pending work, and a reopen (clean, or after a SIGKILL) must find it intact.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'node:test';
import {
  baseOffset as batchBaseOffset,
  checkBatch,
  lastOffset as batchLastOffset,
} from '../../src/protocol/records/batch-header.js';
import { cleanLog } from '../../src/storage/cleaner.js';
import { syncDelay } from '../../src/storage/fsutil.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { buildBatch, decodeRecords, rng, tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));

function slowDisk(seed: number, maxMs: number): void {
  const random = rng(seed);
  syncDelay.before = () => new Promise((r) => setTimeout(r, Math.floor(random() * maxMs)));
}

/** Every record of the log, read batch by batch through the indexes. */
async function readAll(
  log: PartitionLog,
): Promise<Array<{ offset: number; key: string | null; value: string | null }>> {
  const out = [];
  for await (const b of log.batches(log.logStartOffset, { verifyCrc: true })) {
    for (const r of await decodeRecords(b)) out.push({ offset: r.offset, key: r.key, value: r.value });
  }
  return out;
}

describe('background syncs slowed down', () => {
  afterEach(() => {
    syncDelay.before = null;
  });

  for (const seed of [1, 2, 3]) {
    it(`keeps the log readable through rapid rolls, a compaction and a truncation (seed ${seed})`, async () => {
      const t = tempDir('brook-slow-');
      slowDisk(seed, 25);
      const random = rng(seed * 7919);
      const opts = {
        scheduler: true,
        schedulerTickMs: 5,
        checkpointIntervalMs: 20,
        cleanerEnabled: false,
        defaultConfig: { segmentBytes: 700, indexIntervalBytes: 100, cleanupPolicy: 'compact' as const },
      };
      let mgr = await LogManager.open(t.dir, opts);
      try {
        const log = mgr.createLog('slow', 0, { minCleanableDirtyRatio: 0 });
        // The latest value per key, as a reader must see it after compaction and truncation.
        const expected = new Map<number, { key: string; value: string }>();
        const appendSome = async (n: number, strict: boolean): Promise<void> => {
          const pending: Array<Promise<unknown>> = [];
          for (let i = 0; i < n; i++) {
            const key = `k${Math.floor(random() * 20)}`;
            const value = `v${i}-${'x'.repeat(Math.floor(random() * 60))}`;
            const at = log.logEndOffset;
            pending.push(log.append(buildBatch([{ key, value }])));
            expected.set(at, { key, value });
            if (strict) await pending[pending.length - 1];
          }
          await Promise.all(pending);
        };
        // Many rolls in one go: every roll's flush (log, then index files) is still slow when the next comes.
        await appendSome(150, false);
        assert.ok(log.segments.length > 20, `only ${log.segments.length} segments`);
        const reads = readAll(log);
        const cleaning = cleanLog(log, { force: true });
        await appendSome(40, true); // strict-ish: each awaited while the cleaner and flushes run
        const cleaned = await cleaning;
        assert.ok(cleaned.cleaned, `seed ${seed}: the cleaner ran (${cleaned.reason})`);
        assert.ok((await reads).length > 0);

        // Appends racing a truncation: they land after the cut, while its slowed flush is in flight.
        const cut = log.logEndOffset - 15;
        const truncation = log.truncateTo(cut);
        while (log.logEndOffset !== cut) await new Promise((r) => setImmediate(r));
        for (const o of [...expected.keys()]) if (o >= cut) expected.delete(o);
        await appendSome(30, false);
        await truncation;
        await log.flush();

        const check = async (l: PartitionLog, where: string): Promise<void> => {
          const got = await readAll(l);
          const latest = new Map<string, number>();
          for (const [o, e] of expected) if ((latest.get(e.key) ?? -1) < o) latest.set(e.key, o);
          // Compaction keeps at least the latest record of each key, never a record that was not written.
          for (const r of got) {
            const e = expected.get(r.offset);
            assert.ok(e, `${where}: offset ${r.offset} was never written (or was truncated)`);
            assert.equal(r.key, e.key, where);
            assert.equal(r.value, e.value, where);
          }
          const offsets = new Set(got.map((r) => r.offset));
          for (const [key, o] of latest) assert.ok(offsets.has(o), `${where}: latest record of ${key} (${o}) lost`);
          assert.deepEqual(l.verify(), [], `${where}: every segment scans clean`);
          assert.equal(l.logEndOffset, log.logEndOffset, where);
        };
        await check(log, `seed ${seed}, live`);

        // Close while syncs are slow: it waits for them; the reopen trusts the files without a scan.
        const leo = log.logEndOffset;
        await mgr.close();
        syncDelay.before = null;
        mgr = await LogManager.open(t.dir, { ...opts, scheduler: false });
        assert.equal(mgr.hadCleanShutdown, true);
        const again = mgr.getLog('slow', 0)!;
        assert.equal(again.recovery.segmentsScanned, 0);
        assert.equal(again.logEndOffset, leo);
        await check(again, `seed ${seed}, reopened`);
        const leftovers = readdirSync(again.dir).filter((f) => /\.(tmp|cleaned|swap)$/.test(f));
        assert.deepEqual(leftovers, [], `seed ${seed}: no temporary files left`);
      } finally {
        syncDelay.before = null;
        await mgr.close();
        t.cleanup();
      }
    });
  }

  it('recovers every acknowledged batch after SIGKILLs while slowed syncs are in flight', async () => {
    const t = tempDir('brook-slow-crash-');
    try {
      const acks = new Map<number, { last: number; sha: string }>();
      for (let round = 0; round < 6; round++) {
        const seed = 100 + round;
        await new Promise<void>((resolve, reject) => {
          // `slow`: tiny segments and up to 15 ms per background sync in the child.
          const child = spawn(process.execPath, [CHILD, '--crash-child', t.dir, String(seed), 'slow'], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let buf = '';
          let stderr = '';
          let acked = 0;
          const kill = (): void => {
            child.kill('SIGKILL');
          };
          child.stdout.on('data', (d: Buffer) => {
            buf += d.toString();
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const [kind, a, b, sha] = buf.slice(0, nl).split(' ');
              buf = buf.slice(nl + 1);
              if (kind === 'ack') {
                acks.set(Number(a), { last: Number(b), sha: sha! });
                // Kill once a good number of rolls happened, at a point that varies with the seed.
                if (++acked === 30 + (seed % 5) * 17) kill();
              }
            }
          });
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          const guard = setTimeout(kill, 20_000);
          child.on('exit', (code, signal) => {
            clearTimeout(guard);
            if (signal === 'SIGKILL') resolve();
            else reject(new Error(`seed ${seed}: child exited by itself (${code}): ${stderr}`));
          });
        });
        const mgr = await LogManager.open(t.dir, { scheduler: false });
        try {
          const log = mgr.getLog('crash', 0);
          assert.ok(log, `seed ${seed}: log missing`);
          let next = 0;
          const stored = new Map<number, string>();
          for await (const batch of log.batches(0)) {
            assert.equal(checkBatch(batch, 0, batch.length), null, `seed ${seed}: corrupt batch served`);
            assert.equal(batchBaseOffset(batch), next, `seed ${seed}: offsets contiguous`);
            next = batchLastOffset(batch) + 1;
            stored.set(batchBaseOffset(batch), createHash('sha1').update(batch).digest('hex'));
          }
          assert.equal(next, log.logEndOffset);
          for (const [base, ack] of acks) assert.equal(stored.get(base), ack.sha, `seed ${seed}: batch at ${base}`);
          assert.deepEqual(log.verify(), [], `seed ${seed}: every segment scans clean`);
        } finally {
          await mgr.close();
        }
      }
    } finally {
      t.cleanup();
    }
  });
});
