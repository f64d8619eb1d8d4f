import { Reader } from '../protocol/reader.js';
import { readConsumerProtocolSubscription } from '../protocol/messages/consumer-protocol-subscription.js';
import type { ScheduledTask } from './scheduler.js';

export type ClassicGroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinGroupResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  members: JoinGroupMember[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export class ClassicMember {
  assignment: Buffer = EMPTY;
  joinCallback: ((r: JoinGroupResult) => void) | null = null;
  syncCallback: ((r: SyncGroupResult) => void) | null = null;
  /** Joined but not yet through a completed join phase: expires on the long new-member timeout. */
  isNew = false;
  /** When the member's session ends unless it heartbeats (or is waiting on a rebalance). */
  heartbeatDeadline = 0;
  /** The one scheduled expiry check; it re-arms itself when the deadline has moved. */
  expiryTask: ScheduledTask | null = null;
  expiryTaskAt = 0;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocolType: string,
    public protocols: GroupProtocol[],
  ) {}

  get isAwaitingJoin(): boolean {
    return this.joinCallback !== null;
  }

  get isAwaitingSync(): boolean {
    return this.syncCallback !== null;
  }

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  metadataFor(protocol: string): Buffer {
    for (const p of this.protocols) if (p.name === protocol) return p.metadata;
    return EMPTY;
  }

  /** Same protocols with the same metadata, in the same order: a rejoin that changes nothing. */
  matches(protocols: GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    for (let i = 0; i < protocols.length; i++) {
      const a = protocols[i]!;
      const b = this.protocols[i]!;
      if (a.name !== b.name || !a.metadata.equals(b.metadata)) return false;
    }
    return true;
  }

  /** The member's most preferred protocol among the candidates. */
  vote(candidates: ReadonlySet<string>): string {
    for (const p of this.protocols) if (candidates.has(p.name)) return p.name;
    throw new Error(`member ${this.memberId} supports none of the candidate protocols`);
  }
}

/** A group of the classic (JoinGroup/SyncGroup) protocol, or an offsets-only group (protocolType null). */
export class ClassicGroup {
  readonly type = 'classic' as const;
  state: ClassicGroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  currentStateTimestamp: number;
  readonly members = new Map<string, ClassicMember>();
  /** group.instance.id → member id */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED whose second JoinGroup has not arrived; value: deadline. */
  readonly pendingMembers = new Map<string, number>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  /** A brand-new group saw another member join during its initial rebalance delay. */
  newMemberAdded = false;
  /** Topics the members subscribe to (protocol type "consumer" only); null when unknown. */
  subscribedTopics: Set<string> | null = null;
  /** Timer of the join phase (rebalance timeout, or the initial delay) and of the sync phase. */
  joinTask: ScheduledTask | null = null;
  syncTask: ScheduledTask | null = null;
  /** While set, the join phase waits out group.initial.rebalance.delay.ms: `remainingMs` more may follow. */
  initialDelay: { remainingMs: number } | null = null;

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.currentStateTimestamp = now;
  }

  transitionTo(state: ClassicGroupState, now: number): void {
    this.state = state;
    this.currentStateTimestamp = now;
  }

  is(state: ClassicGroupState): boolean {
    return this.state === state;
  }

  canRebalance(): boolean {
    return this.state === 'Stable' || this.state === 'CompletingRebalance' || this.state === 'Empty';
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  staticMemberId(instanceId: string): string | undefined {
    return this.staticMembers.get(instanceId);
  }

  numAwaitingJoin(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.isAwaitingJoin) n++;
    return n;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numAwaitingJoin() && this.pendingMembers.size === 0;
  }

  /** Largest rebalance timeout of the members: how long the join phase may wait. */
  rebalanceTimeoutMs(): number {
    let t = 0;
    for (const m of this.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  add(member: ClassicMember): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.leaderId === null) this.leaderId = member.memberId;
  }

  remove(memberId: string): ClassicMember | undefined {
    const m = this.members.get(memberId);
    if (m === undefined) return undefined;
    this.members.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
    if (m.groupInstanceId !== null && this.staticMembers.get(m.groupInstanceId) === memberId)
      this.staticMembers.delete(m.groupInstanceId);
    m.expiryTask?.cancel();
    m.expiryTask = null;
    if (this.leaderId === memberId) {
      this.leaderId = null;
      for (const other of this.members.values()) {
        if (other.isAwaitingJoin) {
          this.leaderId = other.memberId;
          break;
        }
      }
      if (this.leaderId === null) this.leaderId = this.members.keys().next().value ?? null;
    }
    return m;
  }

  /** Moves a static member to a new member id; the old id's waiting requests are fenced by the caller. */
  replaceStaticMember(instanceId: string, oldMemberId: string, newMemberId: string): ClassicMember {
    const m = this.members.get(oldMemberId);
    if (m === undefined) throw new Error(`static member ${instanceId} has no member ${oldMemberId}`);
    this.members.delete(oldMemberId);
    m.memberId = newMemberId;
    this.members.set(newMemberId, m);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    this.staticMembers.set(instanceId, newMemberId);
    return m;
  }

  /** When the leader did not rejoin, hand leadership to a member that did. False if none did. */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId !== null) {
      const leader = this.members.get(this.leaderId);
      if (leader?.isAwaitingJoin) return true;
    }
    for (const m of this.members.values()) {
      if (m.isAwaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** Protocols every member supports. */
  candidateProtocols(): Set<string> {
    let set: Set<string> | null = null;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      if (set === null) set = names;
      else for (const n of set) if (!names.has(n)) set.delete(n);
    }
    return set ?? new Set();
  }

  /** Whether a joining member's protocol type and protocols are compatible with the group. */
  supportsProtocols(protocolType: string, protocols: GroupProtocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0;
    if (protocolType !== this.protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.has(p.name));
  }

  /** Each member votes for its most preferred common protocol; most votes wins (ties: candidate order of the leader). */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const v = m.vote(candidates);
      votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    const leader = this.leaderId !== null ? this.members.get(this.leaderId) : undefined;
    const order = (leader ?? this.members.values().next().value!).protocols
      .map((p) => p.name)
      .filter((n) => candidates.has(n));
    let best = '';
    let bestVotes = -1;
    for (const name of order) {
      const n = votes.get(name) ?? 0;
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  /** Member list as the leader receives it in JoinGroup (metadata of the chosen protocol). */
  currentMemberMetadata(): JoinGroupMember[] {
    const protocol = this.protocolName ?? '';
    const out: JoinGroupMember[] = [];
    for (const m of this.members.values())
      out.push({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(protocol) });
    return out;
  }

  /** Recomputes the subscribed topics from the members' consumer-protocol subscriptions. */
  updateSubscribedTopics(): void {
    if (this.protocolType !== 'consumer' || this.protocolName === null) {
      this.subscribedTopics = null;
      return;
    }
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const parsed = parseSubscriptionTopics(m.metadataFor(this.protocolName));
      if (parsed === null) {
        this.subscribedTopics = null;
        return;
      }
      for (const t of parsed) topics.add(t);
    }
    this.subscribedTopics = topics;
  }

  /** Whether the group consumes the topic; unknown subscriptions count as yes (nothing may be deleted from under them). */
  isSubscribedToTopic(topic: string): boolean {
    return this.subscribedTopics === null ? true : this.subscribedTopics.has(topic);
  }
}

/** Topics of a ConsumerProtocolSubscription (any version), or null when the bytes do not parse. */
export function parseSubscriptionTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    const version = r.int16();
    // Newer clients may send versions above what we know; the topic list leads every version.
    return readConsumerProtocolSubscription(r, Math.min(Math.max(version, 0), 3)).topics;
  } catch {
    return null;
  }
}
