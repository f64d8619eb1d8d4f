import * as fs from 'node:fs';
import { dirname, join } from 'node:path';

export const PRODUCER_ID_FILE = 'producer-id-block';
/** Ids reserved per durable write (Kafka's controller hands out blocks of 1000 too). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

function writeDurably(path: string, text: string): void {
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

/**
 * Hands out producer ids, unique for the life of the data directory: ids are reserved a block at
 * a time by durably recording the first id of the next block before any of the current one is
 * given out, so a crash can waste ids but never reuse one.
 */
export class ProducerIdManager {
  private nextId: number;
  private blockEnd: number;
  private readonly path: string;

  constructor(dataDir: string) {
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
    this.blockEnd = reserved;
  }

  generate(): number {
    if (this.nextId >= this.blockEnd) {
      const end = this.nextId + PRODUCER_ID_BLOCK_SIZE;
      writeDurably(this.path, `version=0\nnextBlockStart=${end}\n`);
      this.blockEnd = end;
    }
    return this.nextId++;
  }
}
