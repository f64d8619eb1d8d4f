import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { entrySize } from '../../src/protocol/records/batch-header.js';
import { defaultLogConfig, resolveLogConfig, type LogConfig } from '../../src/storage/config.js';
import { CorruptRecordError } from '../../src/storage/errors.js';
import { FilePool } from '../../src/storage/file-pool.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { buildBatch, splitBatches, tempDir } from './helpers.js';

const pool = new FilePool(64);

function open(dir: string, config: Partial<LogConfig> = {}, clean = false, recoveryPoint = 0): PartitionLog {
  return PartitionLog.open({
    topic: 't',
    partition: 0,
    dir,
    config: resolveLogConfig(defaultLogConfig(), config),
    pool,
    cleanShutdown: clean,
    recoveryPoint,
  });
}

function batchOf(i: number): Buffer {
  const recs = [];
  for (let r = 0; r <= i % 4; r++)
    recs.push({ key: `key-${i}-${r}`, value: `value-${i}-${r}-`.padEnd(20 + ((i * 7) % 50), 'x') });
  return buildBatch(recs, { baseTimestamp: 1_700_000_000_000 + i });
}

/** Byte boundaries of the batches in a log file, and each batch's next offset. */
function layout(file: Buffer): Array<{ start: number; end: number; nextOffset: number }> {
  const out = [];
  let p = 0;
  while (p < file.length) {
    const size = entrySize(file, p);
    const next = Number(file.readBigInt64BE(p)) + file.readInt32BE(p + 23) + 1;
    out.push({ start: p, end: p + size, nextOffset: next });
    p += size;
  }
  return out;
}

describe('recovery after an unclean shutdown', () => {
  let t: ReturnType<typeof tempDir>;
  let original: Buffer;
  const seg0 = '00000000000000000000.log';

  beforeEach(async () => {
    t = tempDir();
    const log = open(join(t.dir, 'src'), {}, true);
    for (let i = 0; i < 20; i++) await log.append(batchOf(i));
    await log.close();
    original = fs.readFileSync(join(t.dir, 'src', seg0));
  });
  afterEach(() => t.cleanup());

  it('recovers to the last whole batch when the tail is cut at every byte of the last batches', async () => {
    const batches = layout(original);
    const from = batches[batches.length - 3]!.start;
    const dir = join(t.dir, 'cut');
    for (let cut = from; cut <= original.length; cut++) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      fs.writeFileSync(join(dir, seg0), original.subarray(0, cut));
      const log = open(dir);
      const whole = batches.filter((b) => b.end <= cut);
      const expectEnd = whole.length ? whole[whole.length - 1]!.end : 0;
      const expectNext = whole.length ? whole[whole.length - 1]!.nextOffset : 0;
      assert.equal(log.logEndOffset, expectNext, `cut at ${cut}`);
      assert.equal(log.size, expectEnd, `cut at ${cut}`);
      assert.equal(log.recovery.truncatedBytes, cut - expectEnd);
      const r = await log.read(0, 1 << 20);
      assert.deepEqual(r.records, original.subarray(0, expectEnd), `cut at ${cut}: served bytes differ`);
      // The recovered log takes appends right after the last whole batch.
      const a = await log.append(batchOf(99));
      assert.equal(a.baseOffset, expectNext);
      await log.close();
      assert.equal(
        fs.statSync(join(dir, seg0)).size,
        expectEnd + batchOf(99).length,
        `cut at ${cut}: file size after append`,
      );
    }
  });

  it('detects a flipped byte by CRC and truncates from that batch on', async () => {
    const batches = layout(original);
    const victim = batches[batches.length - 2]!;
    const dir = join(t.dir, 'flip');
    // Every byte the CRC or the framing covers: batchLength, magic, crc, attributes..end.
    const positions = [];
    for (let p = victim.start + 8; p < victim.end; p++)
      if (p < victim.start + 12 || p >= victim.start + 16) positions.push(p);
    for (const p of positions) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      const copy = Buffer.from(original);
      copy[p]! ^= 0x5a;
      fs.writeFileSync(join(dir, seg0), copy);
      const log = open(dir);
      assert.equal(log.size, victim.start, `flip at ${p - victim.start} of the batch`);
      assert.equal(log.logEndOffset, batches[batches.length - 3]!.nextOffset);
      assert.ok(log.recovery.problem, 'the problem is reported');
      const r = await log.read(0, 1 << 20);
      assert.deepEqual(r.records, original.subarray(0, victim.start));
      await log.close();
    }
  });

  it('reports (and does not truncate) corruption in closed segments below the recovery point', async () => {
    const dir = join(t.dir, 'closed');
    const cfg = { segmentBytes: 1024 };
    const log = open(dir, cfg, true);
    for (let i = 0; i < 40; i++) await log.append(batchOf(i));
    const end = log.logEndOffset;
    assert.ok(log.segments.length >= 3);
    await log.close();
    const file = join(dir, '00000000000000000000.log');
    const bytes = fs.readFileSync(file);
    bytes[40]! ^= 0xff; // inside the first batch, past its CRC field
    fs.writeFileSync(file, bytes);
    const again = open(dir, cfg, false, end);
    assert.equal(again.logEndOffset, end, 'a closed segment below the recovery point is not rescanned');
    assert.equal(again.recovery.segmentsScanned, 1);
    const problems = again.verify();
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.segment, 0);
    await assert.rejects(async () => {
      for await (const _ of again.batches(0, { verifyCrc: true })) {
        /* consume */
      }
    }, CorruptRecordError);
    await again.close();
  });

  it('rescans only the segments from the one holding the recovery point', async () => {
    const dir = join(t.dir, 'rp');
    const cfg = { segmentBytes: 1024 };
    const log = open(dir, cfg, true);
    for (let i = 0; i < 40; i++) await log.append(batchOf(i));
    const segs = log.segments.length;
    const lastBase = log.activeSegment.baseOffset;
    const end = log.logEndOffset;
    await log.close();
    const a = open(dir, cfg, false, lastBase);
    assert.equal(a.recovery.segmentsScanned, 1);
    assert.equal(a.logEndOffset, end);
    await a.close();
    const b = open(dir, cfg, false, 0);
    assert.equal(b.recovery.segmentsScanned, segs);
    assert.equal(b.logEndOffset, end);
    await b.close();
  });

  it('rebuilds a corrupt or missing index of a closed segment on first use', async () => {
    const dir = join(t.dir, 'idx');
    const cfg = { segmentBytes: 2048, indexIntervalBytes: 128 };
    const log = open(dir, cfg, true);
    for (let i = 0; i < 40; i++) await log.append(batchOf(i));
    const all = (await log.read(0, 1 << 20)).records;
    await log.close();
    fs.writeFileSync(join(dir, '00000000000000000000.index'), Buffer.from([0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2]));
    fs.unlinkSync(join(dir, '00000000000000000000.timeindex'));
    const again = open(dir, cfg, true);
    for (let off = 0; off < 10; off++) {
      const r = await again.read(off, 1);
      const [b] = splitBatches(r.records);
      assert.ok(b && all.indexOf(b) >= 0, `offset ${off} served from the rebuilt index`);
    }
    await again.close();
  });

  it('discards a .cleaned segment and completes a committed .swap at open', async () => {
    const dir = join(t.dir, 'swap');
    const cfg = { segmentBytes: 1024 };
    const log = open(dir, cfg, true);
    for (let i = 0; i < 40; i++) await log.append(batchOf(i));
    const bases = log.segments.map((s) => s.baseOffset);
    const end = log.logEndOffset;
    await log.close();
    const name = (b: number): string => join(dir, String(b).padStart(20, '0'));
    const first = fs.readFileSync(name(bases[0]!) + '.log');
    const second = fs.readFileSync(name(bases[1]!) + '.log');
    // An unfinished clean: its output must vanish and the originals stay.
    fs.writeFileSync(name(bases[0]!) + '.log.cleaned', first.subarray(0, entrySize(first, 0)));
    const a = open(dir, cfg, false, end);
    assert.deepEqual(
      a.segments.map((s) => s.baseOffset),
      bases,
    );
    assert.equal(fs.existsSync(name(bases[0]!) + '.log.cleaned'), false);
    await a.close();
    // A committed clean of the first two segments keeping one batch of each.
    const kept = Buffer.concat([first.subarray(0, entrySize(first, 0)), second.subarray(0, entrySize(second, 0))]);
    fs.writeFileSync(name(bases[0]!) + '.log.swap', kept);
    fs.writeFileSync(name(bases[0]!) + '.index.swap', Buffer.alloc(8));
    const b = open(dir, cfg, false, end);
    assert.equal(b.recovery.swapsCompleted, 1);
    assert.deepEqual(
      b.segments.map((s) => s.baseOffset),
      [bases[0], ...bases.slice(2)],
    );
    assert.equal(b.logEndOffset, end);
    const r = await b.read(0, 1 << 20);
    assert.deepEqual(r.records, kept);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.swap') || f.includes('.cleaned')),
      [],
    );
    await b.close();
  });
});
