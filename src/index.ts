/** Brook's public API: the embeddable broker and the TypeScript client. */
export { startBroker, type StartBrokerOptions, type BrokerHandle } from './broker/start.js';
export * from './client/index.js';
