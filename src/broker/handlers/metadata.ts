import { topicNameProblem } from '../../cluster/topic-name.js';
import type { TopicRecord } from '../../cluster/metadata-store.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { MetadataResponseTopic } from '../../protocol/messages/metadata-response.js';
import { defineHandler } from '../api-handler.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS, TOPIC_OPERATIONS } from '../authorized-operations.js';
import type { Broker } from '../broker.js';

const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

export function metadataHandler(broker: Broker) {
  const describe = (t: TopicRecord, version: number, withOps: boolean): MetadataResponseTopic => ({
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: t.topicId,
    isInternal: t.internal,
    partitions: (broker.topics.partitionsOf(t.name) ?? []).map((p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p.index,
      leaderId: broker.nodeId,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: [broker.nodeId],
      isrNodes: [broker.nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: withOps && version >= 8 ? TOPIC_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
  });
  const failed = (name: string | null, topicId: string, errorCode: number): MetadataResponseTopic => ({
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  });

  return defineHandler({
    api: 'Metadata',
    minVersion: 0,
    maxVersion: 12,
    async handle(ctx, req) {
      const v = ctx.apiVersion;
      const withOps = req.includeTopicAuthorizedOperations;
      const topics: MetadataResponseTopic[] = [];
      // v0: an empty list means every topic; v1+: null means every topic, empty means none.
      const all = req.topics === null || (v === 0 && req.topics.length === 0);
      if (all) {
        for (const t of broker.topics.topics()) topics.push(describe(t, v, withOps));
      } else {
        // Auto-creation: Kafka's default for v0-3, the request's choice from v4.
        const autoCreate = broker.config.bool('auto.create.topics.enable') && (v < 4 || req.allowAutoTopicCreation);
        for (const rt of req.topics!) {
          if (rt.name === null) {
            // Lookup by topic id exists from v12; before that the response cannot even name it.
            if (v < 12) {
              topics.push(failed('', rt.topicId, ErrorCode.INVALID_REQUEST));
              continue;
            }
            const t = broker.topics.topicById(rt.topicId);
            topics.push(t ? describe(t, v, withOps) : failed(null, rt.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
            continue;
          }
          let t = broker.topics.topic(rt.name);
          if (!t) {
            if (topicNameProblem(rt.name)) {
              topics.push(failed(rt.name, NO_TOPIC_ID, ErrorCode.INVALID_TOPIC_EXCEPTION));
              continue;
            }
            if (autoCreate) {
              try {
                t = await broker.topics.autoCreate(rt.name);
              } catch (err) {
                if (!(err instanceof KafkaError)) throw err;
                topics.push(failed(rt.name, NO_TOPIC_ID, err.code));
                continue;
              }
            }
          }
          topics.push(t ? describe(t, v, withOps) : failed(rt.name, NO_TOPIC_ID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        }
      }
      return {
        throttleTimeMs: 0,
        // Each client is told the endpoint of the listener it came in on, as Kafka does.
        brokers: [{ nodeId: broker.nodeId, ...broker.advertisedFor(ctx.session.listenerName), rack: null }],
        clusterId: broker.clusterId,
        controllerId: broker.nodeId,
        topics,
        clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
          ? CLUSTER_OPERATIONS
          : AUTHORIZED_OPERATIONS_OMITTED,
      };
    },
  });
}
