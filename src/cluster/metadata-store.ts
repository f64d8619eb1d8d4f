import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { INTERNAL_TOPICS, collisionKey } from './topic-name.js';

export interface TopicRecord {
  name: string;
  topicId: string;
  partitions: number;
  /** Topic-level config overrides (Kafka names), as set at creation or through the config APIs. */
  configs: Record<string, string>;
  internal: boolean;
}

interface Snapshot {
  version: 1;
  topics: TopicRecord[];
  brokerConfigs: { default: Record<string, string>; broker: Record<string, string> };
}

/**
 * The cluster metadata a single node owns: cluster id, topics (ids, partition counts, config
 * overrides) and dynamic broker configs. Kept in `<data-dir>/meta/metadata.json`, replaced
 * atomically (write, fsync, rename, fsync dir) on every change so a crash leaves the old or the new
 * state, never a mix. Behind this interface an etcd-backed store can replace it for clusters.
 */
export class MetadataStore {
  private readonly byName = new Map<string, TopicRecord>();
  private readonly byId = new Map<string, TopicRecord>();
  private brokerConfigs: Snapshot['brokerConfigs'] = { default: {}, broker: {} };
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    readonly clusterId: string,
    readonly nodeId: number,
  ) {}

  static async open(dataDir: string, nodeId: number): Promise<MetadataStore> {
    await mkdir(join(dataDir, 'meta'), { recursive: true });
    const clusterId = await loadOrCreateMetaProperties(dataDir, nodeId);
    const store = new MetadataStore(join(dataDir, 'meta'), clusterId, nodeId);
    let text: string | null = null;
    try {
      text = await readFile(join(store.dir, 'metadata.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== null) {
      const snap = JSON.parse(text) as Snapshot;
      for (const t of snap.topics) store.index(t);
      store.brokerConfigs = snap.brokerConfigs ?? { default: {}, broker: {} };
    }
    return store;
  }

  private index(t: TopicRecord): void {
    this.byName.set(t.name, t);
    this.byId.set(t.topicId, t);
  }

  topics(): IterableIterator<TopicRecord> {
    return this.byName.values();
  }

  topic(name: string): TopicRecord | undefined {
    return this.byName.get(name);
  }

  topicById(id: string): TopicRecord | undefined {
    return this.byId.get(id);
  }

  /** A topic whose name collides with `name` on '.' versus '_', if any. */
  collidingTopic(name: string): TopicRecord | undefined {
    const key = collisionKey(name);
    for (const t of this.byName.values()) if (t.name !== name && collisionKey(t.name) === key) return t;
    return undefined;
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<TopicRecord> {
    if (this.byName.has(name)) throw new Error(`topic ${name} exists`);
    const t: TopicRecord = {
      name,
      topicId: newTopicId(),
      partitions,
      configs: { ...configs },
      internal: INTERNAL_TOPICS.has(name),
    };
    this.index(t);
    await this.persist();
    return t;
  }

  async deleteTopic(name: string): Promise<TopicRecord | undefined> {
    const t = this.byName.get(name);
    if (!t) return undefined;
    this.byName.delete(name);
    this.byId.delete(t.topicId);
    await this.persist();
    return t;
  }

  async setPartitionCount(name: string, partitions: number): Promise<void> {
    const t = this.byName.get(name);
    if (!t) throw new Error(`no topic ${name}`);
    t.partitions = partitions;
    await this.persist();
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const t = this.byName.get(name);
    if (!t) throw new Error(`no topic ${name}`);
    t.configs = { ...configs };
    await this.persist();
  }

  dynamicBrokerConfigs(scope: 'default' | 'broker'): Record<string, string> {
    return { ...this.brokerConfigs[scope] };
  }

  async setDynamicBrokerConfigs(scope: 'default' | 'broker', configs: Record<string, string>): Promise<void> {
    this.brokerConfigs[scope] = { ...configs };
    await this.persist();
  }

  /** Serialises writes so the file always holds the latest state once the promise settles. */
  private persist(): Promise<void> {
    const snapshot: Snapshot = { version: 1, topics: [...this.byName.values()], brokerConfigs: this.brokerConfigs };
    const text = JSON.stringify(snapshot, null, 1);
    this.writing = this.writing.then(() => writeFileAtomic(this.dir, 'metadata.json', text));
    return this.writing;
  }
}

/** A random topic id that is never the all-zero "no id" uuid. */
function newTopicId(): string {
  let id = randomUUID();
  while (id === '00000000-0000-0000-0000-000000000000') id = randomUUID();
  return id;
}

export async function writeFileAtomic(dir: string, name: string, text: string | Buffer): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * `meta.properties` identifies the data dir as Kafka's does (version, cluster.id, node.id). A data
 * dir written by another node id is refused rather than silently adopted.
 */
async function loadOrCreateMetaProperties(dataDir: string, nodeId: number): Promise<string> {
  const path = join(dataDir, 'meta.properties');
  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== null) {
    const props = new Map<string, string>();
    for (const line of text.split('\n')) {
      const m = /^([^#=]+)=(.*)$/.exec(line.trim());
      if (m) props.set(m[1]!.trim(), m[2]!.trim());
    }
    const stored = Number(props.get('node.id'));
    if (props.has('node.id') && stored !== nodeId) {
      throw new Error(`data dir ${dataDir} belongs to node.id ${stored}, but this broker is node.id ${nodeId}`);
    }
    const cid = props.get('cluster.id');
    if (cid) return cid;
  }
  const clusterId = randomBytes(16).toString('base64url');
  await writeFileAtomic(
    dataDir,
    'meta.properties',
    `#\n#${new Date().toISOString()}\nversion=1\ncluster.id=${clusterId}\nnode.id=${nodeId}\n`,
  );
  return clusterId;
}
