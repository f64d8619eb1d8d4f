import type { Reader } from './reader.js';
import type { Writer } from './writer.js';
import { API_BY_KEY, requestHeaderVersion, responseHeaderVersion } from './apis.js';
import {
  readRequestHeader as readRequestHeaderAt,
  writeRequestHeader as writeRequestHeaderAt,
  type RequestHeader,
} from './messages/request-header.js';
import { readResponseHeader as readResponseHeaderAt, type ResponseHeader } from './messages/response-header.js';

export type { RequestHeader, ResponseHeader };
export { requestHeaderVersion, responseHeaderVersion };

/**
 * Reads a request header, choosing its version from the API key and version it starts with. A key
 * or version this broker does not know is still read as header v1 (key, version, correlation id,
 * client id), which every Kafka request starts with, so the caller can answer with the correlation
 * id (ApiVersions UNSUPPORTED_VERSION) or close the connection.
 */
export function readRequestHeader(r: Reader): RequestHeader {
  r.need(4);
  const apiKey = r.buf.readInt16BE(r.pos);
  const apiVersion = r.buf.readInt16BE(r.pos + 2);
  const api = apiKey >= 0 ? API_BY_KEY[apiKey] : undefined;
  const known = api !== undefined && apiVersion >= api.minVersion && apiVersion <= api.maxVersion;
  return readRequestHeaderAt(r, known ? requestHeaderVersion(apiKey, apiVersion) : 1);
}

/** Writes a request header at `headerVersion` (see `requestHeaderVersion`). */
export function writeRequestHeader(w: Writer, h: RequestHeader, headerVersion: number): void {
  writeRequestHeaderAt(w, headerVersion, h);
}

/** Writes a response header: the correlation id, plus an empty tagged-field section in v1. */
export function writeResponseHeader(w: Writer, correlationId: number, headerVersion: number): void {
  w.int32(correlationId);
  if (headerVersion >= 1) w.uint8(0);
}

/** Reads a response header at `headerVersion` (see `responseHeaderVersion`). */
export function readResponseHeader(r: Reader, headerVersion: number): ResponseHeader {
  return readResponseHeaderAt(r, headerVersion);
}
