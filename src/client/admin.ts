import { ErrorCode } from '../protocol/errors.js';
import { ZERO_UUID } from '../protocol/messages/support.js';
import {
  Cluster,
  sleep,
  type BrokerInfo,
  type ClientOptions,
  type PartitionInfo,
  type TopicPartition,
} from './cluster.js';
import type { Connection } from './connection.js';
import { KafkaError, isRetriableError, kafkaError } from './errors.js';
import { decodeAssignment } from './assignors.js';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  commitOffsets,
  fetchCommittedOffsets,
  listOffsets,
  type CommittedOffset,
  type ListedOffset,
} from './offsets.js';

export interface NewTopic {
  name: string;
  /** Default: the broker's num.partitions. */
  partitions?: number;
  /** Default: the broker's default.replication.factor. */
  replicationFactor?: number;
  /** Topic configs, e.g. { 'cleanup.policy': 'compact' }. */
  configs?: Record<string, string>;
}

export interface TopicDescription {
  name: string;
  topicId: string;
  isInternal: boolean;
  partitions: PartitionInfo[];
}

export type ConfigResourceType = 'topic' | 'broker' | 'broker_logger' | 'group';

const RESOURCE_TYPES: Record<ConfigResourceType, number> = { topic: 2, broker: 4, broker_logger: 8, group: 32 };

const CONFIG_SOURCES: Record<number, string> = {
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
  7: 'CLIENT_METRICS_CONFIG',
  8: 'GROUP_CONFIG',
};

export interface ConfigResource {
  type: ConfigResourceType;
  /** Topic name, broker id as text, or group id. */
  name: string;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  isSensitive: boolean;
  /** Where the value comes from (DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, ...), UNKNOWN when not reported. */
  source: string;
}

export interface ConfigAlteration extends ConfigResource {
  set?: Record<string, string>;
  /** Back to the default. */
  delete?: string[];
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  /** Empty when the broker does not report it (ListGroups before v4). */
  state: string;
  /** 'classic' or 'consumer'; empty before ListGroups v5. */
  type: string;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  assignment: TopicPartition[];
}

export interface GroupDescription {
  groupId: string;
  /** Stable, PreparingRebalance, CompletingRebalance, Empty, Dead (classic); Stable, Assigning, Reconciling, Empty (consumer). */
  state: string;
  protocolType: string;
  /** The assignor in use (classic: chosen protocol; KIP-848: server assignor). */
  protocol: string;
  members: GroupMemberDescription[];
}

export interface GroupOffsetDescription extends TopicPartition {
  /** -1 when the group committed nothing for the partition. */
  committedOffset: number;
  metadata: string | null;
  logEndOffset: number;
  /** logEndOffset - committedOffset; null without a committed offset. */
  lag: number | null;
  /** Member consuming the partition now, if any. */
  memberId: string | null;
  clientId: string | null;
}

export type OffsetResetTarget =
  'earliest' | 'latest' | { datetime: Date | number } | { shiftBy: number } | { offset: number };

export interface OffsetReset extends TopicPartition {
  /** -1 when nothing was committed before. */
  previousOffset: number;
  newOffset: number;
}

export interface ClusterDescription {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerInfo[];
}

const COORDINATOR_MOVED = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]);

/** For admin requests naming a topic, an unknown topic is an answer, not stale metadata worth retrying. */
function retriableUnlessUnknownTopic(err: unknown): boolean {
  return isRetriableError(err) && !(err instanceof KafkaError && err.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
}

/** Kafka administration: topics, configs, consumer groups and cluster description. */
export class Admin {
  readonly cluster: Cluster;

  constructor(opts: ClientOptions = {}) {
    this.cluster = new Cluster(opts);
  }

  /** Checks that a broker answers (useful for a clear "not reachable" error up front). */
  async connect(): Promise<void> {
    await this.cluster.any();
  }

  // ---- topics ----

  /**
   * Creates topics and (unless waitForLeaders is false) waits until their partitions have leaders.
   * With ifNotExists, an existing topic is not an error. Returns the names actually created.
   */
  async createTopics(
    topics: NewTopic[],
    opts: { validateOnly?: boolean; timeoutMs?: number; ifNotExists?: boolean; waitForLeaders?: boolean } = {},
  ): Promise<string[]> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const created: string[] = [];
    await this.cluster.retry(
      'CreateTopics',
      async () => {
        const conn = await this.cluster.controller();
        const res = await conn.request(
          'CreateTopics',
          (v) => ({
            topics: topics.map((t) => ({
              name: t.name,
              // "Use the broker default" (-1) exists from v4 on.
              numPartitions: t.partitions ?? (v >= 4 ? -1 : 1),
              replicationFactor: t.replicationFactor ?? (v >= 4 ? -1 : 1),
              assignments: [],
              configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
            })),
            timeoutMs,
            validateOnly: v >= 1 ? (opts.validateOnly ?? false) : false,
          }),
          { timeoutMs: timeoutMs + this.cluster.opts.requestTimeoutMs },
        );
        created.length = 0;
        for (const t of res.topics) {
          if (t.errorCode === ErrorCode.NONE) created.push(t.name);
          else if (t.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && opts.ifNotExists) continue;
          else if (t.errorCode === ErrorCode.NOT_CONTROLLER) {
            this.cluster.controllerId = -1;
            throw kafkaError(t.errorCode, `creating topic "${t.name}"`);
          } else throw kafkaError(t.errorCode, `creating topic "${t.name}"`, t.errorMessage);
        }
      },
      { timeoutMs },
    );
    if (!opts.validateOnly && (opts.waitForLeaders ?? true)) {
      for (const name of created) await this.cluster.topic(name, { timeoutMs });
    }
    return created;
  }

  /** Topic names (internal topics such as __consumer_offsets only when asked). */
  async listTopics(opts: { includeInternal?: boolean } = {}): Promise<string[]> {
    const md = await this.cluster.refreshMetadata(null);
    return md.topics
      .filter((t) => t.errorCode === ErrorCode.NONE && t.name !== null && (opts.includeInternal || !t.isInternal))
      .map((t) => t.name!)
      .sort();
  }

  /** Partitions, leaders, replicas and ISR of topics (all topics when none are named). */
  async describeTopics(names?: string[]): Promise<TopicDescription[]> {
    const md = await this.cluster.refreshMetadata(names ?? null);
    const out: TopicDescription[] = [];
    for (const t of md.topics) {
      if (t.name === null) continue;
      if (t.errorCode !== ErrorCode.NONE) throw kafkaError(t.errorCode, `topic "${t.name}"`);
      out.push({
        name: t.name,
        topicId: t.topicId,
        isInternal: t.isInternal,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas,
            errorCode: p.errorCode,
          }))
          .sort((a, b) => a.partition - b.partition),
      });
    }
    if (names !== undefined) {
      for (const n of names)
        if (!out.some((t) => t.name === n)) throw kafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${n}"`);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Deletes topics; with ifExists a missing topic is not an error. */
  async deleteTopics(names: string[], opts: { timeoutMs?: number; ifExists?: boolean } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    await this.cluster.retry(
      'DeleteTopics',
      async () => {
        const conn = await this.cluster.controller();
        const res = await conn.request(
          'DeleteTopics',
          (v) => ({
            topics: v >= 6 ? names.map((name) => ({ name, topicId: ZERO_UUID })) : [],
            topicNames: v < 6 ? names : [],
            timeoutMs,
          }),
          { timeoutMs: timeoutMs + this.cluster.opts.requestTimeoutMs },
        );
        for (const r of res.responses) {
          if (r.errorCode === ErrorCode.NONE) continue;
          if (r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && opts.ifExists) continue;
          if (r.errorCode === ErrorCode.NOT_CONTROLLER) this.cluster.controllerId = -1;
          throw kafkaError(r.errorCode, `topic "${r.name}"`, r.errorMessage);
        }
      },
      { timeoutMs, retriable: retriableUnlessUnknownTopic },
    );
    for (const n of names) this.cluster.invalidateTopic(n);
  }

  /** Raises topics' partition counts to `count` (partitions can only be added). */
  async createPartitions(
    requests: { topic: string; count: number }[],
    opts: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    await this.cluster.retry(
      'CreatePartitions',
      async () => {
        const conn = await this.cluster.controller();
        const res = await conn.request('CreatePartitions', () => ({
          topics: requests.map((r) => ({ name: r.topic, count: r.count, assignments: null })),
          timeoutMs,
          validateOnly: opts.validateOnly ?? false,
        }));
        for (const r of res.results) {
          if (r.errorCode === ErrorCode.NONE) continue;
          if (r.errorCode === ErrorCode.NOT_CONTROLLER) this.cluster.controllerId = -1;
          throw kafkaError(r.errorCode, `adding partitions to topic "${r.name}"`, r.errorMessage);
        }
      },
      { retriable: retriableUnlessUnknownTopic },
    );
    for (const r of requests) this.cluster.invalidateTopic(r.topic);
  }

  // ---- configs ----

  private async connectionFor(resource: ConfigResource): Promise<Connection> {
    if (resource.type === 'broker' || resource.type === 'broker_logger') {
      const id = Number(resource.name);
      if (resource.name !== '' && Number.isInteger(id)) return this.cluster.broker(id);
    }
    return this.cluster.any();
  }

  /** Configuration entries of topics, brokers or groups (only `keys` when given). */
  async describeConfigs(
    resources: (ConfigResource & { keys?: string[] })[],
  ): Promise<(ConfigResource & { configs: ConfigEntry[] })[]> {
    const out: (ConfigResource & { configs: ConfigEntry[] })[] = [];
    for (const res of resources) {
      const r = await this.cluster.retry('DescribeConfigs', async () => {
        const conn = await this.connectionFor(res);
        return conn.request('DescribeConfigs', (v) => ({
          resources: [
            { resourceType: RESOURCE_TYPES[res.type], resourceName: res.name, configurationKeys: res.keys ?? null },
          ],
          includeSynonyms: false,
          includeDocumentation: v >= 3 ? false : false,
        }));
      });
      const result = r.results[0];
      if (result === undefined)
        throw new KafkaError(
          ErrorCode.UNKNOWN_SERVER_ERROR,
          `DescribeConfigs returned nothing for ${res.type} "${res.name}"`,
        );
      if (result.errorCode !== ErrorCode.NONE)
        throw kafkaError(result.errorCode, `${res.type} "${res.name}"`, result.errorMessage);
      out.push({
        type: res.type,
        name: res.name,
        configs: result.configs
          .map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            isSensitive: c.isSensitive,
            isDefault: c.configSource === -1 ? c.isDefault : c.configSource === 5,
            source: CONFIG_SOURCES[c.configSource] ?? (c.isDefault ? 'DEFAULT_CONFIG' : 'UNKNOWN'),
          }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      });
    }
    return out;
  }

  /**
   * Sets and removes configuration entries (IncrementalAlterConfigs). Against a broker without it,
   * falls back to AlterConfigs, which replaces the whole set: the current dynamic entries are read
   * first and carried over.
   */
  async alterConfigs(changes: ConfigAlteration[], opts: { validateOnly?: boolean } = {}): Promise<void> {
    for (const ch of changes) {
      await this.cluster.retry(
        'AlterConfigs',
        async () => {
          const conn = await this.connectionFor(ch);
          const set = Object.entries(ch.set ?? {});
          const del = ch.delete ?? [];
          let code: number;
          let message: string | null;
          if (conn.versions.supports('IncrementalAlterConfigs')) {
            const res = await conn.request('IncrementalAlterConfigs', () => ({
              resources: [
                {
                  resourceType: RESOURCE_TYPES[ch.type],
                  resourceName: ch.name,
                  configs: [
                    ...set.map(([name, value]) => ({ name, configOperation: 0, value })),
                    ...del.map((name) => ({ name, configOperation: 1, value: null })),
                  ],
                },
              ],
              validateOnly: opts.validateOnly ?? false,
            }));
            ({ errorCode: code, errorMessage: message } = res.responses[0] ?? {
              errorCode: ErrorCode.UNKNOWN_SERVER_ERROR,
              errorMessage: 'empty response',
            });
          } else {
            const [current] = await this.describeConfigs([ch]);
            const merged = new Map<string, string | null>();
            for (const c of current!.configs)
              if (!c.isDefault && !c.readOnly && c.source.startsWith('DYNAMIC')) merged.set(c.name, c.value);
            for (const [k, v] of set) merged.set(k, v);
            for (const k of del) merged.delete(k);
            const res = await conn.request('AlterConfigs', () => ({
              resources: [
                {
                  resourceType: RESOURCE_TYPES[ch.type],
                  resourceName: ch.name,
                  configs: [...merged].map(([name, value]) => ({ name, value })),
                },
              ],
              validateOnly: opts.validateOnly ?? false,
            }));
            ({ errorCode: code, errorMessage: message } = res.responses[0] ?? {
              errorCode: ErrorCode.UNKNOWN_SERVER_ERROR,
              errorMessage: 'empty response',
            });
          }
          if (code !== ErrorCode.NONE) throw kafkaError(code, `altering ${ch.type} "${ch.name}"`, message);
        },
        { retriable: retriableUnlessUnknownTopic },
      );
    }
  }

  // ---- offsets ----

  /** Offsets by time: 'earliest', 'latest', or the first offset with a timestamp at or after a time. */
  async listOffsets(
    requests: (TopicPartition & { at: 'earliest' | 'latest' | Date | number })[],
    opts: { isolationLevel?: 'read_committed' | 'read_uncommitted' } = {},
  ): Promise<ListedOffset[]> {
    return listOffsets(
      this.cluster,
      requests.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        timestamp:
          r.at === 'earliest'
            ? EARLIEST_TIMESTAMP
            : r.at === 'latest'
              ? LATEST_TIMESTAMP
              : r.at instanceof Date
                ? r.at.getTime()
                : r.at,
      })),
      opts.isolationLevel,
    );
  }

  /** A group's committed offsets (all partitions it committed for, or just those named). */
  async fetchOffsets(groupId: string, partitions?: TopicPartition[]): Promise<CommittedOffset[]> {
    return fetchCommittedOffsets(this.cluster, groupId, partitions ?? null);
  }

  // ---- groups ----

  /** Groups known to every broker's coordinator. */
  async listGroups(): Promise<GroupListing[]> {
    await this.cluster.refreshMetadata([]);
    const brokers = this.cluster.knownBrokers();
    const all = new Map<string, GroupListing>();
    await Promise.all(
      brokers.map(async (b) => {
        const conn = await this.cluster.broker(b.nodeId);
        const res = await conn.request('ListGroups', () => ({ statesFilter: [], typesFilter: [] }));
        if (res.errorCode !== ErrorCode.NONE) throw kafkaError(res.errorCode, `ListGroups on broker ${b.nodeId}`);
        for (const g of res.groups)
          all.set(g.groupId, {
            groupId: g.groupId,
            protocolType: g.protocolType,
            state: g.groupState,
            type: g.groupType,
          });
      }),
    );
    return [...all.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  /** State, assignor and members (with their partitions) of groups. A group that does not exist is reported as Dead. */
  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    return Promise.all(groupIds.map((id) => this.describeGroup(id)));
  }

  private async describeGroup(groupId: string): Promise<GroupDescription> {
    return this.cluster.retry('DescribeGroups', async () => {
      const conn = await this.cluster.coordinator('group', groupId);
      const res = await conn.request('DescribeGroups', () => ({
        groups: [groupId],
        includeAuthorizedOperations: false,
      }));
      const g = res.groups[0];
      if (g === undefined)
        throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `DescribeGroups returned nothing for "${groupId}"`);
      if (g.errorCode === ErrorCode.GROUP_ID_NOT_FOUND && conn.versions.supports('ConsumerGroupDescribe')) {
        const described = await this.describeConsumerProtocolGroup(conn, groupId);
        if (described !== undefined) return described;
      }
      if (g.errorCode !== ErrorCode.NONE) {
        if (COORDINATOR_MOVED.has(g.errorCode)) this.cluster.invalidateCoordinator('group', groupId);
        if (g.errorCode === ErrorCode.GROUP_ID_NOT_FOUND)
          return { groupId, state: 'Dead', protocolType: '', protocol: '', members: [] };
        throw kafkaError(g.errorCode, `group "${groupId}"`);
      }
      return {
        groupId: g.groupId,
        state: g.groupState,
        protocolType: g.protocolType,
        protocol: g.protocolData,
        members: g.members.map((m) => {
          let assignment: TopicPartition[] = [];
          if (g.protocolType === 'consumer') {
            try {
              assignment = decodeAssignment(m.memberAssignment);
            } catch {
              assignment = [];
            }
          }
          return {
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            assignment,
          };
        }),
      };
    });
  }

  private async describeConsumerProtocolGroup(
    conn: Connection,
    groupId: string,
  ): Promise<GroupDescription | undefined> {
    const res = await conn.request('ConsumerGroupDescribe', () => ({
      groupIds: [groupId],
      includeAuthorizedOperations: false,
    }));
    const g = res.groups[0];
    if (g === undefined || g.errorCode !== ErrorCode.NONE) return undefined;
    return {
      groupId,
      state: g.groupState,
      protocolType: 'consumer',
      protocol: g.assignorName,
      members: g.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        assignment: m.assignment.topicPartitions.flatMap((t) =>
          t.partitions.map((partition) => ({ topic: t.topicName, partition })),
        ),
      })),
    };
  }

  /**
   * Committed offset, log end offset and lag for every partition the group committed for or
   * consumes now, with the member that owns it.
   */
  async describeGroupOffsets(groupId: string): Promise<GroupOffsetDescription[]> {
    const [group] = await this.describeGroups([groupId]);
    const committed = await fetchCommittedOffsets(this.cluster, groupId, null);
    const owner = new Map<string, GroupMemberDescription>();
    for (const m of group!.members) for (const tp of m.assignment) owner.set(`${tp.topic}\u0000${tp.partition}`, m);
    const rows = new Map<string, { tp: TopicPartition; c: CommittedOffset | undefined }>();
    for (const c of committed)
      rows.set(`${c.topic}\u0000${c.partition}`, { tp: { topic: c.topic, partition: c.partition }, c });
    for (const [k, m] of owner) {
      if (!rows.has(k)) {
        const tp = m.assignment.find((x) => `${x.topic}\u0000${x.partition}` === k)!;
        rows.set(k, { tp, c: undefined });
      }
    }
    // Partitions of deleted topics cannot be looked up; report them without an end offset.
    const live: TopicPartition[] = [];
    for (const { tp } of rows.values()) {
      try {
        await this.cluster.topic(tp.topic);
        live.push(tp);
      } catch {
        /* topic gone */
      }
    }
    const ends =
      live.length === 0
        ? []
        : await listOffsets(
            this.cluster,
            live.map((tp) => ({ ...tp, timestamp: LATEST_TIMESTAMP })),
          );
    const endBy = new Map(ends.map((e) => [`${e.topic}\u0000${e.partition}`, e.offset]));
    const out: GroupOffsetDescription[] = [];
    for (const [k, { tp, c }] of rows) {
      const logEnd = endBy.get(k) ?? -1;
      const committedOffset = c?.offset ?? -1;
      const m = owner.get(k);
      out.push({
        topic: tp.topic,
        partition: tp.partition,
        committedOffset,
        metadata: c?.metadata ?? null,
        logEndOffset: logEnd,
        lag: committedOffset >= 0 && logEnd >= 0 ? Math.max(0, logEnd - committedOffset) : null,
        memberId: m?.memberId ?? null,
        clientId: m?.clientId ?? null,
      });
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  /**
   * Moves a group's committed offsets, as kafka-consumer-groups --reset-offsets does. The group must
   * have no active members. `topics` limits the reset (all partitions of each topic); without it,
   * every partition the group has offsets for. With dryRun nothing is committed.
   */
  async resetGroupOffsets(
    groupId: string,
    to: OffsetResetTarget,
    opts: { topics?: string[]; partitions?: TopicPartition[]; dryRun?: boolean } = {},
  ): Promise<OffsetReset[]> {
    const [group] = await this.describeGroups([groupId]);
    if (group!.state !== 'Empty' && group!.state !== 'Dead') {
      throw new KafkaError(
        ErrorCode.NON_EMPTY_GROUP,
        `offsets of group "${groupId}" can only be reset while it has no active members; it is ${group!.state} with ${group!.members.length} member(s)`,
      );
    }
    const committed = await fetchCommittedOffsets(this.cluster, groupId, null);
    let targets: TopicPartition[];
    if (opts.partitions !== undefined) targets = opts.partitions;
    else if (opts.topics !== undefined) {
      targets = [];
      for (const t of opts.topics) {
        const info = await this.cluster.topic(t);
        for (const p of info.partitions) targets.push({ topic: t, partition: p.partition });
      }
    } else targets = committed.filter((c) => c.offset >= 0).map((c) => ({ topic: c.topic, partition: c.partition }));
    if (targets.length === 0) return [];
    const prevBy = new Map(committed.map((c) => [`${c.topic}\u0000${c.partition}`, c.offset]));
    const [earliest, latest] = await Promise.all([
      listOffsets(
        this.cluster,
        targets.map((t) => ({ ...t, timestamp: EARLIEST_TIMESTAMP })),
      ),
      listOffsets(
        this.cluster,
        targets.map((t) => ({ ...t, timestamp: LATEST_TIMESTAMP })),
      ),
    ]);
    let byTime: ListedOffset[] | undefined;
    if (typeof to === 'object' && 'datetime' in to) {
      const ts = to.datetime instanceof Date ? to.datetime.getTime() : to.datetime;
      byTime = await listOffsets(
        this.cluster,
        targets.map((t) => ({ ...t, timestamp: ts })),
      );
    }
    const out: OffsetReset[] = targets.map((tp, i) => {
      const lo = earliest[i]!.offset;
      const hi = latest[i]!.offset;
      const prev = prevBy.get(`${tp.topic}\u0000${tp.partition}`) ?? -1;
      let next: number;
      if (to === 'earliest') next = lo;
      else if (to === 'latest') next = hi;
      else if ('datetime' in to) next = byTime![i]!.offset < 0 ? hi : byTime![i]!.offset;
      else if ('shiftBy' in to) next = (prev >= 0 ? prev : lo) + to.shiftBy;
      else next = to.offset;
      next = Math.min(hi, Math.max(lo, next));
      return { topic: tp.topic, partition: tp.partition, previousOffset: prev, newOffset: next };
    });
    if (!opts.dryRun)
      await commitOffsets(
        this.cluster,
        groupId,
        out.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.newOffset })),
      );
    return out;
  }

  /** Deletes groups (they must have no members). */
  async deleteGroups(groupIds: string[]): Promise<void> {
    for (const groupId of groupIds) {
      await this.cluster.retry('DeleteGroups', async () => {
        const conn = await this.cluster.coordinator('group', groupId);
        const res = await conn.request('DeleteGroups', () => ({ groupsNames: [groupId] }));
        for (const r of res.results) {
          if (r.errorCode === ErrorCode.NONE) continue;
          if (COORDINATOR_MOVED.has(r.errorCode)) this.cluster.invalidateCoordinator('group', groupId);
          throw kafkaError(r.errorCode, `deleting group "${r.groupId}"`);
        }
      });
    }
  }

  // ---- cluster ----

  /** Cluster id, controller and brokers (DescribeCluster when offered, else Metadata). */
  async describeCluster(): Promise<ClusterDescription> {
    const conn = await this.cluster.any();
    if (conn.versions.supports('DescribeCluster')) {
      const res = await conn.request('DescribeCluster', () => ({
        includeClusterAuthorizedOperations: false,
        endpointType: 1,
      }));
      if (res.errorCode !== ErrorCode.NONE) throw kafkaError(res.errorCode, 'DescribeCluster', res.errorMessage);
      return {
        clusterId: res.clusterId,
        controllerId: res.controllerId,
        brokers: res.brokers
          .map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack }))
          .sort((a, b) => a.nodeId - b.nodeId),
      };
    }
    await this.cluster.refreshMetadata([]);
    return {
      clusterId: this.cluster.clusterId,
      controllerId: this.cluster.controllerId,
      brokers: this.cluster.knownBrokers(),
    };
  }

  /** Waits until metadata no longer lists the topics (deletion is asynchronous in Kafka). */
  async waitForTopicsGone(names: string[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = await this.listTopics({ includeInternal: true });
      if (!names.some((n) => left.includes(n))) return;
      if (Date.now() > deadline)
        throw new KafkaError(
          ErrorCode.REQUEST_TIMED_OUT,
          `topics still listed after ${timeoutMs} ms: ${names.join(', ')}`,
        );
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    this.cluster.close();
  }
}
