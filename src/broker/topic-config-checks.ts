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
