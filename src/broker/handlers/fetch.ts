import { ErrorCode } from '../../protocol/errors.js';
import type { FetchRequest } from '../../protocol/messages/fetch-request.js';
import type {
  FetchResponse,
  FetchResponseFetchableTopicResponse,
  FetchResponsePartitionData,
} from '../../protocol/messages/fetch-response.js';
import { downConvertRecordBatches } from '../../protocol/records/convert.js';
import { lastOffset as batchLastOffset, entrySize, LOG_OVERHEAD } from '../../protocol/records/batch-header.js';
import { defineHandler } from '../api-handler.js';
import type { HandlerContext } from './context.js';
import { errorCodeOf } from '../errors.js';
import { FINAL_EPOCH, INITIAL_EPOCH, FetchSession, type CachedPartition } from '../fetch/fetch-session.js';
import { CONSUMER_REPLICA_ID, type FetchParams, type PartitionView } from '../replica/replica-manager.js';
import { downConversionRefused } from '../topic-config-checks.js';

const READ_COMMITTED = 1;
const EMPTY = Buffer.alloc(0);
const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

/** One partition a fetch reads: from the request, or remembered by its fetch session. */
interface FetchTarget {
  topic: string;
  topicId: string;
  partition: number;
  fetchOffset: number;
  maxBytes: number;
  currentLeaderEpoch: number;
  /** The session's memory of this partition, updated when the response includes it. */
  cached: CachedPartition | null;
}

interface PartitionResult {
  target: FetchTarget;
  data: FetchResponsePartitionData;
  bytes: number;
}

function emptyData(
  partitionIndex: number,
  errorCode: number,
  hw = -1,
  lso = -1,
  logStart = -1,
): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: hw,
    lastStableOffset: lso,
    logStartOffset: logStart,
    divergingEpoch: { epoch: -1, endOffset: -1 },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: EMPTY,
  };
}

function errorResponse(errorCode: number, sessionId = 0): FetchResponse {
  return { throttleTimeMs: 0, errorCode, sessionId, responses: [], nodeEndpoints: [] };
}

/** Byte length of the whole batches in `buf` that end at or before `limit` (never splits a batch). */
function wholeBatchesUpTo(buf: Buffer, limit: number): number {
  let pos = 0;
  while (pos + LOG_OVERHEAD <= buf.length) {
    const size = entrySize(buf, pos);
    if (pos + size > limit) break;
    pos += size;
  }
  return pos;
}

/** What these handlers use of the broker. */
export type FetchDeps = Pick<
  HandlerContext,
  'fetchSessions' | 'log' | 'purgatory' | 'readBuffers' | 'replicaManager' | 'topics'
>;

/**
 * Fetch: reads whole batches as stored and returns them without decoding (Fetch v4+), waits in
 * the purgatory for data when the request allows, serves KIP-227 fetch sessions, and down-converts
 * to legacy message sets for Fetch v0-v3.
 */
export function fetchHandler(deps: FetchDeps) {
  const sessions = deps.fetchSessions;

  function resolvePartition(t: FetchTarget, version: number): PartitionView | number {
    const name = version >= 13 ? deps.topics.topicById(t.topicId)?.name : t.topic;
    if (name === undefined) return ErrorCode.UNKNOWN_TOPIC_ID;
    const p = deps.topics.partition(name, t.partition);
    if (p) return p;
    // The partition exists but another broker leads it: the client refreshes its metadata.
    const partitions = deps.topics.topic(name)?.partitions ?? 0;
    return t.partition >= 0 && t.partition < partitions
      ? ErrorCode.NOT_LEADER_OR_FOLLOWER
      : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  }

  async function readPartition(
    t: FetchTarget,
    version: number,
    params: FetchParams,
    budget: number,
    minOne: boolean,
    pooled: Buffer[],
  ): Promise<PartitionResult> {
    const isolation = params.isolationLevel;
    const p = resolvePartition(t, version);
    if (typeof p === 'number') return { target: t, data: emptyData(t.partition, p), bytes: 0 };
    if (t.currentLeaderEpoch >= 0 && t.currentLeaderEpoch !== p.leaderEpoch) {
      const code =
        t.currentLeaderEpoch > p.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
      return { target: t, data: emptyData(t.partition, code), bytes: 0 };
    }
    const hw = p.highWatermark;
    const lso = p.lastStableOffset;
    const logStart = p.logStartOffset;
    const data = emptyData(t.partition, ErrorCode.NONE, hw, lso, logStart);
    const maxOffset = isolation === READ_COMMITTED ? lso : hw;
    if (isolation === READ_COMMITTED) data.abortedTransactions = [];
    if (t.fetchOffset < logStart || t.fetchOffset > p.logEndOffset) {
      data.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      return { target: t, data, bytes: 0 };
    }
    if (t.fetchOffset >= maxOffset || (budget <= 0 && !minOne)) return { target: t, data, bytes: 0 };
    const limit = Math.max(0, Math.min(t.maxBytes, budget));
    let records: Buffer;
    try {
      records = (await deps.replicaManager.fetchMessages(p, params, t.fetchOffset, limit, minOne)).records;
      pooled.push(records);
    } catch (err) {
      data.errorCode = errorCodeOf(err, deps.log, 'fetch read');
      return { target: t, data, bytes: 0 };
    }
    if (records.length === 0) return { target: t, data, bytes: 0 };
    if (isolation === READ_COMMITTED) {
      // Aborted transactions overlapping what is returned, so the client can drop their records.
      let last = t.fetchOffset;
      for (let pos = 0; pos + LOG_OVERHEAD <= records.length; pos += entrySize(records, pos))
        last = batchLastOffset(records, pos);
      data.abortedTransactions = deps.replicaManager.abortedTransactions(p, t.fetchOffset, last + 1);
    }
    if (version < 4) {
      if (downConversionRefused(deps.topics, p.topic)) {
        data.errorCode = ErrorCode.UNSUPPORTED_VERSION;
        return { target: t, data, bytes: 0 };
      }
      const converted = downConvertRecordBatches(records, {
        toMagic: version < 2 ? 0 : 1,
        maxBytes: limit,
        fromOffset: t.fetchOffset,
        minOneMessage: minOne,
      });
      records = converted.records;
    } else if (records.length > limit && !minOne) {
      records = records.subarray(0, wholeBatchesUpTo(records, limit));
    }
    data.records = records;
    return { target: t, data, bytes: records.length };
  }

  /** Reads every target in order within the response's byte budget; pooled read buffers go to `pooled`. */
  async function readAll(
    targets: FetchTarget[],
    version: number,
    params: FetchParams,
    maxBytes: number,
    pooled: Buffer[],
  ): Promise<PartitionResult[]> {
    const out: PartitionResult[] = [];
    let total = 0;
    for (const t of targets) {
      const r = await readPartition(t, version, params, maxBytes - total, total === 0, pooled);
      total += r.bytes;
      out.push(r);
    }
    return out;
  }

  function targetsFromRequest(req: FetchRequest, version: number): FetchTarget[] {
    const out: FetchTarget[] = [];
    for (const topic of req.topics) {
      const name = version >= 13 ? (deps.topics.topicById(topic.topicId)?.name ?? '') : topic.topic;
      for (const p of topic.partitions) {
        out.push({
          topic: name,
          topicId: version >= 13 ? topic.topicId : (deps.topics.topic(topic.topic)?.topicId ?? NO_TOPIC_ID),
          partition: p.partition,
          fetchOffset: p.fetchOffset,
          maxBytes: p.partitionMaxBytes,
          currentLeaderEpoch: p.currentLeaderEpoch,
          cached: null,
        });
      }
    }
    return out;
  }

  /** Adds or updates the session's partitions from a request, and drops the forgotten ones. */
  function updateSession(session: FetchSession, req: FetchRequest, version: number, targets: FetchTarget[]): void {
    const keyOf = (topic: string, topicId: string, partition: number) =>
      FetchSession.key(session.usesTopicIds ? topicId : topic, partition);
    for (const t of targets) {
      const key = keyOf(t.topic, t.topicId, t.partition);
      const cached = session.partitions.get(key);
      if (cached) {
        cached.fetchOffset = t.fetchOffset;
        cached.maxBytes = t.maxBytes;
        cached.currentLeaderEpoch = t.currentLeaderEpoch;
      } else {
        session.partitions.set(key, {
          topic: t.topic,
          topicId: t.topicId,
          partition: t.partition,
          fetchOffset: t.fetchOffset,
          maxBytes: t.maxBytes,
          currentLeaderEpoch: t.currentLeaderEpoch,
          lastHighWatermark: -1,
          lastLastStableOffset: -1,
          lastLogStartOffset: -1,
        });
      }
    }
    for (const f of req.forgottenTopicsData) {
      for (const partition of f.partitions) session.partitions.delete(keyOf(f.topic, f.topicId, partition));
    }
  }

  function sessionTargets(session: FetchSession): FetchTarget[] {
    return [...session.partitions.values()].map((c) => ({
      topic: c.topic,
      topicId: c.topicId,
      partition: c.partition,
      fetchOffset: c.fetchOffset,
      maxBytes: c.maxBytes,
      currentLeaderEpoch: c.currentLeaderEpoch,
      cached: c,
    }));
  }

  function assemble(
    results: PartitionResult[],
    version: number,
    incremental: boolean,
  ): FetchResponseFetchableTopicResponse[] {
    const topics: FetchResponseFetchableTopicResponse[] = [];
    let current: FetchResponseFetchableTopicResponse | null = null;
    for (const r of results) {
      const c = r.target.cached;
      const d = r.data;
      if (c) {
        const changed =
          d.records!.length > 0 ||
          d.errorCode !== ErrorCode.NONE ||
          d.highWatermark !== c.lastHighWatermark ||
          d.lastStableOffset !== c.lastLastStableOffset ||
          d.logStartOffset !== c.lastLogStartOffset;
        c.lastHighWatermark = d.highWatermark;
        c.lastLastStableOffset = d.lastStableOffset;
        c.lastLogStartOffset = d.logStartOffset;
        if (incremental && !changed) continue;
      }
      const sameTopic =
        current !== null && (version >= 13 ? current.topicId === r.target.topicId : current.topic === r.target.topic);
      if (!sameTopic) {
        current = { topic: r.target.topic, topicId: r.target.topicId, partitions: [] };
        topics.push(current);
      }
      current!.partitions.push(d);
    }
    return topics;
  }

  return defineHandler({
    api: 'Fetch',
    minVersion: 0,
    maxVersion: 17,
    async handle(ctx, req) {
      const v = ctx.apiVersion;
      // Consumers only until replication: a follower's fetch will carry its replica id here.
      const params: FetchParams = {
        replicaId: CONSUMER_REPLICA_ID,
        isolationLevel: v >= 4 ? req.isolationLevel : 0,
        buffers: deps.readBuffers,
      };
      const maxBytes = v >= 3 ? req.maxBytes : 0x7fffffff;
      let session: FetchSession | null = null;
      let incremental = false;
      let targets: FetchTarget[];
      if (v < 7 || (req.sessionId === 0 && req.sessionEpoch === FINAL_EPOCH)) {
        targets = targetsFromRequest(req, v);
      } else if (req.sessionEpoch === FINAL_EPOCH) {
        sessions.remove(req.sessionId);
        targets = targetsFromRequest(req, v);
      } else if (req.sessionEpoch === INITIAL_EPOCH) {
        if (req.sessionId !== 0) sessions.remove(req.sessionId);
        targets = targetsFromRequest(req, v);
        session = sessions.create(v >= 13, targets.length);
        if (session) {
          updateSession(session, req, v, targets);
          targets = sessionTargets(session);
        }
      } else {
        session = req.sessionId === 0 ? null : (sessions.get(req.sessionId) ?? null);
        if (!session)
          return errorResponse(
            req.sessionId === 0 ? ErrorCode.INVALID_FETCH_SESSION_EPOCH : ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
          );
        if (session.epoch !== req.sessionEpoch) return errorResponse(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
        updateSession(session, req, v, targetsFromRequest(req, v));
        targets = sessionTargets(session);
        incremental = true;
      }

      // Read buffers come from the broker's pool and go back once the socket has written them.
      let pooled: Buffer[] = [];
      const releaseAll = (bufs: Buffer[]) => {
        for (const b of bufs) deps.readBuffers.release(b);
      };
      let results = await readAll(targets, v, params, maxBytes, pooled);
      const bytes = (rs: PartitionResult[]) => rs.reduce((n, r) => n + r.bytes, 0);
      const hasError = (rs: PartitionResult[]) => rs.some((r) => r.data.errorCode !== ErrorCode.NONE);
      const minBytes = Math.max(req.minBytes, 1);
      if (req.maxWaitMs > 0 && bytes(results) < minBytes && !hasError(results) && targets.length > 0) {
        const parts = targets
          .map((t) => resolvePartition(t, v))
          .filter((p): p is PartitionView => typeof p !== 'number');
        const deadline = ctx.receivedAt + req.maxWaitMs;
        let appended = bytes(results);
        const replicas = deps.replicaManager;
        const startSizes = parts.map((p) => replicas.logSize(p));
        // Re-read once enough bytes were appended (estimated from the logs' growth) or time is up.
        await deps.purgatory.wait(parts, deadline - Date.now(), () => {
          appended = bytes(results) + parts.reduce((n, p, i) => n + (replicas.logSize(p) - startSizes[i]!), 0);
          return appended >= minBytes;
        });
        releaseAll(pooled);
        pooled = [];
        results = await readAll(targets, v, params, maxBytes, pooled);
      }

      const final = pooled;
      ctx.afterResponse(() => releaseAll(final));
      // The initial request (epoch 0) is answered as the session's epoch 0; the next must carry 1.
      if (session && incremental) session.epoch = session.epoch === 0x7fffffff ? 1 : session.epoch + 1;
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        sessionId: session?.id ?? 0,
        responses: assemble(results, v, incremental),
        nodeEndpoints: [],
      };
    },
  });
}
