import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LevelWithSilent, Logger } from 'pino';
import { BrokerConfig } from '../config/broker-config.js';
import { createLogger } from '../logger.js';
import type { MetadataStore } from '../cluster/metadata-store.js';
import { Broker } from './broker.js';

export interface StartBrokerOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Data directory; default: a fresh temporary directory, removed by close(). */
  dataDir?: string;
  /**
   * Any broker property by its Kafka name, e.g. { 'num.partitions': '3' }. With `listeners` set
   * here, `host` and `port` are ignored and `bootstrap` is the first listener's address.
   */
  config?: Record<string, string>;
  /** Log level (default 'warn' so an embedded broker stays quiet in test output). */
  logLevel?: LevelWithSilent;
  /** A logger of your own instead of the built-in one. */
  logger?: Logger;
  /** node.id of this broker (default 1, or the `node.id` in `config`). */
  nodeId?: number;
  /**
   * Cluster metadata shared with other brokers, e.g. one InMemoryMetadataStore given to several
   * startBroker calls (each with its own nodeId and data dir) makes them one cluster. Default: a
   * file store in the data dir. The caller closes a store it passes in.
   */
  metadataStore?: MetadataStore;
}

export interface BrokerHandle {
  /** `host:port` to give Kafka clients as their bootstrap server. */
  bootstrap: string;
  host: string;
  port: number;
  dataDir: string;
  broker: Broker;
  /** Graceful shutdown; also removes the data directory if startBroker created it. */
  close(): Promise<void>;
}

/**
 * Starts a real Kafka-protocol broker inside this process, for tests and tools:
 *
 *   const { bootstrap, close } = await startBroker();
 *   // point kafkajs, @platformatic/kafka, ... at `bootstrap`
 *   await close();
 */
export async function startBroker(opts: StartBrokerOptions = {}): Promise<BrokerHandle> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'brook-')));
  const host = opts.host ?? '127.0.0.1';
  const props: [string, string][] = Object.entries(opts.config ?? {});
  // `config.listeners` (several named listeners) wins over host/port.
  if (opts.config?.listeners === undefined)
    props.push(['listeners', `PLAINTEXT://${host.includes(':') ? `[${host}]` : host}:${opts.port ?? 0}`]);
  props.push(['log.dirs', dataDir]);
  if (opts.nodeId !== undefined) props.push(['node.id', String(opts.nodeId)]);
  const config = new BrokerConfig(props);
  const log =
    opts.logger ?? createLogger({ level: opts.logLevel ?? 'warn', pretty: false, destination: process.stderr });
  for (const w of config.warnings) log.warn(w);
  let broker: Broker;
  try {
    broker = await Broker.start(config, log, { metadataStore: opts.metadataStore });
  } catch (err) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    bootstrap: `${broker.advertised.host}:${broker.advertised.port}`,
    host: broker.advertised.host,
    port: broker.advertised.port,
    dataDir,
    broker,
    async close() {
      await broker.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
