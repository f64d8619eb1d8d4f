import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ListenerSpec, SecurityProtocol } from '../../config/broker-config.js';
import type { ConnectionStages } from './connection-hooks.js';
import type { ConnectionLimits, RequestProcessor } from './connection.js';
import { SocketServer } from './server.js';

export interface Endpoint {
  host: string;
  port: number;
}

/** Security protocols this broker can serve today; TLS and SASL come with the security work. */
const SERVED: ReadonlySet<SecurityProtocol> = new Set(['PLAINTEXT']);

export class UnsupportedListenerError extends Error {
  override readonly name = 'UnsupportedListenerError';
}

/**
 * One named listener (`listeners=NAME://host:port`): its security protocol, the socket server that
 * accepts on it, and the endpoint advertised to the clients that come in on it.
 */
export class Listener {
  readonly name: string;
  readonly securityProtocol: SecurityProtocol;
  readonly host: string;
  readonly server: SocketServer;
  /** The address actually bound (port 0 resolves at start). */
  bound: Endpoint | null = null;
  /** What Metadata tells the clients of this listener; known once bound. */
  advertised: Endpoint = { host: 'localhost', port: 0 };

  /**
   * Throws UnsupportedListenerError for a security protocol that cannot be honoured: serving an
   * SSL or SASL listener as plain TCP would silently drop the security the operator asked for.
   */
  constructor(
    private readonly spec: ListenerSpec,
    processor: RequestProcessor,
    limits: ConnectionLimits,
    log: Logger,
    pipeline: ConnectionStages | null,
  ) {
    if (!SERVED.has(spec.securityProtocol)) {
      throw new UnsupportedListenerError(
        `listener ${spec.name} uses security protocol ${spec.securityProtocol}, which Brook cannot serve yet ` +
          `(only PLAINTEXT); refusing to start rather than serve it unencrypted and unauthenticated`,
      );
    }
    this.name = spec.name;
    this.securityProtocol = spec.securityProtocol;
    this.host = spec.host;
    this.server = new SocketServer(
      processor,
      limits,
      log.child({ listener: spec.name }),
      { name: spec.name, securityProtocol: spec.securityProtocol },
      pipeline,
    );
  }

  async start(backlog: number): Promise<Endpoint> {
    const bound = await this.server.listen(this.spec.host, this.spec.port, backlog);
    this.bound = bound;
    const adv = this.spec.advertised;
    const h = this.spec.host;
    const wildcard = h === '' || h === '0.0.0.0' || h === '::';
    this.advertised = {
      host: adv?.host || (wildcard ? hostname() : h),
      port: adv && adv.port !== 0 ? adv.port : bound.port,
    };
    return bound;
  }

  close(graceMs?: number): Promise<void> {
    return this.server.close(graceMs);
  }
}
