const TWO_32 = 4294967296;
/** Buffers at least this large are kept by reference instead of copied (records, fetch data). */
const BY_REFERENCE = 1024;

/**
 * Growable writer. Small fields are written into a scratch buffer; large byte blobs (record batches)
 * are appended by reference, so a fetch response built from file bytes is never copied before it
 * reaches the socket. `toBuffers()` hands the pieces to `socket.cork()/write()` or `writev`.
 */
export class Writer {
  private chunks: Buffer[] = [];
  private chunksLength = 0;
  private buf: Buffer;
  private pos = 0;
  private start = 0;

  constructor(initialSize = 512) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.chunksLength + this.pos - this.start;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.seal();
    this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2, 512));
    this.pos = 0;
    this.start = 0;
  }

  /** Moves what the scratch buffer holds into the chunk list; the rest of it stays usable. */
  private seal(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.chunksLength += this.pos - this.start;
      this.start = this.pos;
    }
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  uint8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  uint16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: number): this {
    this.ensure(8);
    const hi = Math.floor(v / TWO_32);
    this.buf.writeInt32BE(hi | 0, this.pos);
    this.buf.writeUInt32BE((v - hi * TWO_32) >>> 0, this.pos + 4);
    this.pos += 8;
    return this;
  }

  int64Big(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  /** Writes a uuid given as 32 hex digits, with or without dashes. */
  uuid(v: string): this {
    this.ensure(16);
    const hex = v.length === 32 ? v : v.replace(/-/g, '');
    if (hex.length !== 32) throw new TypeError(`not a uuid: ${v}`);
    this.buf.write(hex, this.pos, 16, 'hex');
    this.pos += 16;
    return this;
  }

  uvarint(v: number): this {
    this.ensure(5);
    let u = v >>> 0;
    while (u >= 0x80) {
      this.buf[this.pos++] = (u & 0x7f) | 0x80;
      u >>>= 7;
    }
    this.buf[this.pos++] = u;
    return this;
  }

  varint(v: number): this {
    return this.uvarint((v << 1) ^ (v >> 31));
  }

  /** Signed zigzag varlong from a number (exact while |v| < 2^53). */
  varlong(v: number): this {
    this.ensure(10);
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    while (u >= 0x80) {
      this.buf[this.pos++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    this.buf[this.pos++] = u;
    return this;
  }

  private utf8(v: string, len: number): void {
    this.ensure(len);
    this.pos += this.buf.write(v, this.pos, len, 'utf8');
  }

  string(v: string): this {
    const len = Buffer.byteLength(v, 'utf8');
    this.int16(len);
    this.utf8(v, len);
    return this;
  }

  nullableString(v: string | null): this {
    if (v === null) return this.int16(-1);
    return this.string(v);
  }

  compactString(v: string): this {
    const len = Buffer.byteLength(v, 'utf8');
    this.uvarint(len + 1);
    this.utf8(v, len);
    return this;
  }

  compactNullableString(v: string | null): this {
    if (v === null) return this.uvarint(0);
    return this.compactString(v);
  }

  /** Appends bytes as they are: copied when small, kept by reference when large. */
  raw(b: Uint8Array): this {
    if (b.length >= BY_REFERENCE) {
      this.seal();
      this.chunks.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
      this.chunksLength += b.length;
      return this;
    }
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.int32(v.length);
    return this.raw(v);
  }

  nullableBytes(v: Uint8Array | null): this {
    if (v === null) return this.int32(-1);
    return this.bytes(v);
  }

  compactBytes(v: Uint8Array): this {
    this.uvarint(v.length + 1);
    return this.raw(v);
  }

  compactNullableBytes(v: Uint8Array | null): this {
    if (v === null) return this.uvarint(0);
    return this.compactBytes(v);
  }

  arrayLength(n: number): this {
    return this.int32(n);
  }

  compactArrayLength(n: number): this {
    return this.uvarint(n + 1);
  }

  /** An empty tagged-field section. */
  emptyTaggedFields(): this {
    return this.uint8(0);
  }

  /**
   * Overwrites an int32 at absolute position `at` (e.g. a size prefix written as a placeholder).
   * The position must lie in the part written before any by-reference chunk.
   */
  patchInt32(at: number, v: number): void {
    let base = 0;
    for (const c of this.chunks) {
      if (at + 4 <= base + c.length) {
        c.writeInt32BE(v, at - base);
        return;
      }
      base += c.length;
    }
    this.buf.writeInt32BE(v, this.start + at - base);
  }

  /** The written bytes as a list of buffers, in order, without copying large pieces. */
  toBuffers(): Buffer[] {
    this.seal();
    return this.chunks;
  }

  /** The written bytes as one buffer (copies when there is more than one piece). */
  toBuffer(): Buffer {
    const bufs = this.toBuffers();
    if (bufs.length === 1) return bufs[0]!;
    return Buffer.concat(bufs, this.chunksLength);
  }
}
