import { ErrorCode } from '../protocol/errors.js';
import type { Logger } from 'pino';
import type { Cluster, TopicPartition } from './cluster.js';
import { backoff, sleep } from './cluster.js';
import type { Connection } from './connection.js';
import { KafkaError, isRetriableError, kafkaError } from './errors.js';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type Assignor,
} from './assignors.js';

/** What a membership asks of the consumer around a rebalance. */
export interface MembershipHooks {
  /**
   * Partitions are taken away. `lost` means the member was fenced: another member may already own
   * them, so offsets must not be committed for them.
   */
  revoke(partitions: TopicPartition[], lost: boolean): Promise<void>;
  assign(partitions: TopicPartition[]): Promise<void>;
  /** Interrupts a poll that is waiting for records, so the rebalance can run. */
  wake(): void;
}

export interface MembershipOptions {
  groupId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  rackId: string | null;
}

/** A consumer's membership in a group, by either group protocol. */
export interface GroupMembership {
  readonly protocol: 'classic' | 'consumer';
  /** Generation id (classic) or member epoch (KIP-848): what OffsetCommit carries. */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** Partitions assigned to this member now. */
  assignment(): TopicPartition[];
  /** True when a rebalance is due and the next poll must run it. */
  readonly needsRebalance: boolean;
  /** Joins or rebalances if needed (calls the hooks), for the subscribed topics. */
  ensureActive(topics: string[]): Promise<void>;
  /** Gives up membership (LeaveGroup / leave heartbeat). */
  leave(reason: string): Promise<void>;
  /** Rejoins on the next poll (e.g. the subscription changed, or a commit found the generation stale). */
  requestRejoin(): void;
  /** A fatal group error (e.g. FENCED_INSTANCE_ID) the consumer should surface. */
  readonly fatalError: Error | undefined;
  stop(): void;
}

const COORDINATOR_ERRORS = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

function tpKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

function minus(a: readonly TopicPartition[], b: readonly TopicPartition[]): TopicPartition[] {
  const s = new Set(b.map(tpKey));
  return a.filter((tp) => !s.has(tpKey(tp)));
}

/**
 * The classic group protocol: FindCoordinator, JoinGroup (MEMBER_ID_REQUIRED handled), the
 * leader assigns with the chosen assignor, SyncGroup, Heartbeat in the background, LeaveGroup.
 * Eager when any configured assignor is eager (revoke everything before rejoining), cooperative
 * otherwise (revoke only what moves, then rejoin once more so it can be handed over).
 */
export class ClassicMembership implements GroupMembership {
  readonly protocol = 'classic';
  memberId = '';
  generationId = -1;
  private owned: TopicPartition[] = [];
  private rejoin = true;
  private subscribed: string[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatGeneration = 0;
  private stopped = false;
  fatalError: Error | undefined;
  private readonly rebalanceProtocol: 'eager' | 'cooperative';
  private readonly log: Logger;

  constructor(
    private readonly cluster: Cluster,
    private readonly opts: MembershipOptions,
    private readonly assignors: Assignor[],
    private readonly hooks: MembershipHooks,
  ) {
    if (assignors.length === 0) throw new TypeError('at least one assignor is needed');
    this.rebalanceProtocol = assignors.every((a) => a.protocol === 'cooperative') ? 'cooperative' : 'eager';
    this.log = cluster.logger.child({ group: opts.groupId });
  }

  get groupInstanceId(): string | null {
    return this.opts.groupInstanceId;
  }

  get needsRebalance(): boolean {
    return this.rejoin;
  }

  assignment(): TopicPartition[] {
    return this.owned;
  }

  requestRejoin(): void {
    this.rejoin = true;
    this.hooks.wake();
  }

  private coordinator(): Promise<Connection> {
    return this.cluster.coordinator('group', this.opts.groupId);
  }

  private coordinatorError(code: number): void {
    if (code === ErrorCode.NOT_COORDINATOR || code === ErrorCode.COORDINATOR_NOT_AVAILABLE)
      this.cluster.invalidateCoordinator('group', this.opts.groupId);
  }

  async ensureActive(topics: string[]): Promise<void> {
    if (this.fatalError !== undefined) throw this.fatalError;
    const sorted = [...topics].sort();
    if (sorted.join('\u0000') !== this.subscribed.join('\u0000')) {
      this.subscribed = sorted;
      this.rejoin = true;
    }
    for (let attempt = 0; this.rejoin && !this.stopped; attempt++) {
      try {
        await this.rebalance();
        attempt = -1;
      } catch (err) {
        if (err instanceof KafkaError && !err.retriable && !COORDINATOR_ERRORS.has(err.code)) {
          this.fatalError = err;
          throw err;
        }
        if (!isRetriableError(err) && !(err instanceof KafkaError)) throw err;
        this.log.debug({ err }, 'rebalance failed; retrying');
        await sleep(backoff(attempt, this.cluster.opts.retryBackoffMs, this.cluster.opts.retryBackoffMaxMs));
      }
    }
  }

  private async rebalance(): Promise<void> {
    this.stopHeartbeat();
    if (this.rebalanceProtocol === 'eager' && this.owned.length > 0) {
      const revoked = this.owned;
      this.owned = [];
      await this.hooks.revoke(revoked, false);
    }
    const joined = await this.join();
    if (joined === undefined) return; // retried inside; rejoin stays set
    const assigned = await this.sync(joined);
    if (assigned === undefined) return;
    this.rejoin = false;
    const revoked = minus(this.owned, assigned);
    const added = minus(assigned, this.owned);
    if (revoked.length > 0) {
      this.owned = minus(this.owned, revoked);
      await this.hooks.revoke(revoked, false);
      // Partitions given up here go to their new owner in a follow-up rebalance.
      if (this.rebalanceProtocol === 'cooperative') this.rejoin = true;
    }
    this.owned = [...this.owned, ...added];
    if (added.length > 0 || this.rebalanceProtocol === 'eager') await this.hooks.assign(added);
    this.startHeartbeat();
    this.log.debug({ generationId: this.generationId, assigned: this.owned.length }, 'joined group');
  }

  private async join(): Promise<
    | {
        leader: boolean;
        protocol: string;
        members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
        skipAssignment: boolean;
      }
    | undefined
  > {
    const conn = await this.coordinator();
    const res = await conn.request(
      'JoinGroup',
      (v) => ({
        groupId: this.opts.groupId,
        sessionTimeoutMs: this.opts.sessionTimeoutMs,
        rebalanceTimeoutMs: this.opts.rebalanceTimeoutMs,
        memberId: this.memberId,
        groupInstanceId: v >= 5 ? this.opts.groupInstanceId : null,
        protocolType: 'consumer',
        protocols: this.assignors.map((a) => ({
          name: a.name,
          metadata: encodeSubscription(this.subscribed, this.owned, this.generationId, this.opts.rackId),
        })),
        reason: null,
      }),
      // The coordinator holds JoinGroup until every member has joined (up to the rebalance timeout).
      { timeoutMs: this.opts.rebalanceTimeoutMs + this.cluster.opts.requestTimeoutMs },
    );
    switch (res.errorCode) {
      case ErrorCode.NONE:
        break;
      case ErrorCode.MEMBER_ID_REQUIRED:
        this.memberId = res.memberId;
        return undefined;
      case ErrorCode.UNKNOWN_MEMBER_ID:
        this.memberId = '';
        return undefined;
      case ErrorCode.ILLEGAL_GENERATION:
      case ErrorCode.REBALANCE_IN_PROGRESS:
        return undefined;
      default:
        this.coordinatorError(res.errorCode);
        throw kafkaError(res.errorCode, `JoinGroup "${this.opts.groupId}"`);
    }
    this.memberId = res.memberId;
    this.generationId = res.generationId;
    return {
      leader: res.leader === res.memberId,
      protocol: res.protocolName ?? '',
      members: res.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        metadata: m.metadata,
      })),
      skipAssignment: res.skipAssignment,
    };
  }

  private async sync(
    joined: NonNullable<Awaited<ReturnType<ClassicMembership['join']>>>,
  ): Promise<TopicPartition[] | undefined> {
    let assignments: { memberId: string; assignment: Buffer }[] = [];
    if (joined.leader && !joined.skipAssignment)
      assignments = await this.computeAssignments(joined.protocol, joined.members);
    const conn = await this.coordinator();
    const res = await conn.request('SyncGroup', (v) => ({
      groupId: this.opts.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: v >= 3 ? this.opts.groupInstanceId : null,
      protocolType: 'consumer',
      protocolName: joined.protocol,
      assignments,
    }));
    switch (res.errorCode) {
      case ErrorCode.NONE:
        return decodeAssignment(res.assignment);
      case ErrorCode.UNKNOWN_MEMBER_ID:
        this.memberId = '';
        this.generationId = -1;
        return undefined;
      case ErrorCode.ILLEGAL_GENERATION:
      case ErrorCode.REBALANCE_IN_PROGRESS:
        return undefined;
      default:
        this.coordinatorError(res.errorCode);
        throw kafkaError(res.errorCode, `SyncGroup "${this.opts.groupId}"`);
    }
  }

  private async computeAssignments(
    protocol: string,
    members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const assignor = this.assignors.find((a) => a.name === protocol);
    if (assignor === undefined)
      throw new KafkaError(
        ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
        `the group chose assignor "${protocol}", which this member does not have`,
      );
    const subs = members.map((m) => decodeSubscription(m.memberId, m.groupInstanceId, m.metadata));
    const topics = [...new Set(subs.flatMap((s) => s.topics))];
    const counts = new Map<string, number>();
    if (topics.length > 0) {
      const md = await this.cluster.refreshMetadata(topics);
      for (const t of md.topics)
        if (t.name !== null && t.errorCode === ErrorCode.NONE) counts.set(t.name, t.partitions.length);
    }
    const plan = assignor.assign(subs, counts);
    this.log.debug({ protocol, members: subs.length }, 'computed assignment as group leader');
    return subs.map((s) => ({ memberId: s.memberId, assignment: encodeAssignment(plan.get(s.memberId) ?? []) }));
  }

  private startHeartbeat(): void {
    const gen = ++this.heartbeatGeneration;
    const tick = async () => {
      if (gen !== this.heartbeatGeneration || this.stopped) return;
      let delay = this.opts.heartbeatIntervalMs;
      try {
        const conn = await this.coordinator();
        const res = await conn.request('Heartbeat', (v) => ({
          groupId: this.opts.groupId,
          generationId: this.generationId,
          memberId: this.memberId,
          groupInstanceId: v >= 3 ? this.opts.groupInstanceId : null,
        }));
        if (gen !== this.heartbeatGeneration) return;
        switch (res.errorCode) {
          case ErrorCode.NONE:
            break;
          case ErrorCode.REBALANCE_IN_PROGRESS:
            this.requestRejoin();
            return;
          case ErrorCode.UNKNOWN_MEMBER_ID:
          case ErrorCode.ILLEGAL_GENERATION:
          case ErrorCode.FENCED_INSTANCE_ID:
            await this.lose(res.errorCode);
            return;
          default:
            this.coordinatorError(res.errorCode);
            delay = this.cluster.opts.retryBackoffMs;
        }
      } catch (err) {
        this.log.debug({ err }, 'heartbeat failed');
        delay = this.cluster.opts.retryBackoffMs;
      }
      if (gen === this.heartbeatGeneration && !this.stopped) this.heartbeatTimer = setTimeout(() => void tick(), delay);
    };
    this.heartbeatTimer = setTimeout(() => void tick(), this.opts.heartbeatIntervalMs);
  }

  private stopHeartbeat(): void {
    this.heartbeatGeneration++;
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Fenced out of the group: the partitions are gone without a commit. */
  private async lose(code: number): Promise<void> {
    this.stopHeartbeat();
    if (code === ErrorCode.FENCED_INSTANCE_ID)
      this.fatalError = kafkaError(
        code,
        `group "${this.opts.groupId}": another member uses group.instance.id "${this.opts.groupInstanceId}"`,
      );
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
    this.generationId = -1;
    const lost = this.owned;
    this.owned = [];
    if (lost.length > 0) await this.hooks.revoke(lost, true);
    this.requestRejoin();
  }

  async leave(reason: string): Promise<void> {
    this.stopHeartbeat();
    // Static members keep their place across restarts; the session timeout removes them.
    if (this.memberId === '' || this.opts.groupInstanceId !== null) return;
    try {
      const conn = await this.coordinator();
      await conn.request('LeaveGroup', (v) => ({
        groupId: this.opts.groupId,
        memberId: v < 3 ? this.memberId : '',
        members:
          v >= 3
            ? [{ memberId: this.memberId, groupInstanceId: this.opts.groupInstanceId, reason: v >= 5 ? reason : null }]
            : [],
      }));
    } catch (err) {
      this.log.debug({ err }, 'LeaveGroup failed');
    }
    this.memberId = '';
    this.generationId = -1;
    this.owned = [];
  }

  stop(): void {
    this.stopped = true;
    this.stopHeartbeat();
  }
}

/**
 * The KIP-848 consumer group protocol: the coordinator assigns, and one ConsumerGroupHeartbeat RPC
 * carries joining, subscription, assignment and acknowledgement. The member reconciles each new
 * target assignment (revoke what left, commit, then take the new partitions) and reports what it
 * owns in its next heartbeat.
 */
export class ConsumerProtocolMembership implements GroupMembership {
  readonly protocol = 'consumer';
  memberId = '';
  memberEpoch = 0;
  private owned: TopicPartition[] = [];
  private target: TopicPartition[] | undefined;
  private subscribed: string[] = [];
  private subscriptionSent = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatIntervalMs: number;
  private inHeartbeat = false;
  private joined = false;
  private stopped = false;
  private rejoin = true;
  fatalError: Error | undefined;
  private readonly log: Logger;
  private joinWaiters: (() => void)[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly opts: MembershipOptions,
    private readonly serverAssignor: string | null,
    private readonly hooks: MembershipHooks,
  ) {
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs;
    this.log = cluster.logger.child({ group: opts.groupId });
  }

  get generationId(): number {
    return this.memberEpoch;
  }

  get groupInstanceId(): string | null {
    return this.opts.groupInstanceId;
  }

  get needsRebalance(): boolean {
    return this.rejoin || this.target !== undefined;
  }

  assignment(): TopicPartition[] {
    return this.owned;
  }

  requestRejoin(): void {
    this.rejoin = true;
    this.hooks.wake();
  }

  async ensureActive(topics: string[]): Promise<void> {
    if (this.fatalError !== undefined) throw this.fatalError;
    const sorted = [...topics].sort();
    if (sorted.join('\u0000') !== this.subscribed.join('\u0000')) {
      this.subscribed = sorted;
      this.subscriptionSent = false;
      this.rejoin = true;
    }
    if (this.rejoin) {
      this.rejoin = false;
      if (!this.joined) {
        await new Promise<void>((resolve) => {
          this.joinWaiters.push(resolve);
          this.scheduleHeartbeat(0);
        });
        if (this.fatalError !== undefined) throw this.fatalError;
      } else {
        this.scheduleHeartbeat(0);
      }
    }
    if (this.target !== undefined) await this.reconcile();
  }

  /** Applies the newest target assignment: revoke first (with a commit), then assign. */
  private async reconcile(): Promise<void> {
    const target = this.target!;
    this.target = undefined;
    const revoked = minus(this.owned, target);
    const added = minus(target, this.owned);
    if (revoked.length > 0) {
      this.owned = minus(this.owned, revoked);
      await this.hooks.revoke(revoked, false);
    }
    if (added.length > 0) {
      this.owned = [...this.owned, ...added];
      await this.hooks.assign(added);
    }
    // Acknowledge at once so the coordinator can move on.
    this.scheduleHeartbeat(0);
  }

  private scheduleHeartbeat(delay: number): void {
    if (this.stopped) return;
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => void this.heartbeat(), delay);
  }

  private async heartbeat(): Promise<void> {
    this.heartbeatTimer = undefined;
    if (this.inHeartbeat) {
      this.scheduleHeartbeat(10);
      return;
    }
    this.inHeartbeat = true;
    let next: number;
    try {
      const conn = await this.cluster.coordinator('group', this.opts.groupId);
      const full = !this.subscriptionSent || this.memberEpoch === 0;
      const owned = await this.ownedByTopicId();
      const res = await conn.request('ConsumerGroupHeartbeat', () => ({
        groupId: this.opts.groupId,
        memberId: this.memberId,
        memberEpoch: this.memberEpoch,
        instanceId: this.opts.groupInstanceId,
        rackId: full ? this.opts.rackId : null,
        rebalanceTimeoutMs: full ? this.opts.rebalanceTimeoutMs : -1,
        subscribedTopicNames: full ? this.subscribed : null,
        serverAssignor: full ? this.serverAssignor : null,
        topicPartitions: owned,
      }));
      if (res.errorCode !== ErrorCode.NONE) {
        next = await this.onHeartbeatError(res.errorCode, res.errorMessage);
      } else {
        this.subscriptionSent = true;
        if (res.memberId !== null) this.memberId = res.memberId;
        this.memberEpoch = res.memberEpoch;
        if (res.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = res.heartbeatIntervalMs;
        next = this.heartbeatIntervalMs;
        if (res.assignment !== null) {
          this.target = await this.namesFor(res.assignment.topicPartitions);
          this.hooks.wake();
        }
        if (!this.joined) {
          this.joined = true;
          this.releaseJoinWaiters();
        }
      }
    } catch (err) {
      this.log.debug({ err }, 'consumer group heartbeat failed');
      next = this.cluster.opts.retryBackoffMs;
    } finally {
      this.inHeartbeat = false;
    }
    if (!this.stopped && this.heartbeatTimer === undefined) this.scheduleHeartbeat(next);
  }

  private releaseJoinWaiters(): void {
    const ws = this.joinWaiters;
    this.joinWaiters = [];
    for (const w of ws) w();
  }

  private async onHeartbeatError(code: number, message: string | null): Promise<number> {
    switch (code) {
      case ErrorCode.FENCED_MEMBER_EPOCH:
      case ErrorCode.UNKNOWN_MEMBER_ID: {
        // Rejoin with epoch 0; partitions are lost without a commit.
        if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
        this.memberEpoch = 0;
        this.subscriptionSent = false;
        const lost = this.owned;
        this.owned = [];
        this.target = undefined;
        if (lost.length > 0) await this.hooks.revoke(lost, true);
        return 0;
      }
      case ErrorCode.NOT_COORDINATOR:
      case ErrorCode.COORDINATOR_NOT_AVAILABLE:
        this.cluster.invalidateCoordinator('group', this.opts.groupId);
        return this.cluster.opts.retryBackoffMs;
      case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
        return this.cluster.opts.retryBackoffMs;
      default:
        this.fatalError = kafkaError(code, `ConsumerGroupHeartbeat "${this.opts.groupId}"`, message);
        this.stopped = true;
        this.releaseJoinWaiters();
        this.hooks.wake();
        return this.heartbeatIntervalMs;
    }
  }

  /** Owned partitions by topic id, as the heartbeat reports them. */
  private async ownedByTopicId(): Promise<{ topicId: string; partitions: number[] }[]> {
    const byTopic = new Map<string, number[]>();
    for (const tp of this.owned) {
      let l = byTopic.get(tp.topic);
      if (l === undefined) byTopic.set(tp.topic, (l = []));
      l.push(tp.partition);
    }
    const out: { topicId: string; partitions: number[] }[] = [];
    for (const [topic, partitions] of byTopic) {
      let info = this.cluster.cachedTopic(topic);
      if (info === undefined) info = await this.cluster.topic(topic);
      out.push({ topicId: info.topicId, partitions });
    }
    return out;
  }

  private async namesFor(tps: { topicId: string; partitions: number[] }[]): Promise<TopicPartition[]> {
    if (tps.some((t) => this.cluster.topicNameById(t.topicId) === undefined))
      await this.cluster.refreshMetadata(this.subscribed);
    const out: TopicPartition[] = [];
    for (const t of tps) {
      const topic = this.cluster.topicNameById(t.topicId);
      if (topic === undefined)
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_ID, `assigned topic id ${t.topicId} is not in the metadata`);
      for (const partition of t.partitions) out.push({ topic, partition });
    }
    return out;
  }

  async leave(_reason: string): Promise<void> {
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    if (this.memberId === '') return;
    try {
      const conn = await this.cluster.coordinator('group', this.opts.groupId);
      await conn.request('ConsumerGroupHeartbeat', () => ({
        groupId: this.opts.groupId,
        memberId: this.memberId,
        // -1 leaves the group; a static member sends -2 to keep its place for a restart.
        memberEpoch: this.opts.groupInstanceId === null ? -1 : -2,
        instanceId: this.opts.groupInstanceId,
        rackId: null,
        rebalanceTimeoutMs: -1,
        subscribedTopicNames: null,
        serverAssignor: null,
        topicPartitions: null,
      }));
    } catch (err) {
      this.log.debug({ err }, 'leave heartbeat failed');
    }
    this.owned = [];
  }

  stop(): void {
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
  }
}
