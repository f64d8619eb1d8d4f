import { setBaseOffset, lastOffsetDelta } from '../../src/protocol/records/batch-header.js';
import { GroupCoordinator } from '../../src/group/group-coordinator.js';
import { ManualTime } from '../../src/group/time.js';
import {
  DEFAULT_GROUP_CONFIG,
  type GroupCoordinatorConfig,
  type OffsetsLog,
  type TopicMetadataView,
} from '../../src/group/types.js';
import { Writer } from '../../src/protocol/writer.js';
import { writeConsumerProtocolSubscription } from '../../src/protocol/messages/consumer-protocol-subscription.js';
import { writeConsumerProtocolAssignment } from '../../src/protocol/messages/consumer-protocol-assignment.js';

/** __consumer_offsets in memory: batches per partition with real base offsets, like the partition log. */
export class MemoryOffsetsLog implements OffsetsLog {
  readonly partitions: Buffer[][];
  private readonly ends: number[];
  created = false;
  /** Makes the next appends fail with this error. */
  failAppends: Error | null = null;
  /** While set, reads wait for it (a slow start-up load). */
  readGate: Promise<void> | null = null;
  appends = 0;

  constructor(readonly partitionCount: number) {
    this.partitions = Array.from({ length: partitionCount }, () => []);
    this.ends = new Array<number>(partitionCount).fill(0);
  }

  async ensureCreated(): Promise<void> {
    this.created = true;
  }

  async append(partition: number, batch: Buffer): Promise<{ baseOffset: number }> {
    if (this.failAppends) throw this.failAppends;
    const copy = Buffer.from(batch);
    const baseOffset = this.ends[partition]!;
    setBaseOffset(copy, 0, baseOffset);
    this.ends[partition] = baseOffset + lastOffsetDelta(copy) + 1;
    this.partitions[partition]!.push(copy);
    this.appends++;
    return { baseOffset };
  }

  async read(
    partition: number,
    fromOffset: number,
    visitor: (batch: Buffer) => boolean | void | Promise<boolean | void>,
  ): Promise<void> {
    if (this.readGate) await this.readGate;
    for (const b of this.partitions[partition]!) {
      if (b.readBigInt64BE(0) < BigInt(fromOffset)) continue;
      if ((await visitor(b)) === false) return;
    }
  }

  /** Appends a raw batch (e.g. a transaction marker written by another component). */
  appendRaw(partition: number, batch: Buffer): void {
    void this.append(partition, batch);
  }

  totalBatches(): number {
    return this.partitions.reduce((n, p) => n + p.length, 0);
  }
}

export class FakeTopics implements TopicMetadataView {
  private readonly topics = new Map<string, { id: string; partitions: number; ends: number[] }>();
  private nextId = 1;

  add(name: string, partitions: number): string {
    const id = `00000000-0000-4000-8000-${(this.nextId++).toString(16).padStart(12, '0')}`;
    this.topics.set(name, { id, partitions, ends: new Array<number>(partitions).fill(0) });
    return id;
  }

  setPartitions(name: string, partitions: number): void {
    const t = this.topics.get(name)!;
    while (t.ends.length < partitions) t.ends.push(0);
    t.partitions = partitions;
  }

  setEnd(name: string, partition: number, end: number): void {
    this.topics.get(name)!.ends[partition] = end;
  }

  remove(name: string): void {
    this.topics.delete(name);
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions;
  }

  topicIdOf(topic: string): string | undefined {
    return this.topics.get(topic)?.id;
  }

  topicNameOf(topicId: string): string | undefined {
    for (const [name, t] of this.topics) if (t.id === topicId) return name;
    return undefined;
  }

  logEndOffset(topic: string, partition: number): number | undefined {
    return this.topics.get(topic)?.ends[partition];
  }
}

export interface Harness {
  coordinator: GroupCoordinator;
  /** Start-up (loading __consumer_offsets); already resolved unless `awaitStartup: false`. */
  started: Promise<void>;
  time: ManualTime;
  log: MemoryOffsetsLog;
  topics: FakeTopics;
  config: GroupCoordinatorConfig;
}

export const TEST_PARTITIONS = 5;

/** A started coordinator on manual time. Defaults: no initial rebalance delay. */
export async function harness(
  opts: {
    config?: Partial<GroupCoordinatorConfig>;
    log?: MemoryOffsetsLog;
    topics?: FakeTopics;
    time?: ManualTime;
    awaitStartup?: boolean;
  } = {},
): Promise<Harness> {
  const time = opts.time ?? new ManualTime();
  const log = opts.log ?? new MemoryOffsetsLog(TEST_PARTITIONS);
  const topics = opts.topics ?? new FakeTopics();
  const config: GroupCoordinatorConfig = { ...DEFAULT_GROUP_CONFIG, groupInitialRebalanceDelayMs: 0, ...opts.config };
  const coordinator = new GroupCoordinator({
    node: () => ({ nodeId: 1, host: '127.0.0.1', port: 9092 }),
    config,
    offsetsTopicPartitionCount: log.partitionCount,
    offsetsLog: log,
    topics,
    time,
  });
  const started = coordinator.startup();
  if (opts.awaitStartup !== false) await started;
  return { coordinator, started, time, log, topics, config };
}

/** Lets pending promise callbacks (appends, responses) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * Moves manual time and lets what it triggered run. With `stepMs`, time moves in steps with the
 * promise callbacks of each step run before the next (as they would between real timer ticks).
 */
export async function advance(h: { time: ManualTime }, ms: number, stepMs = ms): Promise<void> {
  let left = ms;
  do {
    const step = Math.min(stepMs, left);
    h.time.advance(step);
    await settle();
    left -= step;
  } while (left > 0);
}

export function subscription(topics: string[], version = 1): Buffer {
  const w = new Writer(64).int16(version);
  writeConsumerProtocolSubscription(w, version, {
    topics,
    userData: null,
    ownedPartitions: [],
    generationId: -1,
    rackId: null,
  });
  return w.toBuffer();
}

export function assignment(parts: Array<{ topic: string; partitions: number[] }>): Buffer {
  const w = new Writer(64).int16(0);
  writeConsumerProtocolAssignment(w, 0, { assignedPartitions: parts, userData: null });
  return w.toBuffer();
}

/** Watches a promise without awaiting it: `done` and `value` tell whether and how it settled. */
export function track<T>(p: Promise<T>): { done: boolean; value: T | undefined; promise: Promise<T> } {
  const t = { done: false, value: undefined as T | undefined, promise: p };
  p.then(
    (v) => {
      t.done = true;
      t.value = v;
    },
    () => {
      t.done = true; // a rejection is the test's to assert through `promise`
    },
  );
  return t;
}
