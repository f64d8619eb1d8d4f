import type { SecurityProtocol } from '../../config/broker-config.js';

/** Who a connection acts as, in Kafka's `type:name` form (`User:ANONYMOUS` until SASL/TLS exist). */
export interface KafkaPrincipal {
  readonly type: string;
  readonly name: string;
}

export const ANONYMOUS: KafkaPrincipal = Object.freeze({ type: 'User', name: 'ANONYMOUS' });

export function principalString(p: KafkaPrincipal): string {
  return `${p.type}:${p.name}`;
}

/**
 * What the broker knows about the peer of one connection: the listener it came in on, who it is
 * and which client software it runs. Kept on the connection for its whole life; handlers reach it
 * through their request context. Authentication will replace `principal` and set `authenticated`.
 */
export class Session {
  principal: KafkaPrincipal = ANONYMOUS;
  /** False only while a listener that requires authentication (SASL) has not completed it. */
  authenticated = true;
  /** From the first request header that carried one. */
  clientId: string | null = null;
  /** From ApiVersions v3+ (KIP-511). */
  clientSoftwareName: string | null = null;
  clientSoftwareVersion: string | null = null;

  constructor(
    readonly connectionId: number,
    readonly listenerName: string,
    readonly securityProtocol: SecurityProtocol,
    /** The peer's IP address (without port). */
    readonly clientAddress: string,
    readonly clientPort: number,
  ) {}
}
