import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startBroker } from '../../src/broker/start.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  createTopic,
  fetchPartition,
  sleep,
  topicName,
  untilParked,
  within,
} from './support.js';

test('an embedded broker started and closed at once, ten times over, closes cleanly and removes its data dir', async () => {
  // Tests start and stop embedded brokers all the time; close() must not race work the broker
  // started in the background (such as creating internal topics) nor fail removing its directory.
  const failures: string[] = [];
  for (let i = 0; i < 10; i++) {
    const b = await startBroker({ logLevel: 'silent' });
    try {
      await b.close();
    } catch (err) {
      failures.push(`cycle ${i}: ${(err as Error).message}`);
    }
    if (existsSync(b.dataDir)) failures.push(`cycle ${i}: ${b.dataDir} left behind`);
  }
  assert.deepEqual(failures, []);
});

test('close() while a consumer long-polls answers the waiting fetch instead of waiting out max_wait', async () => {
  const b = await startBroker({ logLevel: 'silent' });
  const c = await WireClient.open(b.bootstrap);
  let closed = false;
  try {
    const t = topicName('closing');
    await createTopic(c, t, 1);
    await sleep(200);
    // max_wait far beyond the deadlines below: close() finishing within them did not wait it out.
    const waiting = fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 }, { maxWaitMs: 300_000 }).then(
      (p) => ({ answered: true, errorCode: p.errorCode }),
      (err: Error) => ({ answered: false, error: err.message }),
    );
    await untilParked(b);
    await within(b.close(), 60_000, 'close() with a 300 s long poll waiting');
    closed = true;
    const outcome = await within(waiting, 30_000, 'the waiting fetch');
    // Broker.close() promises to finish requests in flight; a parked fetch is finished by answering it now.
    assert.deepEqual(outcome, { answered: true, errorCode: ErrorCode.NONE }, 'the long poll was answered, not dropped');
  } finally {
    c.close();
    if (!closed) await b.close();
  }
});

test('requests in flight on other connections are answered before close() completes', async () => {
  const b = await startBroker({ logLevel: 'silent' });
  const c = await WireClient.open(b.bootstrap);
  const t = topicName('inflight');
  await createTopic(c, t, 1);
  // A burst of produces, then close at once: each either gets its answer or the connection closes; none hangs.
  const results = Array.from({ length: 20 }, (_, i) =>
    c
      .request('Produce', 9, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 5000,
        topicData: [{ name: t, partitionData: [{ index: 0, records: null }] }],
      })
      .then(
        (r) => r.responses[0]!.partitionResponses[0]!.errorCode,
        () => 'closed' as const,
      )
      .then((r) => [i, r] as const),
  );
  await b.close();
  const settled = await within(Promise.all(results), 30_000, 'all requests settle');
  const answered = settled.filter(([, r]) => r !== 'closed');
  for (const [, r] of answered) assertCode(r as number, ErrorCode.INVALID_RECORD, 'null records');
  c.close();
});
