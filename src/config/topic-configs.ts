import { type ConfigDef, INT_MAX, LONG_MAX, defsByName } from './config-def.js';

/**
 * A broker property that supplies a topic config's default, with the factor that converts its unit
 * to the topic config's (e.g. hours to milliseconds). The first synonym that is set wins.
 */
export interface Synonym {
  name: string;
  factor?: number;
}

export interface TopicConfigDef extends ConfigDef {
  synonyms: readonly Synonym[];
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

function t(def: Omit<TopicConfigDef, 'synonyms'>, ...synonyms: (string | Synonym)[]): TopicConfigDef {
  return { ...def, synonyms: synonyms.map((s) => (typeof s === 'string' ? { name: s } : s)) };
}

/** Smallest segment.bytes / log.segment.bytes: a record batch header (61 bytes) and one small record. */
export const MIN_SEGMENT_BYTES = 75;

/** Why Brook refuses preallocate=true (shared with the broker's log.preallocate). */
export const PREALLOCATE_REASON =
  'Brook does not preallocate segment files: recovery takes a segment file size as the size of its data';

const COMPRESSION = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] as const;

/** Topic-level configs (Kafka 3.9 names and defaults) and the broker properties behind them. */
export const TOPIC_CONFIGS: readonly TopicConfigDef[] = [
  t(
    {
      name: 'cleanup.policy',
      type: 'LIST',
      default: 'delete',
      oneOf: ['compact', 'delete'],
      doc: 'delete: drop old segments by retention; compact: keep the latest record per key',
    },
    'log.cleanup.policy',
  ),
  t(
    {
      name: 'compression.type',
      type: 'STRING',
      default: 'producer',
      oneOf: COMPRESSION,
      doc: 'Final compression of the topic; producer keeps what the producer sent',
    },
    'compression.type',
  ),
  t(
    {
      name: 'compression.gzip.level',
      type: 'INT',
      default: '-1',
      min: -1,
      max: 9,
      doc: 'gzip level when compression.type=gzip',
    },
    'compression.gzip.level',
  ),
  t(
    {
      name: 'compression.lz4.level',
      type: 'INT',
      default: '9',
      min: 1,
      max: 17,
      doc: 'lz4 level when compression.type=lz4',
    },
    'compression.lz4.level',
  ),
  t(
    {
      name: 'compression.zstd.level',
      type: 'INT',
      default: '3',
      min: -131072,
      max: 22,
      doc: 'zstd level when compression.type=zstd',
    },
    'compression.zstd.level',
  ),
  t(
    {
      name: 'delete.retention.ms',
      type: 'LONG',
      default: '86400000',
      min: 0,
      doc: 'How long tombstones are kept in compacted topics',
    },
    'log.cleaner.delete.retention.ms',
  ),
  t(
    {
      name: 'file.delete.delay.ms',
      type: 'LONG',
      default: '60000',
      min: 0,
      doc: 'Delay before a deleted segment file is removed from disk',
    },
    'log.segment.delete.delay.ms',
  ),
  t(
    {
      name: 'flush.messages',
      type: 'LONG',
      default: LONG_MAX,
      min: 1,
      doc: 'fsync after this many messages; 1 acknowledges only fsynced writes',
    },
    'log.flush.interval.messages',
  ),
  t(
    { name: 'flush.ms', type: 'LONG', default: '1000', min: 0, doc: 'fsync unflushed data at least this often (ms)' },
    'log.flush.interval.ms',
    'log.flush.scheduler.interval.ms',
  ),
  t({
    name: 'follower.replication.throttled.replicas',
    type: 'LIST',
    default: '',
    doc: 'Replicas throttled on the follower side (no effect on a single broker)',
  }),
  t(
    { name: 'index.interval.bytes', type: 'INT', default: '4096', min: 0, doc: 'Bytes between offset index entries' },
    'log.index.interval.bytes',
  ),
  t({
    name: 'leader.replication.throttled.replicas',
    type: 'LIST',
    default: '',
    doc: 'Replicas throttled on the leader side (no effect on a single broker)',
  }),
  t(
    {
      name: 'local.retention.bytes',
      type: 'LONG',
      default: '-2',
      min: -2,
      doc: 'Tiered storage local retention (no tiered storage in Brook)',
    },
    'log.local.retention.bytes',
  ),
  t(
    {
      name: 'local.retention.ms',
      type: 'LONG',
      default: '-2',
      min: -2,
      doc: 'Tiered storage local retention (no tiered storage in Brook)',
    },
    'log.local.retention.ms',
  ),
  t(
    {
      name: 'max.compaction.lag.ms',
      type: 'LONG',
      default: LONG_MAX,
      min: 1,
      doc: 'Longest time a record may stay uncompacted',
    },
    'log.cleaner.max.compaction.lag.ms',
  ),
  t(
    {
      name: 'max.message.bytes',
      type: 'INT',
      default: '1048588',
      min: 0,
      doc: 'Largest record batch the topic accepts',
    },
    'message.max.bytes',
  ),
  t(
    {
      name: 'message.downconversion.enable',
      type: 'BOOLEAN',
      default: 'true',
      doc: 'Convert to old message formats for old fetch versions',
    },
    'log.message.downconversion.enable',
  ),
  t(
    {
      name: 'message.format.version',
      type: 'STRING',
      default: '3.0-IV1',
      doc: 'Deprecated; always the v2 record format',
    },
    'log.message.format.version',
  ),
  t(
    {
      name: 'message.timestamp.after.max.ms',
      type: 'LONG',
      default: LONG_MAX,
      min: 0,
      doc: 'How far ahead of the broker clock a CreateTime timestamp may be',
    },
    'log.message.timestamp.after.max.ms',
  ),
  t(
    {
      name: 'message.timestamp.before.max.ms',
      type: 'LONG',
      default: LONG_MAX,
      min: 0,
      doc: 'How far behind the broker clock a CreateTime timestamp may be',
    },
    'log.message.timestamp.before.max.ms',
  ),
  t(
    {
      name: 'message.timestamp.difference.max.ms',
      type: 'LONG',
      default: LONG_MAX,
      min: 0,
      doc: 'Deprecated: largest difference between record and broker time',
    },
    'log.message.timestamp.difference.max.ms',
  ),
  t(
    {
      name: 'message.timestamp.type',
      type: 'STRING',
      default: 'CreateTime',
      oneOf: ['CreateTime', 'LogAppendTime'],
      doc: 'CreateTime keeps the producer timestamp; LogAppendTime stamps broker time',
    },
    'log.message.timestamp.type',
  ),
  t(
    {
      name: 'min.cleanable.dirty.ratio',
      type: 'DOUBLE',
      default: '0.5',
      min: 0,
      max: 1,
      doc: 'Dirty share of the log that triggers compaction',
    },
    'log.cleaner.min.cleanable.ratio',
  ),
  t(
    {
      name: 'min.compaction.lag.ms',
      type: 'LONG',
      default: '0',
      min: 0,
      doc: 'Youngest age at which a record may be compacted',
    },
    'log.cleaner.min.compaction.lag.ms',
  ),
  t(
    {
      name: 'min.insync.replicas',
      type: 'INT',
      default: '1',
      min: 1,
      doc: 'Replicas that must acknowledge an acks=all write',
    },
    'min.insync.replicas',
  ),
  t(
    {
      name: 'preallocate',
      type: 'BOOLEAN',
      default: 'false',
      doc: 'Preallocate segment files (Brook: only false)',
      refused: { values: ['true'], reason: PREALLOCATE_REASON },
    },
    'log.preallocate',
  ),
  t({
    name: 'remote.storage.enable',
    type: 'BOOLEAN',
    default: 'false',
    doc: 'Tiered storage (not supported by Brook)',
    // Kafka refuses it too while the broker has no remote storage system.
    refused: { values: ['true'], reason: 'Brook has no tiered (remote) storage' },
  }),
  t(
    {
      name: 'retention.bytes',
      type: 'LONG',
      default: '-1',
      doc: 'Largest size of a partition before old segments are deleted; -1 = unlimited',
    },
    'log.retention.bytes',
  ),
  t(
    {
      name: 'retention.ms',
      type: 'LONG',
      default: '604800000',
      min: -1,
      doc: 'How long segments are kept; -1 = forever',
    },
    'log.retention.ms',
    { name: 'log.retention.minutes', factor: MINUTE },
    { name: 'log.retention.hours', factor: HOUR },
  ),
  t(
    {
      name: 'segment.bytes',
      type: 'INT',
      default: '1073741824',
      // Kafka 3.9's floor is 14 (a v0 record); a segment here must hold one v2 batch of one record.
      min: MIN_SEGMENT_BYTES,
      doc: 'Segment file size before rolling',
    },
    'log.segment.bytes',
  ),
  t(
    {
      name: 'segment.index.bytes',
      type: 'INT',
      default: '10485760',
      min: 4,
      doc: 'Largest size of a segment index file',
    },
    'log.index.size.max.bytes',
  ),
  t(
    { name: 'segment.jitter.ms', type: 'LONG', default: '0', min: 0, doc: 'Random jitter subtracted from segment.ms' },
    'log.roll.jitter.ms',
    { name: 'log.roll.jitter.hours', factor: HOUR },
  ),
  t(
    {
      name: 'segment.ms',
      type: 'LONG',
      default: '604800000',
      min: 1,
      doc: 'Age after which the active segment is rolled',
    },
    'log.roll.ms',
    { name: 'log.roll.hours', factor: HOUR },
  ),
  t(
    {
      name: 'unclean.leader.election.enable',
      type: 'BOOLEAN',
      default: 'false',
      doc: 'Allow out-of-sync replicas to become leader',
    },
    'unclean.leader.election.enable',
  ),
];

export const TOPIC_CONFIG_BY_NAME = defsByName(TOPIC_CONFIGS) as Map<string, TopicConfigDef>;

export { INT_MAX };
