import { DecodeError } from '../decode-error.js';
import { DecompressionLimitError, UnsupportedCompressionError, CompressionError } from '../compression/codec.js';

/**
 * Well-formed bytes that Kafka's rules forbid (nested compression, a control batch from a client,
 * a record count that disagrees with the offset range, ...). Kafka answers INVALID_RECORD (87).
 * Malformed bytes raise DecodeError instead (CORRUPT_MESSAGE, 2).
 */
export class InvalidRecordError extends Error {
  override name = 'InvalidRecordError';
}

/** Error names the produce path answers with, from the errors table. */
export type RecordErrorName =
  'CORRUPT_MESSAGE' | 'INVALID_RECORD' | 'UNSUPPORTED_COMPRESSION_TYPE' | 'MESSAGE_TOO_LARGE';

export const RECORD_ERROR_CODES: { readonly [K in RecordErrorName]: number } = {
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
};

/**
 * Maps an error raised by the record and compression decoders to the Kafka error a broker
 * should answer with, or null for anything else (a bug, not bad input). A batch that would
 * decompress beyond the broker's limit is reported as MESSAGE_TOO_LARGE.
 */
export function recordErrorName(err: unknown): RecordErrorName | null {
  if (err instanceof UnsupportedCompressionError) return 'UNSUPPORTED_COMPRESSION_TYPE';
  if (err instanceof DecompressionLimitError) return 'MESSAGE_TOO_LARGE';
  if (err instanceof CompressionError || err instanceof DecodeError) return 'CORRUPT_MESSAGE';
  if (err instanceof InvalidRecordError) return 'INVALID_RECORD';
  return null;
}
