/**
 * XXH32, written from the xxHash specification. The LZ4 frame format uses it for the
 * frame-descriptor checksum (one byte of it), and optionally for block and content checksums.
 * Only the rare paths use it (descriptors are a few bytes), so plain JavaScript is enough.
 */
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);
}

function lane(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

export function xxhash32(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  const len = end - start;
  let p = start;
  let acc: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = end - 16;
    while (p <= limit) {
      v1 = round(v1, lane(data, p));
      v2 = round(v2, lane(data, p + 4));
      v3 = round(v3, lane(data, p + 8));
      v4 = round(v4, lane(data, p + 12));
      p += 16;
    }
    acc = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    acc = (seed + P5) | 0;
  }
  acc = (acc + len) | 0;
  while (p + 4 <= end) {
    acc = Math.imul(rotl((acc + Math.imul(lane(data, p), P3)) | 0, 17), P4);
    p += 4;
  }
  while (p < end) {
    acc = Math.imul(rotl((acc + Math.imul(data[p]!, P5)) | 0, 11), P1);
    p++;
  }
  acc ^= acc >>> 15;
  acc = Math.imul(acc, P2);
  acc ^= acc >>> 13;
  acc = Math.imul(acc, P3);
  acc ^= acc >>> 16;
  return acc >>> 0;
}
