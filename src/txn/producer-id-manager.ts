import * as fs from 'node:fs';
import { dirname, join } from 'node:path';

export const PRODUCER_ID_FILE = 'producer-id-block';
/** Ids reserved per durable write (Kafka's controller hands out blocks of 1000 too). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
/** The next block is reserved in the background once this few ids of the current one are left. */
const PREFETCH_WHEN_LEFT = PRODUCER_ID_BLOCK_SIZE / 2;

function fileText(nextBlockStart: number): string {
  return `version=0\nnextBlockStart=${nextBlockStart}\n`;
}

/** Start-up only (before the broker serves): the first block is reserved synchronously. */
function writeDurablySync(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  const dfd = fs.openSync(dirname(path), 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/** While serving: temp file, fsync, rename, directory fsync, all on libuv's threadpool. */
async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await fs.promises.open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, path);
  const dir = await fs.promises.open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Hands out producer ids, unique for the life of the data directory: ids are reserved a block at
 * a time by durably recording the first id of the next block before any of the current one is
 * given out, so a crash can waste ids but never reuse one. The next block is reserved in the
 * background while half of the current one is left, so the event loop never waits for an fsync;
 * if it is used up first, `generate()` answers -1 and the caller says COORDINATOR_LOAD_IN_PROGRESS
 * (retriable), as Kafka does while its controller has not yet handed out a block.
 */
export class ProducerIdManager {
  private nextId: number;
  /** Ids below this are durably reserved. */
  private durableEnd: number;
  private reserving: Promise<void> | null = null;
  private readonly path: string;

  constructor(
    dataDir: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.path = join(dataDir, PRODUCER_ID_FILE);
    let reserved = 0;
    try {
      const text = fs.readFileSync(this.path, 'utf8');
      const m = /^nextBlockStart=(\d+)$/m.exec(text);
      if (!m) throw new Error(`${this.path} is unreadable: ${JSON.stringify(text.slice(0, 80))}`);
      reserved = Number(m[1]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Nothing of the recorded block was handed out for sure: start past it.
    this.nextId = reserved;
    this.durableEnd = reserved + PRODUCER_ID_BLOCK_SIZE;
    writeDurablySync(this.path, fileText(this.durableEnd));
  }

  /** A new producer id, or -1 while the next block is still being reserved. */
  generate(): number {
    if (this.durableEnd - this.nextId <= PREFETCH_WHEN_LEFT) this.reserveNext();
    if (this.nextId >= this.durableEnd) return -1;
    return this.nextId++;
  }

  /** Resolves once no reservation is in flight (close, tests). */
  async idle(): Promise<void> {
    while (this.reserving) await this.reserving;
  }

  private reserveNext(): void {
    if (this.reserving) return;
    const end = this.durableEnd + PRODUCER_ID_BLOCK_SIZE;
    this.reserving = writeDurably(this.path, fileText(end)).then(
      () => {
        this.durableEnd = end;
        this.reserving = null;
      },
      (err: unknown) => {
        this.reserving = null; // the next generate() tries again
        this.onError(err);
      },
    );
  }
}
