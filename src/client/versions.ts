import { APIS, type ApiName } from '../protocol/apis.js';
import { UnsupportedVersionError } from './errors.js';

/**
 * The request versions this client knows how to build, per API. The codecs cover every version;
 * these ranges are where the client's own request construction and response handling are written
 * and tested (for example Fetch stops at 12, the last version that names topics instead of topic ids).
 */
export const CLIENT_VERSIONS = {
  ApiVersions: [0, 3],
  Metadata: [1, 12],
  Produce: [3, 11],
  Fetch: [4, 12],
  ListOffsets: [1, 9],
  OffsetCommit: [2, 9],
  OffsetFetch: [1, 9],
  FindCoordinator: [1, 6],
  JoinGroup: [1, 9],
  SyncGroup: [0, 5],
  Heartbeat: [0, 4],
  LeaveGroup: [0, 5],
  DescribeGroups: [0, 5],
  ListGroups: [0, 5],
  CreateTopics: [0, 7],
  DeleteTopics: [0, 6],
  DeleteRecords: [0, 2],
  CreatePartitions: [0, 3],
  DescribeConfigs: [0, 4],
  AlterConfigs: [0, 2],
  IncrementalAlterConfigs: [0, 1],
  DeleteGroups: [0, 2],
  OffsetDelete: [0, 0],
  DescribeCluster: [0, 1],
  InitProducerId: [0, 5],
  // v4+ is the broker-to-broker batched form (KIP-890); clients send 0-3.
  AddPartitionsToTxn: [0, 3],
  AddOffsetsToTxn: [0, 4],
  EndTxn: [0, 4],
  TxnOffsetCommit: [0, 4],
  ConsumerGroupHeartbeat: [0, 0],
  ConsumerGroupDescribe: [0, 0],
} as const satisfies Partial<Record<ApiName, readonly [number, number]>>;

export type ClientApi = keyof typeof CLIENT_VERSIONS;

/** A broker's advertised range for one API key. */
export interface VersionRange {
  minVersion: number;
  maxVersion: number;
}

/**
 * The version to use for an API: the highest version both sides support, i.e.
 * min(client max, broker max), as long as it is not below either side's minimum. Returns -1 when
 * the ranges do not overlap or the broker does not offer the API at all.
 */
export function pickVersion(api: ClientApi, broker: VersionRange | undefined): number {
  if (broker === undefined) return -1;
  const [cmin, cmax] = CLIENT_VERSIONS[api];
  const v = Math.min(cmax, broker.maxVersion);
  return v >= Math.max(cmin, broker.minVersion) ? v : -1;
}

/** The versions negotiated with one broker, from its ApiVersions answer. */
export class NegotiatedVersions {
  private readonly picked = new Map<ClientApi, number>();

  constructor(
    readonly broker: string,
    readonly ranges: ReadonlyMap<number, VersionRange>,
  ) {
    for (const api of Object.keys(CLIENT_VERSIONS) as ClientApi[]) {
      this.picked.set(api, pickVersion(api, ranges.get(APIS[api].key)));
    }
  }

  supports(api: ClientApi): boolean {
    return (this.picked.get(api) ?? -1) >= 0;
  }

  /** The version to send; throws UnsupportedVersionError with both ranges when there is none. */
  version(api: ClientApi): number {
    const v = this.picked.get(api) ?? -1;
    if (v >= 0) return v;
    const [cmin, cmax] = CLIENT_VERSIONS[api];
    const range = this.ranges.get(APIS[api].key);
    const offered =
      range === undefined ? 'does not offer it' : `offers versions ${range.minVersion}-${range.maxVersion}`;
    throw new UnsupportedVersionError(
      `broker ${this.broker} cannot serve ${api}: this client speaks versions ${cmin}-${cmax}, the broker ${offered}`,
    );
  }
}
