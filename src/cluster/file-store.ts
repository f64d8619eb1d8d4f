import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MetadataKeys, type MetadataValue } from './metadata-records.js';
import type { DeltaListener, MetadataSnapshot, MetadataStore, MetadataWrite } from './metadata-store.js';
import { migrateV1, type SnapshotV1 } from './metadata-migration.js';
import { VersionedState, type PlannedTxn } from './versioned-state.js';

export const METADATA_FILE = 'metadata.json';
const FORMAT_VERSION = 2;

interface SnapshotV2 {
  version: 2;
  revision: number;
  entries: { key: string; version: number; value: MetadataValue }[];
}

/**
 * The cluster metadata of a single node, in `<data-dir>/meta/metadata.json`. Every commit
 * rewrites the file through a temporary file (write, fdatasync, rename, fsync the directory), all
 * on the thread pool, and only then applies the change and tells watchers: a crash leaves the old
 * or the new state, never a mix, and no watcher ever saw a state a crash can take back. Commits
 * run one at a time, so versions are checked against the state on disk. Broker registrations are
 * ephemeral (they end with the broker's session) and never reach the file.
 */
export class FileMetadataStore implements MetadataStore {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly dir: string,
    readonly clusterId: string,
    private readonly state: VersionedState,
  ) {}

  /**
   * Opens (or creates) the store of a data dir. A format-1 file (before versions and partition
   * records) is migrated: every partition is recorded as led by `nodeId`, the node that wrote it.
   */
  static async open(
    dataDir: string,
    nodeId: number,
    onListenerError?: (err: unknown) => void,
  ): Promise<FileMetadataStore> {
    const dir = join(dataDir, 'meta');
    await mkdir(dir, { recursive: true });
    const clusterId = await loadOrCreateMetaProperties(dataDir, nodeId);
    // A temporary file is a write that never reached its rename: the state it held was not committed.
    await unlink(join(dir, `${METADATA_FILE}.tmp`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    let text: string | null = null;
    try {
      text = await readFile(join(dir, METADATA_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let snapshot: MetadataSnapshot = { revision: 0, entries: [] };
    let migrated = false;
    if (text !== null) {
      const raw = JSON.parse(text) as { version?: number };
      if (raw.version === undefined || raw.version === 1) {
        snapshot = migrateV1(raw as SnapshotV1, nodeId);
        migrated = true;
      } else if (raw.version === FORMAT_VERSION) {
        const v2 = raw as SnapshotV2;
        snapshot = { revision: v2.revision, entries: v2.entries };
      } else {
        throw new Error(`${join(dir, METADATA_FILE)} has format version ${raw.version}; this Brook reads 1 and 2`);
      }
    }
    const store = new FileMetadataStore(dir, clusterId, new VersionedState(snapshot, onListenerError));
    if (migrated) await store.write(snapshot.revision, snapshot.entries);
    return store;
  }

  get revision(): number {
    return this.state.revision;
  }

  snapshot(): Promise<MetadataSnapshot> {
    return Promise.resolve(this.state.snapshot());
  }

  commit(writes: MetadataWrite[]): Promise<number> {
    const run = this.queue.then(async () => {
      if (this.closed) throw new Error('metadata store is closed');
      const txn = this.state.plan(writes);
      if (txn.writes.some((w) => !MetadataKeys.isEphemeral(w.key))) await this.persist(txn);
      return this.state.apply(txn).revision;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  watch(fromRevision: number, listener: DeltaListener): () => void {
    return this.state.watch(fromRevision, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }

  private persist(txn: PlannedTxn): Promise<void> {
    return this.write(txn.revision, this.state.entriesAfter(txn));
  }

  private write(revision: number, entries: Iterable<{ key: string; version: number; value: MetadataValue }>) {
    const out: SnapshotV2 = { version: FORMAT_VERSION, revision, entries: [] };
    for (const e of entries) {
      if (!MetadataKeys.isEphemeral(e.key)) out.entries.push({ key: e.key, version: e.version, value: e.value });
    }
    out.entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return writeFileAtomic(this.dir, METADATA_FILE, JSON.stringify(out, null, 1));
  }
}

/** Replaces `dir/name` atomically and durably, without blocking the event loop. */
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
