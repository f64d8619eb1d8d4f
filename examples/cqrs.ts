// CQRS: commands and queries take different paths. Commands append cart events to cart_events;
// a projector consumes them and maintains a materialized user_carts view in memory (answering
// queries instantly, without touching the log) and publishes each cart's latest state to a
// compacted user_carts topic, so a new instance can load the view without replaying every event.
//
//   node dist/examples/cqrs.js

import { Admin, Consumer, Producer, jsonDeserializer, jsonSerializer, stringSerializer } from '../src/client/index.js';
import { bootstrapFromEnv, isMain, runMain } from './run.js';

export type CartEvent =
  | { type: 'item_added'; userId: string; sku: string; quantity: number; price: number }
  | { type: 'item_removed'; userId: string; sku: string }
  | { type: 'checked_out'; userId: string };

export interface Cart {
  userId: string;
  items: Record<string, { quantity: number; price: number }>;
  total: number;
  /** Offset of the last event applied: how fresh this view is. */
  version: number;
}

/** The write side: validates a command and appends it as an event. */
export class CartCommands {
  private readonly producer: Producer<string, CartEvent>;
  constructor(
    bootstrap: string,
    private readonly topic: string,
  ) {
    this.producer = new Producer<string, CartEvent>({
      bootstrap,
      keySerializer: stringSerializer as never,
      valueSerializer: jsonSerializer,
      lingerMs: 1,
    });
  }
  async addItem(userId: string, sku: string, quantity: number, price: number): Promise<number> {
    if (quantity <= 0) throw new RangeError('quantity must be positive');
    return (
      await this.producer.send({
        topic: this.topic,
        key: userId,
        value: { type: 'item_added', userId, sku, quantity, price },
      })
    ).offset;
  }
  async removeItem(userId: string, sku: string): Promise<number> {
    return (await this.producer.send({ topic: this.topic, key: userId, value: { type: 'item_removed', userId, sku } }))
      .offset;
  }
  async checkout(userId: string): Promise<number> {
    return (await this.producer.send({ topic: this.topic, key: userId, value: { type: 'checked_out', userId } }))
      .offset;
  }
  close(): Promise<void> {
    return this.producer.close();
  }
}

function applyEvent(cart: Cart | undefined, e: CartEvent, offset: number): Cart | null {
  const c: Cart =
    cart === undefined ? { userId: e.userId, items: {}, total: 0, version: -1 } : { ...cart, items: { ...cart.items } };
  switch (e.type) {
    case 'item_added': {
      const prev = c.items[e.sku];
      c.items[e.sku] = { quantity: (prev?.quantity ?? 0) + e.quantity, price: e.price };
      break;
    }
    case 'item_removed':
      delete c.items[e.sku];
      break;
    case 'checked_out':
      return null; // an empty cart after checkout: the view forgets it
  }
  c.total = Object.values(c.items).reduce((n, i) => n + i.quantity * i.price, 0);
  c.version = offset;
  return c;
}

/** The read side: a consumer group member projecting events into the user_carts view. */
export class CartView {
  private readonly carts = new Map<string, Cart>();
  private readonly consumer: Consumer<Buffer | null, CartEvent>;
  private readonly changelog: Producer<string, Cart | null>;
  private running: Promise<void> | undefined;
  private applied = 0;

  constructor(
    bootstrap: string,
    private readonly eventsTopic: string,
    private readonly viewTopic: string,
    groupId: string,
  ) {
    this.consumer = new Consumer<Buffer | null, CartEvent>({
      bootstrap,
      groupId,
      autoOffsetReset: 'earliest',
      valueDeserializer: jsonDeserializer as never,
      heartbeatIntervalMs: 500,
      sessionTimeoutMs: 10_000,
    });
    this.changelog = new Producer<string, Cart | null>({
      bootstrap,
      keySerializer: stringSerializer as never,
      valueSerializer: jsonSerializer as never,
      lingerMs: 5,
    });
  }

  /** Starts projecting in the background. */
  start(): void {
    this.consumer.subscribe(this.eventsTopic);
    this.running = (async () => {
      for await (const r of this.consumer) {
        const next = applyEvent(this.carts.get(r.value.userId), r.value, r.offset);
        if (next === null) this.carts.delete(r.value.userId);
        else this.carts.set(r.value.userId, next);
        // A null value is a tombstone: compaction drops checked-out carts from user_carts.
        this.changelog.produce({ topic: this.viewTopic, key: r.value.userId, value: next });
        this.applied++;
      }
    })();
  }

  /** A query: served from memory, no broker round trip. */
  getCart(userId: string): Cart | undefined {
    return this.carts.get(userId);
  }

  /** Number of events applied so far (tests wait on it). */
  get eventsApplied(): number {
    return this.applied;
  }

  async stop(): Promise<void> {
    await this.consumer.close();
    await this.running;
    await this.changelog.close();
  }
}

/** Loads the latest state of every cart from the compacted user_carts topic. */
export async function loadViewFromChangelog(bootstrap: string, viewTopic: string): Promise<Map<string, Cart>> {
  const consumer = new Consumer<string | null, Cart | null>({
    bootstrap,
    keyDeserializer: (b) => (b === null ? null : b.toString()),
    valueDeserializer: jsonDeserializer as never,
  });
  const out = new Map<string, Cart>();
  try {
    const info = await consumer.cluster.topic(viewTopic);
    const tps = info.partitions.map((p) => ({ topic: viewTopic, partition: p.partition }));
    consumer.assign(tps);
    consumer.seekToEnd();
    const ends = await Promise.all(tps.map((tp) => consumer.position(tp)));
    consumer.seekToBeginning();
    const done = async () =>
      (await Promise.all(tps.map((tp, i) => consumer.position(tp).then((p) => p >= ends[i]!)))).every(Boolean);
    while (!(await done())) {
      for (const r of await consumer.poll(200)) {
        if (r.value === null) out.delete(r.key!);
        else out.set(r.key!, r.value);
      }
    }
  } finally {
    await consumer.close();
  }
  return out;
}

export async function main(
  bootstrap = bootstrapFromEnv(),
): Promise<{ alice: Cart | undefined; bob: Cart | undefined; rebuilt: string[] }> {
  const suffix = Date.now();
  const eventsTopic = `cart_events-${suffix}`;
  const viewTopic = `user_carts-${suffix}`;
  const admin = new Admin({ bootstrap });
  try {
    await admin.createTopics([
      { name: eventsTopic, partitions: 3 },
      { name: viewTopic, partitions: 3, configs: { 'cleanup.policy': 'compact' } },
    ]);
  } finally {
    await admin.close();
  }
  const view = new CartView(bootstrap, eventsTopic, viewTopic, `cart-projector-${suffix}`);
  view.start();
  const commands = new CartCommands(bootstrap, eventsTopic);
  await commands.addItem('alice', 'book', 2, 15);
  await commands.addItem('bob', 'pen', 10, 1.5);
  await commands.addItem('alice', 'lamp', 1, 40);
  await commands.removeItem('alice', 'book');
  await commands.checkout('bob');
  await commands.close();
  while (view.eventsApplied < 5) await new Promise((r) => setTimeout(r, 20));
  const result = { alice: view.getCart('alice'), bob: view.getCart('bob') };
  await view.stop();
  return { ...result, rebuilt: [...(await loadViewFromChangelog(bootstrap, viewTopic)).keys()] };
}

if (isMain(import.meta.url)) runMain(() => main());
