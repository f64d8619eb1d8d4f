/**
 * Splits a TCP byte stream into Kafka frames (int32 size + payload). Chunks are kept by reference
 * until a frame is complete, so a large request is copied once, not once per chunk. The size is
 * checked before any of the payload is buffered: an oversized or negative size is a protocol
 * violation for which the connection must be closed.
 */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // payload size of the frame being assembled; -1 while the size is unknown

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Feeds a chunk; calls `onFrame` for every complete frame payload (without the size prefix). */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return;
        const size = this.peekInt32();
        if (size < 0 || size > this.maxFrameBytes) {
          throw new FrameTooLargeError(`frame size ${size} outside 0..${this.maxFrameBytes}`);
        }
        this.consume(4);
        this.need = size;
      }
      if (this.buffered < this.need) return;
      const frame = this.take(this.need);
      this.need = -1;
      onFrame(frame);
    }
  }

  private peekInt32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.chunks, 4).readInt32BE(0);
  }

  private consume(n: number): void {
    this.take(n);
  }

  /** Removes and returns the next `n` buffered bytes (a view when they sit in one chunk). */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first!.length > n) {
      this.chunks[0] = first!.subarray(n);
      return first!.subarray(0, n);
    }
    if (first!.length === n) {
      this.chunks.shift();
      return first!;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    return out;
  }
}
