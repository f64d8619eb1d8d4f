import { ErrorCode } from '../protocol/errors.js';
import { codecFromName, type CompressionCodecName } from '../protocol/compression/codec.js';
import { encodeRecordBatch, encodeRecordBatchAsync, type RecordInput } from '../protocol/records/record-batch.js';
import {
  BASE_SEQUENCE_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_OVERHEAD,
  updateCrc,
} from '../protocol/records/batch-header.js';
import type { ProduceResponse } from '../protocol/messages/produce-response.js';
import { Cluster, backoff, type ClientOptions, type TopicInfo, type TopicPartition } from './cluster.js';
import type { Connection } from './connection.js';
import { ClientClosedError, KafkaError, UnsupportedVersionError, isRetriableError, kafkaError } from './errors.js';
import { headersSize, toRecordHeaders, type HeadersInit } from './headers.js';
import { StickyPartitioner, defaultPartitioner, type Partitioner } from './partitioner.js';
import { bytesSerializer, type Bytes, type Serializer } from './serializers.js';
import { TransactionManager, type ConsumerGroupMetadata, type OffsetToCommit } from './transactions.js';

export type Acks = 0 | 1 | -1 | 'all';
export type CompressionType = CompressionCodecName;

export interface ProducerRecord<K = Bytes | null, V = Bytes | null> {
  topic: string;
  /** Records with equal keys go to the same partition (murmur2, as the Java client). */
  key?: K;
  value: V;
  headers?: HeadersInit;
  /** Forces a partition; otherwise the partitioner decides. */
  partition?: number;
  /** CreateTime in ms (default now). */
  timestamp?: number | Date;
}

/** Where a record was written. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 when unknown (acks=0). */
  offset: number;
  /** The record's timestamp, or the broker's append time for LogAppendTime topics. */
  timestamp: number;
}

export type DeliveryCallback = (err: Error | null, metadata: RecordMetadata | undefined) => void;

export interface ProducerOptions<K = Bytes | null, V = Bytes | null> extends ClientOptions {
  /** 0: no answer; 1: the leader wrote it; 'all'/-1: all in-sync replicas have it. Default 'all'. */
  acks?: Acks;
  /** Wait up to this long for more records before sending a batch (linger.ms). Default 5. */
  lingerMs?: number;
  /** Target size of a partition's batch in bytes (batch.size). Default 16384. */
  batchSize?: number;
  /** Codec for record batches. Default 'none'. */
  compression?: CompressionType;
  compressionLevel?: number;
  /**
   * Idempotent delivery (a producer id and per-partition sequence numbers, so retries never write
   * duplicates). Default true, as in Kafka 3.x clients; turned off when acks is not 'all' and this
   * was not set, or when the broker does not offer InitProducerId.
   */
  idempotent?: boolean;
  /** Enables transactions (implies idempotence). */
  transactionalId?: string;
  /** Default 60000. */
  transactionTimeoutMs?: number;
  /** Produce requests in flight per broker connection (max.in.flight.requests.per.connection). Default 5. */
  maxInFlight?: number;
  /** Retries of a failed batch. Default Infinity, bounded by deliveryTimeoutMs. */
  retries?: number;
  /** Time from send() to success or final failure (delivery.timeout.ms). Default 120000. */
  deliveryTimeoutMs?: number;
  /** Largest produce request in bytes (max.request.size). Default 1048576. */
  maxRequestSize?: number;
  /** Bytes of records waiting to be sent before send() waits (buffer.memory). Default 32 MiB. */
  bufferMemory?: number;
  /** How long send() may wait for metadata or buffer space (max.block.ms). Default 60000. */
  maxBlockMs?: number;
  /** Ask the broker to create unknown topics (when it allows). Default true, as the Java producer. */
  allowAutoTopicCreation?: boolean;
  partitioner?: Partitioner;
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
}

type Encoded = RecordInput & { headers: RecordInput['headers'] };

class PartitionState {
  open: ProducerBatch | undefined;
  /** Closed batches waiting to be sent, in sequence order (retries go back in at their place). */
  readonly ready: ProducerBatch[] = [];
  inFlight = 0;
  nextSequence = 0;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

class ProducerBatch {
  readonly records: Encoded[] = [];
  readonly callbacks: (DeliveryCallback | undefined)[] = [];
  bytes = RECORD_BATCH_OVERHEAD;
  baseSequence = -1;
  producerId = -1;
  producerEpoch = -1;
  encoded: Buffer | undefined;
  encoding = false;
  attempts = 0;
  retryAt = 0;
  done = false;
  private waiters: (() => void)[] | undefined;
  constructor(
    readonly state: PartitionState,
    readonly createdAt: number,
  ) {}

  whenDone(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => (this.waiters ??= []).push(resolve));
  }

  finish(): void {
    this.done = true;
    if (this.waiters !== undefined) for (const w of this.waiters) w();
  }
}

interface Waiting {
  record: Encoded;
  size: number;
  partition: number | undefined;
  key: Buffer | null;
  cb: DeliveryCallback | undefined;
}

/**
 * A Kafka producer: records are grouped per partition into batches (batch.size, linger.ms),
 * compressed, and sent with several requests in flight per broker. Keyed records are placed with
 * the Java client's murmur2 partitioner, unkeyed ones with sticky partitioning. Idempotent by
 * default; transactional with a transactionalId.
 */
export class Producer<K = Bytes | null, V = Bytes | null> {
  readonly cluster: Cluster;
  private readonly acks: number;
  private readonly lingerMs: number;
  private readonly batchSize: number;
  private readonly codec: number;
  private readonly compressionLevel: number | undefined;
  private idempotent: boolean;
  private readonly idempotenceExplicit: boolean;
  private readonly maxInFlight: number;
  private readonly retries: number;
  private readonly deliveryTimeoutMs: number;
  private readonly maxRequestSize: number;
  private readonly bufferMemory: number;
  private readonly maxBlockMs: number;
  private readonly autoCreate: boolean;
  private readonly partitioner: Partitioner;
  private readonly sticky: StickyPartitioner;
  private readonly keySerializer: Serializer<K>;
  private readonly valueSerializer: Serializer<V>;
  private readonly txn: TransactionManager | undefined;
  private readonly transactionTimeoutMs: number;

  private readonly states = new Map<string, PartitionState[]>();
  private readonly openStates = new Set<PartitionState>();
  private readonly readyStates = new Set<PartitionState>();
  private readonly incomplete = new Set<ProducerBatch>();
  private readonly waiting = new Map<string, Waiting[]>();
  private readonly availableCache = new WeakMap<TopicInfo, number[]>();
  private readonly metadataLoads = new Map<string, Promise<void>>();
  private readonly connecting = new Set<number>();
  private bufferedBytes = 0;
  private spaceWaiters: (() => void)[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;
  private lingerDeadline = Infinity;
  private retryTimer: NodeJS.Timeout | undefined;
  private drainScheduled = false;
  private init: Promise<void> | undefined;
  private initialized = false;
  private producerId = -1;
  private producerEpoch = -1;
  private closed = false;
  private fatal: Error | undefined;

  constructor(opts: ProducerOptions<K, V> = {}) {
    this.cluster = new Cluster(opts);
    const acks = opts.acks === undefined || opts.acks === 'all' ? -1 : opts.acks;
    if (acks !== 0 && acks !== 1 && acks !== -1)
      throw new TypeError(`acks must be 0, 1 or 'all', got ${String(opts.acks)}`);
    this.acks = acks;
    this.lingerMs = opts.lingerMs ?? 5;
    this.batchSize = opts.batchSize ?? 16384;
    this.codec = codecFromName(opts.compression ?? 'none');
    this.compressionLevel = opts.compressionLevel;
    this.idempotenceExplicit = opts.idempotent !== undefined || opts.transactionalId !== undefined;
    this.idempotent = opts.transactionalId !== undefined ? true : (opts.idempotent ?? acks === -1);
    if (this.idempotent && acks !== -1) throw new TypeError("an idempotent or transactional producer needs acks 'all'");
    this.maxInFlight = opts.maxInFlight ?? 5;
    if (this.idempotent && this.maxInFlight > 5)
      throw new TypeError('an idempotent producer allows at most 5 requests in flight');
    if (this.maxInFlight < 1) throw new TypeError('maxInFlight must be at least 1');
    this.retries = opts.retries ?? Infinity;
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 120_000;
    this.maxRequestSize = opts.maxRequestSize ?? 1_048_576;
    this.bufferMemory = opts.bufferMemory ?? 32 * 1024 * 1024;
    this.maxBlockMs = opts.maxBlockMs ?? 60_000;
    this.autoCreate = opts.allowAutoTopicCreation ?? true;
    this.partitioner = opts.partitioner ?? defaultPartitioner;
    this.sticky = new StickyPartitioner(this.batchSize);
    this.keySerializer = opts.keySerializer ?? (bytesSerializer as Serializer<K>);
    this.valueSerializer = opts.valueSerializer ?? (bytesSerializer as Serializer<V>);
    this.transactionTimeoutMs = opts.transactionTimeoutMs ?? 60_000;
    if (opts.transactionalId !== undefined) {
      this.txn = new TransactionManager(this.cluster, opts.transactionalId, () => ({
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
      }));
    }
  }

  /** Whether records carry a producer id and sequence numbers (decided once connected). */
  get isIdempotent(): boolean {
    return this.idempotent;
  }

  get isTransactional(): boolean {
    return this.txn !== undefined;
  }

  /** Connects, and obtains a producer id when idempotent or transactional. Optional: send() does it. */
  async connect(): Promise<void> {
    await this.ensureInit();
  }

  private ensureInit(): Promise<void> {
    this.init ??= this.initProducerId().then(
      () => {
        this.initialized = true;
        this.releaseWaiting();
      },
      (err: Error) => {
        this.init = undefined;
        this.failWaiting(err);
        throw err;
      },
    );
    return this.init;
  }

  private async initProducerId(): Promise<void> {
    if (!this.idempotent) {
      await this.cluster.any();
      return;
    }
    const transactionalId = this.txn?.transactionalId ?? null;
    const res = await this.cluster.retry(
      'InitProducerId',
      async () => {
        const conn =
          transactionalId === null
            ? await this.cluster.any()
            : await this.cluster.coordinator('transaction', transactionalId);
        if (!conn.versions.supports('InitProducerId') && !this.idempotenceExplicit) return undefined;
        const r = await conn.request('InitProducerId', () => ({
          transactionalId,
          transactionTimeoutMs: this.transactionTimeoutMs,
          producerId: -1,
          producerEpoch: -1,
        }));
        if (r.errorCode !== ErrorCode.NONE) {
          if (
            transactionalId !== null &&
            (r.errorCode === ErrorCode.NOT_COORDINATOR || r.errorCode === ErrorCode.COORDINATOR_NOT_AVAILABLE)
          ) {
            this.cluster.invalidateCoordinator('transaction', transactionalId);
          }
          throw kafkaError(
            r.errorCode,
            transactionalId === null ? 'InitProducerId' : `InitProducerId for transactional id "${transactionalId}"`,
          );
        }
        return r;
      },
      { timeoutMs: this.maxBlockMs },
    );
    if (res === undefined) {
      // Idempotence was only the default and the broker cannot do it: carry on without.
      this.cluster.logger.warn('broker does not offer InitProducerId; producing without idempotence');
      this.idempotent = false;
      return;
    }
    this.producerId = res.producerId;
    this.producerEpoch = res.producerEpoch;
    for (const parts of this.states.values()) for (const st of parts) if (st !== undefined) st.nextSequence = 0;
  }

  /** Sends one record; resolves once the broker has it (per acks) with its partition and offset. */
  async send(record: ProducerRecord<K, V>): Promise<RecordMetadata> {
    if (this.bufferedBytes >= this.bufferMemory) await this.waitForSpace();
    return new Promise<RecordMetadata>((resolve, reject) => {
      this.produce(record, (err, md) => (err !== null ? reject(err) : resolve(md!)));
    });
  }

  /** Sends several records; resolves when all are written, in order. */
  async sendBatch(records: ProducerRecord<K, V>[]): Promise<RecordMetadata[]> {
    const out: Promise<RecordMetadata>[] = [];
    for (const r of records) {
      if (this.bufferedBytes >= this.bufferMemory) await this.waitForSpace();
      out.push(
        new Promise<RecordMetadata>((resolve, reject) => {
          this.produce(r, (err, md) => (err !== null ? reject(err) : resolve(md!)));
        }),
      );
    }
    return Promise.all(out);
  }

  /**
   * Queues a record without a promise; `callback` runs on delivery or failure. The cheapest way to
   * send many records (what `brook perf produce` uses). The record object itself is not kept (its
   * key, value and header buffers are), so a caller may reuse it. Never waits for buffer space:
   * callers that produce faster than the network drains should await `bufferSpace()`.
   */
  produce(record: ProducerRecord<K, V>, callback?: DeliveryCallback): void {
    if (this.closed) return callback?.(new ClientClosedError('producer'), undefined);
    if (this.fatal !== undefined) return callback?.(this.fatal, undefined);
    if (this.txn !== undefined && !this.txn.inTransaction) {
      return callback?.(
        new KafkaError(
          ErrorCode.INVALID_TXN_STATE,
          'a transactional producer can only send inside a transaction (call beginTransaction() first)',
        ),
        undefined,
      );
    }
    let key: Buffer | null;
    let value: Buffer | null;
    try {
      key = record.key === undefined ? null : this.keySerializer(record.key, record.topic);
      value = this.valueSerializer(record.value, record.topic);
    } catch (err) {
      return callback?.(err as Error, undefined);
    }
    const headers = record.headers === undefined ? undefined : toRecordHeaders(record.headers);
    const ts =
      record.timestamp === undefined
        ? Date.now()
        : record.timestamp instanceof Date
          ? record.timestamp.getTime()
          : record.timestamp;
    let size = 21;
    if (key !== null) size += key.length;
    if (value !== null) size += value.length;
    if (headers !== undefined) size += headersSize(headers);
    if (size + RECORD_BATCH_OVERHEAD > this.maxRequestSize) {
      return callback?.(
        kafkaError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `record of ${size} bytes exceeds maxRequestSize ${this.maxRequestSize}`,
        ),
        undefined,
      );
    }
    const rec: Encoded = { key, value, headers, timestamp: ts };
    this.bufferedBytes += size;
    const topic = record.topic;
    const info = this.initialized && !this.waiting.has(topic) ? this.cluster.cachedTopic(topic) : undefined;
    if (info !== undefined) {
      // The common case: metadata known, nothing queued ahead for the topic.
      this.place(topic, info, rec, size, record.partition, key, callback);
      return;
    }
    const entry: Waiting = { record: rec, size, partition: record.partition, key, cb: callback };
    const queued = this.waiting.get(topic);
    if (queued === undefined) this.waiting.set(topic, [entry]);
    else queued.push(entry);
    void this.ensureInit().catch(() => undefined);
    if (this.initialized) this.loadTopic(topic);
  }

  private loadTopic(topic: string): void {
    if (this.metadataLoads.has(topic)) return;
    const p = this.cluster.topic(topic, { autoCreate: this.autoCreate, timeoutMs: this.maxBlockMs }).then(
      () => {
        this.metadataLoads.delete(topic);
        this.releaseTopic(topic);
      },
      (err: Error) => {
        this.metadataLoads.delete(topic);
        const list = this.waiting.get(topic) ?? [];
        this.waiting.delete(topic);
        for (const w of list) {
          this.bufferedBytes -= w.size;
          w.cb?.(err, undefined);
        }
        this.notifySpace();
      },
    );
    this.metadataLoads.set(topic, p);
  }

  private releaseWaiting(): void {
    for (const topic of [...this.waiting.keys()]) {
      if (this.cluster.cachedTopic(topic) !== undefined) this.releaseTopic(topic);
      else this.loadTopic(topic);
    }
  }

  private failWaiting(err: Error): void {
    for (const [topic, list] of this.waiting) {
      this.waiting.delete(topic);
      for (const w of list) {
        this.bufferedBytes -= w.size;
        w.cb?.(err, undefined);
      }
    }
    this.notifySpace();
  }

  private releaseTopic(topic: string): void {
    const list = this.waiting.get(topic);
    const info = this.cluster.cachedTopic(topic);
    if (list === undefined || info === undefined) return;
    this.waiting.delete(topic);
    for (const w of list) this.place(topic, info, w.record, w.size, w.partition, w.key, w.cb);
  }

  /** Picks the partition and appends to its open batch. */
  private place(
    topic: string,
    info: TopicInfo,
    rec: Encoded,
    size: number,
    wanted: number | undefined,
    key: Buffer | null,
    cb: DeliveryCallback | undefined,
  ): void {
    const n = info.partitions.length;
    let partition: number;
    if (wanted !== undefined) {
      if (!Number.isInteger(wanted) || wanted < 0 || wanted >= n) {
        this.bufferedBytes -= size;
        cb?.(
          kafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${topic}" has partitions 0-${n - 1}, not ${wanted}`),
          undefined,
        );
        this.notifySpace();
        return;
      }
      partition = wanted;
    } else {
      partition = this.partitioner(topic, key, n);
      if (partition < 0) partition = this.sticky.partition(topic, n, this.available(info), size);
      else if (partition >= n) partition %= n;
    }
    if (Date.now() - info.fetchedAt > this.cluster.opts.metadataMaxAgeMs) this.refreshTopic(topic);
    this.append(this.state(topic, partition), rec, size, cb);
  }

  /** Partitions with a leader, cached per metadata snapshot. */
  private available(info: TopicInfo): number[] {
    let a = this.availableCache.get(info);
    if (a === undefined) {
      a = [];
      for (const p of info.partitions) if (p !== undefined && p.leader >= 0) a.push(p.partition);
      this.availableCache.set(info, a);
    }
    return a;
  }

  private state(topic: string, partition: number): PartitionState {
    let parts = this.states.get(topic);
    if (parts === undefined) this.states.set(topic, (parts = []));
    let st = parts[partition];
    if (st === undefined) parts[partition] = st = new PartitionState(topic, partition);
    return st;
  }

  private append(st: PartitionState, rec: Encoded, size: number, cb: DeliveryCallback | undefined): void {
    let b = st.open;
    if (b !== undefined && b.bytes + size > this.batchSize) {
      this.closeBatch(st);
      this.scheduleDrain();
      b = undefined;
    }
    if (b === undefined) {
      const now = Date.now();
      b = st.open = new ProducerBatch(st, now);
      this.incomplete.add(b);
      this.openStates.add(st);
      this.armLinger(now + this.lingerMs);
    }
    b.records.push(rec);
    b.callbacks.push(cb);
    b.bytes += size;
    if (b.bytes >= this.batchSize) {
      this.closeBatch(st);
      this.scheduleDrain();
    }
  }

  private armLinger(deadline: number): void {
    if (this.lingerTimer !== undefined && this.lingerDeadline <= deadline) return;
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerDeadline = deadline;
    this.lingerTimer = setTimeout(() => this.onLinger(), Math.max(0, deadline - Date.now()));
  }

  private onLinger(): void {
    this.lingerTimer = undefined;
    this.lingerDeadline = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const st of this.openStates) {
      const b = st.open!;
      if (b.createdAt + this.lingerMs <= now) this.closeBatch(st);
      else next = Math.min(next, b.createdAt + this.lingerMs);
    }
    if (next !== Infinity) this.armLinger(next);
    this.drain();
  }

  /** Ends a partition's open batch and starts compressing it. */
  private closeBatch(st: PartitionState): void {
    const b = st.open;
    if (b === undefined) return;
    st.open = undefined;
    this.openStates.delete(st);
    st.ready.push(b);
    this.readyStates.add(st);
    if (this.codec !== 0) {
      b.encoding = true;
      encodeRecordBatchAsync(this.batchOptions(b)).then(
        (buf) => {
          b.encoded = buf;
          b.encoding = false;
          this.scheduleDrain();
        },
        (err: Error) => {
          b.encoding = false;
          this.removeReady(b);
          this.complete(b, err, -1, -1);
        },
      );
    }
  }

  private batchOptions(b: ProducerBatch) {
    return {
      compression: this.codec,
      compressionLevel: this.compressionLevel,
      transactional: this.txn !== undefined,
      records: b.records,
    };
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  /** Sends every batch that is ready and allowed to go (leader known, connection open, in-flight limits). */
  private drain(): void {
    if (this.readyStates.size === 0 || this.resetting !== undefined) return;
    const now = Date.now();
    let wakeAt = Infinity;
    for (;;) {
      const byNode = new Map<number, { conn: Connection; batches: ProducerBatch[]; bytes: number }>();
      for (const st of this.readyStates) {
        const b = st.ready[0];
        if (b === undefined) {
          this.readyStates.delete(st);
          continue;
        }
        if (b.retryAt > now) {
          wakeAt = Math.min(wakeAt, b.retryAt);
          continue;
        }
        if (b.encoded === undefined) {
          if (b.encoding) continue;
          b.encoded = encodeRecordBatch(this.batchOptions(b));
        }
        if (st.inFlight >= this.maxInFlight) continue;
        // Without idempotence a retried batch must not be overtaken by a later one.
        if (!this.idempotent && st.inFlight > 0 && b.attempts > 0) continue;
        if (this.txn !== undefined && !this.txn.isPartitionAdded(st.topic, st.partition)) {
          this.txn.addPartition(st.topic, st.partition).then(
            () => this.scheduleDrain(),
            (err: Error) => this.failTransactionBatches(err),
          );
          continue;
        }
        const leader = this.cluster.cachedTopic(st.topic)?.partitions[st.partition]?.leader ?? -1;
        if (leader < 0) {
          this.refreshTopic(st.topic);
          continue;
        }
        let node = byNode.get(leader);
        if (node === undefined) {
          const conn = this.cluster.openBroker(leader);
          if (conn === undefined) {
            this.connectTo(leader);
            continue;
          }
          if (conn.inFlight >= this.maxInFlight) continue;
          byNode.set(leader, (node = { conn, batches: [], bytes: 0 }));
        }
        if (node.batches.length > 0 && node.bytes + b.encoded.length > this.maxRequestSize) continue;
        if (this.idempotent && b.baseSequence < 0) this.stamp(b);
        node.batches.push(b);
        node.bytes += b.encoded.length;
      }
      if (byNode.size === 0) break;
      for (const [nodeId, { conn, batches }] of byNode) this.sendBatches(nodeId, conn, batches);
    }
    if (wakeAt !== Infinity && this.retryTimer === undefined) {
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = undefined;
          this.drain();
        },
        Math.max(1, wakeAt - Date.now()),
      );
    }
  }

  /**
   * Gives a batch its producer id, epoch and sequence when it is first sent (so the sequence
   * follows send order even after a producer id reset), patching the encoded header and its CRC.
   */
  private stamp(b: ProducerBatch): void {
    const st = b.state;
    b.producerId = this.producerId;
    b.producerEpoch = this.producerEpoch;
    b.baseSequence = st.nextSequence;
    st.nextSequence = (st.nextSequence + b.records.length) % 0x80000000;
    const buf = b.encoded!;
    buf.writeInt32BE(Math.floor(b.producerId / 4294967296), PRODUCER_ID_OFFSET);
    buf.writeUInt32BE(b.producerId >>> 0, PRODUCER_ID_OFFSET + 4);
    buf.writeInt16BE(b.producerEpoch, PRODUCER_EPOCH_OFFSET);
    buf.writeInt32BE(b.baseSequence, BASE_SEQUENCE_OFFSET);
    updateCrc(buf, 0);
  }

  /**
   * After a sequenced batch failed for good, the broker's sequence for its partition has a gap.
   * Like the Java client, start over with a new producer id once nothing is in flight: batches
   * never sent get new sequences; retries of the old id fail (they may already be written).
   */
  private resetProducerId(cause: Error): void {
    if (this.txn !== undefined || this.resetting !== undefined || !this.idempotent) return;
    this.cluster.logger.warn({ err: cause }, 'resetting the producer id after a failed batch');
    this.resetting = (async () => {
      while (this.inFlightRequests > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      await this.initProducerId();
    })()
      .then(
        () => {
          const err = new KafkaError(
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            'batch was retried under a producer id that had to be replaced',
          );
          for (const parts of this.states.values()) {
            for (const st of parts) {
              if (st === undefined) continue;
              st.nextSequence = 0;
              for (const b of st.ready.filter((x) => x.baseSequence >= 0)) {
                this.removeReady(b);
                this.complete(b, err, -1, -1);
              }
            }
          }
        },
        (err: Error) => {
          this.fatal ??= err;
        },
      )
      .finally(() => {
        this.resetting = undefined;
        this.scheduleDrain();
      });
  }

  private connectTo(nodeId: number): void {
    if (this.connecting.has(nodeId)) return;
    this.connecting.add(nodeId);
    this.cluster.broker(nodeId).then(
      () => {
        this.connecting.delete(nodeId);
        this.scheduleDrain();
      },
      (err: Error) => {
        this.connecting.delete(nodeId);
        this.cluster.logger.debug({ err, nodeId }, 'producer could not connect');
        // The leader may have moved; look again after a pause.
        for (const st of this.readyStates) this.cluster.invalidateTopic(st.topic);
        setTimeout(() => this.scheduleDrain(), this.cluster.opts.retryBackoffMs);
      },
    );
  }

  private refreshTopic(topic: string): void {
    if (this.metadataLoads.has(topic)) return;
    const p = this.cluster
      .refreshMetadata([topic])
      .catch((err: Error) => this.cluster.logger.debug({ err, topic }, 'metadata refresh failed'))
      .then(() => {
        this.metadataLoads.delete(topic);
        setTimeout(
          () => this.scheduleDrain(),
          this.cluster.cachedTopic(topic) === undefined ? this.cluster.opts.retryBackoffMs : 0,
        );
      });
    this.metadataLoads.set(topic, p);
  }

  private requestDone(): void {
    if (--this.inFlightRequests === 0 && this.idleWaiters.length > 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  private sendBatches(nodeId: number, conn: Connection, batches: ProducerBatch[]): void {
    const topics = new Map<string, { index: number; records: Buffer }[]>();
    for (const b of batches) {
      const st = b.state;
      st.ready.shift();
      if (st.ready.length === 0) this.readyStates.delete(st);
      st.inFlight++;
      b.attempts++;
      let list = topics.get(st.topic);
      if (list === undefined) topics.set(st.topic, (list = []));
      list.push({ index: st.partition, records: b.encoded! });
    }
    const build = () => ({
      transactionalId: this.txn?.transactionalId ?? null,
      acks: this.acks,
      timeoutMs: this.cluster.opts.requestTimeoutMs,
      topicData: [...topics].map(([name, partitionData]) => ({ name, partitionData })),
    });
    if (this.acks === 0) {
      try {
        conn.send('Produce', build);
      } catch (err) {
        for (const b of batches) this.onBatchError(b, err as Error);
        return;
      }
      for (const b of batches) {
        b.state.inFlight--;
        this.complete(b, null, -1, -1);
      }
      this.scheduleDrain();
      return;
    }
    this.inFlightRequests++;
    conn.request('Produce', build).then(
      (res) => {
        this.requestDone();
        this.onProduceResponse(nodeId, batches, res);
      },
      (err: Error) => {
        this.requestDone();
        for (const b of batches) this.onBatchError(b, err);
        this.scheduleDrain();
      },
    );
  }

  private onProduceResponse(_nodeId: number, batches: ProducerBatch[], res: ProduceResponse): void {
    const results = new Map<string, ProduceResponse['responses'][number]['partitionResponses'][number]>();
    for (const t of res.responses) for (const p of t.partitionResponses) results.set(`${t.name}\u0000${p.index}`, p);
    for (const b of batches) {
      const st = b.state;
      const r = results.get(`${st.topic}\u0000${st.partition}`);
      if (r === undefined) {
        this.onBatchError(
          b,
          new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `produce response lacks ${st.topic}-${st.partition}`),
        );
        continue;
      }
      if (r.errorCode === ErrorCode.NONE || r.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
        st.inFlight--;
        this.complete(b, null, r.baseOffset, r.logAppendTimeMs);
        continue;
      }
      this.onBatchError(b, kafkaError(r.errorCode, `${st.topic}-${st.partition}`, r.errorMessage), r.errorCode);
    }
    this.scheduleDrain();
  }

  private onBatchError(b: ProducerBatch, err: Error, code?: number): void {
    const st = b.state;
    st.inFlight--;
    let retriable = isRetriableError(err);
    // A batch behind a failed one is refused as out of order; it is fine once the earlier one is resent.
    if (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && this.idempotent) {
      retriable = st.ready.some((x) => x.baseSequence >= 0 && x.baseSequence < b.baseSequence) || st.inFlight > 0;
    }
    if (
      code === ErrorCode.NOT_LEADER_OR_FOLLOWER ||
      code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
      code === ErrorCode.LEADER_NOT_AVAILABLE ||
      code === undefined
    ) {
      this.cluster.invalidateTopic(st.topic);
    }
    const now = Date.now();
    if (retriable && !this.closedHard && b.attempts <= this.retries && now - b.createdAt < this.deliveryTimeoutMs) {
      b.retryAt = now + backoff(b.attempts - 1, this.cluster.opts.retryBackoffMs, this.cluster.opts.retryBackoffMaxMs);
      // Back into the queue at its sequence position, ahead of later batches.
      let i = 0;
      while (
        i < st.ready.length &&
        (this.idempotent ? st.ready[i]!.baseSequence < b.baseSequence && st.ready[i]!.baseSequence >= 0 : false)
      )
        i++;
      st.ready.splice(i, 0, b);
      this.readyStates.add(st);
      return;
    }
    if (this.txn !== undefined) {
      if (
        code === ErrorCode.INVALID_PRODUCER_EPOCH ||
        code === ErrorCode.PRODUCER_FENCED ||
        code === ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
      )
        this.fatal ??= err;
      else this.txn.recordFailure(err);
    } else if (this.idempotent && b.baseSequence >= 0) {
      this.resetProducerId(err);
    }
    this.complete(b, err, -1, -1);
  }

  private closedHard = false;
  private resetting: Promise<void> | undefined;
  private inFlightRequests = 0;
  private idleWaiters: (() => void)[] = [];

  private removeReady(b: ProducerBatch): void {
    const st = b.state;
    const i = st.ready.indexOf(b);
    if (i >= 0) st.ready.splice(i, 1);
  }

  private complete(b: ProducerBatch, err: Error | null, baseOffset: number, logAppendTime: number): void {
    if (b.done) return;
    const { topic, partition } = b.state;
    const records = b.records;
    const callbacks = b.callbacks;
    for (let i = 0; i < records.length; i++) {
      const cb = callbacks[i];
      if (cb === undefined) continue;
      if (err !== null) cb(err, undefined);
      else
        cb(null, {
          topic,
          partition,
          offset: baseOffset < 0 ? -1 : baseOffset + i,
          timestamp: logAppendTime >= 0 ? logAppendTime : records[i]!.timestamp,
        });
    }
    this.bufferedBytes -= b.bytes - RECORD_BATCH_OVERHEAD;
    this.incomplete.delete(b);
    b.finish();
    this.notifySpace();
  }

  /** Bytes of records accepted but not yet acknowledged. */
  get bufferedSize(): number {
    return this.bufferedBytes;
  }

  /** Resolves when the buffer has room again (at once if it has): backpressure for produce() loops. */
  bufferSpace(): Promise<void> {
    return this.bufferedBytes < this.bufferMemory ? Promise.resolve() : this.waitForSpace();
  }

  private waitForSpace(): Promise<void> {
    const deadline = Date.now() + this.maxBlockMs;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          const i = this.spaceWaiters.indexOf(check);
          if (i >= 0) this.spaceWaiters.splice(i, 1);
          reject(new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `producer buffer stayed full for ${this.maxBlockMs} ms`));
        },
        Math.max(0, deadline - Date.now()),
      );
      const check = () => {
        clearTimeout(timer);
        resolve();
      };
      this.spaceWaiters.push(check);
    });
  }

  private notifySpace(): void {
    if (this.spaceWaiters.length === 0 || this.bufferedBytes >= this.bufferMemory) return;
    const ws = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of ws) w();
  }

  /** Sends everything queued now (ignoring linger) and resolves when all of it is acknowledged or failed. */
  async flush(): Promise<void> {
    const loads = [...this.metadataLoads.values()];
    if (this.init !== undefined) await this.init.catch(() => undefined);
    await Promise.all(loads);
    for (const st of [...this.openStates]) this.closeBatch(st);
    const pending = [...this.incomplete].map((b) => b.whenDone());
    this.drain();
    await Promise.all(pending);
    if (this.waiting.size > 0 || this.incomplete.size > 0) await this.flush();
  }

  // ---- transactions ----

  private requireTxn(): TransactionManager {
    if (this.txn === undefined) throw new TypeError('this producer has no transactionalId');
    if (this.fatal !== undefined) throw this.fatal;
    return this.txn;
  }

  /** Starts a transaction; records sent until commit or abort belong to it. */
  async beginTransaction(): Promise<void> {
    const txn = this.requireTxn();
    await this.ensureInit();
    txn.begin();
  }

  /** Commits the consumer offsets with the transaction (consume-transform-produce). */
  async sendOffsetsToTransaction(offsets: OffsetToCommit[], group: ConsumerGroupMetadata | string): Promise<void> {
    const txn = this.requireTxn();
    await txn.sendOffsets(
      offsets,
      typeof group === 'string' ? { groupId: group, generationId: -1, memberId: '', groupInstanceId: null } : group,
    );
  }

  /** Flushes, then commits: the transaction's records become visible to read_committed consumers. */
  async commitTransaction(): Promise<void> {
    const txn = this.requireTxn();
    await this.flush();
    const failed = txn.takeFailure();
    if (failed !== undefined) {
      await txn.end(false);
      throw failed;
    }
    await txn.end(true);
  }

  /** Drops unsent records of the transaction and aborts it: consumers in read_committed never see them. */
  async abortTransaction(): Promise<void> {
    const txn = this.requireTxn();
    const err = new KafkaError(ErrorCode.TRANSACTION_ABORTABLE, 'the transaction was aborted');
    for (const st of [...this.openStates]) this.closeBatch(st);
    for (const st of [...this.readyStates]) {
      for (const b of st.ready.splice(0)) this.complete(b, err, -1, -1);
      this.readyStates.delete(st);
    }
    await Promise.all([...this.incomplete].map((b) => b.whenDone()));
    txn.takeFailure();
    await txn.end(false);
  }

  /** Runs `fn` inside a transaction: commits when it resolves, aborts (and rethrows) when it throws. */
  async transaction<T>(fn: (producer: this) => Promise<T>): Promise<T> {
    await this.beginTransaction();
    let result: T;
    try {
      result = await fn(this);
    } catch (err) {
      await this.abortTransaction();
      throw err;
    }
    await this.commitTransaction();
    return result;
  }

  private failTransactionBatches(err: Error): void {
    this.txn?.recordFailure(err);
    for (const st of [...this.readyStates]) {
      if (this.txn !== undefined && this.txn.isPartitionAdded(st.topic, st.partition)) continue;
      for (const b of st.ready.splice(0)) this.complete(b, err, -1, -1);
      this.readyStates.delete(st);
    }
  }

  /** Flushes and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.closedHard = true;
      if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.cluster.close();
    }
  }
}

export type { TopicPartition, OffsetToCommit, ConsumerGroupMetadata };
export { UnsupportedVersionError };
