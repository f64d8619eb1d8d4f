import { topicNameProblem } from '../../cluster/topic-name.js';
import type { TopicRecord } from '../../cluster/metadata-store.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { MetadataResponseTopic } from '../../protocol/messages/metadata-response.js';
import { defineHandler } from '../api-handler.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS, TOPIC_OPERATIONS } from '../authorized-operations.js';
import type { HandlerContext } from './context.js';
import { liveBrokers } from './live-brokers.js';

const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

/** What these handlers use of the broker. */
export type MetadataDeps = Pick<
  HandlerContext,
  'advertised' | 'advertisedFor' | 'clusterId' | 'config' | 'metadata' | 'nodeId' | 'topics'
>;

export function metadataHandler(deps: MetadataDeps) {
  const describe = (t: TopicRecord, version: number, withOps: boolean): MetadataResponseTopic => ({
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: t.topicId,
    isInternal: t.internal,
    // The cluster's partition records: which broker leads each partition, at which epoch.
    partitions: deps.metadata.partitions(t.name).map((p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p.partition,
      leaderId: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
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
        for (const t of deps.topics.topics()) topics.push(describe(t, v, withOps));
      } else {
        // Auto-creation: Kafka's default for v0-3, the request's choice from v4.
        const autoCreate = deps.config.bool('auto.create.topics.enable') && (v < 4 || req.allowAutoTopicCreation);
        for (const rt of req.topics!) {
          if (rt.name === null) {
            // Lookup by topic id exists from v12; before that the response cannot even name it.
            if (v < 12) {
              topics.push(failed('', rt.topicId, ErrorCode.INVALID_REQUEST));
              continue;
            }
            const t = deps.topics.topicById(rt.topicId);
            topics.push(t ? describe(t, v, withOps) : failed(null, rt.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
            continue;
          }
          let t = deps.topics.topic(rt.name);
          if (!t) {
            if (topicNameProblem(rt.name)) {
              topics.push(failed(rt.name, NO_TOPIC_ID, ErrorCode.INVALID_TOPIC_EXCEPTION));
              continue;
            }
            if (autoCreate) {
              try {
                t = await deps.topics.autoCreate(rt.name);
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
        // Each client is told the endpoints of the listener it came in on, as Kafka does.
        brokers: liveBrokers(deps, ctx.session.listenerName),
        clusterId: deps.clusterId,
        controllerId: deps.nodeId,
        topics,
        clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
          ? CLUSTER_OPERATIONS
          : AUTHORIZED_OPERATIONS_OMITTED,
      };
    },
  });
}
