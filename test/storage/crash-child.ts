/**
 * Child process of the crash test (not a test itself): appends batches in strict mode and prints
 * `ack <baseOffset> <lastOffset> <sha1 of the stored batch bytes>` for each acknowledged append,
 * until its parent kills it with SIGKILL. Started as `node crash-child.js --crash-child <dir> <seed> [slow]`.
 */
import { createHash } from 'node:crypto';
import { syncDelay } from '../../src/storage/fsutil.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { buildBatch, rng } from './helpers.js';

async function main(dir: string, seed: number, slow: boolean): Promise<void> {
  if (slow) {
    // Slowed background syncs and tiny segments: rolls overlap with earlier index flushes.
    const delay = rng(seed * 13);
    syncDelay.before = () => new Promise((r) => setTimeout(r, Math.floor(delay() * 15)));
  }
  const mgr = await LogManager.open(dir, {
    defaultConfig: { flushMessages: 1, segmentBytes: slow ? 4 * 1024 : 128 * 1024, indexIntervalBytes: 1024 },
    schedulerTickMs: 10,
    checkpointIntervalMs: 30,
    retentionCheckIntervalMs: 1e9,
    cleanerEnabled: false,
  });
  const log = mgr.getLog('crash', 0) ?? mgr.createLog('crash', 0);
  const random = rng(seed);
  process.stdout.write(`ready ${log.logEndOffset}\n`);
  const inFlight = 6;
  let n = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const count = 1 + Math.floor(random() * 8);
      const recs = [];
      for (let i = 0; i < count; i++) {
        const size = Math.floor(random() * 600);
        const value = Buffer.alloc(size, (seed * 31 + n * 7 + i) & 0xff);
        recs.push({ key: `s${seed}-${n}-${i}`, value });
      }
      n++;
      const batch = buildBatch(recs, { baseTimestamp: Date.now() });
      const r = await log.append(batch);
      // append stamped the base offset in place: these are the bytes on disk.
      const sha = createHash('sha1').update(batch).digest('hex');
      process.stdout.write(`ack ${r.baseOffset} ${r.lastOffset} ${sha}\n`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

if (process.argv[2] === '--crash-child') {
  main(process.argv[3]!, Number(process.argv[4]), process.argv[5] === 'slow').catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
