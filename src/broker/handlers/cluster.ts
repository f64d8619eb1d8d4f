import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCode } from '../../protocol/errors.js';
import type { DescribeLogDirsResponseDescribeLogDirsTopic } from '../../protocol/messages/describe-log-dirs-response.js';
import { defineHandler } from '../api-handler.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS } from '../authorized-operations.js';
import type { HandlerContext } from './context.js';
import { liveBrokers } from './live-brokers.js';
import { errorCodeOf } from '../errors.js';

const BROKERS_ENDPOINT = 1;

/** What these handlers use of the broker. */
export type ClusterDeps = Pick<
  HandlerContext,
  'advertisedFor' | 'clusterId' | 'dataDir' | 'log' | 'metadata' | 'nodeId' | 'replicaManager' | 'topics'
>;

/** DescribeCluster, DescribeLogDirs, OffsetForLeaderEpoch and ListPartitionReassignments. */
export function clusterHandlers(deps: ClusterDeps) {
  const describeCluster = defineHandler({
    api: 'DescribeCluster',
    minVersion: 0,
    maxVersion: 1,
    handle(ctx, req) {
      const type = ctx.apiVersion >= 1 ? req.endpointType : BROKERS_ENDPOINT;
      const base = {
        throttleTimeMs: 0,
        endpointType: type,
        clusterId: deps.clusterId,
        controllerId: deps.nodeId,
        clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
          ? CLUSTER_OPERATIONS
          : AUTHORIZED_OPERATIONS_OMITTED,
      };
      if (type !== BROKERS_ENDPOINT) {
        // Brook runs controller and broker in one process; its listener serves broker endpoints only.
        return {
          ...base,
          errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE,
          errorMessage: 'The request was sent to a broker listener; controller endpoints are not served here',
          brokers: [],
        };
      }
      return {
        ...base,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        brokers: liveBrokers(deps, ctx.session.listenerName).map(({ nodeId, ...rest }) => ({
          brokerId: nodeId,
          ...rest,
        })),
      };
    },
  });

  const describeLogDirs = defineHandler({
    api: 'DescribeLogDirs',
    minVersion: 0,
    maxVersion: 4,
    async handle(ctx, req) {
      let wanted: Map<string, Set<number>> | null = null;
      if (req.topics !== null) {
        wanted = new Map();
        for (const t of req.topics) wanted.set(t.topic, new Set(t.partitions));
      }
      const byTopic = new Map<string, DescribeLogDirsResponseDescribeLogDirsTopic>();
      for (const p of deps.replicaManager.allPartitions()) {
        if (wanted && !wanted.get(p.topic)?.has(p.index)) continue;
        let t = byTopic.get(p.topic);
        if (!t) byTopic.set(p.topic, (t = { name: p.topic, partitions: [] }));
        t.partitions.push({
          partitionIndex: p.index,
          partitionSize: deps.replicaManager.logSize(p),
          offsetLag: 0,
          isFutureKey: false,
        });
      }
      let totalBytes = -1;
      let usableBytes = -1;
      if (ctx.apiVersion >= 4) {
        const s = await statfs(deps.dataDir);
        totalBytes = s.blocks * s.bsize;
        usableBytes = s.bavail * s.bsize;
      }
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        results: [
          {
            errorCode: ErrorCode.NONE,
            logDir: resolve(deps.dataDir),
            topics: [...byTopic.values()],
            totalBytes,
            usableBytes,
          },
        ],
      };
    },
  });

  const offsetForLeaderEpoch = defineHandler({
    api: 'OffsetForLeaderEpoch',
    minVersion: 0,
    maxVersion: 4,
    handle(_ctx, req) {
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          topic: t.topic,
          partitions: t.partitions.map((rp) => {
            const p = deps.topics.partition(t.topic, rp.partition);
            if (!p)
              return {
                errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                partition: rp.partition,
                leaderEpoch: -1,
                endOffset: -1,
              };
            if (rp.currentLeaderEpoch >= 0 && rp.currentLeaderEpoch !== p.leaderEpoch) {
              const code =
                rp.currentLeaderEpoch > p.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
              return { errorCode: code, partition: rp.partition, leaderEpoch: -1, endOffset: -1 };
            }
            const found = deps.replicaManager.endOffsetForEpoch(p, rp.leaderEpoch);
            return {
              errorCode: ErrorCode.NONE,
              partition: rp.partition,
              leaderEpoch: found.epoch,
              endOffset: found.endOffset,
            };
          }),
        })),
      };
    },
  });

  const listPartitionReassignments = defineHandler({
    api: 'ListPartitionReassignments',
    minVersion: 0,
    maxVersion: 0,
    handle() {
      // A single broker never moves replicas, so no reassignment is ever in progress.
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [] };
    },
  });

  const deleteRecords = defineHandler({
    api: 'DeleteRecords',
    minVersion: 0,
    maxVersion: 2,
    async handle(_ctx, req) {
      const topics = [];
      for (const t of req.topics) {
        const partitions = [];
        for (const rp of t.partitions) {
          const p = deps.topics.partition(t.name, rp.partitionIndex);
          if (!p) {
            partitions.push({
              partitionIndex: rp.partitionIndex,
              lowWatermark: -1,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            });
            continue;
          }
          // -1 means "up to the high watermark", as in Kafka.
          const offset = rp.offset === -1 ? p.highWatermark : rp.offset;
          if (offset < 0 || offset > p.highWatermark) {
            partitions.push({
              partitionIndex: rp.partitionIndex,
              lowWatermark: -1,
              errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
            });
            continue;
          }
          try {
            const low = await deps.replicaManager.deleteRecords(p, offset);
            partitions.push({ partitionIndex: rp.partitionIndex, lowWatermark: low, errorCode: ErrorCode.NONE });
          } catch (err) {
            partitions.push({
              partitionIndex: rp.partitionIndex,
              lowWatermark: -1,
              errorCode: errorCodeOf(err, deps.log, 'delete records'),
            });
          }
        }
        topics.push({ name: t.name, partitions });
      }
      return { throttleTimeMs: 0, topics };
    },
  });

  return [describeCluster, describeLogDirs, offsetForLeaderEpoch, listPartitionReassignments, deleteRecords];
}
