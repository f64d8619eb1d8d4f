import type { Session } from './session.js';

/** A hook's decision about a new connection (a connection quota, an address filter). */
export type ConnectionVerdict = undefined | { readonly action: 'close'; readonly reason: string };

/**
 * The connection stages of the request pipeline (src/broker/pipeline/hooks.ts), as the network
 * layer sees them: null when no hook uses the stage.
 */
export interface ConnectionStages {
  readonly onConnectionOpen: readonly ((session: Session) => ConnectionVerdict)[] | null;
  readonly onConnectionClose: readonly ((session: Session) => void)[] | null;
}
