// Orders producer and analytics consumer: an online shop publishes one event per order, keyed by
// customer so each customer's orders stay in order on one partition; an analytics service in its
// own consumer group turns the stream into revenue figures.
//
//   brook start &                      # a broker on localhost:9092
//   node dist/examples/orders.js

import {
  Admin,
  Consumer,
  Producer,
  jsonDeserializer,
  jsonSerializer,
  stringSerializer,
  type RecordMetadata,
} from '../src/client/index.js';
import { bootstrapFromEnv, isMain, runMain } from './run.js';

export interface Order {
  orderId: string;
  customerId: string;
  product: string;
  quantity: number;
  unitPrice: number;
  createdAt: string;
}

export const PRODUCTS = [
  { product: 'coffee beans', unitPrice: 12.5 },
  { product: 'grinder', unitPrice: 89 },
  { product: 'kettle', unitPrice: 35 },
  { product: 'mug', unitPrice: 8 },
];

/** Deterministic sample orders (a small linear congruential generator, so runs compare). */
export function sampleOrders(count: number, customers = 8): Order[] {
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: count }, (_, i) => {
    const p = PRODUCTS[Math.floor(next() * PRODUCTS.length)]!;
    return {
      orderId: `order-${i + 1}`,
      customerId: `customer-${1 + Math.floor(next() * customers)}`,
      product: p.product,
      quantity: 1 + Math.floor(next() * 3),
      unitPrice: p.unitPrice,
      createdAt: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString(),
    };
  });
}

/** Publishes orders; resolves with where each landed. */
export async function publishOrders(bootstrap: string, topic: string, orders: Order[]): Promise<RecordMetadata[]> {
  const producer = new Producer<string, Order>({
    bootstrap,
    keySerializer: stringSerializer as never,
    valueSerializer: jsonSerializer,
    lingerMs: 10,
  });
  try {
    return await producer.sendBatch(
      orders.map((o) => ({ topic, key: o.customerId, value: o, headers: { 'event-type': 'order_created' } })),
    );
  } finally {
    await producer.close();
  }
}

export interface Analytics {
  orders: number;
  revenue: number;
  revenueByProduct: Record<string, number>;
  topCustomer: { customerId: string; spent: number } | null;
}

/** The analytics service: reads `expected` orders as group `groupId` and aggregates them. */
export async function runAnalytics(
  bootstrap: string,
  topic: string,
  groupId: string,
  expected: number,
): Promise<Analytics> {
  const consumer = new Consumer<Buffer | null, Order>({
    bootstrap,
    groupId,
    autoOffsetReset: 'earliest',
    valueDeserializer: jsonDeserializer as never,
    heartbeatIntervalMs: 500,
    sessionTimeoutMs: 10_000,
  });
  const byProduct: Record<string, number> = {};
  const byCustomer = new Map<string, number>();
  let orders = 0;
  let revenue = 0;
  consumer.subscribe(topic);
  try {
    for await (const record of consumer) {
      const o = record.value;
      const amount = o.quantity * o.unitPrice;
      orders++;
      revenue += amount;
      byProduct[o.product] = (byProduct[o.product] ?? 0) + amount;
      byCustomer.set(o.customerId, (byCustomer.get(o.customerId) ?? 0) + amount);
      if (orders === expected) break;
    }
  } finally {
    await consumer.close(); // commits what was read and leaves the group
  }
  let top: Analytics['topCustomer'] = null;
  for (const [customerId, spent] of byCustomer) if (top === null || spent > top.spent) top = { customerId, spent };
  return { orders, revenue, revenueByProduct: byProduct, topCustomer: top };
}

export async function main(bootstrap = bootstrapFromEnv(), count = 50): Promise<Analytics> {
  const topic = 'orders';
  const admin = new Admin({ bootstrap });
  try {
    await admin.createTopics([{ name: topic, partitions: 3 }], { ifNotExists: true });
  } finally {
    await admin.close();
  }
  await publishOrders(bootstrap, topic, sampleOrders(count));
  return runAnalytics(bootstrap, topic, `analytics-${Date.now()}`, count);
}

if (isMain(import.meta.url)) runMain(() => main());
