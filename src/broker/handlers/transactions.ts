import { ErrorCode } from '../../protocol/errors.js';
import type { AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult } from '../../protocol/messages/add-partitions-to-txn-response.js';
import type { DescribeProducersResponsePartitionResponse } from '../../protocol/messages/describe-producers-response.js';
import { defineHandler, type ApiHandler } from '../api-handler.js';
import type { HandlerContext } from './context.js';

/**
 * KIP-588 gave producers PRODUCER_FENCED; clients older than the version that introduced it only
 * know INVALID_PRODUCER_EPOCH for the same condition.
 */
function fencedFor(code: number, version: number, firstVersionWithFenced: number): number {
  return code === ErrorCode.PRODUCER_FENCED && version < firstVersionWithFenced
    ? ErrorCode.INVALID_PRODUCER_EPOCH
    : code;
}

function pairsOf(topics: Array<{ name: string; partitions: number[] }>): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const t of topics) for (const p of t.partitions) out.push([t.name, p]);
  return out;
}

function topicResults(
  results: Map<string, Map<number, number>>,
  version: number,
): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] {
  return [...results].map(([name, parts]) => ({
    name,
    resultsByPartition: [...parts].map(([partitionIndex, code]) => ({
      partitionIndex,
      partitionErrorCode: fencedFor(code, version, 2),
    })),
  }));
}

/** What these handlers use of the broker. */
export type TransactionsDeps = Pick<HandlerContext, 'groups' | 'topics' | 'transactions'>;

/**
 * The transaction APIs: producer ids (InitProducerId), the transaction coordinator
 * (AddPartitionsToTxn including the v4+ batched form, AddOffsetsToTxn, EndTxn,
 * DescribeTransactions, ListTransactions), transactional offset commits (TxnOffsetCommit, checked
 * against the transaction and then stored by the group coordinator) and DescribeProducers.
 * WriteTxnMarkers is not served: the coordinator writes markers into its own partitions directly.
 */
export function transactionHandlers(deps: TransactionsDeps): ApiHandler[] {
  const txn = deps.transactions.coordinator;
  const handlers = [
    defineHandler({
      api: 'InitProducerId',
      minVersion: 0,
      maxVersion: 5,
      async handle(ctx, req) {
        const v = ctx.apiVersion;
        const expected =
          v >= 3 && (req.producerId >= 0 || req.producerEpoch >= 0)
            ? { producerId: req.producerId, producerEpoch: req.producerEpoch }
            : null;
        const r = await txn.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected);
        return {
          throttleTimeMs: 0,
          errorCode: fencedFor(r.errorCode, v, 4),
          producerId: r.producerId,
          producerEpoch: r.producerEpoch,
        };
      },
    }),
    defineHandler({
      api: 'AddPartitionsToTxn',
      minVersion: 0,
      maxVersion: 5,
      async handle(ctx, req) {
        const v = ctx.apiVersion;
        if (v <= 3) {
          const r = await txn.addPartitions(
            req.v3AndBelowTransactionalId,
            req.v3AndBelowProducerId,
            req.v3AndBelowProducerEpoch,
            pairsOf(req.v3AndBelowTopics),
          );
          return {
            throttleTimeMs: 0,
            errorCode: ErrorCode.NONE,
            resultsByTransaction: [],
            resultsByTopicV3AndBelow: topicResults(r, v),
          };
        }
        // The batched form (KIP-890): several transactions, each added or only verified.
        const resultsByTransaction = await Promise.all(
          req.transactions.map(async (t) => {
            const pairs = pairsOf(t.topics);
            const r = t.verifyOnly
              ? txn.verifyPartitions(t.transactionalId, t.producerId, t.producerEpoch, pairs)
              : await txn.addPartitions(t.transactionalId, t.producerId, t.producerEpoch, pairs);
            return { transactionalId: t.transactionalId, topicResults: topicResults(r, v) };
          }),
        );
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction, resultsByTopicV3AndBelow: [] };
      },
    }),
    defineHandler({
      api: 'AddOffsetsToTxn',
      minVersion: 0,
      maxVersion: 4,
      async handle(ctx, req) {
        const code = await txn.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId);
        return { throttleTimeMs: 0, errorCode: fencedFor(code, ctx.apiVersion, 2) };
      },
    }),
    defineHandler({
      api: 'EndTxn',
      minVersion: 0,
      maxVersion: 4,
      async handle(ctx, req) {
        const code = await txn.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed);
        return { throttleTimeMs: 0, errorCode: fencedFor(code, ctx.apiVersion, 2) };
      },
    }),
    defineHandler({
      api: 'TxnOffsetCommit',
      minVersion: 0,
      maxVersion: 4,
      async handle(_ctx, req) {
        const code = txn.checkTxnOffsetCommit(req.transactionalId, req.producerId, req.producerEpoch, req.groupId);
        if (code !== ErrorCode.NONE) {
          return {
            throttleTimeMs: 0,
            topics: req.topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })),
            })),
          };
        }
        const topics = await deps.groups.commitTransactionalOffsets({
          transactionalId: req.transactionalId,
          groupId: req.groupId,
          producerId: req.producerId,
          producerEpoch: req.producerEpoch,
          generationId: req.generationId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
          topics: req.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              committedOffset: p.committedOffset,
              committedLeaderEpoch: p.committedLeaderEpoch,
              committedMetadata: p.committedMetadata,
            })),
          })),
        });
        return { throttleTimeMs: 0, topics };
      },
    }),
    defineHandler({
      api: 'DescribeTransactions',
      minVersion: 0,
      maxVersion: 0,
      handle(_ctx, req) {
        return { throttleTimeMs: 0, transactionStates: req.transactionalIds.map((id) => txn.describe(id)) };
      },
    }),
    defineHandler({
      api: 'ListTransactions',
      minVersion: 0,
      maxVersion: 1,
      handle(ctx, req) {
        const r = txn.list(req.stateFilters, req.producerIdFilters, ctx.apiVersion >= 1 ? req.durationFilter : -1);
        return {
          throttleTimeMs: 0,
          errorCode: r.errorCode,
          unknownStateFilters: r.unknownStateFilters,
          transactionStates: r.transactions,
        };
      },
    }),
    defineHandler({
      api: 'DescribeProducers',
      minVersion: 0,
      maxVersion: 0,
      handle(_ctx, req) {
        return {
          throttleTimeMs: 0,
          topics: req.topics.map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map((index): DescribeProducersResponsePartitionResponse => {
              const p = deps.topics.topic(t.name) ? deps.topics.partition(t.name, index) : undefined;
              if (!p) {
                return {
                  partitionIndex: index,
                  errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                  errorMessage: null,
                  activeProducers: [],
                };
              }
              return {
                partitionIndex: index,
                errorCode: ErrorCode.NONE,
                errorMessage: null,
                activeProducers: [...p.producers.producers.values()].map((e) => ({
                  producerId: e.producerId,
                  producerEpoch: e.producerEpoch,
                  lastSequence: e.lastSeq,
                  lastTimestamp: e.lastTimestamp,
                  coordinatorEpoch: e.coordinatorEpoch,
                  currentTxnStartOffset: e.currentTxnFirstOffset,
                })),
              };
            }),
          })),
        };
      },
    }),
  ];
  return handlers as ApiHandler[];
}
