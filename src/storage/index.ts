/** The durable partition log: public surface for the broker and coordinators. */
export { type LogConfig, type CleanupPolicy, defaultLogConfig, resolveLogConfig, UNLIMITED } from './config.js';
export {
  StorageError,
  OffsetOutOfRangeError,
  CorruptRecordError,
  RecordBatchTooLargeError,
  InvalidRecordError,
  KafkaStorageError,
  LogClosedError,
} from './errors.js';
export {
  PartitionLog,
  type AppendOptions,
  type AppendResult,
  type ReadOptions,
  type ReadResult,
  type TimestampOffset,
  type RecoveryReport,
} from './partition-log.js';
export { LogManager, type LogManagerOptions, type LogInfo } from './log-manager.js';
export { cleanLog, type CleanOptions, type CleanResult } from './cleaner.js';
export { type AbortedTxn } from './indexes.js';
export { type RecordsCodec, builtinCodec } from './records.js';
export { type EpochEntry } from './leader-epoch.js';
