import type { TopicManager } from './topic-manager.js';
import type { TopicRecord } from '../cluster/metadata-store.js';

/** A single broker is the whole in-sync replica set of every partition it leads. */
export const ISR_SIZE = 1;

/**
 * Kafka's min.insync.replicas check for an acks=all produce: the reason to refuse it with
 * NOT_ENOUGH_REPLICAS (nothing appended), or null when the ISR is large enough.
 */
export function notEnoughReplicas(topics: TopicManager, topic: TopicRecord, partition: number): string | null {
  const minIsr = Number(topics.configValue(topic, 'min.insync.replicas'));
  if (ISR_SIZE >= minIsr) return null;
  return (
    `The size of the current ISR (${ISR_SIZE}) is insufficient to satisfy the min.isr requirement of ` +
    `${minIsr} for partition ${topic.name}-${partition}`
  );
}

/**
 * message.downconversion.enable=false: Fetch versions that would need the stored batches converted
 * to an older message format (v0-v3) get UNSUPPORTED_VERSION for the topic's partitions.
 */
export function downConversionRefused(topics: TopicManager, topicName: string): boolean {
  const t = topics.topic(topicName);
  return t !== undefined && topics.configValue(t, 'message.downconversion.enable') === 'false';
}

const LONG_MAX = '9223372036854775807';

/**
 * The CreateTime bounds of a topic, as Kafka 3.9 reads them: message.timestamp.before.max.ms and
 * .after.max.ms, each falling back to the deprecated message.timestamp.difference.max.ms while
 * left at its default (Long.MAX_VALUE).
 */
export function timestampBounds(topics: TopicManager, topic: TopicRecord): { before: number; after: number } {
  const difference = topics.configValue(topic, 'message.timestamp.difference.max.ms');
  const bound = (name: string): number => {
    const v = topics.configValue(topic, name);
    return Number(v === LONG_MAX ? difference : v);
  };
  return { before: bound('message.timestamp.before.max.ms'), after: bound('message.timestamp.after.max.ms') };
}
