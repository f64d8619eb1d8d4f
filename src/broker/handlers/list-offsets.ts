import { ErrorCode } from '../../protocol/errors.js';
import type { ListOffsetsResponseListOffsetsPartitionResponse } from '../../protocol/messages/list-offsets-response.js';
import { defineHandler } from '../api-handler.js';
import type { HandlerContext } from './context.js';
import { errorCodeOf } from '../errors.js';

/** Special timestamps of ListOffsets. */
const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;
const READ_COMMITTED = 1;

/** What these handlers use of the broker. */
export type ListOffsetsDeps = Pick<HandlerContext, 'log' | 'replicaManager' | 'topics'>;

/** ListOffsets: earliest, latest, max timestamp, and offset-by-timestamp through the time index. */
export function listOffsetsHandler(deps: ListOffsetsDeps) {
  return defineHandler({
    api: 'ListOffsets',
    minVersion: 0,
    maxVersion: 9,
    async handle(ctx, req) {
      const v = ctx.apiVersion;
      const isolation = v >= 2 ? req.isolationLevel : 0;
      const topics = [];
      for (const rt of req.topics) {
        const partitions: ListOffsetsResponseListOffsetsPartitionResponse[] = [];
        for (const rp of rt.partitions) {
          const res: ListOffsetsResponseListOffsetsPartitionResponse = {
            partitionIndex: rp.partitionIndex,
            errorCode: ErrorCode.NONE,
            oldStyleOffsets: [],
            timestamp: -1,
            offset: -1,
            leaderEpoch: -1,
          };
          partitions.push(res);
          const p = deps.topics.partition(rt.name, rp.partitionIndex);
          if (!p) {
            res.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
            continue;
          }
          if (v >= 4 && rp.currentLeaderEpoch >= 0 && rp.currentLeaderEpoch !== p.leaderEpoch) {
            res.errorCode =
              rp.currentLeaderEpoch > p.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
            continue;
          }
          const visibleEnd = isolation === READ_COMMITTED ? p.lastStableOffset : p.highWatermark;
          try {
            const ts = rp.timestamp;
            if (ts === LATEST) {
              res.offset = visibleEnd;
              res.leaderEpoch = p.leaderEpoch;
            } else if (ts === EARLIEST || ts === EARLIEST_LOCAL) {
              res.offset = p.logStartOffset;
              res.leaderEpoch = p.leaderEpoch;
            } else if (ts === MAX_TIMESTAMP && v >= 7) {
              const found = await deps.replicaManager.maxTimestampOffset(p);
              if (found && found.offset < visibleEnd) {
                res.offset = found.offset;
                res.timestamp = found.timestamp;
                res.leaderEpoch = p.leaderEpoch;
              }
            } else if (ts === LATEST_TIERED && v >= 9) {
              // No tiered storage: nothing has been tiered.
              res.offset = -1;
            } else if (ts >= 0) {
              const found = await deps.replicaManager.offsetForTimestamp(p, ts);
              if (found && found.offset < visibleEnd) {
                res.offset = found.offset;
                res.timestamp = found.timestamp;
                res.leaderEpoch = p.leaderEpoch;
              }
            } else {
              res.errorCode = ErrorCode.INVALID_REQUEST;
              continue;
            }
          } catch (err) {
            res.errorCode = errorCodeOf(err, deps.log, 'list offsets');
            continue;
          }
          if (v === 0) {
            // v0 answers a list of offsets (max_num_offsets); the one offset found is all Brook reports.
            res.oldStyleOffsets = res.offset >= 0 && rp.maxNumOffsets > 0 ? [res.offset] : [];
            res.offset = -1;
            res.timestamp = -1;
          }
          if (v < 4) res.leaderEpoch = -1;
        }
        topics.push({ name: rt.name, partitions });
      }
      return { throttleTimeMs: 0, topics };
    },
  });
}
