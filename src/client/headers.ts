import type { RecordHeader } from '../protocol/records/record-cursor.js';

export type { RecordHeader };

/** A header value as the application gives it: text (sent as UTF-8), bytes, or null. */
export type HeaderValue = string | Buffer | Uint8Array | null;

/**
 * Record headers: an object (one value per key, or a list for repeated keys) or a list of pairs,
 * which keeps order and duplicates exactly.
 */
export type HeadersInit =
  | Record<string, HeaderValue | HeaderValue[]>
  | ReadonlyArray<readonly [string, HeaderValue]>
  | ReadonlyArray<RecordHeader>;

function headerBytes(v: HeaderValue): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Normalises headers to the wire form: a list of (UTF-8 key, bytes or null). */
export function toRecordHeaders(h: HeadersInit | undefined): RecordHeader[] | undefined {
  if (h === undefined) return undefined;
  const out: RecordHeader[] = [];
  if (Array.isArray(h)) {
    for (const e of h as ReadonlyArray<readonly [string, HeaderValue] | RecordHeader>) {
      if (Array.isArray(e)) out.push({ key: e[0] as string, value: headerBytes(e[1] as HeaderValue) });
      else {
        const rh = e as RecordHeader;
        out.push({ key: rh.key, value: headerBytes(rh.value) });
      }
    }
    return out;
  }
  for (const [key, v] of Object.entries(h as Record<string, HeaderValue | HeaderValue[]>)) {
    if (Array.isArray(v)) for (const x of v) out.push({ key, value: headerBytes(x) });
    else out.push({ key, value: headerBytes(v) });
  }
  return out;
}

/** Encoded size of headers inside a record, for batch size estimates. */
export function headersSize(h: RecordHeader[] | undefined): number {
  if (h === undefined) return 0;
  let n = 0;
  for (const x of h) n += Buffer.byteLength(x.key, 'utf8') + (x.value === null ? 0 : x.value.length) + 4;
  return n;
}
