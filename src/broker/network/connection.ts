import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SecurityProtocol } from '../../config/broker-config.js';
import {
  connectionClosedChannel,
  connectionOpenedChannel,
  requestChannel,
  type ConnectionClosed,
  type ConnectionOpened,
  type RequestMetrics,
} from '../observability.js';
import type { ConnectionStages } from './connection-hooks.js';
import { FrameDecoder, FrameTooLargeError } from './frame-decoder.js';
import { Session } from './session.js';

/** What the protocol side answers for one request frame. */
export type RequestOutcome =
  | { kind: 'response'; buffers: Buffer[]; release?: () => void; throttleMs?: number }
  | { kind: 'none'; release?: () => void; throttleMs?: number } // acks=0 produce: Kafka sends nothing back
  | { kind: 'close'; reason: string; release?: () => void; throttleMs?: number };

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

/** The listener a connection came in on, as the connection needs to know it. */
export interface ListenerIdentity {
  name: string;
  securityProtocol: SecurityProtocol;
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
  /** Who is on the other end and which listener they came in on. */
  readonly session: Session;
  /** Bytes read from and written to the socket, for the connection-closed observation. */
  private bytesIn = 0;
  private bytesOut = 0;
  private requests = 0;
  /** When each queued frame was complete (performance.now()), 0 while nobody observes requests. */
  private readonly arrivals: number[] = [];
  private closeReason = 'closed';

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
    listener: ListenerIdentity = { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT' },
    private readonly pipeline: ConnectionStages | null = null,
  ) {
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.session = new Session(
      this.id,
      listener.name,
      listener.securityProtocol,
      socket.remoteAddress ?? '',
      socket.remotePort ?? 0,
    );
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

  /** The client id of the first request header that carried one (kept on the session). */
  get clientId(): string | null {
    return this.session.clientId;
  }

  set clientId(id: string | null) {
    this.session.clientId = id;
  }

  /**
   * Runs the connection-open hooks and observers; false when a hook refused the connection (it is
   * closed then). Called by the server once the connection is tracked.
   */
  opened(): boolean {
    const hooks = this.pipeline?.onConnectionOpen;
    if (hooks) {
      for (const hook of hooks) {
        const verdict = hook(this.session);
        if (verdict !== undefined) {
          this.close(verdict.reason);
          return false;
        }
      }
    }
    if (connectionOpenedChannel.hasSubscribers) {
      const message: ConnectionOpened = { session: this.session };
      connectionOpenedChannel.publish(message);
    }
    return true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    const arrivedAt = requestChannel.hasSubscribers ? performance.now() : 0;
    try {
      this.decoder.push(chunk, (frame) => {
        this.queue.push(frame);
        this.arrivals.push(arrivedAt);
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
        const arrivedAt = this.arrivals.shift()!;
        this.queuedBytes -= frame.length;
        this.requests++;
        if (this.paused && this.queuedBytes + this.decoder.bufferedBytes <= this.limits.maxQueuedRequestBytes / 2) {
          this.paused = false;
          this.socket.resume();
        }
        // Timed only while observed (and since the frame arrived): otherwise no clock is read.
        const startedAt = arrivedAt !== 0 && requestChannel.hasSubscribers ? performance.now() : 0;
        let outcome: RequestOutcome;
        try {
          outcome = await this.processor.process(this, frame);
        } catch (err) {
          if (startedAt !== 0) this.observe(frame, arrivedAt, startedAt, performance.now(), 0, 'error');
          this.log.error(
            { err, connection: this.remoteAddress },
            'request failed unexpectedly; closing the connection',
          );
          this.close('internal error');
          return;
        }
        if (this.closed || outcome.kind !== 'response') outcome.release?.();
        if (startedAt !== 0 && outcome.kind !== 'response') {
          this.observe(frame, arrivedAt, startedAt, performance.now(), 0, outcome.kind);
        }
        if (this.closed) return;
        if (outcome.kind === 'close') {
          this.log.info({ connection: this.remoteAddress, reason: outcome.reason }, 'closing connection');
          this.close(outcome.reason);
          return;
        }
        if (outcome.kind === 'response') {
          this.socket.cork();
          const bufs = outcome.buffers;
          let bytes = bufs[bufs.length - 1]!.length;
          for (let i = 0; i < bufs.length - 1; i++) {
            bytes += bufs[i]!.length;
            this.socket.write(bufs[i]!);
          }
          this.bytesOut += bytes;
          // The write callback of the last piece fires once the socket no longer needs any of them.
          const release = outcome.release;
          if (startedAt !== 0) {
            const readyAt = performance.now();
            this.socket.write(bufs[bufs.length - 1]!, () => {
              release?.();
              this.observe(frame, arrivedAt, startedAt, readyAt, bytes, 'response');
            });
          } else if (release) this.socket.write(bufs[bufs.length - 1]!, () => release());
          else this.socket.write(bufs[bufs.length - 1]!);
          this.socket.uncork();
          if (this.socket.writableLength > this.limits.maxQueuedResponseBytes) await this.waitForDrain();
        }
        // A quota hook throttled the client: read no further request until the time has passed (KIP-219).
        if (outcome.throttleMs !== undefined) await this.mute(outcome.throttleMs);
      }
    } finally {
      this.processing = false;
    }
    if (this.endAfterQueue && !this.closed) this.close('client closed');
  }

  /** Publishes one request's RequestMetrics (called only while observed). */
  private observe(
    frame: Buffer,
    arrivedAt: number,
    startedAt: number,
    readyAt: number,
    responseBytes: number,
    outcome: RequestMetrics['outcome'],
  ): void {
    const now = performance.now();
    const message: RequestMetrics = {
      connectionId: this.id,
      listenerName: this.session.listenerName,
      apiKey: frame.length >= 2 ? frame.readInt16BE(0) : -1,
      apiVersion: frame.length >= 4 ? frame.readInt16BE(2) : -1,
      correlationId: frame.length >= 8 ? frame.readInt32BE(4) : -1,
      requestBytes: frame.length + 4,
      responseBytes,
      queueTimeMs: startedAt - arrivedAt,
      localTimeMs: readyAt - startedAt,
      sendTimeMs: outcome === 'response' ? now - readyAt : 0,
      totalTimeMs: now - arrivedAt,
      outcome,
    };
    requestChannel.publish(message);
  }

  private mute(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this.socket;
      function done() {
        clearTimeout(timer);
        self.off('close', done);
        resolve();
      }
      self.on('close', done);
    });
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
    this.closeReason = reason;
    this.log.debug({ connection: this.remoteAddress, reason }, 'connection closed');
    this.queue.length = 0;
    this.arrivals.length = 0;
    this.socket.destroy();
  }

  private onClosed(): void {
    if (!this.closed) this.closeReason = 'client closed';
    this.closed = true;
    this.queue.length = 0;
    this.arrivals.length = 0;
    const hooks = this.pipeline?.onConnectionClose;
    if (hooks) {
      for (const hook of hooks) {
        try {
          hook(this.session);
        } catch (err) {
          this.log.error({ err }, 'connection close hook failed');
        }
      }
    }
    if (connectionClosedChannel.hasSubscribers) {
      const message: ConnectionClosed = {
        session: this.session,
        reason: this.closeReason,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        requests: this.requests,
      };
      connectionClosedChannel.publish(message);
    }
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
