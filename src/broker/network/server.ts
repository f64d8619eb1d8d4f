import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionStages } from './connection-hooks.js';
import { Connection, type ConnectionLimits, type ListenerIdentity, type RequestProcessor } from './connection.js';

/** Accepts client connections on one listener and owns their lifetime. */
export class SocketServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();

  constructor(
    private readonly processor: RequestProcessor,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly listener: ListenerIdentity = { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT' },
    private readonly pipeline: ConnectionStages | null = null,
  ) {
    // allowHalfOpen: a client that half-closes after pipelining requests still gets its answers.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
  }

  private accept(socket: Socket): void {
    const conn = new Connection(socket, this.processor, this.limits, this.log, this.listener, this.pipeline);
    this.connections.add(conn);
    conn.onClose(() => this.connections.delete(conn));
    conn.opened();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(host: string, port: number, backlog = 50): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: host === '' ? undefined : host, port, backlog }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr && typeof addr === 'object') resolve({ host: addr.address, port: addr.port });
        else reject(new Error('listener has no address'));
      });
    });
  }

  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then closes every connection. */
  async close(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.all([...this.connections].map((c) => c.idle())), deadline]);
    for (const c of this.connections) c.close('broker shutting down');
    await closed;
  }
}
