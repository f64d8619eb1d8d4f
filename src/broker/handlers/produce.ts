import { ErrorCode } from '../../protocol/errors.js';
import type {
  ProduceResponsePartitionProduceResponse,
  ProduceResponseTopicProduceResponse,
} from '../../protocol/messages/produce-response.js';
import {
  MAGIC_OFFSET,
  baseOffset as batchBaseOffset,
  compressionCodec,
  baseTimestamp,
  maxTimestamp as batchMaxTimestamp,
  entrySize,
  isTransactional,
} from '../../protocol/records/batch-header.js';
import { upConvertMessageSet } from '../../protocol/records/convert.js';
import { TimestampType, decodeRecordBatch, encodeRecordBatch } from '../../protocol/records/record-batch.js';
import { validateProduceRecords } from '../../protocol/records/validate.js';
import { DecodeError } from '../../protocol/decode-error.js';
import { CloseConnection, NO_RESPONSE, defineHandler } from '../api-handler.js';
import type { HandlerContext } from './context.js';
import { errorCodeOf, errorMessageOf } from '../errors.js';
import type { AppendEntry, AppendResult, PartitionView } from '../replica/replica-manager.js';
import type { ProduceConfig } from '../topic-config.js';
import { notEnoughReplicasMessage } from '../topic-config-checks.js';

type PartitionResponse = ProduceResponsePartitionProduceResponse;

/** A validated partition on its way to the replica manager, and where its response goes. */
interface ProduceEntry extends AppendEntry {
  responses: PartitionResponse[];
  slot: number;
}

function partitionError(
  index: number,
  errorCode: number,
  errorMessage: string | null = null,
  batchIndex = -1,
): PartitionResponse {
  return {
    index,
    errorCode,
    baseOffset: -1,
    logAppendTimeMs: -1,
    logStartOffset: -1,
    recordErrors: batchIndex >= 0 ? [{ batchIndex, batchIndexErrorMessage: errorMessage }] : [],
    errorMessage,
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
  };
}

/** What these handlers use of the broker. */
export type ProduceDeps = Pick<HandlerContext, 'config' | 'log' | 'replicaManager' | 'topics' | 'transactions'>;

/**
 * Produce: validate each partition's batches from their headers (CRC, framing, size, codec), append
 * the bytes as they came, answer per acks. Legacy magic 0/1 message sets are the one case that is
 * decoded: they are converted to magic-2 batches, the only format Brook stores.
 */
export function produceHandler(deps: ProduceDeps) {
  /**
   * Checks one partition's records against its topic's config and returns the bytes to append
   * (recompressed or up-converted where the topic asks for it), or the partition's error.
   */
  function validatePartition(
    version: number,
    partition: PartitionView,
    config: ProduceConfig,
    records: Buffer | null,
  ): Buffer | PartitionResponse {
    const index = partition.index;
    if (records === null || records.length === 0) {
      return partitionError(index, ErrorCode.INVALID_RECORD, 'Produce request carries no record batch');
    }
    const maxBatchBytes = config.maxMessageBytes;
    const now = Date.now();
    let data = records;
    const magic = records.length > MAGIC_OFFSET ? records.readInt8(MAGIC_OFFSET) : -1;
    if (magic === 2) {
      if (version < 3)
        return partitionError(
          index,
          ErrorCode.INVALID_RECORD,
          `Produce v${version} cannot carry record batches (magic 2)`,
        );
      const check = validateProduceRecords(records, { singleBatch: true, allowZstd: version >= 7, maxBatchBytes });
      if (!check.ok) return partitionError(index, check.code, check.reason, check.batchIndex);
      // Producers write base offset 0; anything else is a client bug Kafka refuses (UnifiedLog).
      if (batchBaseOffset(records, 0) !== 0) {
        return partitionError(
          index,
          ErrorCode.INVALID_RECORD,
          `Batch base offset must be 0 from a client, got ${batchBaseOffset(records, 0)}`,
          0,
        );
      }
      const tsProblem = config.logAppendTime ? null : timestampProblem(records, config, now);
      if (tsProblem) return partitionError(index, ErrorCode.INVALID_TIMESTAMP, tsProblem, 0);
      const target = config.compressionCodec;
      if (target !== undefined && compressionCodec(records, 0) !== target) {
        try {
          data = recompress(records, target, config.compressionLevel);
        } catch (err) {
          return partitionError(
            index,
            err instanceof DecodeError ? ErrorCode.CORRUPT_MESSAGE : errorCodeOf(err, deps.log, 'recompress'),
            errorMessageOf(err),
            0,
          );
        }
      }
    } else if (magic === 0 || magic === 1) {
      if (version >= 3)
        return partitionError(
          index,
          ErrorCode.INVALID_RECORD,
          `Produce v${version} requires record batches (magic 2), got magic ${magic}`,
        );
      if (records.length > maxBatchBytes) {
        return partitionError(
          index,
          ErrorCode.MESSAGE_TOO_LARGE,
          `The message set of ${records.length} bytes exceeds max.message.bytes ${maxBatchBytes}`,
        );
      }
      try {
        data = upConvertMessageSet(records, {
          appendTime: now,
          timestampType: config.logAppendTime ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
          partitionLeaderEpoch: partition.leaderEpoch,
          compression: config.compressionCodec,
        }).records;
      } catch (err) {
        const code =
          err instanceof DecodeError
            ? ErrorCode.CORRUPT_MESSAGE
            : errorCodeOf(err) === ErrorCode.UNKNOWN_SERVER_ERROR
              ? ErrorCode.INVALID_RECORD
              : errorCodeOf(err);
        return partitionError(index, code, errorMessageOf(err));
      }
    } else {
      return partitionError(index, ErrorCode.CORRUPT_MESSAGE, `Unknown record format (magic ${magic})`);
    }
    return data;
  }

  function appended(index: number, r: AppendResult): PartitionResponse {
    return {
      index,
      errorCode: ErrorCode.NONE,
      baseOffset: r.baseOffset,
      logAppendTimeMs: r.logAppendTime,
      logStartOffset: r.logStartOffset,
      recordErrors: [],
      errorMessage: null,
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
    };
  }

  /**
   * A topic whose compression.type is a codec stores every batch with that codec, as Kafka does:
   * the one case besides legacy conversion where records are decoded on the produce path. Producer
   * id, epoch, sequence, transactional flag, timestamps and offset deltas are kept.
   */
  function recompress(records: Buffer, codec: number, level: number | undefined): Buffer {
    const b = decodeRecordBatch(records, 0);
    return encodeRecordBatch({
      compression: codec,
      compressionLevel: level,
      timestampType: b.timestampType,
      logAppendTime: b.timestampType === TimestampType.LOG_APPEND_TIME ? b.maxTimestamp : undefined,
      transactional: b.isTransactional,
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      baseSequence: b.baseSequence,
      baseTimestamp: b.baseTimestamp,
      lastOffsetDelta: b.lastOffsetDelta,
      records: b.records.map((r) => ({
        key: r.key,
        value: r.value,
        headers: r.headers,
        timestamp: r.timestamp,
        offsetDelta: r.offset - b.baseOffset,
      })),
    });
  }

  /**
   * message.timestamp.before/after.max.ms (or difference.max.ms) checked on the batch header alone: the base timestamp
   * (first record) against the lower bound and the max timestamp against the upper bound.
   */
  function timestampProblem(records: Buffer, config: ProduceConfig, now: number): string | null {
    if (config.timestampsUnbounded) return null;
    const before = config.timestampBeforeMaxMs;
    const after = config.timestampAfterMaxMs;
    for (let pos = 0; pos < records.length; pos += entrySize(records, pos)) {
      const min = baseTimestamp(records, pos);
      const max = batchMaxTimestamp(records, pos);
      if (now - min > before) return `Timestamp ${min} is more than ${before} ms before the broker time ${now}`;
      if (max - now > after) return `Timestamp ${max} is more than ${after} ms after the broker time ${now}`;
    }
    return null;
  }

  return defineHandler({
    api: 'Produce',
    minVersion: 0,
    maxVersion: 11,
    async handle(ctx, req) {
      const v = ctx.apiVersion;
      const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
      const transactionalId = v >= 3 ? req.transactionalId : null;
      const verification = deps.config.bool('transaction.partition.verification.enable');
      const responses: ProduceResponseTopicProduceResponse[] = [];
      const entries: ProduceEntry[] = [];
      for (const topic of req.topicData) {
        const t = deps.topics.topic(topic.name);
        const config = t ? deps.topics.produceConfig(t) : null;
        const partitionResponses: PartitionResponse[] = new Array<PartitionResponse>(topic.partitionData.length);
        for (let i = 0; i < topic.partitionData.length; i++) {
          const pd = topic.partitionData[i]!;
          if (!validAcks) {
            partitionResponses[i] = partitionError(pd.index, ErrorCode.INVALID_REQUIRED_ACKS);
            continue;
          }
          const p = t ? deps.topics.partition(t.name, pd.index) : undefined;
          if (!config || !p) {
            // A partition that exists but another broker leads: the client refreshes its metadata.
            const code =
              t && pd.index >= 0 && pd.index < t.partitions
                ? ErrorCode.NOT_LEADER_OR_FOLLOWER
                : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
            partitionResponses[i] = partitionError(pd.index, code);
            continue;
          }
          if (req.acks === -1 && p.inSyncReplicaCount < config.minInsyncReplicas) {
            // Kafka checks min.insync.replicas before validating or appending: nothing is written.
            partitionResponses[i] = partitionError(
              pd.index,
              ErrorCode.NOT_ENOUGH_REPLICAS,
              notEnoughReplicasMessage(p, config.minInsyncReplicas),
            );
            continue;
          }
          const data = validatePartition(v, p, config, pd.records);
          if (!Buffer.isBuffer(data)) {
            partitionResponses[i] = data;
            continue;
          }
          const entry: ProduceEntry = { partition: p, records: data, responses: partitionResponses, slot: i };
          if (verification && isTransactional(data)) {
            entry.verifyTransaction = (pid, epoch) =>
              deps.transactions.coordinator.verifyProduce(transactionalId, pid, epoch, p.topic, p.index);
          }
          entries.push(entry);
        }
        responses.push({ name: topic.name, partitionResponses });
      }
      if (entries.length > 0) {
        // Producer-state checks (idempotence, fencing) happen inside; batches without a producer id skip them.
        const results = deps.replicaManager.appendRecords({ acks: req.acks, timeoutMs: req.timeoutMs, entries });
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i]!;
          const index = e.partition.index;
          try {
            e.responses[e.slot] = appended(index, await results[i]!);
          } catch (err) {
            e.responses[e.slot] = partitionError(index, errorCodeOf(err, deps.log, 'append'), errorMessageOf(err));
          }
        }
      }
      if (req.acks === 0) {
        // Kafka closes the connection when an acks=0 produce fails, the only signal such a
        // producer gets to refresh its metadata (KafkaApis.handleProduceRequest).
        const failed = responses.some((t) => t.partitionResponses.some((p) => p.errorCode !== ErrorCode.NONE));
        if (failed) throw new CloseConnection('acks=0 produce failed');
        return NO_RESPONSE;
      }
      return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
    },
  });
}
