import type { ApiHandler } from '../api-handler.js';
import { ensureOffsetsTopic } from '../group-wiring.js';
import type { HandlerContext } from './context.js';
import { apiVersionsHandler } from './api-versions.js';
import { clusterHandlers } from './cluster.js';
import { configHandlers } from './configs.js';
import { fetchHandler } from './fetch.js';
import { groupHandlers } from './groups.js';
import { listOffsetsHandler } from './list-offsets.js';
import { metadataHandler } from './metadata.js';
import { produceHandler } from './produce.js';
import { topicHandlers } from './topics.js';
import { transactionHandlers } from './transactions.js';

/** Requests that need __consumer_offsets to exist before they can be answered. */
const NEEDS_OFFSETS_TOPIC = new Set(['AddOffsetsToTxn', 'TxnOffsetCommit']);
const KEY_TYPE_GROUP = 0;

/** Creates __consumer_offsets first where Kafka would: a group FindCoordinator or a transaction's offsets. */
function withOffsetsTopic(deps: HandlerContext, h: ApiHandler): ApiHandler {
  const needs = (req: { keyType?: number }) =>
    NEEDS_OFFSETS_TOPIC.has(h.api) || (h.api === 'FindCoordinator' && req.keyType === KEY_TYPE_GROUP);
  if (!NEEDS_OFFSETS_TOPIC.has(h.api) && h.api !== 'FindCoordinator') return h;
  return {
    ...h,
    async handle(ctx, req) {
      if (needs(req as { keyType?: number })) await ensureOffsetsTopic(deps);
      return h.handle(ctx, req as never);
    },
  };
}

/** Every API the broker serves; ApiVersions advertises exactly these. */
export function createHandlers(deps: HandlerContext): ApiHandler[] {
  return (
    [
      produceHandler(deps),
      fetchHandler(deps),
      listOffsetsHandler(deps),
      metadataHandler(deps),
      apiVersionsHandler(deps),
      ...topicHandlers(deps),
      ...configHandlers(deps),
      ...clusterHandlers(deps),
      ...groupHandlers(deps.groups),
      ...transactionHandlers(deps),
    ] as ApiHandler[]
  ).map((h) => withOffsetsTopic(deps, h));
}
