import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointFile, readOffsetCheckpoint } from '../../src/storage/fsutil.js';

test('a background checkpoint write never replaces a newer synchronous one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-ckpt-'));
  try {
    const f = new CheckpointFile(join(dir, 'log-start-offset-checkpoint'));
    const background = f.write([['t', 0, 5]]); // computed first, lands last
    f.writeSync([['t', 0, 9]]); // e.g. DeleteRecords moving the log start offset meanwhile
    await background;
    assert.equal(readOffsetCheckpoint(f.path).get('t-0'), 9);
    assert.deepEqual(readdirSync(dir), ['log-start-offset-checkpoint'], 'the dropped write leaves no temporary file');
    await f.write([['t', 0, 12]]);
    assert.equal(readOffsetCheckpoint(f.path).get('t-0'), 12, 'a newer background write does land');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
