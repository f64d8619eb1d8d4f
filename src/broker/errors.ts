import type { Logger } from 'pino';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { StorageError } from '../storage/index.js';

/**
 * The Kafka error code for an error raised inside the broker: typed errors carry theirs; anything
 * else is a bug or an I/O surprise, logged and reported as UNKNOWN_SERVER_ERROR.
 */
export function errorCodeOf(err: unknown, log?: Logger, what?: string): number {
  if (err instanceof KafkaError || err instanceof StorageError) return err.code;
  log?.error({ err, what }, 'unexpected error');
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

export function errorMessageOf(err: unknown): string | null {
  return err instanceof Error ? err.message : null;
}
