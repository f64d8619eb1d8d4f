import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  baseOffset as batchBaseOffset,
  checkBatch,
  lastOffset as batchLastOffset,
} from '../../src/protocol/records/batch-header.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { rng, tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const ROUNDS = Number(process.env.BROOK_CRASH_ROUNDS ?? 50);

interface Ack {
  last: number;
  sha: string;
}

/**
 * Runs the child until it is ready (it has opened the log, which clears the clean-shutdown mark)
 * and `delayMs` more passed, then SIGKILLs it. A child that is not ready within a generous
 * deadline fails the test: killing it earlier would test a crash before start-up, not after.
 */
function runAndKill(dir: string, seed: number, delayMs: number, acks: Map<number, Ack>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CHILD, '--crash-child', dir, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    let acked = 0;
    let killed = false;
    let stderr = '';
    let ready = false;
    const kill = (): void => {
      if (!killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [kind, a, b, sha] = line.split(' ');
        if (kind === 'ready') {
          ready = true;
          clearTimeout(notReady);
          setTimeout(kill, delayMs);
        }
        if (kind === 'ack') {
          acks.set(Number(a), { last: Number(b), sha: sha! });
          acked++;
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(notReady);
      if (signal === 'SIGKILL' && ready) resolve(acked);
      else if (signal === 'SIGKILL') reject(new Error(`child not ready within 60 s: ${stderr}`));
      else reject(new Error(`child exited by itself (${code}): ${stderr}`));
    });
    const notReady = setTimeout(kill, 60_000);
  });
}

describe('crash safety', () => {
  it(`keeps every acknowledged batch byte-exact across ${ROUNDS} SIGKILLs in strict mode`, async () => {
    const t = tempDir('brook-crash-');
    const random = rng(12345);
    const acks = new Map<number, Ack>();
    let totalAcked = 0;
    let recoveries = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        totalAcked += await runAndKill(t.dir, round + 1, 20 + Math.floor(random() * 120), acks);
        const mgr = await LogManager.open(t.dir, { scheduler: false, defaultConfig: { segmentBytes: 128 * 1024 } });
        assert.equal(mgr.hadCleanShutdown, false);
        const log = mgr.getLog('crash', 0);
        assert.ok(log, `round ${round}: log missing`);
        if (log.recovery.segmentsScanned > 0) recoveries++;
        const stored = new Map<number, { last: number; sha: string }>();
        let expectNext = 0;
        for await (const batch of log.batches(0)) {
          assert.equal(checkBatch(batch, 0, batch.length), null, `round ${round}: corrupt batch served`);
          const base = batchBaseOffset(batch);
          assert.equal(base, expectNext, `round ${round}: offsets must be contiguous`);
          expectNext = batchLastOffset(batch) + 1;
          stored.set(base, { last: batchLastOffset(batch), sha: createHash('sha1').update(batch).digest('hex') });
        }
        assert.equal(expectNext, log.logEndOffset);
        for (const [base, ack] of acks) {
          const s = stored.get(base);
          assert.ok(s, `round ${round}: acknowledged batch at ${base} lost`);
          assert.equal(s.last, ack.last);
          assert.equal(s.sha, ack.sha, `round ${round}: acknowledged batch at ${base} changed`);
        }
        // Leave it unclean again half the time, so both kinds of start-up are exercised.
        if (round % 2 === 0) await mgr.close();
        else mgr.halt();
      }
      assert.ok(totalAcked > ROUNDS * 5, `too few acknowledged appends (${totalAcked}) for a meaningful test`);
      assert.ok(recoveries > 0);
    } finally {
      t.cleanup();
    }
  });
});
