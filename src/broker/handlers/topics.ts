import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { CreateTopicsResponseCreatableTopicResult } from '../../protocol/messages/create-topics-response.js';
import type { DeleteTopicsResponseDeletableTopicResult } from '../../protocol/messages/delete-topics-response.js';
import { INTERNAL_TOPICS } from '../../cluster/topic-name.js';
import { defineHandler } from '../api-handler.js';
import type { HandlerContext } from './context.js';
import { errorCodeOf, errorMessageOf } from '../errors.js';
import { resolveTopicConfigs } from '../topic-config.js';

const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

/** What these handlers use of the broker. */
export type TopicsDeps = Pick<HandlerContext, 'config' | 'log' | 'nodeId' | 'topics'>;

/** CreateTopics, DeleteTopics and CreatePartitions: the topic lifecycle, validated as Kafka's controller does. */
export function topicHandlers(deps: TopicsDeps) {
  const createTopics = defineHandler({
    api: 'CreateTopics',
    minVersion: 0,
    maxVersion: 7,
    async handle(ctx, req) {
      const v = ctx.apiVersion;
      const counts = new Map<string, number>();
      for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const topics: CreateTopicsResponseCreatableTopicResult[] = [];
      for (const t of req.topics) {
        const res: CreateTopicsResponseCreatableTopicResult = {
          name: t.name,
          topicId: NO_TOPIC_ID,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          topicConfigErrorCode: ErrorCode.NONE,
          numPartitions: -1,
          replicationFactor: -1,
          configs: null,
        };
        topics.push(res);
        try {
          if (counts.get(t.name)! > 1)
            throw new KafkaError(
              ErrorCode.INVALID_REQUEST,
              `Create topics request from client contains duplicate topic: ${t.name}`,
            );
          let partitions = t.numPartitions === -1 ? deps.config.int('num.partitions') : t.numPartitions;
          let replicationFactor =
            t.replicationFactor === -1 ? deps.config.int('default.replication.factor') : t.replicationFactor;
          if (t.assignments.length > 0) {
            if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
              throw new KafkaError(
                ErrorCode.INVALID_REQUEST,
                'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.',
              );
            }
            const indexes = t.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b);
            if (indexes.some((p, i) => p !== i)) {
              throw new KafkaError(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                'Partitions should be a consecutive 0-based integer sequence',
              );
            }
            for (const a of t.assignments) {
              if (
                a.brokerIds.length === 0 ||
                a.brokerIds.some((b) => b !== deps.nodeId) ||
                new Set(a.brokerIds).size !== a.brokerIds.length
              ) {
                throw new KafkaError(
                  ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                  `Replica assignment ${JSON.stringify(a.brokerIds)} names brokers other than ${deps.nodeId}`,
                );
              }
            }
            partitions = t.assignments.length;
            replicationFactor = t.assignments[0]!.brokerIds.length;
          }
          const configs: Record<string, string | null> = {};
          for (const c of t.configs) configs[c.name] = c.value;
          const created = await deps.topics.createTopic(t.name, {
            partitions,
            replicationFactor,
            configs,
            validateOnly: req.validateOnly,
          });
          res.topicId = req.validateOnly ? NO_TOPIC_ID : created.topicId;
          res.numPartitions = partitions;
          res.replicationFactor = replicationFactor;
          if (v >= 5) {
            res.configs = resolveTopicConfigs(created.configs, deps.config).map((c) => ({
              name: c.name,
              value: c.value,
              readOnly: false,
              configSource: c.source,
              isSensitive: false,
            }));
          }
        } catch (err) {
          res.errorCode = errorCodeOf(err, deps.log, 'create topic');
          res.errorMessage = errorMessageOf(err);
        }
      }
      return { throttleTimeMs: 0, topics };
    },
  });

  const deleteTopics = defineHandler({
    api: 'DeleteTopics',
    minVersion: 0,
    maxVersion: 6,
    async handle(ctx, req) {
      const v = ctx.apiVersion;
      const wanted = v >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: NO_TOPIC_ID }));
      const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
      for (const w of wanted) {
        const res: DeleteTopicsResponseDeletableTopicResult = {
          name: w.name,
          topicId: w.topicId,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
        };
        responses.push(res);
        try {
          let name = w.name;
          if (w.name === null || w.name === '') {
            const t = deps.topics.topicById(w.topicId);
            if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_ID, `Topic id ${w.topicId} does not exist`);
            name = t.name;
          } else if (w.topicId !== NO_TOPIC_ID) {
            throw new KafkaError(ErrorCode.INVALID_REQUEST, 'A topic is named by name or by id, not both');
          }
          if (INTERNAL_TOPICS.has(name!))
            throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Internal topic ${name} cannot be deleted`);
          const deleted = await deps.topics.deleteTopic(name!);
          res.name = deleted.name;
          res.topicId = deleted.topicId;
        } catch (err) {
          res.errorCode = errorCodeOf(err, deps.log, 'delete topic');
          res.errorMessage = errorMessageOf(err);
        }
      }
      return { throttleTimeMs: 0, responses };
    },
  });

  const createPartitions = defineHandler({
    api: 'CreatePartitions',
    minVersion: 0,
    maxVersion: 3,
    async handle(_ctx, req) {
      const results = [];
      for (const t of req.topics) {
        const res = { name: t.name, errorCode: ErrorCode.NONE as number, errorMessage: null as string | null };
        results.push(res);
        try {
          const current = deps.topics.checkPartitionIncrease(t.name, t.count);
          if (t.assignments !== null) {
            if (t.assignments.length !== t.count - current.partitions) {
              throw new KafkaError(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                `Increasing the number of partitions by ${t.count - current.partitions} but ${t.assignments.length} assignments provided.`,
              );
            }
            for (const a of t.assignments) {
              if (a.brokerIds.length !== 1 || a.brokerIds[0] !== deps.nodeId) {
                throw new KafkaError(
                  ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                  `Replica assignment ${JSON.stringify(a.brokerIds)} names brokers other than ${deps.nodeId}`,
                );
              }
            }
          }
          if (!req.validateOnly) await deps.topics.increasePartitions(t.name, t.count);
        } catch (err) {
          res.errorCode = errorCodeOf(err, deps.log, 'create partitions');
          res.errorMessage = errorMessageOf(err);
        }
      }
      return { throttleTimeMs: 0, results };
    },
  });

  return [createTopics, deleteTopics, createPartitions];
}
