import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  DELETE_HORIZON_FLAG_MASK,
  LOG_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  RECORD_BATCH_OVERHEAD,
  attributes,
  baseOffset as batchBaseOffset,
  baseTimestamp as batchBaseTimestamp,
  compressionCodec,
  entrySize,
  isControl,
  isTransactional,
  lastOffset as batchLastOffset,
  producerId as batchProducerId,
  recordsCount,
  updateCrc,
} from '../protocol/records/batch-header.js';
import { isCompacted } from './config.js';
import { CorruptRecordError } from './errors.js';
import { fsyncDirAsync } from './fsutil.js';
import type { AbortedTxn } from './indexes.js';
import type { PartitionLog } from './partition-log.js';
import {
  type RecordView,
  copyRecordWithTimestampDelta,
  forEachRecord,
  recordSizeWithTimestampDelta,
  recordsArea,
} from './records.js';
import { CLEANED_SUFFIX, LogSegment, SWAP_SUFFIX } from './segment.js';

/**
 * Log compaction (cleanup.policy=compact), Kafka's algorithm:
 *
 * 1. The cleanable range ends at the first uncleanable offset: the active segment, the last
 *    stable offset (high watermark or first open transaction), or the first segment holding records younger than min.compaction.lag.ms.
 *    Segments below the cleaner's checkpoint (firstDirtyOffset) are "clean", the rest "dirty".
 *    Nothing happens while dirty bytes / cleanable bytes < min.cleanable.dirty.ratio, unless dirty
 *    records are older than max.compaction.lag.ms.
 * 2. An offset map (key -> latest offset) is built over the dirty segments, whole segments at a
 *    time, until `maxKeys` keys. Batches of aborted transactions (the transaction indexes say
 *    which) are left out of the map and dropped by the rewrite, so they can neither win over
 *    committed data nor reappear to read_uncommitted readers; their markers stay.
 * 3. Every cleanable segment up to the map's end is rewritten, in groups that fit one segment:
 *    a record stays when no later record with its key is in the map; keyless records go (a
 *    compacted topic requires keys); a tombstone stays until its batch's delete horizon passes.
 *    The first clean that keeps a tombstone sets the horizon to now + delete.retention.ms (the
 *    batch's delete-horizon attribute, baseTimestamp carrying the horizon, record timestamp deltas
 *    re-encoded so record timestamps do not change), as KIP-534 does. Batches keep their base and
 *    last offsets; emptied batches disappear; untouched batches are copied byte for byte; control
 *    batches and batches whose codec is unavailable are kept whole.
 * 4. Crash safety: the group is written to `.cleaned` files and synced, renamed to `.swap` (index
 *    files first, the `.log.swap` last: that rename is the commit point) and the directory synced;
 *    only then are the originals renamed `.deleted` and the swap given the final name. At open, a
 *    `.log.swap` finishes the replacement; `.cleaned` files are discarded. A crash at any point
 *    leaves either the originals or the cleaned segment, never neither.
 * 5. The event loop keeps serving: every sync runs on libuv's threadpool, and the CPU work (map
 *    building, filtering) yields to the loop whenever it has run for SLICE_MS without a pause.
 */

export interface CleanOptions {
  /** Wall-clock time (ms) used for lags and horizons; defaults to the log's clock. */
  now?: number;
  /** Ignore min.cleanable.dirty.ratio (tests, admin tools). */
  force?: boolean;
  /** Bound of the offset map, in keys (Kafka bounds it in bytes: log.cleaner.dedupe.buffer.size). */
  maxKeys?: number;
}

export interface CleanResult {
  cleaned: boolean;
  /** Why nothing was done, when `cleaned` is false. */
  reason?: 'not-compacted' | 'nothing-dirty' | 'below-ratio' | 'closed';
  dirtyRatio: number;
  firstDirtyOffset: number;
  /** Offsets below this were compacted by this run (the new firstDirtyOffset). */
  endOffset: number;
  segmentsRewritten: number;
  bytesBefore: number;
  bytesAfter: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
}

const CHUNK = 8 * 1024 * 1024;
const WRITE_BUFFER = 1024 * 1024;
const DEFAULT_MAX_KEYS = 4_000_000;
const INT32_MAX = 0x7fffffff;
/** Longest stretch of cleaner CPU work between two turns of the event loop. */
const SLICE_MS = 2;

/** Returns a function to call between units of work: it yields to the event loop once SLICE_MS passed. */
function slicer(): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    const now = performance.now();
    if (now - since < SLICE_MS) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = performance.now();
        resolve();
      }),
    );
  };
}

/** Whole batches of a segment, read in large chunks. */
async function* segmentBatches(seg: LogSegment): AsyncGenerator<Buffer> {
  let pos = 0;
  const end = seg.size;
  while (pos < end) {
    const chunk = await seg.readAt(pos, Math.min(CHUNK, end - pos));
    if (chunk.length < LOG_OVERHEAD) throw new CorruptRecordError(`torn batch at position ${pos} of ${seg.logPath}`);
    let p = 0;
    while (p + LOG_OVERHEAD <= chunk.length) {
      const size = entrySize(chunk, p);
      if (size < RECORD_BATCH_OVERHEAD)
        throw new CorruptRecordError(`bad batch length at position ${pos + p} of ${seg.logPath}`);
      if (p + size > chunk.length) break;
      yield chunk.subarray(p, p + size);
      p += size;
    }
    if (p === 0) {
      const size = entrySize(chunk, 0);
      const whole = await seg.readAt(pos, size);
      if (whole.length < size) throw new CorruptRecordError(`torn batch at position ${pos} of ${seg.logPath}`);
      yield whole;
      p = size;
    }
    pos += p;
  }
}

function keyOf(area: Buffer, r: RecordView): string {
  return area.toString('latin1', r.keyStart, r.keyStart + r.keyLength);
}

/** Cleans `log` once if it is due (or `force`); runs under the log's maintenance lock. */
export function cleanLog(log: PartitionLog, opts: CleanOptions = {}): Promise<CleanResult> {
  return log.maintenance(() => clean(log, opts));
}

async function clean(log: PartitionLog, opts: CleanOptions): Promise<CleanResult> {
  const now = opts.now ?? log.now();
  const cfg = log.config;
  const result: CleanResult = {
    cleaned: false,
    dirtyRatio: 0,
    firstDirtyOffset: 0,
    endOffset: 0,
    segmentsRewritten: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
  };
  if (log.isClosed) return { ...result, reason: 'closed' };
  if (!isCompacted(cfg)) return { ...result, reason: 'not-compacted' };
  const segs = log.segments.slice();
  const firstDirty = Math.max(log.firstDirtyOffset, log.logStartOffset);
  result.firstDirtyOffset = firstDirty;
  result.endOffset = firstDirty;

  // 1. Cleanable segments: closed, wholly below the last stable offset and the compaction lag.
  const stable = Math.min(log.highWatermark, log.lastStableOffset());
  const cleanable: LogSegment[] = [];
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i]!;
    const end = segs[i + 1]!.baseOffset;
    if (end > stable) break;
    seg.ensureIndexes();
    if (cfg.minCompactionLagMs > 0 && seg.maxTimestamp > now - cfg.minCompactionLagMs) break;
    cleanable.push(seg);
  }
  const endOf = (seg: LogSegment): number => segs[segs.indexOf(seg) + 1]!.baseOffset;
  const dirty = cleanable.filter((s) => endOf(s) > firstDirty);
  // Kept tombstones whose delete horizon has passed make an idle log worth a pass too (KIP-534).
  const tombstonesDue = (latestDeleteHorizon.get(log) ?? Infinity) <= now;
  if (dirty.length === 0 && !tombstonesDue) return { ...result, reason: 'nothing-dirty' };
  const dirtyBytes = dirty.reduce((a, s) => a + s.size, 0);
  const totalBytes = cleanable.reduce((a, s) => a + s.size, 0);
  result.dirtyRatio = totalBytes === 0 ? 0 : dirtyBytes / totalBytes;
  const overdue =
    cfg.maxCompactionLagMs < Number.MAX_SAFE_INTEGER &&
    dirty.length > 0 &&
    dirty[0]!.maxTimestamp >= 0 &&
    dirty[0]!.maxTimestamp < now - cfg.maxCompactionLagMs;
  if (!opts.force && !overdue && !tombstonesDue && result.dirtyRatio < cfg.minCleanableDirtyRatio)
    return { ...result, reason: 'below-ratio' };

  // 2. Offset map over whole dirty segments; aborted records neither enter it nor survive cleaning.
  const aborted = abortedBatches(log, cleanable[0]!.baseOffset, endOf(cleanable[cleanable.length - 1]!));
  const maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
  const map = new Map<string, number>();
  const pause = slicer();
  let endOffset = firstDirty;
  for (const seg of dirty) {
    if (map.size >= maxKeys && endOffset > firstDirty) break;
    for await (const batch of segmentBatches(seg)) {
      await pause();
      if (batchLastOffset(batch) < firstDirty || isControl(batch) || aborted(batch)) continue;
      const area = await recordsArea(batch, log.codec);
      if (!area) continue;
      const base = batchBaseOffset(batch);
      forEachRecord(area, recordsCount(batch), (r) => {
        const off = base + r.offsetDelta;
        if (r.keyLength >= 0 && off >= firstDirty) map.set(keyOf(area, r), off);
      });
    }
    endOffset = endOf(seg);
  }
  result.endOffset = endOffset;

  // 3. Rewrite every cleanable segment below endOffset, in groups that fit one segment.
  const toClean = cleanable.filter((s) => endOf(s) <= endOffset);
  const groups: LogSegment[][] = [];
  for (const seg of toClean) {
    const g = groups[groups.length - 1];
    const fits =
      g &&
      g.reduce((a, s) => a + s.size, 0) + seg.size <= cfg.segmentBytes &&
      endOf(seg) - 1 - g[0]!.baseOffset <= INT32_MAX &&
      g.reduce((a, s) => a + s.offsetIndex.sizeInBytes, 0) + seg.offsetIndex.sizeInBytes < cfg.segmentIndexBytes &&
      g.reduce((a, s) => a + s.timeIndex.sizeInBytes, 0) + seg.timeIndex.sizeInBytes < cfg.segmentIndexBytes;
    if (fits) g.push(seg);
    else groups.push([seg]);
  }
  // Every cleanable segment is rewritten below, noting the horizons of the tombstones it keeps.
  latestDeleteHorizon.delete(log);
  for (const group of groups) {
    if (log.isClosed) return { ...result, reason: 'closed' };
    await cleanGroup(log, group, map, aborted, now, result, pause);
  }
  log.firstDirtyOffset = Math.max(log.firstDirtyOffset, endOffset);
  result.cleaned = true;
  return result;
}

async function cleanGroup(
  log: PartitionLog,
  group: LogSegment[],
  map: Map<string, number>,
  aborted: (batch: Buffer) => boolean,
  now: number,
  result: CleanResult,
  pause: () => Promise<void> | undefined,
): Promise<void> {
  const settings = log.segmentSettingsForCleaner();
  const out = LogSegment.create(log.dir, group[0]!.baseOffset, log.poolForCleaner, settings, now, CLEANED_SUFFIX);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flushPending = (): void => {
    if (pendingBytes === 0) return;
    out.append(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  const horizon = now + log.config.deleteRetentionMs;
  const txns: AbortedTxn[] = [];
  try {
    for (const seg of group) {
      result.bytesBefore += seg.size;
      txns.push(...seg.txnIndex.entries());
      for await (const batch of segmentBatches(seg)) {
        await pause();
        if (aborted(batch)) {
          result.recordsRemoved += recordsCount(batch);
          continue;
        }
        const kept = await filterBatch(log, batch, map, now, horizon, result);
        if (!kept) continue;
        // Each chunk is a fresh buffer, so slices of it stay valid until written.
        pending.push(kept);
        pendingBytes += kept.length;
        if (pendingBytes >= WRITE_BUFFER) flushPending();
      }
    }
    flushPending();
    out.txnIndex.replaceAll(txns);
    out.closeForAppends();
    await out.flushAsync();
    out.renameAll(CLEANED_SUFFIX, SWAP_SUFFIX);
    await fsyncDirAsync(log.dir);
  } catch (err) {
    out.deleteFiles();
    throw err;
  }
  await log.indexWritesIdle();
  if (log.isClosed) {
    out.file.close(); // the `.swap` is committed: the next open finishes the replacement
    return;
  }
  result.bytesAfter += out.size;
  result.segmentsRewritten += group.length;
  log.replaceSegments(group, out); // in the same run as the wait: no index write of the group starts between
  await log.syncDirectory();
}

/** Per log, the latest delete horizon among the tombstones the cleaner kept (in memory, as Kafka's). */
const latestDeleteHorizon = new WeakMap<PartitionLog, number>();

/**
 * Whether a batch belongs to an aborted transaction: transactional, from a producer whose aborted
 * transaction (in the segments' transaction indexes) spans the batch's offset up to its marker.
 */
function abortedBatches(log: PartitionLog, from: number, to: number): (batch: Buffer) => boolean {
  const byProducer = new Map<number, AbortedTxn[]>();
  for (const a of log.collectAbortedTxns(from, to)) {
    const list = byProducer.get(a.producerId);
    if (list) list.push(a);
    else byProducer.set(a.producerId, [a]);
  }
  return (batch) => {
    if (byProducer.size === 0 || !isTransactional(batch) || isControl(batch)) return false;
    const txns = byProducer.get(batchProducerId(batch));
    const base = batchBaseOffset(batch);
    return txns !== undefined && txns.some((a) => a.firstOffset <= base && base < a.lastOffset);
  };
}

/**
 * The batch as it should be after cleaning: the same Buffer when untouched, a rebuilt batch when
 * some records go or a delete horizon is set, null when nothing is left.
 */
async function filterBatch(
  log: PartitionLog,
  batch: Buffer,
  map: Map<string, number>,
  now: number,
  horizon: number,
  result: CleanResult,
): Promise<Buffer | null> {
  if (isControl(batch)) return batch;
  const codec = compressionCodec(batch);
  let area: Buffer | null;
  try {
    area = await recordsArea(batch, log.codec);
  } catch {
    return batch; // unreadable compressed data is kept as it is, never guessed at
  }
  if (!area) return batch;
  const base = batchBaseOffset(batch);
  const attrs = attributes(batch);
  const hasHorizon = (attrs & DELETE_HORIZON_FLAG_MASK) !== 0;
  const horizonPassed = hasHorizon && now >= batchBaseTimestamp(batch);
  const keep: RecordView[] = [];
  let tombstonesKept = 0;
  let total = 0;
  forEachRecord(area, recordsCount(batch), (r) => {
    total++;
    const off = base + r.offsetDelta;
    if (r.keyLength < 0) {
      result.recordsRemoved++;
      return;
    }
    const latest = map.get(keyOf(area!, r));
    if (latest !== undefined && off < latest) {
      result.recordsRemoved++;
      return;
    }
    if (r.valueLength < 0) {
      if (horizonPassed) {
        result.recordsRemoved++;
        result.tombstonesRemoved++;
        return;
      }
      tombstonesKept++;
    }
    keep.push({ ...r });
  });
  const setHorizon = tombstonesKept > 0 && !hasHorizon;
  if (tombstonesKept > 0) {
    const h = setHorizon ? horizon : batchBaseTimestamp(batch);
    latestDeleteHorizon.set(log, Math.max(latestDeleteHorizon.get(log) ?? 0, h));
  }
  if (keep.length === total && !setHorizon) return batch;
  if (keep.length === 0) return null;

  const oldBaseTs = batchBaseTimestamp(batch);
  const newBaseTs = setHorizon ? horizon : oldBaseTs;
  let size = 0;
  for (const r of keep) {
    size += setHorizon
      ? recordSizeWithTimestampDelta(area, r, oldBaseTs + r.timestampDelta - newBaseTs)
      : r.end - r.start;
  }
  let records: Buffer = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of keep) {
    if (setHorizon) at = copyRecordWithTimestampDelta(area, r, oldBaseTs + r.timestampDelta - newBaseTs, records, at);
    else at += area.copy(records, at, r.start, r.end);
  }
  if (codec !== 0) {
    const packed = await log.codec.compress(codec, records);
    if (!packed) return batch;
    records = packed;
  }
  const out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + records.length);
  batch.copy(out, 0, 0, RECORD_BATCH_OVERHEAD);
  records.copy(out, RECORD_BATCH_OVERHEAD);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(keep.length, RECORDS_COUNT_OFFSET);
  if (setHorizon) {
    out.writeInt16BE(attrs | DELETE_HORIZON_FLAG_MASK, ATTRIBUTES_OFFSET);
    const hi = Math.floor(newBaseTs / 4294967296);
    out.writeInt32BE(hi | 0, BASE_TIMESTAMP_OFFSET);
    out.writeUInt32BE((newBaseTs - hi * 4294967296) >>> 0, BASE_TIMESTAMP_OFFSET + 4);
  }
  updateCrc(out);
  return out;
}
