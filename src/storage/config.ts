/**
 * Per-log configuration. Field names are Kafka's topic-level property names in camelCase; the doc
 * comment of each field names the property (and the broker-level default it falls back to).
 * Durations are milliseconds; "unlimited" is -1 for retention and Number.MAX_SAFE_INTEGER for
 * flush intervals, as Kafka uses Long.MAX_VALUE.
 */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

export interface LogConfig {
  /** `segment.bytes` (broker `log.segment.bytes`): roll the active segment past this size. Default 1 GiB. */
  segmentBytes: number;
  /** `segment.ms` (broker `log.roll.ms`): roll the active segment when its first batch is this old. Default 7 days. */
  segmentMs: number;
  /**
   * `segment.jitter.ms` (broker `log.roll.jitter.ms`): each segment rolls up to this much before
   * segment.ms (a random amount in [0, min(jitter, segment.ms)) drawn per segment), so segments
   * created together do not all roll together. Default 0.
   */
  segmentJitterMs: number;
  /** `segment.index.bytes` (broker `log.index.size.max.bytes`): max size of each index file; a full index rolls the segment. Default 10 MiB. */
  segmentIndexBytes: number;
  /** `index.interval.bytes` (broker `log.index.interval.bytes`): bytes of batches between two offset-index entries. Default 4096. */
  indexIntervalBytes: number;
  /**
   * `flush.messages` (broker `log.flush.interval.messages`): an append that brings the count of
   * records not yet fdatasync'ed to this number waits for an fdatasync before it is acknowledged.
   * 1 = every append is on disk before it is acknowledged (strict). Default: never (MAX_SAFE_INTEGER).
   */
  flushMessages: number;
  /**
   * `flush.ms` (broker `log.flush.interval.ms`): the background flusher fdatasyncs a log whose
   * oldest unflushed append is this old. Default 1000 ms (Kafka's default is "never"; one broker
   * has no replicas to fall back on, so Brook bounds what a power loss can take).
   */
  flushMs: number;
  /** `retention.ms` (broker `log.retention.ms`): delete segments whose newest timestamp is older than this. -1 = keep forever. Default 7 days. */
  retentionMs: number;
  /** `retention.bytes` (broker `log.retention.bytes`): delete oldest segments while the log is larger than this. -1 = unlimited (default). */
  retentionBytes: number;
  /** `cleanup.policy` (broker `log.cleanup.policy`): 'delete' (default), 'compact' or 'compact,delete'. */
  cleanupPolicy: CleanupPolicy;
  /** `delete.retention.ms` (broker `log.cleaner.delete.retention.ms`): how long a tombstone survives after the cleaner first sees it. Default 1 day. */
  deleteRetentionMs: number;
  /** `min.cleanable.dirty.ratio` (broker `log.cleaner.min.cleanable.ratio`): clean once dirty bytes / cleanable bytes reaches this. Default 0.5. */
  minCleanableDirtyRatio: number;
  /** `min.compaction.lag.ms` (broker `log.cleaner.min.compaction.lag.ms`): records younger than this are never compacted. Default 0. */
  minCompactionLagMs: number;
  /** `max.compaction.lag.ms` (broker `log.cleaner.max.compaction.lag.ms`): records older than this make the log cleanable whatever its dirty ratio. Default unlimited. */
  maxCompactionLagMs: number;
  /** `file.delete.delay.ms` (broker `log.segment.delete.delay.ms`): deleted segment files linger this long (readers may still hold them). Default 60 s. */
  fileDeleteDelayMs: number;
  /**
   * `message.timestamp.type`: 'LogAppendTime' makes append stamp the broker time into every batch
   * (and refresh its CRC); 'CreateTime' (default) keeps the producer's timestamps. The broker may
   * also decide per append through `AppendOptions.logAppendTime`.
   */
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
}

export const DAY_MS = 24 * 60 * 60 * 1000;
export const UNLIMITED = Number.MAX_SAFE_INTEGER;

export function defaultLogConfig(): LogConfig {
  return {
    segmentBytes: 1024 * 1024 * 1024,
    segmentMs: 7 * DAY_MS,
    segmentJitterMs: 0,
    segmentIndexBytes: 10 * 1024 * 1024,
    indexIntervalBytes: 4096,
    flushMessages: UNLIMITED,
    flushMs: 1000,
    retentionMs: 7 * DAY_MS,
    retentionBytes: -1,
    cleanupPolicy: 'delete',
    deleteRetentionMs: DAY_MS,
    minCleanableDirtyRatio: 0.5,
    minCompactionLagMs: 0,
    maxCompactionLagMs: UNLIMITED,
    fileDeleteDelayMs: 60_000,
    messageTimestampType: 'CreateTime',
  };
}

/** Positions in the offset index are int32, so a segment can never reach 2 GiB. */
export const MAX_SEGMENT_BYTES = 0x7fffffff;
/** Smallest index that can hold at least one entry of each kind (Kafka enforces the same kind of floor). */
const MIN_INDEX_BYTES = 12 * 4;

/** Merges `partial` over `base` and checks every value; throws a RangeError naming the property. */
export function resolveLogConfig(base: LogConfig, partial: Partial<LogConfig> = {}): LogConfig {
  const c: LogConfig = { ...base };
  for (const [k, v] of Object.entries(partial)) {
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  }
  const int = (name: keyof LogConfig, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = c[name] as number;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`invalid ${name}: ${v} (must be an integer in [${min}, ${max}])`);
    }
  };
  int('segmentBytes', 61 + 14, MAX_SEGMENT_BYTES);
  int('segmentMs', 1);
  int('segmentJitterMs', 0);
  int('segmentIndexBytes', MIN_INDEX_BYTES, MAX_SEGMENT_BYTES);
  int('indexIntervalBytes', 0);
  int('flushMessages', 1);
  int('flushMs', 0);
  int('retentionMs', -1);
  int('retentionBytes', -1);
  int('deleteRetentionMs', 0);
  int('minCompactionLagMs', 0);
  int('maxCompactionLagMs', 1);
  int('fileDeleteDelayMs', 0);
  if (!(c.minCleanableDirtyRatio >= 0 && c.minCleanableDirtyRatio <= 1)) {
    throw new RangeError(`invalid minCleanableDirtyRatio: ${c.minCleanableDirtyRatio} (must be in [0, 1])`);
  }
  if (c.cleanupPolicy !== 'delete' && c.cleanupPolicy !== 'compact' && c.cleanupPolicy !== 'compact,delete') {
    throw new RangeError(`invalid cleanupPolicy: ${String(c.cleanupPolicy)}`);
  }
  if (c.messageTimestampType !== 'CreateTime' && c.messageTimestampType !== 'LogAppendTime') {
    throw new RangeError(`invalid messageTimestampType: ${String(c.messageTimestampType)}`);
  }
  return c;
}

export function isCompacted(c: LogConfig): boolean {
  return c.cleanupPolicy !== 'delete';
}

export function isDeleteRetained(c: LogConfig): boolean {
  return c.cleanupPolicy !== 'compact';
}
