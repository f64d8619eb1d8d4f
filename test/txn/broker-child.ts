/**
 * A broker in its own process, for tests that SIGKILL it: `node broker-child.js PORT DATA_DIR
 * [CONFIG_JSON]`. Prints "READY host:port" once it serves; SIGTERM closes it cleanly.
 */
import { startBroker } from '../../src/broker/start.js';

const [port, dataDir, configJson] = process.argv.slice(2);
const b = await startBroker({
  port: Number(port),
  dataDir,
  logLevel: (process.env.BROOK_LOG_LEVEL as 'info' | undefined) ?? 'warn',
  config: configJson ? (JSON.parse(configJson) as Record<string, string>) : {},
});
process.stdout.write(`READY ${b.bootstrap}\n`);
process.on('SIGTERM', () => {
  void b.close().then(() => process.exit(0));
});
