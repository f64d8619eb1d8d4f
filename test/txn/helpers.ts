import assert from 'node:assert/strict';
import { ErrorCode, errorName } from '../../src/protocol/errors.js';
import type { FetchResponsePartitionData } from '../../src/protocol/messages/fetch-response.js';
import { ControlRecordType, parseControlRecordKey } from '../../src/protocol/records/control.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../src/protocol/records/record-batch.js';
import type { WireClient } from '../helpers/wire-client.js';

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

export function assertCode(actual: number, expected: number, what = 'error code'): void {
  assert.equal(
    actual,
    expected,
    `${what}: got ${actual} ${errorName(actual)}, want ${expected} ${errorName(expected)}`,
  );
}

/** A batch as an idempotent or transactional producer writes it. */
export function producerBatch(values: string[], o: { pid: number; epoch: number; seq: number; txn?: boolean }): Buffer {
  return encodeRecordBatch({
    producerId: o.pid,
    producerEpoch: o.epoch,
    baseSequence: o.seq,
    transactional: o.txn ?? false,
    records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: Date.now() })),
  });
}

export async function produceBatch(
  c: WireClient,
  topic: string,
  partition: number,
  records: Buffer,
  o: { version?: number; transactionalId?: string | null } = {},
) {
  const res = await c.request('Produce', o.version ?? 9, {
    transactionalId: o.transactionalId ?? null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  return res.responses[0]!.partitionResponses[0]!;
}

export async function fetchFrom(
  c: WireClient,
  topic: string,
  partition: number,
  isolationLevel: number,
  fetchOffset = 0,
  version = 11,
): Promise<FetchResponsePartitionData> {
  const res = await c.request('Fetch', version, {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: '00000000-0000-0000-0000-000000000000',
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: 16 * 1024 * 1024,
            replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  const p = res.responses[0]!.partitions[0]!;
  assertCode(p.errorCode, ErrorCode.NONE, `fetch ${topic}-${partition}`);
  return p;
}

/**
 * The records a read_committed consumer delivers from a fetch response, the way Kafka consumers
 * filter it: a producer listed in AbortedTransactions has its transactional batches dropped from the
 * listed first offset until its ABORT marker; control batches are never delivered.
 */
export function deliveredRecords(
  p: FetchResponsePartitionData,
): { offset: number; key: Buffer | null; value: Buffer | null }[] {
  const aborted = [...(p.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset);
  const abortedProducers = new Set<number>();
  const out: { offset: number; key: Buffer | null; value: Buffer | null }[] = [];
  for (const b of decodeRecordBatches(p.records ?? Buffer.alloc(0))) {
    while (aborted.length > 0 && aborted[0]!.firstOffset <= b.lastOffset)
      abortedProducers.add(aborted.shift()!.producerId);
    if (b.isControl) {
      if (parseControlRecordKey(b.records[0]?.key ?? null).type === ControlRecordType.ABORT)
        abortedProducers.delete(b.producerId);
      continue;
    }
    if (b.isTransactional && abortedProducers.has(b.producerId)) continue;
    for (const r of b.records) out.push({ offset: r.offset, key: r.key, value: r.value });
  }
  return out;
}

/** The values a read_committed consumer delivers from a fetch response (see deliveredRecords). */
export function deliveredValues(p: FetchResponsePartitionData): string[] {
  return deliveredRecords(p).map((r) => r.value?.toString() ?? '<null>');
}

/** Control markers in a fetch response: [offset, 'COMMIT' | 'ABORT', producerId]. */
export function markersOf(p: FetchResponsePartitionData): Array<[number, string, number]> {
  return decodeRecordBatches(p.records ?? Buffer.alloc(0))
    .filter((b) => b.isControl)
    .map((b) => [
      b.baseOffset,
      b.records[0]!.key!.readInt16BE(2) === ControlRecordType.COMMIT ? 'COMMIT' : 'ABORT',
      b.producerId,
    ]);
}

/** A transactional producer speaking the protocol by hand, one request at a time. */
export class RawTxnProducer {
  producerId = -1;
  epoch = -1;
  private seqs = new Map<string, number>();

  constructor(
    private readonly c: WireClient,
    readonly transactionalId: string,
    private readonly timeoutMs = 60_000,
  ) {}

  async init(version = 4): Promise<number> {
    const r = await this.c.request('InitProducerId', version, {
      transactionalId: this.transactionalId,
      transactionTimeoutMs: this.timeoutMs,
      producerId: -1,
      producerEpoch: -1,
    });
    if (r.errorCode === ErrorCode.NONE) {
      this.producerId = r.producerId;
      this.epoch = r.producerEpoch;
      this.seqs.clear();
    }
    return r.errorCode;
  }

  /** InitProducerId, retrying CONCURRENT_TRANSACTIONS as clients do. */
  async initRetrying(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const code = await this.init();
      if (code === ErrorCode.NONE) return;
      assertCode(code, ErrorCode.CONCURRENT_TRANSACTIONS, 'InitProducerId');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('InitProducerId kept answering CONCURRENT_TRANSACTIONS');
  }

  async addPartitions(partitions: Array<[string, number]>, version = 1): Promise<Map<string, number>> {
    const topics = new Map<string, number[]>();
    for (const [t, p] of partitions) topics.set(t, [...(topics.get(t) ?? []), p]);
    const r = await this.c.request('AddPartitionsToTxn', version, {
      transactions: [],
      v3AndBelowTransactionalId: this.transactionalId,
      v3AndBelowProducerId: this.producerId,
      v3AndBelowProducerEpoch: this.epoch,
      v3AndBelowTopics: [...topics].map(([name, ps]) => ({ name, partitions: ps })),
    });
    const out = new Map<string, number>();
    for (const t of r.resultsByTopicV3AndBelow)
      for (const p of t.resultsByPartition) out.set(`${t.name}-${p.partitionIndex}`, p.partitionErrorCode);
    return out;
  }

  async send(
    topic: string,
    partition: number,
    values: string[],
    version = 9,
  ): Promise<{ errorCode: number; baseOffset: number }> {
    const key = `${topic}-${partition}`;
    const seq = this.seqs.get(key) ?? 0;
    const r = await produceBatch(
      this.c,
      topic,
      partition,
      producerBatch(values, { pid: this.producerId, epoch: this.epoch, seq, txn: true }),
      { version, transactionalId: this.transactionalId },
    );
    if (r.errorCode === ErrorCode.NONE) this.seqs.set(key, seq + values.length);
    return r;
  }

  async addOffsets(groupId: string, version = 1): Promise<number> {
    const r = await this.c.request('AddOffsetsToTxn', version, {
      transactionalId: this.transactionalId,
      producerId: this.producerId,
      producerEpoch: this.epoch,
      groupId,
    });
    return r.errorCode;
  }

  async commitOffsets(groupId: string, offsets: Array<[string, number, number]>, version = 3): Promise<number[]> {
    const topics = new Map<
      string,
      Array<{
        partitionIndex: number;
        committedOffset: number;
        committedLeaderEpoch: number;
        committedMetadata: string | null;
      }>
    >();
    for (const [t, p, o] of offsets)
      topics.set(t, [
        ...(topics.get(t) ?? []),
        { partitionIndex: p, committedOffset: o, committedLeaderEpoch: -1, committedMetadata: 'txn' },
      ]);
    const r = await this.c.request('TxnOffsetCommit', version, {
      transactionalId: this.transactionalId,
      groupId,
      producerId: this.producerId,
      producerEpoch: this.epoch,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    });
    return r.topics.flatMap((t) => t.partitions.map((p) => p.errorCode));
  }

  async end(commit: boolean, version = 3): Promise<number> {
    const r = await this.c.request('EndTxn', version, {
      transactionalId: this.transactionalId,
      producerId: this.producerId,
      producerEpoch: this.epoch,
      committed: commit,
    });
    return r.errorCode;
  }
}

export async function committedOffset(
  c: WireClient,
  groupId: string,
  topic: string,
  partition: number,
  requireStable = false,
): Promise<{ offset: number; errorCode: number }> {
  const r = await c.request('OffsetFetch', 7, {
    groupId,
    topics: [{ name: topic, partitionIndexes: [partition] }],
    groups: [],
    requireStable,
  });
  if (r.errorCode !== ErrorCode.NONE) return { offset: -1, errorCode: r.errorCode };
  const p = r.topics[0]!.partitions[0]!;
  return { offset: p.committedOffset, errorCode: p.errorCode };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`${what}: not true within ${ms} ms`);
    await sleep(25);
  }
}
