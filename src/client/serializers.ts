/** Turns an application value into record bytes (null stays null: a tombstone or a null key). */
export type Serializer<T> = (value: T, topic: string) => Buffer | null;

/** Turns record bytes back into an application value. */
export type Deserializer<T> = (data: Buffer | null, topic: string) => T;

/** What the bytes serializer accepts: raw bytes, or text written as UTF-8. */
export type Bytes = Buffer | Uint8Array | string;

function toBuffer(v: Bytes): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Buffers pass through; strings become UTF-8. The producer's default. */
export const bytesSerializer: Serializer<Bytes | null | undefined> = (v) =>
  v === null || v === undefined ? null : toBuffer(v);

export const stringSerializer: Serializer<string | null | undefined> = (v) =>
  v === null || v === undefined ? null : Buffer.from(v, 'utf8');

/** JSON.stringify as UTF-8; null and undefined become a null value (a tombstone). */
export const jsonSerializer: Serializer<unknown> = (v) =>
  v === null || v === undefined ? null : Buffer.from(JSON.stringify(v), 'utf8');

/** The record's bytes as they are (views into the fetched data; copy them to keep them long). */
export const bytesDeserializer: Deserializer<Buffer | null> = (b) => b;

export const stringDeserializer: Deserializer<string | null> = (b) => (b === null ? null : b.toString('utf8'));

/** JSON.parse of the UTF-8 text; a null value stays null. */
export const jsonDeserializer: Deserializer<unknown> = (b) =>
  b === null ? null : (JSON.parse(b.toString('utf8')) as unknown);

/** Serializers and deserializers by name, for configuration from strings (the CLI). */
export const serdes = {
  bytes: { serializer: bytesSerializer, deserializer: bytesDeserializer },
  string: { serializer: stringSerializer, deserializer: stringDeserializer },
  json: { serializer: jsonSerializer, deserializer: jsonDeserializer },
} as const;
