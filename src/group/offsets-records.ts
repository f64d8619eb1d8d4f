import { DecodeError } from '../protocol/decode-error.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

/*
 * Keys and values of the records in __consumer_offsets. Every key and value starts with an int16
 * schema version. Classic records use Kafka's schemas, so operators' tools can read them:
 *   key v0/v1  offset commit      group, topic, partition
 *   key v2     group metadata     group
 * KIP-848 groups use key versions 3+ as Kafka does; their values are Brook's own flexible
 * (compact) layouts, documented in docs/groups.md. A null value (tombstone) deletes the key.
 */

export const enum KeyVersion {
  OffsetCommitV0 = 0,
  OffsetCommit = 1,
  GroupMetadata = 2,
  ConsumerGroupMetadata = 3,
  ConsumerGroupMember = 5,
  ConsumerGroupTargetAssignmentMetadata = 6,
  ConsumerGroupTargetAssignmentMember = 7,
  ConsumerGroupCurrentAssignment = 8,
}

export type OffsetsRecordKey =
  | { kind: 'offset'; group: string; topic: string; partition: number }
  | { kind: 'group'; group: string }
  | { kind: 'cgMetadata'; group: string }
  | { kind: 'cgMember'; group: string; memberId: string }
  | { kind: 'cgTargetMetadata'; group: string }
  | { kind: 'cgTargetMember'; group: string; memberId: string }
  | { kind: 'cgCurrentAssignment'; group: string; memberId: string };

export interface OffsetCommitValue {
  offset: number;
  /** -1 when unknown. */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** -1 unless the commit asked for its own retention (OffsetCommit v2-v4); then value v1 is written. */
  expireTimestamp: number;
}

export interface GroupMetadataMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  currentStateTimestamp: number;
  members: GroupMetadataMember[];
}

export interface TopicPartitions {
  topicId: string;
  partitions: number[];
}

export interface ConsumerGroupMemberValue {
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  serverAssignor: string | null;
  rebalanceTimeoutMs: number;
}

export interface ConsumerGroupCurrentAssignmentValue {
  memberEpoch: number;
  previousMemberEpoch: number;
  /** 0 stable, 1 unrevoked partitions, 2 unreleased partitions. */
  state: number;
  assignedPartitions: TopicPartitions[];
  partitionsPendingRevocation: TopicPartitions[];
}

// ---- keys

export function encodeOffsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return new Writer(64).int16(KeyVersion.OffsetCommit).string(group).string(topic).int32(partition).toBuffer();
}

export function encodeGroupMetadataKey(group: string): Buffer {
  return new Writer(32).int16(KeyVersion.GroupMetadata).string(group).toBuffer();
}

export function encodeConsumerGroupKey(version: KeyVersion, group: string, memberId?: string): Buffer {
  const w = new Writer(64).int16(version).string(group);
  if (memberId !== undefined) w.string(memberId);
  return w.toBuffer();
}

/** The key of a record, or null for a key version this broker does not know (skipped on load). */
export function decodeOffsetsKey(buf: Buffer): OffsetsRecordKey | null {
  const r = new Reader(buf);
  const version = r.int16();
  switch (version) {
    case KeyVersion.OffsetCommitV0:
    case KeyVersion.OffsetCommit:
      return { kind: 'offset', group: r.string(), topic: r.string(), partition: r.int32() };
    case KeyVersion.GroupMetadata:
      return { kind: 'group', group: r.string() };
    case KeyVersion.ConsumerGroupMetadata:
      return { kind: 'cgMetadata', group: r.string() };
    case KeyVersion.ConsumerGroupMember:
      return { kind: 'cgMember', group: r.string(), memberId: r.string() };
    case KeyVersion.ConsumerGroupTargetAssignmentMetadata:
      return { kind: 'cgTargetMetadata', group: r.string() };
    case KeyVersion.ConsumerGroupTargetAssignmentMember:
      return { kind: 'cgTargetMember', group: r.string(), memberId: r.string() };
    case KeyVersion.ConsumerGroupCurrentAssignment:
      return { kind: 'cgCurrentAssignment', group: r.string(), memberId: r.string() };
    default:
      return null;
  }
}

// ---- offset commit values (Kafka's OffsetCommitValue v0-v3)

export function encodeOffsetCommitValue(v: OffsetCommitValue): Buffer {
  const w = new Writer(64);
  if (v.expireTimestamp >= 0) {
    w.int16(1).int64(v.offset).string(v.metadata).int64(v.commitTimestamp).int64(v.expireTimestamp);
  } else {
    w.int16(3).int64(v.offset).int32(v.leaderEpoch).string(v.metadata).int64(v.commitTimestamp);
  }
  return w.toBuffer();
}

export function decodeOffsetCommitValue(buf: Buffer): OffsetCommitValue {
  const r = new Reader(buf);
  const version = r.int16();
  switch (version) {
    case 0:
      return {
        offset: r.int64(),
        leaderEpoch: -1,
        metadata: r.string(),
        commitTimestamp: r.int64(),
        expireTimestamp: -1,
      };
    case 1:
      return {
        offset: r.int64(),
        leaderEpoch: -1,
        metadata: r.string(),
        commitTimestamp: r.int64(),
        expireTimestamp: r.int64(),
      };
    case 2:
      return {
        offset: r.int64(),
        leaderEpoch: -1,
        metadata: r.string(),
        commitTimestamp: r.int64(),
        expireTimestamp: -1,
      };
    case 3:
      return {
        offset: r.int64(),
        leaderEpoch: r.int32(),
        metadata: r.string(),
        commitTimestamp: r.int64(),
        expireTimestamp: -1,
      };
    case 4: {
      // Kafka 3.x's flexible form: same fields as v3, compact strings, then tagged fields.
      const offset = r.int64();
      const leaderEpoch = r.int32();
      const metadata = r.compactString();
      const commitTimestamp = r.int64();
      r.skipTaggedFields();
      return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp: -1 };
    }
    default:
      throw new DecodeError(`unknown offset commit value version ${version}`);
  }
}

// ---- group metadata values (Kafka's GroupMetadataValue v0-v3)

export function encodeGroupMetadataValue(v: GroupMetadataValue): Buffer {
  const w = new Writer(256);
  w.int16(3)
    .string(v.protocolType)
    .int32(v.generation)
    .nullableString(v.protocol)
    .nullableString(v.leader)
    .int64(v.currentStateTimestamp);
  w.int32(v.members.length);
  for (const m of v.members) {
    w.string(m.memberId)
      .nullableString(m.groupInstanceId)
      .string(m.clientId)
      .string(m.clientHost)
      .int32(m.rebalanceTimeoutMs)
      .int32(m.sessionTimeoutMs)
      .bytes(m.subscription)
      .bytes(m.assignment);
  }
  return w.toBuffer();
}

export function decodeGroupMetadataValue(buf: Buffer): GroupMetadataValue {
  const r = new Reader(buf);
  const version = r.int16();
  if (version < 0 || version > 4) throw new DecodeError(`unknown group metadata value version ${version}`);
  const flexible = version >= 4;
  const str = () => (flexible ? r.compactString() : r.string());
  const nstr = () => (flexible ? r.compactNullableString() : r.nullableString());
  const bytes = () => Buffer.from(flexible ? r.compactBytes() : r.bytes());
  const protocolType = str();
  const generation = r.int32();
  const protocol = nstr();
  const leader = nstr();
  const currentStateTimestamp = version >= 2 ? r.int64() : -1;
  const n = flexible ? r.compactArrayLength() : r.arrayLength();
  const members: GroupMetadataMember[] = [];
  for (let i = 0; i < n; i++) {
    const memberId = str();
    const groupInstanceId = version >= 3 ? nstr() : null;
    const clientId = str();
    const clientHost = str();
    const rebalanceTimeoutMs = version >= 1 ? r.int32() : -1;
    const sessionTimeoutMs = r.int32();
    const subscription = bytes();
    const assignment = bytes();
    if (flexible) r.skipTaggedFields();
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: rebalanceTimeoutMs < 0 ? sessionTimeoutMs : rebalanceTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    });
  }
  if (flexible) r.skipTaggedFields();
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members };
}

// ---- KIP-848 values (Brook layouts, version 0, compact encoding with a trailing tagged-field section)

function writeTopicPartitions(w: Writer, tps: TopicPartitions[]): void {
  w.compactArrayLength(tps.length);
  for (const tp of tps) {
    w.uuid(tp.topicId).compactArrayLength(tp.partitions.length);
    for (const p of tp.partitions) w.int32(p);
    w.emptyTaggedFields();
  }
}

function readTopicPartitions(r: Reader): TopicPartitions[] {
  const n = r.compactArrayLength();
  const out: TopicPartitions[] = [];
  for (let i = 0; i < n; i++) {
    const topicId = r.uuid();
    const k = r.compactArrayLength();
    const partitions: number[] = [];
    for (let j = 0; j < k; j++) partitions.push(r.int32());
    r.skipTaggedFields();
    out.push({ topicId, partitions });
  }
  return out;
}

function checkVersion0(r: Reader, what: string): void {
  const v = r.int16();
  if (v !== 0) throw new DecodeError(`unknown ${what} value version ${v}`);
}

export function encodeEpochValue(epoch: number): Buffer {
  return new Writer(8).int16(0).int32(epoch).emptyTaggedFields().toBuffer();
}

export function decodeEpochValue(buf: Buffer): number {
  const r = new Reader(buf);
  checkVersion0(r, 'consumer group epoch');
  return r.int32();
}

export function encodeConsumerGroupMemberValue(v: ConsumerGroupMemberValue): Buffer {
  const w = new Writer(128).int16(0);
  w.compactNullableString(v.instanceId)
    .compactNullableString(v.rackId)
    .compactString(v.clientId)
    .compactString(v.clientHost);
  w.compactArrayLength(v.subscribedTopicNames.length);
  for (const t of v.subscribedTopicNames) w.compactString(t);
  w.compactNullableString(v.serverAssignor).int32(v.rebalanceTimeoutMs).emptyTaggedFields();
  return w.toBuffer();
}

export function decodeConsumerGroupMemberValue(buf: Buffer): ConsumerGroupMemberValue {
  const r = new Reader(buf);
  checkVersion0(r, 'consumer group member');
  const instanceId = r.compactNullableString();
  const rackId = r.compactNullableString();
  const clientId = r.compactString();
  const clientHost = r.compactString();
  const n = r.compactArrayLength();
  const subscribedTopicNames: string[] = [];
  for (let i = 0; i < n; i++) subscribedTopicNames.push(r.compactString());
  const serverAssignor = r.compactNullableString();
  const rebalanceTimeoutMs = r.int32();
  r.skipTaggedFields();
  return { instanceId, rackId, clientId, clientHost, subscribedTopicNames, serverAssignor, rebalanceTimeoutMs };
}

export function encodeTargetAssignmentValue(tps: TopicPartitions[]): Buffer {
  const w = new Writer(64).int16(0);
  writeTopicPartitions(w, tps);
  return w.emptyTaggedFields().toBuffer();
}

export function decodeTargetAssignmentValue(buf: Buffer): TopicPartitions[] {
  const r = new Reader(buf);
  checkVersion0(r, 'consumer group target assignment');
  const tps = readTopicPartitions(r);
  r.skipTaggedFields();
  return tps;
}

export function encodeCurrentAssignmentValue(v: ConsumerGroupCurrentAssignmentValue): Buffer {
  const w = new Writer(64).int16(0).int32(v.memberEpoch).int32(v.previousMemberEpoch).int8(v.state);
  writeTopicPartitions(w, v.assignedPartitions);
  writeTopicPartitions(w, v.partitionsPendingRevocation);
  return w.emptyTaggedFields().toBuffer();
}

export function decodeCurrentAssignmentValue(buf: Buffer): ConsumerGroupCurrentAssignmentValue {
  const r = new Reader(buf);
  checkVersion0(r, 'consumer group current assignment');
  const memberEpoch = r.int32();
  const previousMemberEpoch = r.int32();
  const state = r.int8();
  const assignedPartitions = readTopicPartitions(r);
  const partitionsPendingRevocation = readTopicPartitions(r);
  r.skipTaggedFields();
  return { memberEpoch, previousMemberEpoch, state, assignedPartitions, partitionsPendingRevocation };
}

/**
 * Kafka's placement of a group on __consumer_offsets: `Utils.abs(groupId.hashCode()) % partitions`,
 * with Java's String.hashCode over UTF-16 code units and abs(Integer.MIN_VALUE) = 0.
 */
export function partitionForGroup(groupId: string, partitionCount: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % partitionCount;
}
