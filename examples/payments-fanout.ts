// Fan-out: one "payments" topic, three consumer groups. Each group receives every payment and
// keeps its own offsets, so fulfilment, fraud detection and analytics work independently: one
// being slow or restarted does not affect the others.
//
//   node dist/examples/payments-fanout.js

import { Admin, Consumer, Producer, jsonDeserializer, jsonSerializer, stringSerializer } from '../src/client/index.js';
import { bootstrapFromEnv, isMain, runMain } from './run.js';

export interface Payment {
  paymentId: string;
  orderId: string;
  customerId: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'failed';
  country: string;
}

export function samplePayments(count: number): Payment[] {
  return Array.from({ length: count }, (_, i) => ({
    paymentId: `pay-${i + 1}`,
    orderId: `order-${1000 + i}`,
    customerId: `customer-${(i % 7) + 1}`,
    amount: i % 10 === 9 ? 4_800 + i : 20 + ((i * 37) % 180),
    currency: 'EUR',
    status: i % 6 === 5 ? 'failed' : 'succeeded',
    country: i % 13 === 12 ? 'XX' : 'ES',
  }));
}

/** What each service does with a payment. */
export const services = {
  /** Ships orders whose payment went through. */
  fulfilment(p: Payment, state: { shipped: string[] }) {
    if (p.status === 'succeeded') state.shipped.push(p.orderId);
  },
  /** Flags large payments and payments from unexpected countries. */
  fraudDetection(p: Payment, state: { flagged: { paymentId: string; reason: string }[] }) {
    if (p.amount > 1_000) state.flagged.push({ paymentId: p.paymentId, reason: 'amount over 1000' });
    else if (p.country !== 'ES')
      state.flagged.push({ paymentId: p.paymentId, reason: `unexpected country ${p.country}` });
  },
  /** Totals successful revenue and counts failures. */
  analytics(p: Payment, state: { revenue: number; failed: number }) {
    if (p.status === 'succeeded') state.revenue += p.amount;
    else state.failed++;
  },
};

export interface FanoutResult {
  fulfilment: { received: number; shipped: string[] };
  fraudDetection: { received: number; flagged: { paymentId: string; reason: string }[] };
  analytics: { received: number; revenue: number; failed: number };
}

async function runGroup<S>(
  bootstrap: string,
  topic: string,
  groupId: string,
  expected: number,
  state: S,
  handle: (p: Payment, s: S) => void,
): Promise<S & { received: number }> {
  const consumer = new Consumer<Buffer | null, Payment>({
    bootstrap,
    groupId,
    autoOffsetReset: 'earliest',
    valueDeserializer: jsonDeserializer as never,
    heartbeatIntervalMs: 500,
    sessionTimeoutMs: 10_000,
  });
  let received = 0;
  consumer.subscribe(topic);
  try {
    for await (const record of consumer) {
      handle(record.value, state);
      if (++received === expected) break;
    }
  } finally {
    await consumer.close();
  }
  return { ...state, received };
}

/** Publishes the payments, then runs the three groups side by side. */
export async function runFanout(
  bootstrap: string,
  topic: string,
  payments: Payment[],
  groupSuffix = '',
): Promise<FanoutResult> {
  const producer = new Producer<string, Payment>({
    bootstrap,
    keySerializer: stringSerializer as never,
    valueSerializer: jsonSerializer,
  });
  try {
    await producer.sendBatch(payments.map((p) => ({ topic, key: p.orderId, value: p })));
  } finally {
    await producer.close();
  }
  const n = payments.length;
  const [fulfilment, fraudDetection, analytics] = await Promise.all([
    runGroup(bootstrap, topic, `fulfilment${groupSuffix}`, n, { shipped: [] as string[] }, services.fulfilment),
    runGroup(
      bootstrap,
      topic,
      `fraud-detection${groupSuffix}`,
      n,
      { flagged: [] as { paymentId: string; reason: string }[] },
      services.fraudDetection,
    ),
    runGroup(bootstrap, topic, `analytics${groupSuffix}`, n, { revenue: 0, failed: 0 }, services.analytics),
  ]);
  return { fulfilment, fraudDetection, analytics };
}

export async function main(bootstrap = bootstrapFromEnv()): Promise<FanoutResult> {
  const topic = `payments-${Date.now()}`;
  const admin = new Admin({ bootstrap });
  try {
    await admin.createTopics([{ name: topic, partitions: 3 }]);
  } finally {
    await admin.close();
  }
  return runFanout(bootstrap, topic, samplePayments(40), `-${Date.now()}`);
}

if (isMain(import.meta.url)) runMain(() => main());
