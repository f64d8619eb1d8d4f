import type { TopicManager } from './topic-manager.js';

/** Kafka's NOT_ENOUGH_REPLICAS message for an acks=all produce to a partition with too small an ISR. */
export function notEnoughReplicasMessage(
  p: { readonly topic: string; readonly index: number; readonly inSyncReplicaCount: number },
  minIsr: number,
): string {
  return (
    `The size of the current ISR (${p.inSyncReplicaCount}) is insufficient to satisfy the min.isr requirement of ` +
    `${minIsr} for partition ${p.topic}-${p.index}`
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
