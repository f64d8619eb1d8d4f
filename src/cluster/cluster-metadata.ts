import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { MetadataImage } from './metadata-image.js';
import {
  MetadataKeys,
  keyOf,
  type BrokerRegistration,
  type MetadataValue,
  type PartitionRecord,
  type TopicRecord,
} from './metadata-records.js';
import { MetadataConflictError, type MetadataDelta, type MetadataStore, type MetadataWrite } from './metadata-store.js';
import { dispatchDelta, type PartitionStateListener, type TopicChangeListener } from './partition-state.js';
import { INTERNAL_TOPICS } from './topic-name.js';

/** How often a read-modify-write retries after losing a compare-and-swap to another broker. */
const CONFLICT_RETRIES = 5;

/**
 * One broker's handle on cluster metadata: its image of the store (kept current from the store's
 * deltas) for reads, and the writes the broker makes, each a compare-and-swap against the version
 * it read. A write resolves once this broker's image has reached the write's revision and the
 * partition work it caused (opening, deleting logs) is done: the broker reads its own writes.
 */
export class ClusterMetadata {
  readonly image = new MetadataImage();
  private unwatch: (() => void) | null = null;
  private partitionListener: PartitionStateListener | null = null;
  private topicListener: TopicChangeListener | null = null;
  /** Partition work (stopReplica) still running, awaited before a write resolves. */
  private work: Promise<void> = Promise.resolve();
  /** This broker's writes run one at a time, so it never races itself on a version. */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly waiters: { revision: number; resolve: () => void }[] = [];
  private registered = false;

  private constructor(
    readonly store: MetadataStore,
    readonly nodeId: number,
    private readonly log: Logger,
  ) {}

  get clusterId(): string {
    return this.store.clusterId;
  }

  static async open(store: MetadataStore, nodeId: number, log: Logger): Promise<ClusterMetadata> {
    const m = new ClusterMetadata(store, nodeId, log);
    const snapshot = await store.snapshot();
    m.image.load(snapshot);
    m.unwatch = store.watch(snapshot.revision, (d) => m.onDelta(d));
    return m;
  }

  /**
   * Starts applying partition roles: every partition in the image now, then each delta. Before
   * this, deltas only update the image (the broker is still recovering its logs).
   */
  attach(partitions: PartitionStateListener, topics: TopicChangeListener): void {
    this.partitionListener = partitions;
    this.topicListener = topics;
    for (const t of this.image.topics()) {
      for (const p of this.image.partitions(t.name)) {
        if (!p) continue;
        if (p.leader === this.nodeId) partitions.becomeLeader(t, p);
        else if (p.replicas.includes(this.nodeId)) partitions.becomeFollower(t, p);
      }
    }
  }

  private onDelta(delta: MetadataDelta): void {
    this.image.apply(delta);
    if (this.partitionListener && this.topicListener) {
      const work = dispatchDelta(this.nodeId, this.image, delta, this.partitionListener, this.topicListener);
      if (work.length > 0) {
        const all = Promise.all(work).then(
          () => {},
          (err) => this.log.error({ err, revision: delta.revision }, 'stopping a replica failed'),
        );
        this.work = Promise.all([this.work, all]).then(() => {});
      }
    }
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.revision <= this.image.revision) this.waiters.splice(i, 1)[0]!.resolve();
    }
  }

  /** Resolves once the image has reached `revision` and the partition work it caused is done. */
  private async caughtUp(revision: number): Promise<void> {
    if (this.image.revision < revision) {
      await new Promise<void>((resolve) => this.waiters.push({ revision, resolve }));
    }
    await this.work;
  }

  // ---- reads (from the image) ----

  topic(name: string): TopicRecord | undefined {
    return this.image.topic(name);
  }

  topicById(id: string): TopicRecord | undefined {
    return this.image.topicById(id);
  }

  topics(): IterableIterator<TopicRecord> {
    return this.image.topics();
  }

  collidingTopic(name: string): TopicRecord | undefined {
    return this.image.collidingTopic(name);
  }

  /** The partition records of a topic, in index order. */
  partitions(topic: string): PartitionRecord[] {
    return this.image.partitions(topic).filter((p) => p !== undefined);
  }

  partition(topic: string, index: number): PartitionRecord | undefined {
    return this.image.partition(topic, index);
  }

  /** Registered brokers by node id (this one included once it has registered). */
  brokers(): BrokerRegistration[] {
    return this.image.brokers();
  }

  dynamicBrokerConfigs(scope: 'default' | 'broker'): Record<string, string> {
    return this.image.configs('broker', scope === 'default' ? '' : String(this.nodeId));
  }

  // ---- writes ----

  /**
   * Creates a topic with its partitions assigned round robin over the registered brokers (this
   * one always counts as registered), one replica each, the replica leading at epoch 0.
   */
  async createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<TopicRecord> {
    await this.write(() => {
      if (this.image.topic(name))
        throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
      const topicId = newTopicId();
      const nodes = new Set(this.image.brokers().map((b) => b.nodeId));
      nodes.add(this.nodeId);
      const ids = [...nodes].sort((a, b) => a - b);
      // Start at this broker, so a single node (and the first partition of a topic) stays local.
      const start = ids.indexOf(this.nodeId);
      const values: MetadataValue[] = [
        { kind: 'topic', name, topicId, partitions, internal: INTERNAL_TOPICS.has(name) },
      ];
      if (Object.keys(configs).length > 0)
        values.push({ kind: 'config', resource: 'topic', name, configs: { ...configs } });
      for (let p = 0; p < partitions; p++) values.push(newPartition(name, topicId, p, ids[(start + p) % ids.length]!));
      return values.map((value) => ({ key: keyOf(value), expectedVersion: 0, value }));
    });
    return this.image.topic(name)!;
  }

  async deleteTopic(name: string): Promise<TopicRecord | undefined> {
    const t = this.image.topic(name);
    if (!t) return undefined;
    await this.write(() => {
      const current = this.image.topic(name);
      if (!current || current.topicId !== t.topicId) return [];
      const out: MetadataWrite[] = [];
      for (const p of this.image.partitions(name))
        if (p) out.push(this.remove(MetadataKeys.partition(name, p.partition)));
      const configKey = MetadataKeys.config('topic', name);
      if (this.image.versionOf(configKey) > 0) out.push(this.remove(configKey));
      out.push(this.remove(MetadataKeys.topic(name)));
      return out;
    });
    return t;
  }

  /** Grows a topic; the new partitions are assigned as at creation. */
  async setPartitionCount(name: string, total: number): Promise<void> {
    await this.write(() => {
      const t = this.image.topic(name);
      if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist`);
      const ids = [...new Set([...this.image.brokers().map((b) => b.nodeId), this.nodeId])].sort((a, b) => a - b);
      const start = ids.indexOf(this.nodeId);
      const out: MetadataWrite[] = [
        this.put({ kind: 'topic', name, topicId: t.topicId, partitions: total, internal: t.internal }),
      ];
      for (let p = t.partitions; p < total; p++) {
        out.push(this.put(newPartition(name, t.topicId, p, ids[(start + p) % ids.length]!)));
      }
      return out;
    });
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    await this.write(() => {
      if (!this.image.topic(name)) {
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist`);
      }
      return [this.putConfig('topic', name, configs)];
    });
  }

  async setDynamicBrokerConfigs(scope: 'default' | 'broker', configs: Record<string, string>): Promise<void> {
    await this.write(() => [this.putConfig('broker', scope === 'default' ? '' : String(this.nodeId), configs)]);
  }

  /** Announces this broker (Kafka's BrokerRegistrationRequest); replaces an earlier registration of its id. */
  async register(reg: Omit<BrokerRegistration, 'nodeId'>): Promise<void> {
    await this.write(() => [this.put({ kind: 'broker', nodeId: this.nodeId, ...reg })]);
    this.registered = true;
  }

  /** Unregisters (when it registered) and stops following the store. */
  async close(): Promise<void> {
    if (this.registered) {
      this.registered = false;
      await this.write(() => {
        const key = MetadataKeys.broker(this.nodeId);
        return this.image.versionOf(key) > 0 ? [this.remove(key)] : [];
      }).catch((err) => this.log.warn({ err }, 'could not unregister the broker'));
    }
    await this.writes.catch(() => {});
    this.unwatch?.();
    this.unwatch = null;
  }

  private put(value: MetadataValue): MetadataWrite {
    const key = keyOf(value);
    return { key, expectedVersion: this.image.versionOf(key), value };
  }

  private remove(key: string): MetadataWrite {
    return { key, expectedVersion: this.image.versionOf(key), value: null };
  }

  private putConfig(resource: 'topic' | 'broker', name: string, configs: Record<string, string>): MetadataWrite {
    const key = MetadataKeys.config(resource, name);
    if (Object.keys(configs).length === 0) return this.remove(key);
    return this.put({ kind: 'config', resource, name, configs: { ...configs } });
  }

  /**
   * Runs one read-modify-write: `plan` reads the image and returns compare-and-swaps; a lost
   * compare (another broker wrote first) re-plans against the newer image a few times.
   */
  private write(plan: () => MetadataWrite[]): Promise<void> {
    const run = this.writes.then(async () => {
      for (let attempt = 0; ; attempt++) {
        const writes = plan().filter((w) => w.value !== null || w.expectedVersion > 0);
        if (writes.length === 0) return;
        try {
          await this.caughtUp(await this.store.commit(writes));
          return;
        } catch (err) {
          if (!(err instanceof MetadataConflictError) || attempt >= CONFLICT_RETRIES) throw err;
          this.log.debug({ key: err.key }, 'metadata write lost a compare-and-swap; retrying');
          // The newer version is on its way to the image (at once for the stores that exist today).
          await new Promise((r) => setTimeout(r, 10 * (attempt + 1)));
        }
      }
    });
    this.writes = run.catch(() => {});
    return run;
  }
}

function newPartition(topic: string, topicId: string, partition: number, leader: number): MetadataValue {
  return {
    kind: 'partition',
    topic,
    topicId,
    partition,
    replicas: [leader],
    isr: [leader],
    leader,
    leaderEpoch: 0,
    partitionEpoch: 0,
  };
}

/** A random topic id that is never the all-zero "no id" uuid. */
function newTopicId(): string {
  let id = randomUUID();
  while (id === '00000000-0000-0000-0000-000000000000') id = randomUUID();
  return id;
}
