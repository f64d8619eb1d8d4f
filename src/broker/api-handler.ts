import type { ApiMessages, ApiName } from '../protocol/apis.js';
import type { RequestHeader } from '../protocol/headers.js';
import type { Connection } from './network/connection.js';
import type { Session } from './network/session.js';

/** Returned by a handler that must not answer (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no response');
export type NoResponse = typeof NO_RESPONSE;

export interface RequestContext {
  header: RequestHeader;
  apiVersion: number;
  connection: Connection;
  /**
   * Who sent the request and on which listener (principal, listener name, security protocol,
   * client address, client id and software): the connection's session.
   */
  session: Session;
  /** When the whole frame was received (ms since epoch); timeouts count from here. */
  receivedAt: number;
  /**
   * Runs `fn` once the response has been handed to the socket (or dropped): how pooled buffers
   * referenced by the response go back to their pool.
   */
  afterResponse(fn: () => void): void;
}

export type HandlerResult<T> = T | NoResponse | Promise<T | NoResponse>;

/**
 * One API as this broker serves it: the versions it advertises in ApiVersions (every one of which
 * must really work) and the function that turns a decoded request into a response body.
 */
export interface ApiHandler<K extends ApiName = ApiName> {
  api: K;
  minVersion: number;
  maxVersion: number;
  handle(ctx: RequestContext, request: ApiMessages[K]['request']): HandlerResult<ApiMessages[K]['response']>;
}

/** Helps handler files declare themselves with full typing of request and response. */
export function defineHandler<K extends ApiName>(h: ApiHandler<K>): ApiHandler<K> {
  return h;
}

/**
 * Thrown by a handler when Kafka's answer is to close the connection rather than respond (a
 * failed acks=0 produce: the client has no other way to learn it must refresh its metadata).
 */
export class CloseConnection extends Error {
  override readonly name = 'CloseConnection';
}
