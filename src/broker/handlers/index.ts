import type { ApiHandler } from '../api-handler.js';
import type { Broker } from '../broker.js';
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

/** Every API the broker serves; ApiVersions advertises exactly these. */
export function createHandlers(broker: Broker): ApiHandler[] {
  return [
    produceHandler(broker),
    fetchHandler(broker),
    listOffsetsHandler(broker),
    metadataHandler(broker),
    apiVersionsHandler(broker),
    ...topicHandlers(broker),
    ...configHandlers(broker),
    ...clusterHandlers(broker),
    ...groupHandlers(broker.groups),
    ...transactionHandlers(broker),
  ] as ApiHandler[];
}
