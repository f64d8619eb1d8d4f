import { DecodeError } from '../decode-error.js';
import { producerEpoch, producerId } from './batch-header.js';
import { encodeRecordBatch } from './record-batch.js';
import { RecordCursor, type BatchDecodeOptions } from './record-cursor.js';

/**
 * Control records: the single record of a control batch. Key = int16 version (0) + int16 type;
 * the value of ABORT/COMMIT markers = int16 version (0) + int32 coordinator epoch.
 */
export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  // KRaft-internal types; never written by a broker's transaction coordinator.
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

const CONTROL_KEY_VERSION = 0;
const END_TXN_MARKER_VERSION = 0;

export function encodeControlRecordKey(type: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt16BE(CONTROL_KEY_VERSION, 0);
  b.writeInt16BE(type, 2);
  return b;
}

export function encodeEndTxnMarkerValue(coordinatorEpoch: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeInt16BE(END_TXN_MARKER_VERSION, 0);
  b.writeInt32BE(coordinatorEpoch, 2);
  return b;
}

/** Version and type from a control record key. Newer key versions keep the same prefix, as in Kafka. */
export function parseControlRecordKey(key: Buffer | null): { version: number; type: number } {
  if (key === null || key.length < 4)
    throw new DecodeError(`control record key of ${key === null ? 'null' : key.length} bytes`);
  const version = key.readInt16BE(0);
  if (version < 0) throw new DecodeError(`control record key version ${version}`);
  return { version, type: key.readInt16BE(2) };
}

export function parseEndTxnMarkerValue(value: Buffer | null): { version: number; coordinatorEpoch: number } {
  if (value === null || value.length < 6)
    throw new DecodeError(`end transaction marker of ${value === null ? 'null' : value.length} bytes`);
  const version = value.readInt16BE(0);
  if (version < 0) throw new DecodeError(`end transaction marker version ${version}`);
  return { version, coordinatorEpoch: value.readInt32BE(2) };
}

export interface ControlBatchOptions {
  producerId: number;
  producerEpoch: number;
  /** ControlRecordType.ABORT or COMMIT. */
  type: number;
  coordinatorEpoch: number;
  baseOffset?: number;
  /** Marker time; the record and batch timestamps. */
  timestamp: number;
  partitionLeaderEpoch?: number;
}

/**
 * A transaction marker batch as the coordinator writes it: transactional + control attributes,
 * the transaction's producer id/epoch, no sequence, one uncompressed record.
 */
export function encodeControlBatch(opts: ControlBatchOptions): Buffer {
  if (opts.type !== ControlRecordType.ABORT && opts.type !== ControlRecordType.COMMIT) {
    throw new RangeError(`end transaction markers are ABORT (0) or COMMIT (1), got ${opts.type}`);
  }
  return encodeRecordBatch({
    baseOffset: opts.baseOffset ?? 0,
    partitionLeaderEpoch: opts.partitionLeaderEpoch ?? -1,
    transactional: true,
    control: true,
    producerId: opts.producerId,
    producerEpoch: opts.producerEpoch,
    records: [
      {
        key: encodeControlRecordKey(opts.type),
        value: encodeEndTxnMarkerValue(opts.coordinatorEpoch),
        timestamp: opts.timestamp,
      },
    ],
  });
}

/**
 * The control type of the control batch at `batch[pos]` (from its first record's key). Throws
 * DecodeError when the batch is not a control batch or has no record.
 */
export function readControlRecordType(batch: Buffer, pos = 0, options?: BatchDecodeOptions): number {
  const cursor = new RecordCursor().reset(batch, pos, options);
  if (!cursor.isControl) throw new DecodeError(`batch at ${pos} is not a control batch`);
  if (!cursor.next()) throw new DecodeError(`control batch at ${pos} holds no record`);
  return parseControlRecordKey(cursor.key()).type;
}

/** Type and coordinator epoch of an ABORT/COMMIT marker batch. */
export function readEndTxnMarker(
  batch: Buffer,
  pos = 0,
  options?: BatchDecodeOptions,
): { type: number; coordinatorEpoch: number; producerId: number; producerEpoch: number } {
  const cursor = new RecordCursor().reset(batch, pos, options);
  if (!cursor.isControl) throw new DecodeError(`batch at ${pos} is not a control batch`);
  if (!cursor.next()) throw new DecodeError(`control batch at ${pos} holds no record`);
  const { type } = parseControlRecordKey(cursor.key());
  if (type !== ControlRecordType.ABORT && type !== ControlRecordType.COMMIT)
    throw new DecodeError(`control record type ${type} is not a transaction marker`);
  const { coordinatorEpoch } = parseEndTxnMarkerValue(cursor.value());
  return { type, coordinatorEpoch, producerId: producerId(batch, pos), producerEpoch: producerEpoch(batch, pos) };
}
