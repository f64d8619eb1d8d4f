import { DecodeError } from '../protocol/decode-error.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

/** Transaction states, with the status codes __transaction_state stores (Kafka's TransactionState ids). */
export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TxnState = (typeof TxnState)[keyof typeof TxnState];

const STATE_NAMES = [
  'Empty',
  'Ongoing',
  'PrepareCommit',
  'PrepareAbort',
  'CompleteCommit',
  'CompleteAbort',
  'Dead',
  'PrepareEpochFence',
] as const;
export type TxnStateName = (typeof STATE_NAMES)[number];

/** The name DescribeTransactions and ListTransactions report. */
export function txnStateName(s: TxnState): TxnStateName {
  return STATE_NAMES[s]!;
}

export function txnStateByName(name: string): TxnState | undefined {
  const i = (STATE_NAMES as readonly string[]).indexOf(name);
  return i < 0 ? undefined : (i as TxnState);
}

/** What one __transaction_state record says about a transactional id. */
export interface TxnLogValue {
  producerId: number;
  /** The producer id before the last rotation (epoch exhaustion), or -1 (KIP-360 retries). */
  lastProducerId: number;
  producerEpoch: number;
  /** The epoch before the last bump by InitProducerId, or -1 (KIP-360 retries). */
  lastProducerEpoch: number;
  txnTimeoutMs: number;
  state: TxnState;
  /** Partitions of the open (or completing) transaction, by topic. */
  partitions: Map<string, number[]>;
  txnLastUpdateTimestamp: number;
  /** -1 before the first transaction. */
  txnStartTimestamp: number;
}

const KEY_VERSION = 0;
const VALUE_VERSION = 0;

/** Key: int16 version (0) + string transactionalId, Kafka's TransactionLogKey. */
export function encodeTxnLogKey(transactionalId: string): Buffer {
  const w = new Writer(32 + transactionalId.length * 3);
  w.int16(KEY_VERSION).string(transactionalId);
  return w.toBuffer();
}

export function decodeTxnLogKey(buf: Buffer): string {
  const r = new Reader(buf);
  const version = r.int16();
  if (version !== KEY_VERSION) throw new DecodeError(`unknown __transaction_state key version ${version}`);
  return r.string();
}

/**
 * Value: Kafka's TransactionLogValue v0 layout (int16 version, int64 producerId, int16
 * producerEpoch, int32 transactionTimeoutMs, int8 status, [string topic, [int32 partition]],
 * int64 lastUpdateTimestamp, int64 startTimestamp), to which Brook appends int64 lastProducerId
 * and int16 lastProducerEpoch so an InitProducerId retry (KIP-360) is recognised after a restart.
 */
export function encodeTxnLogValue(v: TxnLogValue): Buffer {
  const w = new Writer(64);
  w.int16(VALUE_VERSION).int64(v.producerId).int16(v.producerEpoch).int32(v.txnTimeoutMs).int8(v.state);
  w.arrayLength(v.partitions.size);
  for (const [topic, parts] of v.partitions) {
    w.string(topic).arrayLength(parts.length);
    for (const p of parts) w.int32(p);
  }
  w.int64(v.txnLastUpdateTimestamp).int64(v.txnStartTimestamp);
  w.int64(v.lastProducerId).int16(v.lastProducerEpoch);
  return w.toBuffer();
}

export function decodeTxnLogValue(buf: Buffer): TxnLogValue {
  const r = new Reader(buf);
  const version = r.int16();
  if (version !== VALUE_VERSION) throw new DecodeError(`unknown __transaction_state value version ${version}`);
  const producerId = r.int64();
  const producerEpoch = r.int16();
  const txnTimeoutMs = r.int32();
  const state = r.int8();
  if (state < 0 || state >= STATE_NAMES.length) throw new DecodeError(`unknown transaction status ${state}`);
  const partitions = new Map<string, number[]>();
  const topics = r.int32();
  for (let i = 0; i < topics; i++) {
    const topic = r.string();
    const n = r.int32();
    const parts: number[] = [];
    for (let j = 0; j < n; j++) parts.push(r.int32());
    partitions.set(topic, parts);
  }
  const txnLastUpdateTimestamp = r.int64();
  const txnStartTimestamp = r.int64();
  let lastProducerId = -1;
  let lastProducerEpoch = -1;
  if (r.remaining() >= 10) {
    lastProducerId = r.int64();
    lastProducerEpoch = r.int16();
  }
  return {
    producerId,
    lastProducerId,
    producerEpoch,
    lastProducerEpoch,
    txnTimeoutMs,
    state: state as TxnState,
    partitions,
    txnLastUpdateTimestamp,
    txnStartTimestamp,
  };
}

/**
 * Kafka's placement of a transactional id on __transaction_state: `Utils.abs(id.hashCode()) %
 * partitions`, Java's String.hashCode over UTF-16 code units, abs(Integer.MIN_VALUE) = 0.
 */
export function partitionForTransactionalId(transactionalId: string, partitionCount: number): number {
  let h = 0;
  for (let i = 0; i < transactionalId.length; i++) h = (Math.imul(h, 31) + transactionalId.charCodeAt(i)) | 0;
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitionCount;
}
