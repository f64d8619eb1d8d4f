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
} from '../../protocol/records/batch-header.js';
import { upConvertMessageSet } from '../../protocol/records/convert.js';
import { TimestampType, decodeRecordBatch, encodeRecordBatch } from '../../protocol/records/record-batch.js';
import { CompressionCodec } from '../../protocol/compression/codec.js';
import { validateProduceRecords } from '../../protocol/records/validate.js';
import { DecodeError } from '../../protocol/decode-error.js';
import { CloseConnection, NO_RESPONSE, defineHandler } from '../api-handler.js';
import type { Broker } from '../broker.js';
import { errorCodeOf, errorMessageOf } from '../errors.js';
import type { LeaderAppendOptions, Partition } from '../replica/partition.js';
import type { TopicRecord } from '../../cluster/metadata-store.js';
import { notEnoughReplicas, timestampBounds } from '../topic-config-checks.js';

type PartitionResponse = ProduceResponsePartitionProduceResponse;

const NO_APPEND_OPTIONS: LeaderAppendOptions = {};

/** Codec ids of the topic-level compression.type values; 'producer' (keep as sent) is absent. */
const TOPIC_CODECS: Record<string, number> = {
  uncompressed: CompressionCodec.NONE,
  gzip: CompressionCodec.GZIP,
  snappy: CompressionCodec.SNAPPY,
  lz4: CompressionCodec.LZ4,
  zstd: CompressionCodec.ZSTD,
};

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

/**
 * Produce: validate each partition's batches from their headers (CRC, framing, size, codec), append
 * the bytes as they came, answer per acks. Legacy magic 0/1 message sets are the one case that is
 * decoded: they are converted to magic-2 batches, the only format Brook stores.
 */
export function produceHandler(broker: Broker) {
  async function appendPartition(
    version: number,
    partition: Partition,
    topic: TopicRecord,
    records: Buffer | null,
    transactionalId: string | null,
  ): Promise<PartitionResponse> {
    const index = partition.index;
    if (records === null || records.length === 0) {
      return partitionError(index, ErrorCode.INVALID_RECORD, 'Produce request carries no record batch');
    }
    const maxBatchBytes = Number(broker.topics.configValue(topic, 'max.message.bytes'));
    const logAppendTimeTopic = broker.topics.configValue(topic, 'message.timestamp.type') === 'LogAppendTime';
    const now = Date.now();
    let data = records;
    let transactional = false;
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
      transactional = check.transactional;
      const tsProblem = logAppendTimeTopic ? null : timestampProblem(records, topic, now);
      if (tsProblem) return partitionError(index, ErrorCode.INVALID_TIMESTAMP, tsProblem, 0);
      const target = TOPIC_CODECS[broker.topics.configValue(topic, 'compression.type')];
      if (target !== undefined && compressionCodec(records, 0) !== target) {
        try {
          data = recompress(records, target, topic);
        } catch (err) {
          return partitionError(
            index,
            err instanceof DecodeError ? ErrorCode.CORRUPT_MESSAGE : errorCodeOf(err, broker.log, 'recompress'),
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
          timestampType: logAppendTimeTopic ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
          partitionLeaderEpoch: partition.leaderEpoch,
          compression: TOPIC_CODECS[broker.topics.configValue(topic, 'compression.type')],
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
    try {
      // Producer-state checks (idempotence, fencing) happen inside; batches without a producer id skip them.
      const r = await partition.appendRecordsAsLeader(
        data,
        transactional && broker.config.bool('transaction.partition.verification.enable')
          ? {
              verifyTransaction: (pid, epoch) =>
                broker.transactions.coordinator.verifyProduce(transactionalId, pid, epoch, partition.topic, index),
            }
          : NO_APPEND_OPTIONS,
      );
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
    } catch (err) {
      return partitionError(index, errorCodeOf(err, broker.log, 'append'), errorMessageOf(err));
    }
  }

  /**
   * A topic whose compression.type is a codec stores every batch with that codec, as Kafka does:
   * the one case besides legacy conversion where records are decoded on the produce path. Producer
   * id, epoch, sequence, transactional flag, timestamps and offset deltas are kept.
   */
  function recompress(records: Buffer, codec: number, topic: TopicRecord): Buffer {
    const b = decodeRecordBatch(records, 0);
    const levelName =
      codec === CompressionCodec.GZIP
        ? 'compression.gzip.level'
        : codec === CompressionCodec.LZ4
          ? 'compression.lz4.level'
          : codec === CompressionCodec.ZSTD
            ? 'compression.zstd.level'
            : null;
    const level = levelName ? Number(broker.topics.configValue(topic, levelName)) : undefined;
    return encodeRecordBatch({
      compression: codec,
      compressionLevel: level !== undefined && level >= 0 ? level : undefined,
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
  function timestampProblem(records: Buffer, topic: TopicRecord, now: number): string | null {
    const { before, after } = timestampBounds(broker.topics, topic);
    if (before >= Number.MAX_SAFE_INTEGER && after >= Number.MAX_SAFE_INTEGER) return null;
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
      const pending: Promise<PartitionResponse>[][] = [];
      for (const topic of req.topicData) {
        const t = broker.topics.topic(topic.name);
        pending.push(
          topic.partitionData.map((pd) => {
            if (!validAcks) return Promise.resolve(partitionError(pd.index, ErrorCode.INVALID_REQUIRED_ACKS));
            const p = t ? broker.topics.partition(t.name, pd.index) : undefined;
            if (!t || !p) return Promise.resolve(partitionError(pd.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
            const isr = req.acks === -1 ? notEnoughReplicas(broker.topics, t, pd.index) : null;
            if (isr) return Promise.resolve(partitionError(pd.index, ErrorCode.NOT_ENOUGH_REPLICAS, isr));
            return appendPartition(v, p, t, pd.records, v >= 3 ? req.transactionalId : null);
          }),
        );
      }
      const responses: ProduceResponseTopicProduceResponse[] = [];
      for (let i = 0; i < req.topicData.length; i++) {
        responses.push({ name: req.topicData[i]!.name, partitionResponses: await Promise.all(pending[i]!) });
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
