import { crc32 as nativeCrc32, crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC-32C (Castagnoli), the checksum of magic-2 record batches. Native, SSE4.2 where available. */
export function crc32c(data: Uint8Array, initial?: number): number {
  return nativeCrc32c(data, initial) >>> 0;
}

/** CRC-32 (IEEE), the checksum of legacy magic 0/1 messages. */
export function crc32(data: Uint8Array, initial?: number): number {
  return nativeCrc32(data, initial) >>> 0;
}
