import type { PartitionLog } from '../../storage/index.js';

/**
 * The broker's state for one partition it leads: the log plus what replication and transactions
 * add on top of it (leader epoch now; ISR, follower state and the last stable offset later).
 * With a single broker every partition is led here at epoch 0.
 */
export class Partition {
  leaderEpoch = 0;

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly topicId: string,
    readonly log: PartitionLog,
  ) {}

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  get highWatermark(): number {
    return this.log.highWatermark;
  }

  /** First offset of the oldest open transaction, or the high watermark when none is open. */
  get lastStableOffset(): number {
    return this.log.highWatermark;
  }
}
