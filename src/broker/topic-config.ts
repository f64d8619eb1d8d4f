import type { BrokerConfig, ResolvedConfig } from '../config/broker-config.js';
import { ConfigError, ConfigSource, normalizeConfigValue } from '../config/config-def.js';
import { TOPIC_CONFIGS, TOPIC_CONFIG_BY_NAME } from '../config/topic-configs.js';
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
