/** topic id → partitions */
export type Assignment = Map<string, Set<number>>;

export interface AssignmentMemberSpec {
  /** Topic ids the member subscribes to (only topics that exist). */
  subscribedTopicIds: ReadonlySet<string>;
  /** The member's current target assignment, for stickiness. */
  currentAssignment: Assignment;
}

export interface AssignmentSpec {
  /** By member id. */
  members: ReadonlyMap<string, AssignmentMemberSpec>;
  /** topic id → partition count */
  topics: ReadonlyMap<string, number>;
}

/** A server-side assignor of the KIP-848 protocol: computes the group's target assignment. */
export interface ServerAssignor {
  readonly name: string;
  assign(spec: AssignmentSpec): Map<string, Assignment>;
}

function sortedMemberIds(spec: AssignmentSpec): string[] {
  return [...spec.members.keys()].sort();
}

function emptyResult(ids: string[]): Map<string, Assignment> {
  const out = new Map<string, Assignment>();
  for (const id of ids) out.set(id, new Map());
  return out;
}

function add(a: Assignment, topicId: string, partition: number): void {
  let s = a.get(topicId);
  if (s === undefined) a.set(topicId, (s = new Set()));
  s.add(partition);
}

function removeFrom(a: Assignment, topicId: string, partition: number): void {
  const s = a.get(topicId);
  if (s === undefined) return;
  s.delete(partition);
  if (s.size === 0) a.delete(topicId);
}

/**
 * Spreads the partitions of all subscribed topics as evenly as the subscriptions allow, keeping
 * partitions where they are whenever that does not unbalance the group. With identical
 * subscriptions every member ends with ⌊P/N⌋ or ⌈P/N⌉ partitions; with different ones, a partition
 * moves from a member to another subscribed member only while that narrows the gap by two or more.
 */
export const uniformAssignor: ServerAssignor = {
  name: 'uniform',
  assign(spec) {
    const ids = sortedMemberIds(spec);
    const result = emptyResult(ids);
    const counts = new Map<string, number>(ids.map((id) => [id, 0]));
    const owner = new Map<string, string>();
    const key = (t: string, p: number) => `${t}:${p}`;
    const subscribers = new Map<string, string[]>();
    for (const t of [...spec.topics.keys()].sort())
      subscribers.set(
        t,
        ids.filter((id) => spec.members.get(id)!.subscribedTopicIds.has(t)),
      );

    // Sticky pass: keep what each member already has, up to its fair share for identical subscriptions.
    const totalPartitions = [...spec.topics.entries()].reduce(
      (n, [t, c]) => n + ((subscribers.get(t)?.length ?? 0) > 0 ? c : 0),
      0,
    );
    const ceiling = ids.length === 0 ? 0 : Math.ceil(totalPartitions / ids.length);
    for (const id of ids) {
      const m = spec.members.get(id)!;
      const current = [...m.currentAssignment.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [t, parts] of current) {
        const count = spec.topics.get(t);
        if (count === undefined || !m.subscribedTopicIds.has(t)) continue;
        for (const p of [...parts].sort((a, b) => a - b)) {
          if (p >= count || owner.has(key(t, p)) || counts.get(id)! >= ceiling) continue;
          owner.set(key(t, p), id);
          add(result.get(id)!, t, p);
          counts.set(id, counts.get(id)! + 1);
        }
      }
    }
    // Unowned partitions go to the least loaded subscriber.
    for (const [t, subs] of subscribers) {
      if (subs.length === 0) continue;
      const count = spec.topics.get(t)!;
      for (let p = 0; p < count; p++) {
        if (owner.has(key(t, p))) continue;
        let best = subs[0]!;
        for (const id of subs) if (counts.get(id)! < counts.get(best)!) best = id;
        owner.set(key(t, p), best);
        add(result.get(best)!, t, p);
        counts.set(best, counts.get(best)! + 1);
      }
    }
    // Balancing pass for mixed subscriptions: move partitions from heavy to light eligible members.
    for (let moved = true, rounds = 0; moved && rounds < 1000; rounds++) {
      moved = false;
      const byLoad = [...ids].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
      for (const heavy of byLoad) {
        const parts: Array<[string, number]> = [];
        for (const [t, s] of result.get(heavy)!) for (const p of s) parts.push([t, p]);
        parts.sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : b[1] - a[1]));
        for (const [t, p] of parts) {
          let light: string | undefined;
          for (const id of subscribers.get(t)!) {
            if (
              counts.get(id)! <= counts.get(heavy)! - 2 &&
              (light === undefined || counts.get(id)! < counts.get(light)!)
            )
              light = id;
          }
          if (light === undefined) continue;
          removeFrom(result.get(heavy)!, t, p);
          add(result.get(light)!, t, p);
          counts.set(heavy, counts.get(heavy)! - 1);
          counts.set(light, counts.get(light)! + 1);
          moved = true;
        }
      }
    }
    return result;
  },
};

/**
 * Per topic, the subscribed members (by member id) take contiguous ranges of partitions; the first
 * P mod N members get one extra. Members with the same subscriptions therefore get the same
 * partition numbers of co-partitioned topics, which is what joins across topics need.
 */
export const rangeAssignor: ServerAssignor = {
  name: 'range',
  assign(spec) {
    const ids = sortedMemberIds(spec);
    const result = emptyResult(ids);
    for (const [t, count] of spec.topics) {
      const subs = ids.filter((id) => spec.members.get(id)!.subscribedTopicIds.has(t));
      if (subs.length === 0) continue;
      const per = Math.floor(count / subs.length);
      const extra = count % subs.length;
      let next = 0;
      subs.forEach((id, i) => {
        const n = per + (i < extra ? 1 : 0);
        for (let k = 0; k < n; k++) add(result.get(id)!, t, next++);
      });
    }
    return result;
  },
};

export const SERVER_ASSIGNORS: ReadonlyMap<string, ServerAssignor> = new Map([
  [uniformAssignor.name, uniformAssignor],
  [rangeAssignor.name, rangeAssignor],
]);
