/**
 * Signed zigzag varints as used inside record batches, written straight into a Buffer. The record
 * encoder sizes everything first and then writes into one allocation, so these work on
 * (buffer, position) pairs instead of going through the chunked Writer.
 */

/** Bytes needed for a zigzag varint of a 32-bit value. */
export function sizeOfVarint(v: number): number {
  const u = ((v << 1) ^ (v >> 31)) >>> 0;
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x200000) return 3;
  if (u < 0x10000000) return 4;
  return 5;
}

/** Bytes needed for a zigzag varlong of a number (exact while |v| < 2^53). */
export function sizeOfVarlong(v: number): number {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

/** Writes a zigzag varint at `pos` and returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, v: number): number {
  let u = ((v << 1) ^ (v >> 31)) >>> 0;
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

/** Writes a zigzag varlong at `pos` and returns the position after it. */
export function writeVarlong(buf: Buffer, pos: number, v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) return writeVarint(buf, pos, v);
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  while (u >= 0x80) {
    buf[pos++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[pos++] = u;
  return pos;
}
