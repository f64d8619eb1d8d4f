// Event sourcing: the customer_events topic is the system of record. Every change to a customer is
// an event keyed by customer id, so all of one customer's events sit, in order, on one partition.
// A customer's current state is not stored anywhere: it is rebuilt by replaying their events.
//
//   node dist/examples/event-sourcing.js

import {
  Admin,
  Consumer,
  Producer,
  jsonDeserializer,
  jsonSerializer,
  partitionForKey,
  stringSerializer,
} from '../src/client/index.js';
import { bootstrapFromEnv, isMain, runMain } from './run.js';

export type CustomerEvent =
  | { type: 'customer_created'; customerId: number; name: string; email: string }
  | { type: 'email_changed'; customerId: number; email: string }
  | { type: 'subscription_upgraded'; customerId: number; plan: string }
  | { type: 'customer_deleted'; customerId: number };

export interface CustomerState {
  customerId: number;
  name: string;
  email: string;
  plan: string;
  deleted: boolean;
  version: number;
}

/** Applies one event to a state: the only place where state changes. */
export function apply(state: CustomerState | null, e: CustomerEvent): CustomerState | null {
  switch (e.type) {
    case 'customer_created':
      return { customerId: e.customerId, name: e.name, email: e.email, plan: 'free', deleted: false, version: 1 };
    case 'email_changed':
      return state === null ? null : { ...state, email: e.email, version: state.version + 1 };
    case 'subscription_upgraded':
      return state === null ? null : { ...state, plan: e.plan, version: state.version + 1 };
    case 'customer_deleted':
      return state === null ? null : { ...state, deleted: true, version: state.version + 1 };
  }
}

/** Appends events; the key (customer id) keeps each customer's history in order. */
export async function appendEvents(bootstrap: string, topic: string, events: CustomerEvent[]): Promise<void> {
  const producer = new Producer<string, CustomerEvent>({
    bootstrap,
    keySerializer: stringSerializer as never,
    valueSerializer: jsonSerializer,
  });
  try {
    // One at a time, so the order in the log is the order given here even across retries.
    for (const e of events) await producer.send({ topic, key: String(e.customerId), value: e });
  } finally {
    await producer.close();
  }
}

/**
 * Rebuilds one customer by replaying their partition from the beginning up to its current end.
 * No consumer group: this is a read of history, not a subscription.
 */
export async function getCustomerState(
  bootstrap: string,
  topic: string,
  customerId: number,
): Promise<CustomerState | null> {
  const consumer = new Consumer<Buffer | null, CustomerEvent>({
    bootstrap,
    valueDeserializer: jsonDeserializer as never,
  });
  try {
    const info = await consumer.cluster.topic(topic);
    const tp = { topic, partition: partitionForKey(Buffer.from(String(customerId)), info.partitions.length) };
    consumer.assign([tp]);
    consumer.seekToEnd();
    const end = await consumer.position(tp);
    consumer.seekToBeginning();
    let state: CustomerState | null = null;
    while ((await consumer.position(tp)) < end) {
      for (const r of await consumer.poll(200)) {
        if (r.value.customerId === customerId) state = apply(state, r.value);
      }
    }
    return state;
  } finally {
    await consumer.close();
  }
}

export function sampleHistory(): CustomerEvent[] {
  return [
    { type: 'customer_created', customerId: 1, name: 'Alice', email: 'alice@old.example' },
    { type: 'customer_created', customerId: 2, name: 'Bob', email: 'bob@example.com' },
    { type: 'email_changed', customerId: 1, email: 'alice@example.com' },
    { type: 'customer_created', customerId: 3, name: 'Carol', email: 'carol@example.com' },
    { type: 'subscription_upgraded', customerId: 2, plan: 'pro' },
    { type: 'subscription_upgraded', customerId: 1, plan: 'premium' },
    { type: 'customer_deleted', customerId: 3 },
    { type: 'email_changed', customerId: 2, email: 'robert@example.com' },
  ];
}

export async function main(bootstrap = bootstrapFromEnv()): Promise<(CustomerState | null)[]> {
  const topic = `customer_events-${Date.now()}`;
  const admin = new Admin({ bootstrap });
  try {
    await admin.createTopics([{ name: topic, partitions: 3 }]);
  } finally {
    await admin.close();
  }
  await appendEvents(bootstrap, topic, sampleHistory());
  return Promise.all([1, 2, 3].map((id) => getCustomerState(bootstrap, topic, id)));
}

if (isMain(import.meta.url)) runMain(() => main());
