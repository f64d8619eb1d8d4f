import { startBroker, type BrokerHandle } from '../../../src/broker/start.js';

/** Broker settings that keep group tests fast: no initial rebalance delay, short sessions, few internal partitions. */
export const FAST_BROKER_CONFIG: Record<string, string> = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '500',
  'group.consumer.min.session.timeout.ms': '1000',
  'group.consumer.session.timeout.ms': '6000',
  'group.consumer.min.heartbeat.interval.ms': '100',
  'group.consumer.heartbeat.interval.ms': '250',
  'offsets.topic.num.partitions': '3',
  'transaction.state.log.num.partitions': '3',
  'num.partitions': '1',
};

/** An embedded broker on a free loopback port with a temporary data directory. */
export function startTestBroker(config: Record<string, string> = {}): Promise<BrokerHandle> {
  return startBroker({ config: { ...FAST_BROKER_CONFIG, ...config }, logLevel: 'error' });
}

/** Group timings for test consumers that match FAST_BROKER_CONFIG. */
export const FAST_GROUP = {
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 10_000,
  autoCommitIntervalMs: 500,
};

let counter = 0;
/** A topic or group name unique within the test run. */
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/** Polls `check` until it returns true or the time runs out. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
