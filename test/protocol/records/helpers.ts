/**
 * Reference checksums written bit by bit from their definitions, so tests check the native
 * implementations and the encoders against something independent.
 */
function reflectedCrc(poly: number, data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ poly : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). */
export function referenceCrc32c(data: Uint8Array): number {
  return reflectedCrc(0x82f63b78, data);
}

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320). */
export function referenceCrc32(data: Uint8Array): number {
  return reflectedCrc(0xedb88320, data);
}

/** Deterministic pseudo-random generator (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Bytes from an annotated hex listing: on each line, hex digits up to the first run of two or
 * more spaces; the rest of the line is a comment.
 */
export function hex(s: string): Buffer {
  const digits = s
    .split('\n')
    .map((line) =>
      line
        .trim()
        .split(/\s{2,}/)[0]!
        .replace(/\s/g, ''),
    )
    .join('');
  if (!/^([0-9a-f]{2})*$/i.test(digits)) throw new Error(`not hex: ${digits}`);
  return Buffer.from(digits, 'hex');
}
