// Exactly-once payment processing: a processor reads payment requests and, for each batch, writes
// the payment results and ledger entries *and* commits its consumer offsets in one Kafka
// transaction. If it dies half way, the open transaction is aborted when its successor starts
// with the same transactional id, the offsets were not committed, so the successor processes the
// same requests again, and read_committed readers see every payment exactly once.
//
//   node dist/examples/exactly-once-payments.js

import { Admin, Consumer, Producer, jsonDeserializer, jsonSerializer, stringSerializer } from '../src/client/index.js';
import { bootstrapFromEnv, isMain, runMain } from './run.js';

export interface PaymentRequest {
  paymentId: string;
  account: string;
  amount: number;
}

export interface PaymentResult {
  paymentId: string;
  account: string;
  status: 'approved' | 'declined';
  amount: number;
}

export interface Topics {
  requests: string;
  results: string;
  ledger: string;
}

export function sampleRequests(n: number): PaymentRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    paymentId: `p-${i + 1}`,
    account: `acct-${(i % 4) + 1}`,
    amount: 10 + ((i * 53) % 400),
  }));
}

/** The business rule: payments above the account limit are declined. */
export function decide(r: PaymentRequest): PaymentResult {
  return {
    paymentId: r.paymentId,
    account: r.account,
    amount: r.amount,
    status: r.amount > 300 ? 'declined' : 'approved',
  };
}

export interface ProcessorOptions {
  bootstrap: string;
  topics: Topics;
  groupId: string;
  transactionalId: string;
  /** Stop after processing this many requests. */
  stopAfter: number;
  /** Simulate a crash: die after writing (not committing) the transaction that reaches this count. */
  crashAt?: number;
}

/** Runs a processor; returns how many requests it committed. */
export async function runProcessor(o: ProcessorOptions): Promise<number> {
  const consumer = new Consumer<Buffer | null, PaymentRequest>({
    bootstrap: o.bootstrap,
    groupId: o.groupId,
    autoOffsetReset: 'earliest',
    enableAutoCommit: false, // offsets are committed by the transaction
    isolationLevel: 'read_committed',
    maxPollRecords: 5,
    valueDeserializer: jsonDeserializer as never,
    heartbeatIntervalMs: 500,
    sessionTimeoutMs: 10_000,
  });
  const producer = new Producer<string, unknown>({
    bootstrap: o.bootstrap,
    transactionalId: o.transactionalId,
    keySerializer: stringSerializer as never,
    valueSerializer: jsonSerializer,
    lingerMs: 1,
  });
  let committed = 0;
  let crashed = false;
  // Like initTransactions(): get the producer id first, which fences a crashed predecessor and
  // aborts its open transaction, so the offsets it left pending are settled before we read them.
  await producer.connect();
  consumer.subscribe(o.topics.requests);
  try {
    while (committed < o.stopAfter) {
      const batch = await consumer.poll(500);
      if (batch.length === 0) continue;
      await producer.beginTransaction();
      for (const r of batch) {
        const result = decide(r.value);
        await producer.send({ topic: o.topics.results, key: result.paymentId, value: result });
        if (result.status === 'approved')
          await producer.send({
            topic: o.topics.ledger,
            key: result.account,
            value: { account: result.account, debit: result.amount, paymentId: result.paymentId },
          });
      }
      const offsets = new Map<string, { topic: string; partition: number; offset: number }>();
      for (const r of batch)
        offsets.set(`${r.topic}-${r.partition}`, { topic: r.topic, partition: r.partition, offset: r.offset + 1 });
      await producer.sendOffsetsToTransaction([...offsets.values()], consumer.groupMetadata());
      if (o.crashAt !== undefined && committed + batch.length >= o.crashAt) {
        // The process dies here: records are in the log, the transaction is neither committed nor aborted.
        crashed = true;
        producer.cluster.close();
        break;
      }
      await producer.commitTransaction();
      committed += batch.length;
    }
  } finally {
    await consumer.close();
    if (!crashed) await producer.close();
  }
  return committed;
}

/** Reads a whole topic with the given isolation level. */
export async function readAll<T>(
  bootstrap: string,
  topic: string,
  isolationLevel: 'read_committed' | 'read_uncommitted',
  expected: number,
  waitMs = 3000,
): Promise<T[]> {
  const consumer = new Consumer<Buffer | null, T>({
    bootstrap,
    isolationLevel,
    valueDeserializer: jsonDeserializer as never,
  });
  const out: T[] = [];
  try {
    const info = await consumer.cluster.topic(topic);
    consumer.assign(info.partitions.map((p) => ({ topic, partition: p.partition })));
    consumer.seekToBeginning();
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      for (const r of await consumer.poll(100)) out.push(r.value);
      if (out.length >= expected && Date.now() > deadline - waitMs / 2) break;
    }
  } finally {
    await consumer.close();
  }
  return out;
}

export async function createTopics(bootstrap: string, suffix: string): Promise<Topics> {
  const topics = {
    requests: `payment_requests-${suffix}`,
    results: `payment_results-${suffix}`,
    ledger: `ledger-${suffix}`,
  };
  const admin = new Admin({ bootstrap });
  try {
    await admin.createTopics(Object.values(topics).map((name) => ({ name, partitions: 2 })));
  } finally {
    await admin.close();
  }
  return topics;
}

export async function publishRequests(bootstrap: string, topic: string, requests: PaymentRequest[]): Promise<void> {
  const producer = new Producer<string, PaymentRequest>({
    bootstrap,
    keySerializer: stringSerializer as never,
    valueSerializer: jsonSerializer,
  });
  try {
    await producer.sendBatch(requests.map((r) => ({ topic, key: r.paymentId, value: r })));
  } finally {
    await producer.close();
  }
}

export async function main(
  bootstrap = bootstrapFromEnv(),
): Promise<{ committedResults: number; uniquePayments: number; resultsInLogIncludingAborted: number }> {
  const suffix = String(Date.now());
  const topics = await createTopics(bootstrap, suffix);
  const requests = sampleRequests(20);
  await publishRequests(bootstrap, topics.requests, requests);
  const common = {
    bootstrap,
    topics,
    groupId: `payment-processor-${suffix}`,
    transactionalId: `payment-processor-${suffix}`,
  };
  // The first instance crashes in the middle of its second transaction...
  const done = await runProcessor({ ...common, stopAfter: requests.length, crashAt: 8 });
  // ...and its replacement fences it, aborting the open transaction, and finishes the work.
  await runProcessor({ ...common, stopAfter: requests.length - done });
  const committed = await readAll<PaymentResult>(bootstrap, topics.results, 'read_committed', requests.length);
  const everything = await readAll<PaymentResult>(bootstrap, topics.results, 'read_uncommitted', requests.length);
  return {
    committedResults: committed.length,
    uniquePayments: new Set(committed.map((r) => r.paymentId)).size,
    resultsInLogIncludingAborted: everything.length,
  };
}

if (isMain(import.meta.url)) runMain(() => main());
