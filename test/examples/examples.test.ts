// Each example program, run against an embedded broker, must produce the outcome it promises.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerHandle } from '../../src/broker/start.js';
import { Admin } from '../../src/client/admin.js';
import { startTestBroker, uniq } from '../client/helpers/broker.js';
import * as orders from '../../examples/orders.js';
import * as fanout from '../../examples/payments-fanout.js';
import * as es from '../../examples/event-sourcing.js';
import * as cqrs from '../../examples/cqrs.js';
import * as eos from '../../examples/exactly-once-payments.js';
import { WireClient, assertCode, batch, eventually, produce, ErrorCode } from '../broker/support.js';
import { FAST_CLEANING, consume, show, type Seen } from '../broker/cleaning-support.js';

let broker: BrokerHandle;
let admin: Admin;

before(async () => {
  // Frequent cleaner passes, so the CQRS test can watch its compacted view topic being cleaned.
  broker = await startTestBroker(FAST_CLEANING);
  admin = new Admin({ bootstrap: broker.bootstrap });
});
after(async () => {
  await admin.close();
  await broker.close();
});

async function topic(partitions: number, configs?: Record<string, string>): Promise<string> {
  const name = uniq('example');
  await admin.createTopics([{ name, partitions, configs }]);
  return name;
}

describe('examples', { concurrency: 3 }, () => {
  test('orders: keyed by customer, aggregated by the analytics group', async () => {
    const t = await topic(3);
    const sample = orders.sampleOrders(60);
    const mds = await orders.publishOrders(broker.bootstrap, t, sample);
    // A customer's orders share a partition and keep their order.
    const partitionOf = new Map<string, number>();
    sample.forEach((o, i) => {
      const p = partitionOf.get(o.customerId) ?? mds[i]!.partition;
      partitionOf.set(o.customerId, p);
      assert.equal(mds[i]!.partition, p);
    });
    const result = await orders.runAnalytics(broker.bootstrap, t, uniq('analytics'), sample.length);
    const revenue = sample.reduce((n, o) => n + o.quantity * o.unitPrice, 0);
    assert.equal(result.orders, 60);
    assert.equal(result.revenue, revenue);
    assert.equal(
      Object.values(result.revenueByProduct).reduce((a, b) => a + b, 0),
      revenue,
    );
    const spent = new Map<string, number>();
    for (const o of sample) spent.set(o.customerId, (spent.get(o.customerId) ?? 0) + o.quantity * o.unitPrice);
    assert.equal(result.topCustomer!.spent, Math.max(...spent.values()));
  });

  test('fan-out: fulfilment, fraud detection and analytics each see every payment', async () => {
    const t = await topic(3);
    const payments = fanout.samplePayments(40);
    const r = await fanout.runFanout(broker.bootstrap, t, payments, `-${uniq('g')}`);
    assert.equal(r.fulfilment.received, 40);
    assert.equal(r.fraudDetection.received, 40);
    assert.equal(r.analytics.received, 40);
    const ok = payments.filter((p) => p.status === 'succeeded');
    assert.deepEqual([...r.fulfilment.shipped].sort(), ok.map((p) => p.orderId).sort());
    assert.equal(
      r.analytics.revenue,
      ok.reduce((n, p) => n + p.amount, 0),
    );
    assert.equal(r.analytics.failed, payments.length - ok.length);
    assert.deepEqual(
      r.fraudDetection.flagged.map((f) => f.paymentId).sort(),
      payments
        .filter((p) => p.amount > 1000 || p.country !== 'ES')
        .map((p) => p.paymentId)
        .sort(),
    );
  });

  test('event sourcing: state rebuilt by replaying customer_events, the same every time', async () => {
    const t = await topic(3);
    await es.appendEvents(broker.bootstrap, t, es.sampleHistory());
    // Noise from many other customers on the same partitions.
    await es.appendEvents(
      broker.bootstrap,
      t,
      Array.from({ length: 30 }, (_, i) => ({
        type: 'customer_created' as const,
        customerId: 100 + i,
        name: `n${i}`,
        email: `n${i}@x`,
      })),
    );
    const alice = await es.getCustomerState(broker.bootstrap, t, 1);
    assert.deepEqual(alice, {
      customerId: 1,
      name: 'Alice',
      email: 'alice@example.com',
      plan: 'premium',
      deleted: false,
      version: 3,
    });
    assert.deepEqual(await es.getCustomerState(broker.bootstrap, t, 2), {
      customerId: 2,
      name: 'Bob',
      email: 'robert@example.com',
      plan: 'pro',
      deleted: false,
      version: 3,
    });
    assert.equal((await es.getCustomerState(broker.bootstrap, t, 3))!.deleted, true);
    assert.equal(await es.getCustomerState(broker.bootstrap, t, 99), null, 'a customer without events has no state');
    assert.deepEqual(await es.getCustomerState(broker.bootstrap, t, 1), alice, 'replay is deterministic');
  });

  test('CQRS: the user_carts view answers from memory and can be reloaded from its compacted topic', async () => {
    const events = await topic(3);
    // One partition, so every cart's history shares a log the test can watch being compacted.
    const view = await topic(1, {
      'cleanup.policy': 'compact',
      'segment.bytes': '1024',
      'min.cleanable.dirty.ratio': '0.01',
    });
    const v = new cqrs.CartView(broker.bootstrap, events, view, uniq('projector'));
    v.start();
    const commands = new cqrs.CartCommands(broker.bootstrap, events);
    try {
      await commands.addItem('alice', 'book', 2, 15);
      await commands.addItem('bob', 'pen', 10, 1.5);
      await commands.addItem('alice', 'lamp', 1, 40);
      const removedAt = await commands.removeItem('alice', 'book');
      await commands.checkout('bob');
      await assert.rejects(commands.addItem('carol', 'x', 0, 1), RangeError);
      const deadline = Date.now() + 10_000;
      while (v.eventsApplied < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const alice = v.getCart('alice');
      assert.deepEqual(alice, {
        userId: 'alice',
        items: { lamp: { quantity: 1, price: 40 } },
        total: 40,
        version: removedAt,
      });
      assert.equal(v.getCart('bob'), undefined, 'checked out');
    } finally {
      await commands.close();
      await v.stop();
    }
    // The newest segment is never cleaned: roll it with a tombstone for a cart that never existed
    // (loading the view ignores it), big enough not to fit in the segment the view wrote to.
    const wire = await WireClient.open(broker.bootstrap);
    let seen: Seen[] = [];
    try {
      const r = await produce(wire, view, 0, batch([{ key: `nobody-${'x'.repeat(600)}`, value: null }]));
      assertCode(r.errorCode, ErrorCode.NONE, 'tombstone for an unknown cart');
      const only = (key: string): Seen[] => seen.filter((x) => x.key === key);
      await eventually(
        async () => {
          seen = await consume(wire, view);
          return only('alice').length === 1 && only('bob').length === 1;
        },
        30_000,
        'user_carts compacted to one record per cart',
      ).catch((err: Error) => assert.fail(`${err.message}; last seen: ${show(seen)}`));
      assert.equal(JSON.parse(only('alice')[0]!.value!).total, 40, "alice's latest cart survives compaction");
      assert.equal(only('bob')[0]!.value, null, "bob's checkout tombstone is kept (delete.retention.ms)");
    } finally {
      wire.close();
    }
    const reloaded = await cqrs.loadViewFromChangelog(broker.bootstrap, view);
    assert.deepEqual([...reloaded.keys()], ['alice']);
    assert.equal(reloaded.get('alice')!.total, 40);
  });

  test('exactly-once payments: a crash mid-transaction leaves no duplicate for read_committed readers', async () => {
    const topics = await eos.createTopics(broker.bootstrap, uniq('eos'));
    const requests = eos.sampleRequests(20);
    await eos.publishRequests(broker.bootstrap, topics.requests, requests);
    const common = {
      bootstrap: broker.bootstrap,
      topics,
      groupId: uniq('processor'),
      transactionalId: uniq('processor-tx'),
    };
    const first = await eos.runProcessor({ ...common, stopAfter: 20, crashAt: 8 });
    assert.ok(first < 8, 'the crashed transaction was not committed');
    const second = await eos.runProcessor({ ...common, stopAfter: 20 - first });
    assert.equal(first + second, 20);
    const committed = await eos.readAll<eos.PaymentResult>(
      broker.bootstrap,
      topics.results,
      'read_committed',
      20,
      1000,
    );
    assert.equal(committed.length, 20);
    assert.deepEqual(
      committed.map((r) => r.paymentId).sort(),
      requests.map((r) => r.paymentId).sort(),
      'each payment exactly once',
    );
    for (const r of committed) assert.deepEqual(r, eos.decide(requests.find((q) => q.paymentId === r.paymentId)!));
    const raw = await eos.readAll<eos.PaymentResult>(broker.bootstrap, topics.results, 'read_uncommitted', 21, 1000);
    assert.ok(raw.length > 20, 'the aborted attempt is still in the log, hidden from read_committed');
    const ledger = await eos.readAll<{ paymentId: string; debit: number }>(
      broker.bootstrap,
      topics.ledger,
      'read_committed',
      1,
      1000,
    );
    assert.deepEqual(
      ledger.map((l) => l.paymentId).sort(),
      committed
        .filter((r) => r.status === 'approved')
        .map((r) => r.paymentId)
        .sort(),
    );
  });
});
