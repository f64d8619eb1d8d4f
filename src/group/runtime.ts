import type { Logger } from 'pino';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { encodeRecordBatch } from '../protocol/records/record-batch.js';
import type { ClassicGroup } from './classic-group.js';
import type { ConsumerGroup } from './consumer-group.js';
import { OffsetStore } from './offset-store.js';
import { partitionForGroup } from './offsets-records.js';
import { DeadlineScheduler } from './scheduler.js';
import { systemTime, type Time } from './time.js';
import type { GroupCoordinatorConfig, GroupCoordinatorDeps, OffsetsLog, TopicMetadataView } from './types.js';

export type Group = ClassicGroup | ConsumerGroup;

import type { OffsetsRecord } from './types.js';
export type { OffsetsRecord };

export interface TxnWriteInfo {
  producerId: number;
  producerEpoch: number;
}

interface PendingAppend {
  settled: boolean;
  error: unknown;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The error a client gets when a write to __consumer_offsets fails, as Kafka maps storage errors
 * for offset commits and group writes.
 */
export function appendErrorCode(err: unknown): number {
  if (err instanceof KafkaError) {
    switch (err.code) {
      case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      case ErrorCode.NOT_ENOUGH_REPLICAS:
      case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      case ErrorCode.NOT_LEADER_OR_FOLLOWER:
      case ErrorCode.KAFKA_STORAGE_ERROR:
        return ErrorCode.NOT_COORDINATOR;
      case ErrorCode.MESSAGE_TOO_LARGE:
      case ErrorCode.RECORD_LIST_TOO_LARGE:
      case ErrorCode.INVALID_FETCH_SIZE:
        return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
      default:
        return err.code;
    }
  }
  // A failure without a Kafka code (I/O): retriable for the client, which finds the coordinator again.
  return ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

/** State and services shared by the classic protocol, the KIP-848 protocol and the coordinator facade. */
export class GroupRuntime {
  readonly time: Time;
  readonly scheduler: DeadlineScheduler;
  readonly config: GroupCoordinatorConfig;
  readonly topics: TopicMetadataView;
  readonly log: Logger | undefined;
  readonly offsetsLog: OffsetsLog;
  readonly partitionCount: number;
  readonly groups = new Map<string, Group>();
  readonly offsets = new OffsetStore();
  /** True until start-up has read __consumer_offsets: group requests get COORDINATOR_LOAD_IN_PROGRESS. */
  loading = true;
  /** After shutdown nothing is written or scheduled. */
  active = false;
  private readonly appendQueues: PendingAppend[][];

  constructor(deps: GroupCoordinatorDeps) {
    this.time = deps.time ?? systemTime;
    this.log = deps.logger;
    this.scheduler = new DeadlineScheduler(this.time, (err) =>
      this.log?.error({ err }, 'group coordinator timer task failed'),
    );
    this.config = deps.config;
    this.topics = deps.topics;
    this.offsetsLog = deps.offsetsLog;
    this.partitionCount = deps.offsetsTopicPartitionCount;
    this.appendQueues = Array.from({ length: this.partitionCount }, () => []);
  }

  now(): number {
    return this.time.now();
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.partitionCount);
  }

  /**
   * Writes records of one group as one batch to the group's partition. Results settle in the
   * order the writes were made for that partition, so callers that apply state on success apply
   * it in log order even if the storage layer completes appends out of order.
   */
  write(groupId: string, records: OffsetsRecord[], txn?: TxnWriteInfo): Promise<void> {
    if (!this.active)
      return Promise.reject(new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'group coordinator is not active'));
    const partition = this.partitionFor(groupId);
    const now = this.now();
    let batch: Buffer;
    try {
      batch = encodeRecordBatch({
        records: records.map((r) => ({ key: r.key, value: r.value, timestamp: now })),
        ...(txn ? { producerId: txn.producerId, producerEpoch: txn.producerEpoch, transactional: true } : {}),
      });
    } catch (err) {
      return Promise.reject(err);
    }
    const queue = this.appendQueues[partition]!;
    return new Promise<void>((resolve, reject) => {
      const entry: PendingAppend = { settled: false, error: undefined, resolve, reject };
      queue.push(entry);
      const settle = (error: unknown) => {
        entry.settled = true;
        entry.error = error;
        while (queue.length > 0 && queue[0]!.settled) {
          const e = queue.shift()!;
          if (e.error === undefined) e.resolve();
          else e.reject(e.error);
        }
      };
      this.offsetsLog.append(partition, batch).then(
        () => settle(undefined),
        (err: unknown) => settle(err ?? new Error('append failed')),
      );
    });
  }

  /** Fire-and-forget write whose failure is only logged (group state changes that clients do not wait on). */
  writeInBackground(groupId: string, records: OffsetsRecord[], what: string): void {
    if (!this.active || records.length === 0) return;
    this.write(groupId, records).catch((err: unknown) =>
      this.log?.warn({ err, groupId }, `failed to write ${what} to __consumer_offsets`),
    );
  }
}
