import { KafkaError, errorName, isRetriable } from '../protocol/errors.js';

export { KafkaError, errorName, isRetriable };

/**
 * The broker could not be reached or the connection broke. Retriable: a later attempt (after a
 * metadata refresh, possibly to another broker) may succeed.
 */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  readonly retriable = true;
  /** host:port of the broker. */
  readonly broker: string;
  /** Node's error code (ECONNREFUSED, ENOTFOUND, ...) when the socket reported one. */
  readonly code: string | undefined;
  constructor(broker: string, message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.broker = broker;
    this.code = options?.code;
  }
}

/** No response arrived within the request timeout; the connection is closed, as Kafka clients do. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  readonly retriable = true;
  constructor(
    readonly broker: string,
    readonly api: string,
    readonly timeoutMs: number,
  ) {
    super(`${api} request to ${broker} got no response within ${timeoutMs} ms`);
  }
}

/** The broker and the client share no version of an API the operation needs. */
export class UnsupportedVersionError extends Error {
  override readonly name = 'UnsupportedVersionError';
  readonly retriable = false;
  constructor(message: string) {
    super(message);
  }
}

/** The client was used after close(). */
export class ClientClosedError extends Error {
  override readonly name = 'ClientClosedError';
  readonly retriable = false;
  constructor(what: string) {
    super(`${what} is closed`);
  }
}

/** A Kafka error with context (topic, partition, group) in its message. */
export function kafkaError(code: number, context?: string, serverMessage?: string | null): KafkaError {
  let msg = errorName(code);
  if (context) msg += ` (${context})`;
  if (serverMessage) msg += `: ${serverMessage}`;
  return new KafkaError(code, msg);
}

/** Whether retrying the failed operation may help. */
export function isRetriableError(err: unknown): boolean {
  if (err instanceof KafkaError) return err.retriable;
  if (err instanceof ConnectionError || err instanceof RequestTimeoutError) return true;
  return false;
}
