import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { startBroker } from '../../src/broker/start.js';
import { Admin as BrookAdmin } from '../../src/client/admin.js';
import { until } from '../helpers/wait.js';
import { PlatformaticFetches } from '../helpers/platformatic-fetches.js';

/** Cleanups run last-registered first (clients before the broker they talk to), each one even if another fails. */
function cleanups(t: { after(fn: () => Promise<void>): void }): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => {});
  });
  return (fn) => void stack.push(fn);
}

test(
  'KIP-848 with @platformatic/kafka (groupProtocol consumer): members split the partitions, one leaves, nothing is lost or repeated',
  { timeout: 90_000 },
  async (t) => {
    const defer = cleanups(t);
    const fetches = new PlatformaticFetches();
    defer(() => fetches.close());
    const broker = await startBroker({ config: { 'group.consumer.heartbeat.interval.ms': '500' } });
    defer(() => broker.close());
    const bootstrapBrokers = [broker.bootstrap];
    const topic = 'kip848-orders';
    const groupId = 'kip848-group';
    const admin = new Admin({ clientId: 'kip848-admin', bootstrapBrokers });
    defer(() => admin.close());
    await admin.createTopics({ topics: [topic], partitions: 4, replicas: 1 });
    const producer = new Producer({ clientId: 'kip848-producer', bootstrapBrokers, serializers: stringSerializers });
    defer(() => producer.close());
    let sent = 0;
    const send = async (n: number) => {
      for (let i = 0; i < n; i++, sent++)
        await producer.send({ messages: [{ topic, key: `k${sent}`, value: `v${sent}`, partition: sent % 4 }] });
    };
    await send(40);
    const brookAdmin = new BrookAdmin({ bootstrap: broker.bootstrap });
    defer(() => brookAdmin.close());

    const got: Array<{ member: string; key: string; at: string }> = [];
    const members: Array<{
      name: string;
      consumer: Consumer<string, string, string, string>;
      close: () => Promise<void>;
      closed: boolean;
    }> = [];
    const start = async (name: string) => {
      const consumer = new Consumer({
        clientId: name,
        groupId,
        bootstrapBrokers,
        deserializers: stringDeserializers,
        groupProtocol: 'consumer',
        groupRemoteAssignor: 'uniform',
      });
      // Short long-polls: platformatic 1.35 pushes the records of a fetch it sent before a revocation
      // even after the partition moved (its stream does not re-check the assignment), so the test
      // lets such fetches drain (see drainFetches) before it produces again.
      const stream = await consumer.consume({
        topics: [topic],
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: 100,
        maxWaitTime: 100,
      });
      stream.on('data', (m) => got.push({ member: name, key: m.key, at: `${m.partition}:${m.offset}` }));
      const close = async () => {
        await stream.close();
        await consumer.close();
      };
      const member = { name, consumer, close, closed: false };
      member.close = async () => {
        member.closed = true;
        await close();
      };
      members.push(member);
      defer(() => member.close().catch(() => {}));
    };
    const owned = (i: number) => (members[i]!.consumer.assignments ?? []).flatMap((a) => a.partitions);
    const live = () => members.filter((m) => !m.closed);
    /** Waits until every live member completed a fetch it started after now, i.e. with the current assignment. */
    const drainFetches = async (what: string) => {
      const mark = fetches.mark();
      await until(
        () => live().every((m) => fetches.completedSince(m.consumer, mark) > 0),
        20_000,
        `every member to fetch with its new assignment (${what})`,
      );
    };
    /** Waits until the group has committed `offset` on every partition. */
    const committedUpTo = (offset: number) =>
      until(
        async () => {
          const c = await brookAdmin.fetchOffsets(
            groupId,
            [0, 1, 2, 3].map((partition) => ({ topic, partition })),
          );
          return c.length === 4 && c.every((o) => o.offset >= offset);
        },
        20_000,
        `the group to commit offset ${offset} on every partition`,
        50,
      );
    /**
     * A sentinel record on each partition, awaited: partitions are delivered in order, so once every
     * sentinel is in, everything produced before it has been delivered, and a check that nothing
     * arrived twice looks at the complete picture instead of at whatever a fixed sleep allowed.
     */
    let round = 0;
    const deliverSentinels = async () => {
      round++;
      for (let partition = 0; partition < 4; partition++)
        await producer.send({ messages: [{ topic, key: `sentinel-${round}-${partition}`, value: '', partition }] });
      await until(
        () => [0, 1, 2, 3].every((p) => got.some((g) => g.key === `sentinel-${round}-${p}`)),
        20_000,
        `sentinel round ${round} to be delivered`,
      );
    };
    const records = () => got.filter((g) => !g.key.startsWith('sentinel-'));

    await start('m1');
    await until(() => got.length === 40, 20_000, 'the first member to read everything');
    assert.deepEqual(owned(0).sort(), [0, 1, 2, 3]);
    // The first member commits what it read before the group changes.
    await committedUpTo(10);

    await start('m2');
    await until(() => owned(0).length === 2 && owned(1).length === 2, 20_000, 'the partitions to be split two and two');
    assert.deepEqual([...owned(0), ...owned(1)].sort(), [0, 1, 2, 3]);
    await drainFetches('after the split');
    await send(40);
    await until(() => records().length >= 80, 20_000, 'both members to read the next 40').catch((err: Error) => {
      throw new Error(`${err.message}: got ${records().length}, owned ${JSON.stringify([owned(0), owned(1)])}`);
    });
    await deliverSentinels();
    const twice = (rs: typeof got) => rs.filter((g) => rs.filter((x) => x.key === g.key).length > 1);
    assert.deepEqual(twice(records()), [], 'no record delivered twice');
    assert.equal(records().length, 80);
    assert.ok(
      records()
        .slice(40)
        .some((g) => g.member === 'm2') &&
        records()
          .slice(40)
          .some((g) => g.member === 'm1'),
      'both members consumed',
    );

    // The leaving member commits what it read (each partition now ends at 20, plus one sentinel).
    await committedUpTo(21);
    await members[0]!.close();
    await until(() => owned(1).length === 4, 20_000, 'the remaining member to own every partition');
    await drainFetches('after the first member left');
    await send(20);
    await until(() => records().length >= 100, 20_000, 'the remaining member to read the last 20');
    await deliverSentinels();
    assert.deepEqual(twice(records()), [], 'no record delivered twice');
    assert.equal(records().length, 100);
    assert.equal(new Set(records().map((g) => g.key)).size, 100, 'every record delivered');
  },
);
