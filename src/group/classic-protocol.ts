import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../protocol/errors.js';
import {
  ClassicGroup,
  ClassicMember,
  joinError,
  syncError,
  type GroupProtocol,
  type JoinGroupResult,
  type SyncGroupResult,
} from './classic-group.js';
import { encodeGroupMetadataKey, encodeGroupMetadataValue, type GroupMetadataValue } from './offsets-records.js';
import { appendErrorCode, type GroupRuntime, type OffsetsRecord } from './runtime.js';

/** How long a member that joined may wait for its first join phase to finish (Kafka's constant). */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

export interface JoinGroupParams {
  groupId: string;
  /** "" for a member joining for the first time. */
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: GroupProtocol[];
  sessionTimeoutMs: number;
  /** JoinGroup v0 has none: pass the session timeout. */
  rebalanceTimeoutMs: number;
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its id. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader may be told to skip the assignment. */
  supportSkippingAssignment: boolean;
  reason?: string | null;
}

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** SyncGroup v5+; null when absent. */
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface HeartbeatParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeavingMember {
  memberId: string;
  groupInstanceId: string | null;
  reason?: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: Array<{ memberId: string; groupInstanceId: string | null; errorCode: number }>;
}

/**
 * The classic rebalance protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) as Kafka's group
 * coordinator runs it: Empty → PreparingRebalance → CompletingRebalance → Stable, with delayed
 * joins (initial delay, rebalance timeout), session expiry, pending-sync expiry and static members.
 */
export class ClassicGroupProtocol {
  constructor(private readonly rt: GroupRuntime) {}

  // ---------------------------------------------------------------- JoinGroup

  join(p: JoinGroupParams): Promise<JoinGroupResult> {
    return new Promise((resolve) => this.doJoin(p, resolve));
  }

  private doJoin(p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    const rt = this.rt;
    if (p.groupId === '') return respond(joinError(p.memberId, ErrorCode.INVALID_GROUP_ID));
    if (rt.loading) return respond(joinError(p.memberId, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS));
    if (!rt.active) return respond(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!rt.config.rebalanceProtocols.includes('classic'))
      return respond(joinError(p.memberId, ErrorCode.UNSUPPORTED_VERSION));
    if (
      p.sessionTimeoutMs < rt.config.groupMinSessionTimeoutMs ||
      p.sessionTimeoutMs > rt.config.groupMaxSessionTimeoutMs
    ) {
      return respond(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === '';
    const existing = rt.groups.get(p.groupId);
    let group: ClassicGroup;
    if (existing === undefined) {
      if (!isUnknownMember) return respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      group = new ClassicGroup(p.groupId, rt.now());
      rt.groups.set(p.groupId, group);
    } else if (existing.type === 'consumer') {
      // A KIP-848 group with members cannot take classic members; an empty one (offsets only) converts.
      if (existing.members.size > 0) return respond(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      group = new ClassicGroup(p.groupId, rt.now());
      rt.groups.set(p.groupId, group);
      rt.writeInBackground(p.groupId, existing.tombstones(), 'consumer group conversion');
    } else {
      group = existing;
    }

    if (!this.acceptJoiningMember(group, p.memberId)) {
      respond(joinError(p.memberId, ErrorCode.GROUP_MAX_SIZE_REACHED));
      return;
    }
    if (isUnknownMember) this.newMemberJoin(group, p, respond);
    else this.currentMemberJoin(group, p, respond);
    this.dropIfUnused(group);
  }

  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.rt.config.groupMaxSize;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance': {
        const m = group.members.get(memberId);
        return (m !== undefined && m.isAwaitingJoin) || group.numAwaitingJoin() < max;
      }
      default:
        return group.has(memberId) || group.members.size < max;
    }
  }

  private newMemberJoin(group: ClassicGroup, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    if (group.is('Dead')) return respond(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(p.protocolType, p.protocols))
      return respond(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    const newMemberId = `${p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const oldMemberId = group.staticMemberId(p.groupInstanceId);
      if (oldMemberId === undefined) this.addMemberAndRebalance(group, newMemberId, p, respond);
      else this.updateStaticMemberAndRebalance(group, oldMemberId, newMemberId, p, respond);
    } else if (p.requireKnownMemberId) {
      // KIP-394: hand out the id first, so a client that retries after a lost response reuses it.
      const deadline = this.rt.now() + p.sessionTimeoutMs;
      group.pendingMembers.set(newMemberId, deadline);
      this.rt.scheduler.at(deadline, () => this.expirePendingMember(group, newMemberId));
      respond(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, newMemberId, p, respond);
    }
  }

  private currentMemberJoin(group: ClassicGroup, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    if (group.is('Dead')) return respond(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(p.protocolType, p.protocols))
      return respond(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    if (group.pendingMembers.has(p.memberId)) {
      this.addMemberAndRebalance(group, p.memberId, p, respond);
      return;
    }
    const err = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (err !== ErrorCode.NONE) return respond(joinError(p.memberId, err));
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(group, member, p, respond);
        break;
      case 'CompletingRebalance':
        // A retry of a join whose response was lost: answer it again unless the metadata changed.
        if (member.matches(p.protocols))
          respond(this.currentJoinResult(group, member.memberId, group.isLeader(member.memberId)));
        else this.updateMemberAndRebalance(group, member, p, respond);
        break;
      case 'Stable':
        // A follower rejoining with unchanged metadata gets the current generation back; the leader
        // (which may want to reassign) or a member with new metadata starts a rebalance.
        if (group.isLeader(member.memberId) || !member.matches(p.protocols))
          this.updateMemberAndRebalance(group, member, p, respond);
        else respond(this.currentJoinResult(group, member.memberId, false));
        break;
      default:
        respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private currentJoinResult(group: ClassicGroup, memberId: string, withMembers: boolean): JoinGroupResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      skipAssignment: false,
      memberId,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  private addMemberAndRebalance(
    group: ClassicGroup,
    memberId: string,
    p: JoinGroupParams,
    respond: (r: JoinGroupResult) => void,
  ): void {
    const member = new ClassicMember(
      memberId,
      p.groupInstanceId,
      p.clientId,
      p.clientHost,
      p.rebalanceTimeoutMs,
      p.sessionTimeoutMs,
      p.protocolType,
      copyProtocols(p.protocols),
    );
    member.isNew = true;
    // A brand-new group extends its initial delay while members keep arriving.
    if (group.is('PreparingRebalance') && group.generationId === 0) group.newMemberAdded = true;
    group.add(member);
    member.joinCallback = respond;
    group.pendingMembers.delete(memberId);
    member.heartbeatDeadline = this.rt.now() + NEW_MEMBER_JOIN_TIMEOUT_MS;
    this.scheduleExpiry(group, member);
    this.rt.log?.debug({ groupId: group.groupId, memberId, instanceId: p.groupInstanceId }, 'member joined group');
    this.maybePrepareRebalance(group);
    this.maybeCompleteJoin(group);
  }

  private updateMember(
    member: ClassicMember,
    p: JoinGroupParams,
    respond: ((r: JoinGroupResult) => void) | null,
  ): void {
    member.protocols = copyProtocols(p.protocols);
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    const previous = member.joinCallback;
    member.joinCallback = respond;
    // A superseded JoinGroup of the same member (its client gave up on it) still gets an answer.
    if (previous !== null && previous !== respond)
      previous(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
  }

  private updateMemberAndRebalance(
    group: ClassicGroup,
    member: ClassicMember,
    p: JoinGroupParams,
    respond: (r: JoinGroupResult) => void,
  ): void {
    this.updateMember(member, p, respond);
    this.maybePrepareRebalance(group);
    this.maybeCompleteJoin(group);
  }

  private updateStaticMemberAndRebalance(
    group: ClassicGroup,
    oldMemberId: string,
    newMemberId: string,
    p: JoinGroupParams,
    respond: (r: JoinGroupResult) => void,
  ): void {
    const instanceId = p.groupInstanceId!;
    const currentLeader = group.leaderId;
    const member = group.members.get(oldMemberId)!;
    // The old incarnation's waiting requests are fenced: a second process with the same instance id loses.
    const oldJoin = member.joinCallback;
    const oldSync = member.syncCallback;
    member.joinCallback = null;
    member.syncCallback = null;
    oldJoin?.(joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    oldSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    this.touchHeartbeat(group, member);
    const old = {
      protocols: member.protocols,
      rebalanceTimeoutMs: member.rebalanceTimeoutMs,
      sessionTimeoutMs: member.sessionTimeoutMs,
    };
    this.updateMember(member, p, respond);
    this.rt.log?.info(
      { groupId: group.groupId, instanceId, oldMemberId, newMemberId },
      'static member rejoined with a new member id',
    );

    switch (group.state) {
      case 'Stable': {
        if (group.protocolName !== group.selectProtocol()) {
          this.maybePrepareRebalance(group);
          return;
        }
        // Same protocol: no rebalance. Persist the new member id, then hand back the current generation.
        const generation = group.generationId;
        this.rt
          .write(group.groupId, [this.groupRecord(group)])
          .then(
            () => ErrorCode.NONE,
            (err: unknown) => appendErrorCode(err),
          )
          .then((code) => {
            if (member.joinCallback !== respond) return;
            member.joinCallback = null;
            if (code !== ErrorCode.NONE) {
              if (group.members.get(newMemberId) === member && group.generationId === generation) {
                // Could not persist the new id: undo the replacement so the old incarnation stays valid.
                member.protocols = old.protocols;
                member.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
                member.sessionTimeoutMs = old.sessionTimeoutMs;
                group.replaceStaticMember(instanceId, newMemberId, oldMemberId);
                this.touchHeartbeat(group, member);
              }
              respond({
                ...joinError('', code),
                generationId: group.generationId,
                protocolType: group.protocolType,
                protocolName: group.protocolName,
                leader: currentLeader ?? '',
              });
              return;
            }
            if (p.supportSkippingAssignment) {
              // v9+: the leader learns it leads but keeps the current assignment (no reassignment while Stable).
              const isLeader = group.isLeader(newMemberId);
              respond({ ...this.currentJoinResult(group, newMemberId, isLeader), skipAssignment: isLeader });
            } else {
              // Older versions: report the old leader id, so a rejoining leader does not run a pointless assignment.
              respond({ ...this.currentJoinResult(group, newMemberId, false), leader: currentLeader ?? '' });
            }
          })
          .catch((err: unknown) => this.rt.log?.error({ err, groupId: group.groupId }, 'static member rejoin failed'));
        return;
      }
      case 'CompletingRebalance':
        // The leader may already be assigning to the old member id; start over so the new id gets partitions.
        this.prepareRebalance(group);
        return;
      case 'PreparingRebalance':
        this.maybeCompleteJoin(group);
        return;
      default:
        member.joinCallback = null;
        respond(joinError(newMemberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  // ---------------------------------------------------------------- rebalance phases

  private maybePrepareRebalance(group: ClassicGroup): void {
    if (group.canRebalance()) this.prepareRebalance(group);
  }

  prepareRebalance(group: ClassicGroup): void {
    const rt = this.rt;
    if (group.is('CompletingRebalance')) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    group.syncTask?.cancel();
    group.syncTask = null;
    group.pendingSyncMembers.clear();
    group.joinTask?.cancel();
    const wasEmpty = group.is('Empty');
    group.transitionTo('PreparingRebalance', rt.now());
    rt.log?.info(
      { groupId: group.groupId, generation: group.generationId, members: group.members.size },
      'preparing to rebalance group',
    );
    if (wasEmpty) {
      const delay = rt.config.groupInitialRebalanceDelayMs;
      group.initialDelay = { remainingMs: Math.max(group.rebalanceTimeoutMs() - delay, 0) };
      group.joinTask = rt.scheduler.after(delay, () => this.onInitialDelayExpired(group));
    } else {
      group.initialDelay = null;
      group.joinTask = rt.scheduler.after(group.rebalanceTimeoutMs(), () => this.onJoinDeadline(group));
      this.maybeCompleteJoin(group);
    }
  }

  private onInitialDelayExpired(group: ClassicGroup): void {
    if (!group.is('PreparingRebalance') || group.initialDelay === null) return;
    const remaining = group.initialDelay.remainingMs;
    if (group.newMemberAdded && remaining > 0) {
      group.newMemberAdded = false;
      const delay = Math.min(this.rt.config.groupInitialRebalanceDelayMs, remaining);
      group.initialDelay.remainingMs = Math.max(remaining - delay, 0);
      group.joinTask = this.rt.scheduler.after(delay, () => this.onInitialDelayExpired(group));
      return;
    }
    group.initialDelay = null;
    this.completeJoin(group);
  }

  private onJoinDeadline(group: ClassicGroup): void {
    if (group.is('PreparingRebalance') && group.initialDelay === null) this.completeJoin(group);
  }

  /** Completes the join phase early once every member (and no pending one) has rejoined. */
  maybeCompleteJoin(group: ClassicGroup): void {
    if (group.is('PreparingRebalance') && group.initialDelay === null && group.hasAllMembersJoined())
      this.completeJoin(group);
  }

  private completeJoin(group: ClassicGroup): void {
    const rt = this.rt;
    group.joinTask?.cancel();
    group.joinTask = null;
    // Dynamic members that did not rejoin in time are gone; static ones stay until their session ends.
    for (const m of [...group.members.values()]) {
      if (!m.isAwaitingJoin && !m.isStatic) {
        rt.log?.info(
          { groupId: group.groupId, memberId: m.memberId },
          'member did not rejoin in time and leaves the group',
        );
        group.remove(m.memberId);
      }
    }
    if (group.is('Dead')) return;
    if (!group.maybeElectNewJoinedLeader() && group.members.size > 0) {
      // Only static members that have not rejoined remain: wait for them (or their session end) again.
      group.joinTask = rt.scheduler.after(group.rebalanceTimeoutMs(), () => this.onJoinDeadline(group));
      return;
    }
    this.initNextGeneration(group);
    if (group.is('Empty')) {
      rt.writeInBackground(group.groupId, [this.groupRecord(group)], 'empty group metadata');
      return;
    }
    rt.log?.info(
      {
        groupId: group.groupId,
        generation: group.generationId,
        protocol: group.protocolName,
        members: group.members.size,
      },
      'group join phase complete',
    );
    for (const m of group.members.values()) {
      const cb = m.joinCallback;
      if (cb !== null) {
        m.joinCallback = null;
        cb(this.currentJoinResult(group, m.memberId, group.isLeader(m.memberId)));
      }
      m.isNew = false;
      this.touchHeartbeat(group, m);
    }
    const generation = group.generationId;
    group.syncTask = rt.scheduler.after(group.rebalanceTimeoutMs(), () => this.onSyncDeadline(group, generation));
  }

  private initNextGeneration(group: ClassicGroup): void {
    const now = this.rt.now();
    group.generationId++;
    group.pendingSyncMembers.clear();
    if (group.members.size > 0) {
      group.protocolName = group.selectProtocol();
      group.updateSubscribedTopics();
      for (const id of group.members.keys()) group.pendingSyncMembers.add(id);
      group.transitionTo('CompletingRebalance', now);
    } else {
      group.protocolName = null;
      group.subscribedTopics = null;
      group.transitionTo('Empty', now);
    }
  }

  /** Members that never sent SyncGroup for this generation are removed and the group rebalances. */
  private onSyncDeadline(group: ClassicGroup, generation: number): void {
    group.syncTask = null;
    if (group.generationId !== generation || group.pendingSyncMembers.size === 0) return;
    if (!group.is('CompletingRebalance') && !group.is('Stable')) return;
    for (const id of [...group.pendingSyncMembers]) {
      this.rt.log?.info({ groupId: group.groupId, memberId: id }, 'member did not sync in time and leaves the group');
      const m = group.members.get(id);
      if (m !== undefined) this.answerRemoved(m);
      group.remove(id);
    }
    this.prepareRebalance(group);
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) m.assignment = Buffer.alloc(0);
    this.propagateAssignment(group, errorCode);
  }

  private propagateAssignment(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) {
      const cb = m.syncCallback;
      if (cb === null) continue;
      m.syncCallback = null;
      cb(
        errorCode === ErrorCode.NONE
          ? { errorCode, protocolType: group.protocolType, protocolName: group.protocolName, assignment: m.assignment }
          : syncError(errorCode),
      );
      // Expiries that came due while the member waited were ignored; start its session afresh.
      this.touchHeartbeat(group, m);
    }
  }

  // ---------------------------------------------------------------- SyncGroup

  sync(p: SyncGroupParams): Promise<SyncGroupResult> {
    return new Promise((resolve) => this.doSync(p, resolve));
  }

  private doSync(p: SyncGroupParams, respond: (r: SyncGroupResult) => void): void {
    const rt = this.rt;
    if (p.groupId === '') return respond(syncError(ErrorCode.INVALID_GROUP_ID));
    if (rt.loading) return respond(syncError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS));
    const group = rt.groups.get(p.groupId);
    if (group === undefined || group.type !== 'classic') return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is('Dead')) return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const err = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (err !== ErrorCode.NONE) return respond(syncError(err));
    if (p.generationId !== group.generationId) return respond(syncError(ErrorCode.ILLEGAL_GENERATION));
    if (
      (p.protocolType !== null && p.protocolType !== group.protocolType) ||
      (p.protocolName !== null && p.protocolName !== group.protocolName)
    ) {
      return respond(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'Empty':
        return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'CompletingRebalance': {
        const previous = member.syncCallback;
        member.syncCallback = respond;
        previous?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        this.removePendingSyncMember(group, member.memberId);
        if (group.isLeader(member.memberId)) this.completeSyncWithLeaderAssignment(group, p);
        return;
      }
      case 'Dead':
        // Answered above already (is('Dead') does not narrow the state's type); here for exhaustiveness.
        return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
      case 'Stable':
        this.removePendingSyncMember(group, member.memberId);
        this.touchHeartbeat(group, member);
        return respond({
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        });
    }
  }

  private completeSyncWithLeaderAssignment(group: ClassicGroup, p: SyncGroupParams): void {
    const generation = group.generationId;
    const assignments = new Map<string, Buffer>();
    for (const a of p.assignments) if (group.has(a.memberId)) assignments.set(a.memberId, Buffer.from(a.assignment));
    // Members the leader left out get an empty assignment.
    for (const id of group.members.keys()) if (!assignments.has(id)) assignments.set(id, Buffer.alloc(0));
    this.rt
      .write(group.groupId, [this.groupRecord(group, assignments)])
      .then(
        () => ErrorCode.NONE,
        (err: unknown) => appendErrorCode(err),
      )
      .then((code) => {
        // Another rebalance may have started while the write was in flight; then this assignment is stale.
        if (!group.is('CompletingRebalance') || group.generationId !== generation) return;
        if (code !== ErrorCode.NONE) {
          this.resetAndPropagateAssignmentError(group, code);
          this.maybePrepareRebalance(group);
          return;
        }
        for (const [id, a] of assignments) {
          const m = group.members.get(id);
          if (m !== undefined) m.assignment = a;
        }
        this.propagateAssignment(group, ErrorCode.NONE);
        group.transitionTo('Stable', this.rt.now());
        this.rt.log?.info({ groupId: group.groupId, generation }, 'group is stable');
      })
      .catch((err: unknown) => this.rt.log?.error({ err, groupId: group.groupId }, 'completing a sync failed'));
  }

  private removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0) {
      group.syncTask?.cancel();
      group.syncTask = null;
    }
  }

  // ---------------------------------------------------------------- Heartbeat

  heartbeat(p: HeartbeatParams): number {
    const rt = this.rt;
    if (p.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    if (rt.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    const group = rt.groups.get(p.groupId);
    if (group === undefined || group.type !== 'classic') return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const err = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (err !== ErrorCode.NONE) return err;
    if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.touchHeartbeat(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        // CompletingRebalance too: clients heartbeat between their JoinGroup and SyncGroup.
        this.touchHeartbeat(group, member);
        return ErrorCode.NONE;
    }
  }

  // ---------------------------------------------------------------- LeaveGroup

  leave(groupId: string, leaving: LeavingMember[]): LeaveGroupResult {
    const rt = this.rt;
    const all = (code: number): LeaveGroupResult => ({ errorCode: code, members: [] });
    if (groupId === '') return all(ErrorCode.INVALID_GROUP_ID);
    if (rt.loading) return all(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    const group = rt.groups.get(groupId);
    const echo = (m: LeavingMember, errorCode: number) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      errorCode,
    });
    if (group === undefined || group.type !== 'classic') {
      return { errorCode: ErrorCode.NONE, members: leaving.map((m) => echo(m, ErrorCode.UNKNOWN_MEMBER_ID)) };
    }
    if (group.is('Dead')) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const members = leaving.map((m) => echo(m, this.leaveOne(group, m)));
    return { errorCode: ErrorCode.NONE, members };
  }

  private leaveOne(group: ClassicGroup, m: LeavingMember): number {
    let memberId = m.memberId;
    if (m.groupInstanceId !== null) {
      const current = group.staticMemberId(m.groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (memberId !== '' && current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
      memberId = current;
    }
    if (group.pendingMembers.delete(memberId)) {
      this.maybeCompleteJoin(group);
      return ErrorCode.NONE;
    }
    const member = group.members.get(memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.rt.log?.info({ groupId: group.groupId, memberId, reason: m.reason ?? undefined }, 'member left the group');
    this.removeMemberAndUpdateGroup(group, member);
    return ErrorCode.NONE;
  }

  // ---------------------------------------------------------------- membership checks and expiry

  /** UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID when the member id (and instance id) is not the current one. */
  validateCurrentMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = group.staticMemberId(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
      return ErrorCode.NONE;
    }
    return group.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** Answers the waiting requests of a member that is being removed. */
  private answerRemoved(m: ClassicMember): void {
    const join = m.joinCallback;
    const sync = m.syncCallback;
    m.joinCallback = null;
    m.syncCallback = null;
    join?.(joinError(m.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    sync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
  }

  removeMemberAndUpdateGroup(group: ClassicGroup, member: ClassicMember): void {
    this.answerRemoved(member);
    group.remove(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(group);
        break;
      case 'PreparingRebalance':
        this.maybeCompleteJoin(group);
        break;
      default:
    }
  }

  touchHeartbeat(group: ClassicGroup, member: ClassicMember): void {
    member.heartbeatDeadline = this.rt.now() + member.sessionTimeoutMs;
    this.scheduleExpiry(group, member);
  }

  /** Keeps one expiry check per member at or before its deadline; later deadlines re-arm it when it fires. */
  scheduleExpiry(group: ClassicGroup, member: ClassicMember): void {
    if (member.expiryTask !== null && member.expiryTaskAt <= member.heartbeatDeadline) return;
    member.expiryTask?.cancel();
    member.expiryTaskAt = member.heartbeatDeadline;
    member.expiryTask = this.rt.scheduler.at(member.heartbeatDeadline, () => this.onExpiryCheck(group, member));
  }

  private onExpiryCheck(group: ClassicGroup, member: ClassicMember): void {
    member.expiryTask = null;
    if (group.members.get(member.memberId) !== member) return;
    if (this.rt.now() < member.heartbeatDeadline) {
      this.scheduleExpiry(group, member);
      return;
    }
    // Members waiting on a rebalance owe no heartbeat; they get a fresh deadline when it completes.
    if (!member.isNew && (member.isAwaitingJoin || member.isAwaitingSync)) return;
    this.rt.log?.info(
      { groupId: group.groupId, memberId: member.memberId, sessionTimeoutMs: member.sessionTimeoutMs },
      'member session expired',
    );
    this.removeMemberAndUpdateGroup(group, member);
  }

  private expirePendingMember(group: ClassicGroup, memberId: string): void {
    const deadline = group.pendingMembers.get(memberId);
    if (deadline === undefined || this.rt.now() < deadline) return;
    group.pendingMembers.delete(memberId);
    this.maybeCompleteJoin(group);
    this.dropIfUnused(group);
  }

  /** A group that never got a member or an offset (e.g. a refused first join) is forgotten at once. */
  private dropIfUnused(group: ClassicGroup): void {
    if (
      group.is('Empty') &&
      group.generationId === 0 &&
      group.members.size === 0 &&
      group.pendingMembers.size === 0 &&
      !this.rt.offsets.hasOffsets(group.groupId) &&
      this.rt.groups.get(group.groupId) === group
    ) {
      this.rt.groups.delete(group.groupId);
    }
  }

  // ---------------------------------------------------------------- persistence

  /** The group metadata record (key v2, value v3), with the given or current assignments. */
  groupRecord(group: ClassicGroup, assignments?: Map<string, Buffer>): OffsetsRecord {
    const protocol = group.protocolName;
    const value: GroupMetadataValue = {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol,
      leader: group.leaderId,
      currentStateTimestamp: group.currentStateTimestamp,
      members:
        protocol === null
          ? []
          : [...group.members.values()].map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              rebalanceTimeoutMs: m.rebalanceTimeoutMs,
              sessionTimeoutMs: m.sessionTimeoutMs,
              subscription: m.metadataFor(protocol),
              assignment: assignments?.get(m.memberId) ?? m.assignment,
            })),
    };
    return { key: encodeGroupMetadataKey(group.groupId), value: encodeGroupMetadataValue(value) };
  }

  /** Rebuilds a group from its stored metadata after a restart: Stable with its members, or Empty. */
  loadGroup(groupId: string, v: GroupMetadataValue): ClassicGroup {
    const now = this.rt.now();
    const group = new ClassicGroup(groupId, now);
    group.generationId = v.generation;
    group.protocolType = v.protocolType === '' ? null : v.protocolType;
    group.protocolName = v.protocol;
    group.currentStateTimestamp = v.currentStateTimestamp >= 0 ? v.currentStateTimestamp : now;
    for (const sm of v.members) {
      const m = new ClassicMember(
        sm.memberId,
        sm.groupInstanceId,
        sm.clientId,
        sm.clientHost,
        sm.rebalanceTimeoutMs,
        sm.sessionTimeoutMs,
        group.protocolType ?? '',
        [{ name: v.protocol ?? '', metadata: sm.subscription }],
      );
      m.assignment = sm.assignment;
      group.add(m);
    }
    group.leaderId = v.leader !== null && group.has(v.leader) ? v.leader : (group.members.keys().next().value ?? null);
    if (group.members.size > 0) {
      group.state = 'Stable';
      group.updateSubscribedTopics();
      // Members get one full session to come back to the restarted coordinator.
      for (const m of group.members.values()) this.touchHeartbeat(group, m);
    }
    return group;
  }

  /** Answers every waiting request (shutdown) and stops the group's timers. */
  abort(group: ClassicGroup, errorCode: number): void {
    group.joinTask?.cancel();
    group.syncTask?.cancel();
    for (const m of group.members.values()) {
      const join = m.joinCallback;
      const sync = m.syncCallback;
      m.joinCallback = null;
      m.syncCallback = null;
      join?.(joinError(m.memberId, errorCode));
      sync?.(syncError(errorCode));
      m.expiryTask?.cancel();
    }
  }
}

function copyProtocols(protocols: GroupProtocol[]): GroupProtocol[] {
  // Request bytes are views into the network frame; the group keeps them long after it.
  return protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) }));
}
