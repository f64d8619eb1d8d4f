/** Brook's public API: the embeddable broker (and, from src/client, the TypeScript client). */
export { startBroker, type StartBrokerOptions, type BrokerHandle } from './broker/start.js';
