import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import { LogManager, defaultLogConfig, resolveLogConfig, type LogConfig } from '../../src/storage/index.js';
import { CONSUMER_REPLICA_ID, ReplicaManager, type FetchParams } from '../../src/broker/replica/replica-manager.js';
import type { Partition } from '../../src/broker/replica/partition.js';
import { tempDir } from '../storage/helpers.js';

const TOPIC_ID = '00000000-0000-0000-0000-0000000000aa';
const silent = pino({ level: 'silent' });
const consumer: FetchParams = { replicaId: CONSUMER_REPLICA_ID, isolationLevel: 0 };
const follower1: FetchParams = { replicaId: 1, isolationLevel: 0 };

function records(n: number): Buffer {
  return encodeRecordBatch({
    records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`), timestamp: Date.now() })),
  });
}

/** A replica manager leading partition t-0 on a fresh data dir. */
async function leader(config: Partial<LogConfig> = {}) {
  const dir = tempDir('brook-replica-');
  const logs = await LogManager.open(dir.dir, { defaultConfig: config });
  const replicas = new ReplicaManager(logs, 0);
  replicas.becomeLeader('t', TOPIC_ID, 0, 0, () => resolveLogConfig(defaultLogConfig(), config));
  const view = replicas.getPartition('t', 0)!;
  return {
    replicas,
    view,
    /** The replica layer's own object, for what replication will drive (followers). */
    partition: view as Partition,
    append: (acks: number, n = 1, timeoutMs = 30_000) =>
      replicas.appendRecords({ acks, timeoutMs, entries: [{ partition: view, records: records(n) }] })[0]!,
    read: async (params: FetchParams, from = 0) =>
      (await replicas.fetchMessages(view, params, from, 1 << 20, true)).records,
    async close() {
      replicas.shutdown(silent);
      await logs.close();
      dir.cleanup();
    },
  };
}

async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('replica manager and partition', () => {
  test('with no followers the high watermark moves with each acknowledged append, and waiting fetches hear it', async () => {
    const l = await leader();
    try {
      const heard: number[] = [];
      const off = l.view.onHighWatermark(() => heard.push(l.view.highWatermark));
      const r = await l.append(1, 3);
      assert.equal(r.baseOffset, 0);
      assert.equal(l.view.highWatermark, 3);
      await l.append(-1, 2);
      off();
      await l.append(0, 1);
      assert.deepEqual(heard, [3, 5]);
      assert.equal(l.view.highWatermark, 6);
      assert.equal(l.view.lastStableOffset, 6);
      assert.ok((await l.read(consumer)).length > 0);
    } finally {
      await l.close();
    }
  });

  test('flush.messages=1: consumers see nothing before the sync, and acks=all completes with it', async () => {
    const l = await leader({ flushMessages: 1 });
    try {
      const pending = l.append(-1, 2);
      assert.equal(l.view.logEndOffset, 2);
      assert.equal(l.view.highWatermark, 0, 'not durable yet: not committed');
      assert.equal((await l.read(consumer)).length, 0);
      const r = await pending;
      assert.equal(r.lastOffset, 1);
      assert.equal(l.view.highWatermark, 2);
    } finally {
      await l.close();
    }
  });

  test('an in-sync follower holds the high watermark back; acks=all waits for it, acks=1 does not', async () => {
    const l = await leader();
    try {
      const f = { brokerId: 1, logEndOffset: 0, inSync: true };
      l.partition.followers.push(f);
      const all = l.append(-1, 1);
      assert.equal(l.view.highWatermark, 0);
      assert.equal(await settled(all), false, 'acks=all waits for the follower');
      assert.equal((await l.read(consumer)).length, 0, 'consumers read below the high watermark only');
      assert.ok((await l.read(follower1)).length > 0, 'a follower reads up to the log end offset');
      const one = await l.append(1, 1);
      assert.equal(one.baseOffset, 1, 'acks=1 is answered once the leader has it');
      await assert.rejects(
        l.replicas.deleteRecords(l.view, 1),
        (err: unknown) => (err as { code?: number }).code === ErrorCode.OFFSET_OUT_OF_RANGE,
        'storage bounds DeleteRecords by the high watermark the partition set',
      );
      f.logEndOffset = 1;
      l.partition.maybeIncrementHighWatermark();
      assert.equal((await all).baseOffset, 0);
      assert.equal(l.view.highWatermark, 1);
      f.inSync = false;
      l.partition.maybeIncrementHighWatermark();
      assert.equal(l.view.highWatermark, 2, 'a follower out of the ISR no longer counts');
    } finally {
      await l.close();
    }
  });

  test('acks=all that the in-sync replicas never reach is REQUEST_TIMED_OUT', async () => {
    const l = await leader();
    try {
      l.partition.followers.push({ brokerId: 1, logEndOffset: 0, inSync: true });
      await assert.rejects(
        l.append(-1, 1, 20),
        (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.REQUEST_TIMED_OUT,
      );
      assert.equal(l.view.logEndOffset, 1, 'the leader keeps the records (as Kafka does)');
    } finally {
      await l.close();
    }
  });
});
