import { ErrorCode, errorName } from '../../protocol/errors.js';
import type { DescribeGroupsResponseDescribedGroup } from '../../protocol/messages/describe-groups-response.js';
import type { FindCoordinatorResponseCoordinator } from '../../protocol/messages/find-coordinator-response.js';
import type { JoinGroupResponse } from '../../protocol/messages/join-group-response.js';
import type {
  OffsetFetchResponseGroup,
  OffsetFetchResponseTopic,
} from '../../protocol/messages/offset-fetch-response.js';
import {
  clientHostOf,
  type GroupCoordinator,
  type JoinGroupResult,
  type OffsetFetchResult,
} from '../../group/group-coordinator.js';
import { defineHandler, type ApiHandler, type RequestContext } from '../api-handler.js';
import { AUTHORIZED_OPERATIONS_OMITTED, GROUP_OPERATIONS } from '../authorized-operations.js';

/** FindCoordinator key types. */
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

function clientOf(ctx: RequestContext): { clientId: string; clientHost: string } {
  return { clientId: ctx.header.clientId ?? '', clientHost: clientHostOf(ctx.connection.remoteAddress) };
}

function joinResponse(version: number, r: JoinGroupResult): JoinGroupResponse {
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    // Before v7 the protocol name is not nullable: an error carries "".
    protocolName: version >= 7 ? r.protocolName : (r.protocolName ?? ''),
    leader: r.leader,
    skipAssignment: version >= 9 ? r.skipAssignment : false,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}

/**
 * The group coordinator's APIs, every version from 0 (librdkafka 2.0.2 turns consumer groups off
 * unless FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and
 * OffsetFetch all start at 0). ConsumerGroupHeartbeat and ConsumerGroupDescribe are served only
 * when group.coordinator.rebalance.protocols includes "consumer", as Kafka does.
 */
export function groupHandlers(coordinator: GroupCoordinator): ApiHandler[] {
  const handlers: ApiHandler[] = [
    defineHandler({
      api: 'FindCoordinator',
      minVersion: 0,
      maxVersion: 6,
      handle(ctx, req) {
        const answer = (key: string, keyType: number): Omit<FindCoordinatorResponseCoordinator, 'key'> => {
          if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) {
            return {
              nodeId: -1,
              host: '',
              port: -1,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `Unknown coordinator key type ${keyType}`,
            };
          }
          if (keyType === KEY_TYPE_TRANSACTION && key === '') {
            return {
              nodeId: -1,
              host: '',
              port: -1,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: 'The transactional id must not be empty',
            };
          }
          if (!coordinator.isActive) {
            return {
              nodeId: -1,
              host: '',
              port: -1,
              errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
              errorMessage: 'The coordinator is not available',
            };
          }
          // One broker coordinates every group and every transactional id.
          const n = coordinator.node();
          return { nodeId: n.nodeId, host: n.host, port: n.port, errorCode: ErrorCode.NONE, errorMessage: null };
        };
        if (ctx.apiVersion >= 4) {
          return {
            throttleTimeMs: 0,
            errorCode: 0,
            errorMessage: null,
            nodeId: 0,
            host: '',
            port: 0,
            coordinators: req.coordinatorKeys.map((key) => ({ key, ...answer(key, req.keyType) })),
          };
        }
        const a = answer(req.key, req.keyType);
        return {
          throttleTimeMs: 0,
          errorCode: a.errorCode,
          errorMessage: ctx.apiVersion >= 1 ? a.errorMessage : null,
          nodeId: a.nodeId,
          host: a.host,
          port: a.port,
          coordinators: [],
        };
      },
    }),

    defineHandler({
      api: 'JoinGroup',
      minVersion: 0,
      maxVersion: 9,
      async handle(ctx, req) {
        const v = ctx.apiVersion;
        const client = clientOf(ctx);
        const r = await coordinator.join({
          groupId: req.groupId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
          protocolType: req.protocolType,
          protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
          sessionTimeoutMs: req.sessionTimeoutMs,
          // v0 has no rebalance timeout: Kafka uses the session timeout.
          rebalanceTimeoutMs: v === 0 || req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
          clientId: client.clientId,
          clientHost: client.clientHost,
          requireKnownMemberId: v >= 4,
          supportSkippingAssignment: v >= 9,
          reason: req.reason,
        });
        return joinResponse(v, r);
      },
    }),

    defineHandler({
      api: 'SyncGroup',
      minVersion: 0,
      maxVersion: 5,
      async handle(_ctx, req) {
        const r = await coordinator.sync({
          groupId: req.groupId,
          generationId: req.generationId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
          protocolType: req.protocolType,
          protocolName: req.protocolName,
          assignments: req.assignments,
        });
        return {
          throttleTimeMs: 0,
          errorCode: r.errorCode,
          protocolType: r.protocolType,
          protocolName: r.protocolName,
          assignment: r.assignment,
        };
      },
    }),

    defineHandler({
      api: 'Heartbeat',
      minVersion: 0,
      maxVersion: 4,
      handle(_ctx, req) {
        const errorCode = coordinator.heartbeat({
          groupId: req.groupId,
          generationId: req.generationId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
        });
        return { throttleTimeMs: 0, errorCode };
      },
    }),

    defineHandler({
      api: 'LeaveGroup',
      minVersion: 0,
      maxVersion: 5,
      handle(ctx, req) {
        if (ctx.apiVersion <= 2) {
          // One dynamic member; its error is the response's only error.
          const r = coordinator.leave(req.groupId, [{ memberId: req.memberId, groupInstanceId: null }]);
          return {
            throttleTimeMs: 0,
            errorCode: r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? ErrorCode.NONE),
            members: [],
          };
        }
        const r = coordinator.leave(
          req.groupId,
          req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason })),
        );
        return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
      },
    }),

    defineHandler({
      api: 'OffsetCommit',
      minVersion: 0,
      maxVersion: 9,
      async handle(ctx, req) {
        const topics = await coordinator.commitOffsets({
          groupId: req.groupId,
          generationIdOrMemberEpoch: ctx.apiVersion >= 1 ? req.generationIdOrMemberEpoch : -1,
          memberId: ctx.apiVersion >= 1 ? req.memberId : '',
          groupInstanceId: req.groupInstanceId,
          retentionTimeMs: ctx.apiVersion >= 2 && ctx.apiVersion <= 4 ? req.retentionTimeMs : -1,
          topics: req.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              committedOffset: p.committedOffset,
              committedLeaderEpoch: p.committedLeaderEpoch,
              commitTimestamp: ctx.apiVersion === 1 ? p.commitTimestamp : -1,
              committedMetadata: p.committedMetadata,
            })),
          })),
        });
        return { throttleTimeMs: 0, topics };
      },
    }),

    defineHandler({
      api: 'OffsetFetch',
      minVersion: 0,
      maxVersion: 9,
      handle(ctx, req) {
        const v = ctx.apiVersion;
        if (v >= 8) {
          const groups: OffsetFetchResponseGroup[] = req.groups.map((g) => {
            const r = coordinator.fetchOffsets({
              groupId: g.groupId,
              topics:
                g.topics === null
                  ? null
                  : g.topics.map((t) => ({ name: t.name, partitionIndexes: t.partitionIndexes })),
              requireStable: req.requireStable,
              memberId: g.memberId,
              memberEpoch: g.memberEpoch,
            });
            return { groupId: g.groupId, errorCode: r.errorCode, topics: r.topics };
          });
          return { throttleTimeMs: 0, errorCode: 0, topics: [], groups };
        }
        const requested = req.topics;
        const r: OffsetFetchResult = coordinator.fetchOffsets({
          groupId: req.groupId,
          topics:
            requested === null ? null : requested.map((t) => ({ name: t.name, partitionIndexes: t.partitionIndexes })),
          requireStable: v >= 7 && req.requireStable,
        });
        let topics: OffsetFetchResponseTopic[] = r.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ ...p, committedLeaderEpoch: v >= 5 ? p.committedLeaderEpoch : -1 })),
        }));
        if (v < 2 && r.errorCode !== ErrorCode.NONE) {
          // v0/v1 have no group-level error: every requested partition carries it.
          topics = (requested ?? []).map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map((partitionIndex) => ({
              partitionIndex,
              committedOffset: -1,
              committedLeaderEpoch: -1,
              metadata: '',
              errorCode: r.errorCode,
            })),
          }));
        }
        return { throttleTimeMs: 0, topics, errorCode: v >= 2 ? r.errorCode : 0, groups: [] };
      },
    }),

    defineHandler({
      api: 'ListGroups',
      minVersion: 0,
      maxVersion: 5,
      handle(ctx, req) {
        const r = coordinator.listGroups(
          ctx.apiVersion >= 4 ? req.statesFilter : [],
          ctx.apiVersion >= 5 ? req.typesFilter : [],
        );
        return { throttleTimeMs: 0, errorCode: r.errorCode, groups: r.groups };
      },
    }),

    defineHandler({
      api: 'DescribeGroups',
      minVersion: 0,
      maxVersion: 5,
      handle(ctx, req) {
        const ops = ctx.apiVersion >= 3 && req.includeAuthorizedOperations;
        const groups: DescribeGroupsResponseDescribedGroup[] = coordinator.describeGroups(req.groups).map((g) => ({
          ...g,
          authorizedOperations:
            ops && g.errorCode === ErrorCode.NONE ? GROUP_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
        }));
        return { throttleTimeMs: 0, groups };
      },
    }),

    defineHandler({
      api: 'DeleteGroups',
      minVersion: 0,
      maxVersion: 2,
      async handle(_ctx, req) {
        return { throttleTimeMs: 0, results: await coordinator.deleteGroups(req.groupsNames) };
      },
    }),

    defineHandler({
      api: 'OffsetDelete',
      minVersion: 0,
      maxVersion: 0,
      async handle(_ctx, req) {
        const r = await coordinator.deleteOffsets(
          req.groupId,
          req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
        );
        return { errorCode: r.errorCode, throttleTimeMs: 0, topics: r.topics };
      },
    }),
  ];

  if (coordinator.config.rebalanceProtocols.includes('consumer')) {
    handlers.push(
      defineHandler({
        api: 'ConsumerGroupHeartbeat',
        minVersion: 0,
        maxVersion: 0,
        async handle(ctx, req) {
          const r = await coordinator.consumerGroupHeartbeat(
            {
              groupId: req.groupId,
              memberId: req.memberId,
              memberEpoch: req.memberEpoch,
              instanceId: req.instanceId,
              rackId: req.rackId,
              rebalanceTimeoutMs: req.rebalanceTimeoutMs,
              subscribedTopicNames: req.subscribedTopicNames,
              serverAssignor: req.serverAssignor,
              topicPartitions: req.topicPartitions,
            },
            clientOf(ctx),
          );
          return {
            throttleTimeMs: 0,
            errorCode: r.errorCode,
            errorMessage: r.errorMessage ?? (r.errorCode !== ErrorCode.NONE ? errorName(r.errorCode) : null),
            memberId: r.memberId,
            memberEpoch: r.memberEpoch,
            heartbeatIntervalMs: r.heartbeatIntervalMs,
            assignment: r.assignment,
          };
        },
      }),
      defineHandler({
        api: 'ConsumerGroupDescribe',
        minVersion: 0,
        maxVersion: 0,
        handle(_ctx, req) {
          return {
            throttleTimeMs: 0,
            groups: coordinator.consumerGroupDescribe(req.groupIds).map((g) => ({
              ...g,
              authorizedOperations:
                req.includeAuthorizedOperations && g.errorCode === ErrorCode.NONE
                  ? GROUP_OPERATIONS
                  : AUTHORIZED_OPERATIONS_OMITTED,
            })),
          };
        },
      }),
    );
  }
  return handlers;
}
