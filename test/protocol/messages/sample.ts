// Schema-driven sample messages for the codec tests: deterministic pseudo-random values that are
// valid for one version (nulls only where nullable, absent fields at their defaults, tagged fields
// set, unknown tagged fields on flexible versions).

import {
  MESSAGE_SCHEMAS,
  type FieldSchema,
  type MessageSchema,
  type StructSchema,
  type VersionRange,
} from '../../../src/protocol/messages/schemas.js';
import * as messages from '../../../src/protocol/messages/index.js';
import { readRequestHeader, writeRequestHeader } from '../../../src/protocol/messages/request-header.js';
import { readResponseHeader, writeResponseHeader } from '../../../src/protocol/messages/response-header.js';
import type { Reader } from '../../../src/protocol/reader.js';
import type { Writer } from '../../../src/protocol/writer.js';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

export const inRange = (v: number, r: VersionRange | null): boolean => r !== null && v >= r[0] && v <= r[1];

export function isFlexible(schema: MessageSchema, version: number): boolean {
  return inRange(version, schema.flexibleVersions);
}

/** The default of a field, worked out from the schema (independently of the generated code). */
export function defaultFor(f: FieldSchema): unknown {
  if (f.defaultNull) return null;
  if (f.array) return [];
  if (f.type === 'struct') return defaultStruct(f.struct!);
  if (f.type === 'bytes' || f.type === 'records') return Buffer.alloc(0);
  return f.defaultValue;
}

export function defaultStruct(s: StructSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of s.fields) out[f.name] = defaultFor(f);
  return out;
}

const CHARS = ['a', 'b', 'z', 'K', '0', '-', '_', '.', ' ', 'é', 'ß', '日', '本', '🙂'];
const INT_EDGES = {
  int8: [-128, -1, 0, 1, 127],
  int16: [-32768, -1, 0, 1, 32767],
  uint16: [0, 1, 65535],
  int32: [-2147483648, -1, 0, 1, 2147483647],
  uint32: [0, 1, 4294967295],
  int64: [-Number.MAX_SAFE_INTEGER, -4294967296, -1, 0, 1, 4294967295, 4294967296, Number.MAX_SAFE_INTEGER],
} as const;
const INT_RANGES = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
} as const;

function sampleString(rng: Rng): string {
  const n = rng.chance(0.05) ? rng.int(120, 300) : rng.int(0, 8);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(CHARS);
  return s;
}

function sampleUuid(rng: Rng): string {
  const h = rng.bytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function sampleScalar(rng: Rng, f: FieldSchema, version: number, flexible: boolean): unknown {
  switch (f.type) {
    case 'bool':
      return rng.chance(0.5);
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32': {
      if (rng.chance(0.3)) return rng.pick(INT_EDGES[f.type]);
      const [lo, hi] = INT_RANGES[f.type];
      return rng.int(lo, hi);
    }
    case 'int64': {
      if (rng.chance(0.3)) return rng.pick(INT_EDGES.int64);
      const v = rng.int(0, 2 ** 21 - 1) * 4294967296 + rng.int(0, 4294967295);
      return rng.chance(0.5) ? -v : v;
    }
    case 'float64':
      if (rng.chance(0.2)) return rng.pick([0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MIN_VALUE]);
      return (rng.next() - 0.5) * 10 ** rng.int(-10, 10);
    case 'string':
      return sampleString(rng);
    case 'uuid':
      return rng.chance(0.2) ? '00000000-0000-0000-0000-000000000000' : sampleUuid(rng);
    case 'bytes':
    case 'records': {
      // Now and then a blob large enough for the writer to keep it by reference.
      const n = rng.chance(0.1) ? rng.int(1024, 3000) : rng.int(0, 12);
      return rng.bytes(n);
    }
    case 'struct':
      return sampleStruct(rng, f.struct!, version, flexible);
  }
}

function sampleField(rng: Rng, f: FieldSchema, version: number, flexible: boolean): unknown {
  if (inRange(version, f.nullableVersions) && rng.chance(0.2)) return null;
  if (f.array) {
    const n = rng.int(0, 3);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(sampleScalar(rng, f, version, flexible));
    return out;
  }
  return sampleScalar(rng, f, version, flexible);
}

/** A struct valid at `version`; `flexible` says whether the message version carries tagged fields. */
export function sampleStruct(rng: Rng, s: StructSchema, version: number, flexible: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const knownTags = new Set<number>();
  for (const f of s.fields) {
    if (!inRange(version, f.versions)) {
      out[f.name] = defaultFor(f);
      continue;
    }
    if (f.tag >= 0) {
      knownTags.add(f.tag);
      // Mostly set, sometimes left at the default (then it is not written at all).
      out[f.name] = rng.chance(0.2) ? defaultFor(f) : sampleField(rng, f, version, flexible);
      continue;
    }
    out[f.name] = sampleField(rng, f, version, flexible);
  }
  if (flexible && rng.chance(0.35)) {
    const tags = new Set<number>();
    const count = rng.int(1, 3);
    for (let i = 0; i < count; i++) {
      const tag = rng.chance(0.8) ? rng.int(0, 12) : rng.int(128, 20000);
      if (!knownTags.has(tag)) tags.add(tag);
    }
    if (tags.size > 0) {
      out.unknownTaggedFields = [...tags].sort((a, b) => a - b).map((tag) => ({ tag, data: rng.bytes(rng.int(0, 6)) }));
    }
  }
  return out;
}

export function sampleMessage(rng: Rng, schema: MessageSchema, version: number): Record<string, unknown> {
  return sampleStruct(rng, schema.struct, version, isFlexible(schema, version));
}

export type ReadFn = (r: Reader, version: number) => unknown;
export type WriteFn = (w: Writer, version: number, m: unknown) => void;

const table = messages as unknown as Record<string, unknown>;
const headerCodecs: Record<string, { read: ReadFn; write: WriteFn }> = {
  RequestHeader: { read: readRequestHeader, write: writeRequestHeader as WriteFn },
  ResponseHeader: { read: readResponseHeader, write: writeResponseHeader as WriteFn },
};

/** The generated reader and writer of a message, looked up by the names the generator promises. */
export function codecOf(schema: MessageSchema): { read: ReadFn; write: WriteFn } {
  const header = headerCodecs[schema.name];
  if (header !== undefined) return header;
  const read = table[`read${schema.name}`];
  const write = table[`write${schema.name}`];
  if (typeof read !== 'function' || typeof write !== 'function')
    throw new Error(`no codec exported for ${schema.name}`);
  return { read: read as ReadFn, write: write as WriteFn };
}

export function versionsOf(schema: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = schema.validVersions[0]; v <= schema.validVersions[1]; v++) out.push(v);
  return out;
}

export { MESSAGE_SCHEMAS };
