import { DecodeError } from './decode-error.js';

const TWO_32 = 4294967296;
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i + 0x100).toString(16).slice(1));

/**
 * Bounds-checked cursor over one frame. Every read checks the remaining length first, and every
 * length or count read from the wire is checked against what is left before anything is sized by
 * it, so a lying frame costs at most its own size in memory.
 *
 * int64 values are returned as JavaScript numbers: offsets, timestamps and producer ids stay far
 * below 2^53 in practice, and numbers keep the hot paths free of BigInt. `int64Big` is there for
 * the rare caller that needs all 64 bits.
 */
export class Reader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (n > this.end - this.pos) {
      throw new DecodeError(`need ${n} bytes at position ${this.pos}, only ${this.end - this.pos} left`);
    }
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  uint8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  int64Big(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** 16 raw bytes as a lowercase 8-4-4-4-12 string; the all-zero uuid means "none". */
  uuid(): string {
    this.need(16);
    const b = this.buf;
    const p = this.pos;
    this.pos += 16;
    return (
      HEX[b[p]!]! +
      HEX[b[p + 1]!]! +
      HEX[b[p + 2]!]! +
      HEX[b[p + 3]!]! +
      '-' +
      HEX[b[p + 4]!]! +
      HEX[b[p + 5]!]! +
      '-' +
      HEX[b[p + 6]!]! +
      HEX[b[p + 7]!]! +
      '-' +
      HEX[b[p + 8]!]! +
      HEX[b[p + 9]!]! +
      '-' +
      HEX[b[p + 10]!]! +
      HEX[b[p + 11]!]! +
      HEX[b[p + 12]!]! +
      HEX[b[p + 13]!]! +
      HEX[b[p + 14]!]! +
      HEX[b[p + 15]!]!
    );
  }

  /** Unsigned LEB128, at most 5 bytes (32 bits), as used by flexible versions. */
  uvarint(): number {
    const b = this.buf;
    let value = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new DecodeError(`truncated varint at position ${this.pos}`);
      const byte = b[this.pos++]!;
      if (shift < 28) value |= (byte & 0x7f) << shift;
      else value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value >>> 0 === value ? value : value >>> 0;
      shift += 7;
    }
    throw new DecodeError(`varint longer than 5 bytes at position ${this.pos}`);
  }

  /** Signed zigzag varint (32 bits), as used inside record batches. */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Signed zigzag varlong (64 bits) as a number; exact while |value| < 2^53. */
  varlong(): number {
    const b = this.buf;
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new DecodeError(`truncated varlong at position ${this.pos}`);
      const byte = b[this.pos++]!;
      value += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) {
        // zigzag: even -> value / 2, odd -> -(value + 1) / 2
        return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      }
      mul *= 128;
    }
    throw new DecodeError(`varlong longer than 10 bytes at position ${this.pos}`);
  }

  private utf8(len: number): string {
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return this.buf.toString('utf8', start, start + len);
  }

  string(): string {
    const len = this.int16();
    if (len < 0) throw new DecodeError(`non-nullable string has length ${len}`);
    return this.utf8(len);
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) throw new DecodeError(`string has length ${len}`);
    return this.utf8(len);
  }

  compactString(): string {
    const len = this.uvarint() - 1;
    if (len < 0) throw new DecodeError('non-nullable compact string is null');
    return this.utf8(len);
  }

  compactNullableString(): string | null {
    const len = this.uvarint() - 1;
    if (len < 0) return null;
    return this.utf8(len);
  }

  /** `len` bytes as a view into the frame (no copy). */
  raw(len: number): Buffer {
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return this.buf.subarray(start, start + len);
  }

  bytes(): Buffer {
    const len = this.int32();
    if (len < 0) throw new DecodeError(`non-nullable bytes have length ${len}`);
    return this.raw(len);
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0) throw new DecodeError(`bytes have length ${len}`);
    return this.raw(len);
  }

  compactBytes(): Buffer {
    const len = this.uvarint() - 1;
    if (len < 0) throw new DecodeError('non-nullable compact bytes are null');
    return this.raw(len);
  }

  compactNullableBytes(): Buffer | null {
    const len = this.uvarint() - 1;
    if (len < 0) return null;
    return this.raw(len);
  }

  /**
   * Element count of a classic array; -1 means null. A count larger than the bytes left cannot be
   * honest (Kafka applies the same rule), so it is refused before any array is sized by it.
   */
  arrayLength(): number {
    const n = this.int32();
    if (n < -1) throw new DecodeError(`array has length ${n}`);
    if (n > this.end - this.pos) throw new DecodeError(`array claims ${n} elements, ${this.end - this.pos} bytes left`);
    return n;
  }

  /** Element count of a compact array; -1 means null. */
  compactArrayLength(): number {
    const n = this.uvarint() - 1;
    if (n > this.end - this.pos) throw new DecodeError(`array claims ${n} elements, ${this.end - this.pos} bytes left`);
    return n;
  }

  /** Skips a tagged-field section, ignoring every tag. */
  skipTaggedFields(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      const size = this.uvarint();
      this.need(size);
      this.pos += size;
    }
  }
}
