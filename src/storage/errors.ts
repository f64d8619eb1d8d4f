/**
 * Typed storage errors. Each carries the Kafka error code the broker puts in its response, so a
 * handler maps them with `err.code` and never parses messages.
 */
export class StorageError extends Error {
  /** Kafka protocol error code. */
  readonly code: number;
  /** Whether Kafka marks the code retriable (the client may try again). */
  readonly retriable: boolean;
  constructor(message: string, code: number, retriable: boolean) {
    super(message);
    this.code = code;
    this.retriable = retriable;
  }
}

/** OFFSET_OUT_OF_RANGE (1): the fetch offset is below the log start offset or past the log end offset. */
export class OffsetOutOfRangeError extends StorageError {
  override readonly name = 'OffsetOutOfRangeError';
  static readonly CODE = 1;
  constructor(
    message: string,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(message, OffsetOutOfRangeError.CODE, false);
  }
}

/** CORRUPT_MESSAGE (2): a stored or offered batch failed its length, magic or CRC check. */
export class CorruptRecordError extends StorageError {
  override readonly name = 'CorruptRecordError';
  static readonly CODE = 2;
  constructor(message: string) {
    super(message, CorruptRecordError.CODE, true);
  }
}

/** RECORD_LIST_TOO_LARGE (18): one append is larger than a whole segment may hold. */
export class RecordBatchTooLargeError extends StorageError {
  override readonly name = 'RecordBatchTooLargeError';
  static readonly CODE = 18;
  constructor(message: string) {
    super(message, RecordBatchTooLargeError.CODE, false);
  }
}

/** INVALID_RECORD (87): offsets given to appendWithOffsets are not monotonic or start below the log end. */
export class InvalidRecordError extends StorageError {
  override readonly name = 'InvalidRecordError';
  static readonly CODE = 87;
  constructor(message: string) {
    super(message, InvalidRecordError.CODE, false);
  }
}

/**
 * KAFKA_STORAGE_ERROR (56): the disk failed under us (EIO, ENOSPC, a failed fsync). After a failed
 * fsync the page cache may have dropped the dirty pages, so the log stays offline until reopened.
 */
export class KafkaStorageError extends StorageError {
  override readonly name: string = 'KafkaStorageError';
  static readonly CODE = 56;
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message, KafkaStorageError.CODE, true);
  }
}

/** The log (or its manager) was closed or deleted; the broker treats it like a storage error. */
export class LogClosedError extends KafkaStorageError {
  override readonly name = 'LogClosedError';
  constructor(message = 'log is closed') {
    super(message);
  }
}

export function asStorageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  const e = err as NodeJS.ErrnoException;
  return new KafkaStorageError(`${what}: ${e?.code ?? ''} ${e?.message ?? String(err)}`.trim(), err);
}
