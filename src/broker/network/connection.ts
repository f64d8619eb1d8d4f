import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameDecoder, FrameTooLargeError } from './frame-decoder.js';

/** What the protocol side answers for one request frame. */
export type RequestOutcome =
  | { kind: 'response'; buffers: Buffer[]; release?: () => void }
  | { kind: 'none'; release?: () => void } // acks=0 produce: Kafka sends nothing back
  | { kind: 'close'; reason: string; release?: () => void };

export interface RequestProcessor {
  process(conn: Connection, frame: Buffer): RequestOutcome | Promise<RequestOutcome>;
}

export interface ConnectionLimits {
  maxFrameBytes: number;
  /** Complete frames waiting to be processed, in bytes, before the socket stops being read. */
  maxQueuedRequestBytes: number;
  /** Unsent response bytes before processing waits for the socket to drain. */
  maxQueuedResponseBytes: number;
  idleTimeoutMs: number;
}

let nextConnectionId = 1;

/**
 * One client connection. Requests are processed one at a time in arrival order, as Kafka does (it
 * mutes a channel while a request is in flight), so responses leave in request order and a
 * client's pipelined produce requests reach each partition in order. Memory stays bounded: reading
 * pauses while too many request bytes wait, and processing pauses while too many response bytes do.
 */
export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  /** Protocol-level state owned by the request layer (e.g. client software name, fetch sessions). */
  clientId: string | null = null;
  clientSoftwareName: string | null = null;
  clientSoftwareVersion: string | null = null;

  private readonly decoder: FrameDecoder;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private processing = false;
  private paused = false;
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    readonly socket: Socket,
    private readonly processor: RequestProcessor,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
  ) {
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.decoder = new FrameDecoder(limits.maxFrameBytes);
    socket.setNoDelay(true);
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs, () => this.close('idle timeout'));
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      // A half-closed client may still wait for answers to what it sent; finish them, then close.
      if (!this.processing && this.queue.length === 0) this.close('client closed');
      else this.endAfterQueue = true;
    });
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.onClosed());
  }

  private endAfterQueue = false;

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.decoder.push(chunk, (frame) => {
        this.queue.push(frame);
        this.queuedBytes += frame.length;
      });
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        this.close(err.message);
        return;
      }
      throw err;
    }
    if (this.queuedBytes + this.decoder.bufferedBytes > this.limits.maxQueuedRequestBytes && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    if (!this.processing) void this.drainQueue();
  }

  private async drainQueue(): Promise<void> {
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!;
        this.queuedBytes -= frame.length;
        if (this.paused && this.queuedBytes + this.decoder.bufferedBytes <= this.limits.maxQueuedRequestBytes / 2) {
          this.paused = false;
          this.socket.resume();
        }
        let outcome: RequestOutcome;
        try {
          outcome = await this.processor.process(this, frame);
        } catch (err) {
          this.log.error(
            { err, connection: this.remoteAddress },
            'request failed unexpectedly; closing the connection',
          );
          this.close('internal error');
          return;
        }
        if (this.closed || outcome.kind !== 'response') outcome.release?.();
        if (this.closed) return;
        if (outcome.kind === 'close') {
          this.log.info({ connection: this.remoteAddress, reason: outcome.reason }, 'closing connection');
          this.close(outcome.reason);
          return;
        }
        if (outcome.kind === 'response') {
          this.socket.cork();
          const bufs = outcome.buffers;
          for (let i = 0; i < bufs.length - 1; i++) this.socket.write(bufs[i]!);
          // The write callback of the last piece fires once the socket no longer needs any of them.
          const release = outcome.release;
          if (release) this.socket.write(bufs[bufs.length - 1]!, () => release());
          else this.socket.write(bufs[bufs.length - 1]!);
          this.socket.uncork();
          if (this.socket.writableLength > this.limits.maxQueuedResponseBytes) await this.waitForDrain();
        }
      }
    } finally {
      this.processing = false;
    }
    if (this.endAfterQueue && !this.closed) this.close('client closed');
  }

  private waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.log.debug({ connection: this.remoteAddress, reason }, 'connection closed');
    this.queue.length = 0;
    this.socket.destroy();
  }

  private onClosed(): void {
    this.closed = true;
    this.queue.length = 0;
    for (const l of this.closeListeners.splice(0)) {
      try {
        l();
      } catch (err) {
        this.log.error({ err }, 'connection close listener failed');
      }
    }
  }

  /** Resolves once the request in progress (if any) is answered; used by graceful shutdown. */
  async idle(): Promise<void> {
    while (this.processing && !this.closed) await new Promise((r) => setTimeout(r, 5));
  }
}
