/**
 * Child processes for the interop tests, so a test can SIGKILL them:
 *   broker <dataDir> [port]                  a broker; prints "READY host:port"
 *   member <bootstrap> <topic> <group> <id>  a kafkajs member committing each message; prints
 *                                            "A p,p,..." on assignment, "R p o" when it reads o,
 *                                            "C p o" once o is committed
 * Without arguments (e.g. when a test runner loads it) it does nothing.
 */
import kafkajs from 'kafkajs';
import { startBroker } from '../../src/broker/start.js';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'broker') {
  const [dataDir, port] = args;
  const h = await startBroker({
    dataDir,
    port: port ? Number(port) : 0,
    config: { 'group.initial.rebalance.delay.ms': '0' },
  });
  process.stdout.write(`READY ${h.bootstrap}\n`);
  process.on('SIGTERM', () => {
    void h.close().then(() => process.exit(0));
  });
} else if (mode === 'member') {
  const [bootstrap, topic, groupId, clientId] = args as [string, string, string, string];
  const kafka = new kafkajs.Kafka({ clientId, brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10_000 });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const parts = e.payload.memberAssignment[topic] ?? [];
    process.stdout.write(`A ${[...parts].sort((a, b) => a - b).join(',')}\n`);
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      // "R" before the commit: a SIGKILL between the commit and the "C" line cannot hide a read record.
      process.stdout.write(`R ${partition} ${message.offset}\n`);
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      process.stdout.write(`C ${partition} ${message.offset}\n`);
    },
  });
}
