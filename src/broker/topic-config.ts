import type { BrokerConfig, ResolvedConfig } from '../config/broker-config.js';
import { ConfigError, ConfigSource, normalizeConfigValue } from '../config/config-def.js';
import { TOPIC_CONFIGS, TOPIC_CONFIG_BY_NAME } from '../config/topic-configs.js';
import { CompressionCodec } from '../protocol/compression/codec.js';
import { UNLIMITED, type CleanupPolicy, type LogConfig } from '../storage/index.js';

/**
 * Resolves a topic's configs: its own overrides first, then the broker-supplied defaults (through
 * each config's broker synonyms), as DescribeConfigs reports them.
 */
export function resolveTopicConfigs(
  overrides: Readonly<Record<string, string>>,
  broker: BrokerConfig,
): ResolvedConfig[] {
  return TOPIC_CONFIGS.map((def) => resolveTopicConfig(def.name, overrides, broker));
}

export function resolveTopicConfig(
  name: string,
  overrides: Readonly<Record<string, string>>,
  broker: BrokerConfig,
): ResolvedConfig {
  const inherited = broker.topicDefault(name);
  const own = overrides[name];
  if (own === undefined) return inherited;
  return {
    name,
    value: own,
    source: ConfigSource.DYNAMIC_TOPIC_CONFIG,
    synonyms: [{ name, value: own, source: ConfigSource.DYNAMIC_TOPIC_CONFIG }, ...inherited.synonyms],
  };
}

/**
 * Validates topic config overrides (CreateTopics, AlterConfigs) and returns them normalised.
 * Unknown names and bad values raise ConfigError naming the property, as Kafka's INVALID_CONFIG.
 */
export function validateTopicConfigs(configs: Readonly<Record<string, string | null>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(configs)) {
    const def = TOPIC_CONFIG_BY_NAME.get(name);
    if (!def) throw new ConfigError(name, `Unknown topic config name: ${name}`);
    if (value === null) throw new ConfigError(name, `Null value not supported for topic configs: ${name}`);
    out[name] = normalizeConfigValue(def, value) ?? '';
  }
  return out;
}

const clampLong = (v: number): number => (v >= UNLIMITED ? UNLIMITED : v);

function cleanupPolicy(v: string): CleanupPolicy {
  const set = new Set(v.split(',').filter(Boolean));
  if (set.has('compact') && set.has('delete')) return 'compact,delete';
  return set.has('compact') ? 'compact' : 'delete';
}

/** The storage layer's view of a topic's effective configs. */
export function logConfigFor(overrides: Readonly<Record<string, string>>, broker: BrokerConfig): LogConfig {
  const get = (name: string): string =>
    resolveTopicConfig(name, overrides, broker).value ?? TOPIC_CONFIG_BY_NAME.get(name)!.default!;
  const num = (name: string): number => clampLong(Number(get(name)));
  return {
    segmentBytes: num('segment.bytes'),
    segmentMs: num('segment.ms'),
    segmentJitterMs: num('segment.jitter.ms'),
    segmentIndexBytes: num('segment.index.bytes'),
    indexIntervalBytes: num('index.interval.bytes'),
    flushMessages: num('flush.messages'),
    flushMs: num('flush.ms'),
    retentionMs: num('retention.ms'),
    retentionBytes: num('retention.bytes'),
    cleanupPolicy: cleanupPolicy(get('cleanup.policy')),
    deleteRetentionMs: num('delete.retention.ms'),
    minCleanableDirtyRatio: Number(get('min.cleanable.dirty.ratio')),
    minCompactionLagMs: num('min.compaction.lag.ms'),
    maxCompactionLagMs: num('max.compaction.lag.ms'),
    fileDeleteDelayMs: num('file.delete.delay.ms'),
    messageTimestampType: get('message.timestamp.type') === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
  };
}

/** Codec ids of the topic-level compression.type values; 'producer' (keep as sent) is absent. */
const TOPIC_CODECS: Readonly<Record<string, number>> = {
  uncompressed: CompressionCodec.NONE,
  gzip: CompressionCodec.GZIP,
  snappy: CompressionCodec.SNAPPY,
  lz4: CompressionCodec.LZ4,
  zstd: CompressionCodec.ZSTD,
};

const LEVEL_CONFIG: Readonly<Record<number, string>> = {
  [CompressionCodec.GZIP]: 'compression.gzip.level',
  [CompressionCodec.LZ4]: 'compression.lz4.level',
  [CompressionCodec.ZSTD]: 'compression.zstd.level',
};

/**
 * What the produce path needs of a topic's effective configs, parsed once per config change
 * (TopicManager caches it) instead of per partition per request.
 */
export interface ProduceConfig {
  /** max.message.bytes: the largest batch (or legacy message set) accepted. */
  readonly maxMessageBytes: number;
  /** compression.type as a codec id to store batches with; undefined for 'producer' (keep as sent). */
  readonly compressionCodec: number | undefined;
  /** The level for compressionCodec (compression.<codec>.level), undefined for the codec's default. */
  readonly compressionLevel: number | undefined;
  /** message.timestamp.type is LogAppendTime (the broker stamps its time; client timestamps are not checked). */
  readonly logAppendTime: boolean;
  /** message.timestamp.before.max.ms / after.max.ms. */
  readonly timestampBeforeMaxMs: number;
  readonly timestampAfterMaxMs: number;
  /** Both bounds unlimited: timestamps need no check. */
  readonly timestampsUnbounded: boolean;
  /** min.insync.replicas (acks=all needs this many in-sync replicas once there are replicas). */
  readonly minInsyncReplicas: number;
}

const LONG_MAX = '9223372036854775807';

/** Builds a topic's ProduceConfig from its overrides over the broker defaults. */
export function produceConfigFor(overrides: Readonly<Record<string, string>>, broker: BrokerConfig): ProduceConfig {
  const get = (name: string): string => resolveTopicConfig(name, overrides, broker).value ?? '';
  const codec = TOPIC_CODECS[get('compression.type')];
  const levelName = codec === undefined ? undefined : LEVEL_CONFIG[codec];
  const level = levelName ? Number(get(levelName)) : undefined;
  // Kafka 3.9: each bound falls back to the deprecated message.timestamp.difference.max.ms while
  // left at its default (Long.MAX_VALUE).
  const difference = get('message.timestamp.difference.max.ms');
  const bound = (name: string): number => {
    const v = get(name);
    return Number(v === LONG_MAX ? difference : v);
  };
  const before = bound('message.timestamp.before.max.ms');
  const after = bound('message.timestamp.after.max.ms');
  return {
    maxMessageBytes: Number(get('max.message.bytes')),
    compressionCodec: codec,
    compressionLevel: level !== undefined && level >= 0 ? level : undefined,
    logAppendTime: get('message.timestamp.type') === 'LogAppendTime',
    timestampBeforeMaxMs: before,
    timestampAfterMaxMs: after,
    timestampsUnbounded: before >= Number.MAX_SAFE_INTEGER && after >= Number.MAX_SAFE_INTEGER,
    minInsyncReplicas: Number(get('min.insync.replicas')),
  };
}
