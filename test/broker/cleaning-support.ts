// Helpers for tests that let the broker's background log cleaner and retention check do their work.

import { ControlRecordType, parseControlRecordKey } from '../../src/protocol/records/control.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import type { FetchResponsePartitionData } from '../../src/protocol/messages/fetch-response.js';
import { deliveredRecords } from '../txn/helpers.js';
import { ErrorCode, type WireClient, assertCode, fetchPartition, listOffset } from './support.js';

/**
 * Broker properties that make the background passes frequent (the scheduler still ticks about
 * once a second), so cleaning and retention happen within seconds of being due.
 */
export const FAST_CLEANING: Record<string, string> = {
  'log.cleaner.backoff.ms': '100',
  'log.retention.check.interval.ms': '100',
};

/**
 * Topic configs for tests: every batch of a few records gets a segment of its own (so all but the
 * newest batch are closed and cleanable), and any dirty data makes the log cleanable.
 */
export const SMALL_SEGMENTS: Record<string, string> = {
  'segment.bytes': '100',
  'min.cleanable.dirty.ratio': '0.01',
};

export interface Seen {
  offset: number;
  key: string | null;
  value: string | null;
}

export const EARLIEST = -2;
export const LATEST = -1;

/** ListOffsets "earliest": the log start offset. */
export async function logStartOffset(c: WireClient, topic: string, partition = 0): Promise<number> {
  const r = await listOffset(c, topic, partition, EARLIEST);
  assertCode(r.errorCode, ErrorCode.NONE, `ListOffsets earliest of ${topic}`);
  return r.offset;
}

export async function logEndOffset(c: WireClient, topic: string, partition = 0): Promise<number> {
  const r = await listOffset(c, topic, partition, LATEST);
  assertCode(r.errorCode, ErrorCode.NONE, `ListOffsets latest of ${topic}`);
  return r.offset;
}

/**
 * A whole (small) partition from its log start offset, as one fetch response: a fetch reads from
 * one segment at a time, so this fetches until the high watermark (or the last stable offset for
 * read_committed) and joins the record batches.
 */
export async function fetchAll(
  c: WireClient,
  topic: string,
  isolationLevel = 0,
  partition = 0,
): Promise<FetchResponsePartitionData> {
  let offset = await logStartOffset(c, topic, partition);
  let restarts = 0;
  const blobs: Buffer[] = [];
  const aborted: NonNullable<FetchResponsePartitionData['abortedTransactions']> = [];
  for (;;) {
    const p = await fetchPartition(
      c,
      { topic, partition, fetchOffset: offset, partitionMaxBytes: 16 * 1024 * 1024 },
      { isolationLevel },
    );
    if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && restarts++ < 10) {
      // Retention moved the log start offset meanwhile: start again from the new one.
      offset = await logStartOffset(c, topic, partition);
      blobs.length = 0;
      aborted.length = 0;
      continue;
    }
    assertCode(p.errorCode, ErrorCode.NONE, `fetch ${topic}-${partition} at ${offset}`);
    const end = isolationLevel === 1 ? p.lastStableOffset : p.highWatermark;
    const batches = decodeRecordBatches(p.records ?? Buffer.alloc(0));
    for (const a of p.abortedTransactions ?? [])
      if (!aborted.some((x) => x.producerId === a.producerId && x.firstOffset === a.firstOffset)) aborted.push(a);
    if (batches.length > 0) {
      blobs.push(p.records!);
      offset = batches[batches.length - 1]!.lastOffset + 1;
    }
    if (offset >= end || batches.length === 0) {
      return { ...p, records: Buffer.concat(blobs), abortedTransactions: isolationLevel === 1 ? aborted : null };
    }
  }
}

/** Every non-control record of a fetched partition, as read_uncommitted consumers see it. */
export function recordsSeen(p: FetchResponsePartitionData): Seen[] {
  const out: Seen[] = [];
  for (const b of decodeRecordBatches(p.records ?? Buffer.alloc(0))) {
    if (b.isControl) continue;
    for (const r of b.records)
      out.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
  }
  return out;
}

/**
 * The records a read_committed consumer delivers from a fetch response, filtered the way Kafka
 * consumers do: a producer listed in AbortedTransactions has its transactional batches dropped
 * from the listed first offset until its ABORT marker.
 */
export function committedSeen(p: FetchResponsePartitionData): Seen[] {
  return deliveredRecords(p).map((r) => ({
    offset: r.offset,
    key: r.key?.toString() ?? null,
    value: r.value?.toString() ?? null,
  }));
}

/** Control markers of a fetched partition: `offset:COMMIT` or `offset:ABORT`. */
export function markersSeen(p: FetchResponsePartitionData): string[] {
  return decodeRecordBatches(p.records ?? Buffer.alloc(0))
    .filter((b) => b.isControl)
    .map(
      (b) =>
        `${b.baseOffset}:${parseControlRecordKey(b.records[0]?.key ?? null).type === ControlRecordType.ABORT ? 'ABORT' : 'COMMIT'}`,
    );
}

/** What a consumer sees of the whole partition, read_uncommitted. */
export async function consume(c: WireClient, topic: string, partition = 0): Promise<Seen[]> {
  return recordsSeen(await fetchAll(c, topic, 0, partition));
}

/** The latest record of every key, in offset order: what a fully compacted log holds. */
export function latestPerKey(records: Seen[]): Seen[] {
  const latest = new Map<string | null, Seen>();
  for (const r of records) latest.set(r.key, r);
  return [...latest.values()].sort((a, b) => a.offset - b.offset);
}

export const show = (rs: Seen[]): string => rs.map((r) => `${r.offset}:${r.key}=${r.value ?? '<null>'}`).join(' ');
