import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BrokerConfig } from '../config/broker-config.js';
import { ConfigError } from '../config/config-def.js';
import type { Broker } from '../broker/broker.js';
import { createLogger } from '../logger.js';
import { parseProperties } from '../config/properties.js';

interface StartOptions {
  port?: string;
  host?: string;
  dataDir?: string;
  config?: string;
  set: string[];
  logLevel: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * Turns the flags into broker properties: the config file, then --set, then --port/--host and
 * --data-dir. Everything is validated before the broker touches the disk.
 */
export function brokerConfigFromFlags(o: StartOptions): BrokerConfig {
  const props = new Map<string, string>();
  if (o.config) {
    for (const p of parseProperties(readFileSync(o.config, 'utf8'))) props.set(p.key, p.value);
  }
  for (const kv of o.set) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ConfigError(kv, `--set expects key=value, got "${kv}"`);
    props.set(kv.slice(0, eq).trim(), kv.slice(eq + 1));
  }
  if (o.port !== undefined || o.host !== undefined) {
    const base = new BrokerConfig(
      [...props].filter(([k]) => k === 'listeners' || k === 'listener.security.protocol.map'),
    ).listeners()[0]!;
    const port = o.port !== undefined ? Number(o.port) : base.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigError('--port', `--port: "${o.port}" is not a port number`);
    const host = o.host ?? base.host;
    props.set('listeners', `PLAINTEXT://${host.includes(':') ? `[${host}]` : host}:${port}`);
  }
  if (o.dataDir !== undefined) props.set('log.dirs', o.dataDir);
  return new BrokerConfig(props);
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run a broker in this process (Ctrl-C or SIGTERM stops it gracefully)')
    .option('-p, --port <port>', 'port to listen on (default 9092)')
    .option('--host <host>', 'interface to bind (default 127.0.0.1)')
    .option('-d, --data-dir <dir>', 'data directory (default ./brook-data)')
    .option('-c, --config <file>', 'a Kafka server.properties file')
    .option('-s, --set <key=value>', 'set any broker property by its Kafka name (repeatable)', collect, [])
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(async (o: StartOptions) => {
      const log = createLogger({ level: o.logLevel as 'info' });
      let config: BrokerConfig;
      try {
        config = brokerConfigFromFlags(o);
      } catch (err) {
        if (err instanceof ConfigError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
          process.stderr.write(`brook: ${(err as Error).message}\n`);
          process.exit(2);
        }
        throw err;
      }
      for (const w of config.warnings) log.warn(w);
      const { Broker: BrokerClass } = await import('../broker/broker.js');
      let broker: Broker;
      try {
        broker = await BrokerClass.start(config, log);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const hint = e.code === 'EADDRINUSE' ? ' (is another broker already running? try --port)' : '';
        log.fatal({ err }, `could not start: ${e.message}${hint}`);
        process.exit(1);
      }
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping');
        broker.close().then(
          () => process.exit(0),
          (err) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
