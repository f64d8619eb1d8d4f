/**
 * An embedded broker in its own process, for tests that SIGKILL it or measure its memory:
 *
 *   node broker-child.js <data-dir> '<broker config as JSON>'
 *
 * Talks to the parent over the IPC channel: sends { type: 'ready', port } once listening, answers
 * { type: 'memory' } with process.memoryUsage(), and closes gracefully on SIGTERM.
 */
import { startBroker } from '../../src/broker/start.js';

const send = process.send?.bind(process);
if (!send) {
  process.stderr.write('broker-child is started by the broker tests with an IPC channel\n');
  process.exit(2);
}

const [dataDir, configJson] = process.argv.slice(2);
const b = await startBroker({
  dataDir,
  config: JSON.parse(configJson ?? '{}') as Record<string, string>,
  logLevel: 'warn',
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'memory') {
    (globalThis as { gc?: () => void }).gc?.();
    send({ type: 'memory', usage: process.memoryUsage() });
  }
});
process.on('SIGTERM', () => {
  b.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`close failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
send({ type: 'ready', port: b.port, host: b.host });
