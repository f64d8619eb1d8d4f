import * as fs from 'node:fs';

/**
 * A file whose descriptor the pool may close while nobody uses it. Segments hold one per `.log`
 * file; the path is updated on rename so a later re-open finds the file under its new name.
 */
export class PooledFile {
  fd = -1;
  pins = 0;
  closed = false;
  constructor(
    readonly pool: FilePool,
    public path: string,
  ) {}

  /** The descriptor, opened on demand; valid until the next pool operation unless pinned. */
  get(): number {
    if (this.fd >= 0) {
      this.pool.touch(this);
      return this.fd;
    }
    if (this.closed) throw new Error(`file closed: ${this.path}`);
    this.pool.open(this);
    return this.fd;
  }

  /** Opens (if needed) and keeps the descriptor open until `unpin`, for async I/O. */
  pin(): number {
    const fd = this.get();
    this.pins++;
    return fd;
  }

  unpin(): void {
    this.pins--;
    if (this.pins === 0 && this.closed) this.pool.release(this);
  }

  /** Closes the descriptor now (or when the last pin goes) and forbids reopening. */
  close(): void {
    this.closed = true;
    if (this.pins === 0) this.pool.release(this);
  }
}

/**
 * Bounds the descriptors open across every partition of a data directory: least recently used
 * descriptors are closed first, pinned ones (an fs.read or fdatasync in flight) never. With 10,000
 * partitions only the active ones hold descriptors.
 */
export class FilePool {
  private readonly lru = new Map<PooledFile, true>();
  opened = 0;

  constructor(readonly maxOpen = 1024) {}

  file(path: string): PooledFile {
    return new PooledFile(this, path);
  }

  get openCount(): number {
    return this.lru.size;
  }

  touch(f: PooledFile): void {
    this.lru.delete(f);
    this.lru.set(f, true);
  }

  open(f: PooledFile): void {
    this.evict(this.maxOpen - 1);
    // Never O_CREAT: a late access to a renamed or unlinked segment must fail, not resurrect an empty file.
    f.fd = fs.openSync(f.path, fs.constants.O_RDWR);
    this.opened++;
    this.lru.set(f, true);
  }

  release(f: PooledFile): void {
    if (f.fd < 0) return;
    this.lru.delete(f);
    const fd = f.fd;
    f.fd = -1;
    fs.closeSync(fd);
  }

  private evict(target: number): void {
    if (this.lru.size <= target) return;
    for (const f of this.lru.keys()) {
      if (this.lru.size <= target) break;
      if (f.pins > 0) continue;
      this.release(f);
    }
  }

  closeAll(): void {
    for (const f of [...this.lru.keys()]) {
      if (f.pins === 0) this.release(f);
    }
  }
}
