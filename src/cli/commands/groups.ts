import type { Command } from 'commander';
import { Admin, type OffsetResetTarget } from '../../client/admin.js';
import {
  UsageError,
  action,
  clientCommand,
  clientOptions,
  collect,
  colour,
  out,
  parseInteger,
  printJson,
  table,
  type GlobalOptions,
} from './common.js';

interface ResetOptions extends GlobalOptions {
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: string;
  toOffset?: string;
  shiftBy?: string;
  topic: string[];
  dryRun?: boolean;
}

async function withAdmin<T>(o: GlobalOptions, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin(clientOptions(o));
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** Parses an ISO 8601 date-time (as kafka-consumer-groups' --to-datetime) or epoch milliseconds. */
export function parseDatetime(v: string): number {
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new UsageError(`--to-datetime: "${v}" is not a date-time (e.g. 2024-05-01T12:00:00Z) or epoch milliseconds`);
  return t;
}

function resetTarget(o: ResetOptions): OffsetResetTarget {
  const chosen: OffsetResetTarget[] = [];
  if (o.toEarliest) chosen.push('earliest');
  if (o.toLatest) chosen.push('latest');
  if (o.toDatetime !== undefined) chosen.push({ datetime: parseDatetime(o.toDatetime) });
  if (o.toOffset !== undefined) chosen.push({ offset: parseInteger('--to-offset', o.toOffset, 0) });
  if (o.shiftBy !== undefined) chosen.push({ shiftBy: parseInteger('--shift-by', o.shiftBy) });
  if (chosen.length !== 1)
    throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by');
  return chosen[0]!;
}

/** Parses --topic values: "name" (all partitions) or "name:0,1,2". */
function parseTopics(list: string[]): { topics?: string[]; partitions?: { topic: string; partition: number }[] } {
  if (list.length === 0) return {};
  const topics: string[] = [];
  const partitions: { topic: string; partition: number }[] = [];
  for (const t of list) {
    const colon = t.lastIndexOf(':');
    if (colon < 0) topics.push(t);
    else {
      const name = t.slice(0, colon);
      for (const p of t.slice(colon + 1).split(','))
        partitions.push({ topic: name, partition: parseInteger('--topic', p.trim(), 0) });
    }
  }
  if (topics.length > 0 && partitions.length > 0)
    throw new UsageError('--topic: give whole topics or topic:partitions, not both');
  return topics.length > 0 ? { topics } : { partitions };
}

export function registerGroupsCommands(program: Command): void {
  const groups = program.command('groups').description('list, describe, reset offsets of and delete consumer groups');

  clientCommand(groups.command('list'))
    .description('list consumer groups')
    .action(
      action(async (o: GlobalOptions) => {
        await withAdmin(o, async (admin) => {
          const list = await admin.listGroups();
          if (o.json) return printJson(list);
          if (list.length === 0) return out(colour.dim('(no groups)'));
          out(
            table(
              ['GROUP', 'STATE', 'TYPE', 'PROTOCOL TYPE'],
              list.map((g) => [g.groupId, g.state || '-', g.type || '-', g.protocolType || '-']),
            ),
          );
        });
      }),
    );

  clientCommand(groups.command('describe <groups...>'))
    .description('state, members, committed offsets and lag of groups')
    .action(
      action(async (ids: string[], o: GlobalOptions) => {
        await withAdmin(o, async (admin) => {
          const descriptions = await admin.describeGroups(ids);
          const result = [];
          for (const d of descriptions) result.push({ ...d, offsets: await admin.describeGroupOffsets(d.groupId) });
          if (o.json) return printJson(result);
          result.forEach((g, i) => {
            if (i > 0) out();
            const state =
              g.state === 'Stable'
                ? colour.green(g.state)
                : g.state === 'Dead'
                  ? colour.red(g.state)
                  : colour.yellow(g.state);
            out(
              `${colour.bold('Group:')} ${colour.cyan(g.groupId)}  ${colour.bold('State:')} ${state}  ${colour.bold('Protocol:')} ${g.protocol || '-'}  ${colour.bold('Members:')} ${g.members.length}`,
            );
            if (g.offsets.length > 0) {
              const totalLag = g.offsets.reduce((n, r) => n + (r.lag ?? 0), 0);
              out(
                table(
                  ['TOPIC', 'PARTITION', 'COMMITTED', 'LOG-END', 'LAG', 'MEMBER', 'CLIENT-ID'],
                  g.offsets.map((r) => [
                    r.topic,
                    r.partition,
                    r.committedOffset < 0 ? '-' : r.committedOffset,
                    r.logEndOffset < 0 ? '-' : r.logEndOffset,
                    r.lag ?? '-',
                    r.memberId ?? '-',
                    r.clientId ?? '-',
                  ]),
                ),
              );
              out(`${colour.bold('Total lag:')} ${totalLag}`);
            } else out(colour.dim('(no committed offsets)'));
            if (g.members.length > 0) {
              out(
                table(
                  ['MEMBER', 'CLIENT-ID', 'HOST', 'ASSIGNMENT'],
                  g.members.map((m) => [
                    m.memberId,
                    m.clientId,
                    m.clientHost,
                    m.assignment.map((tp) => `${tp.topic}-${tp.partition}`).join(',') || '-',
                  ]),
                ),
              );
            }
          });
        });
      }),
    );

  clientCommand(groups.command('reset-offsets <group>'))
    .description("move a group's committed offsets (the group must have no active members)")
    .option('--to-earliest', 'to the first retained record')
    .option('--to-latest', 'to the end (skip everything)')
    .option('--to-datetime <time>', 'to the first record at or after an ISO 8601 time (or epoch ms)')
    .option('--to-offset <n>', 'to this offset')
    .option('--shift-by <n>', 'move by n (negative: back) from the committed offset')
    .option(
      '-t, --topic <topic>',
      'limit to a topic, or topic:0,1 for some partitions (repeatable; default: every partition with an offset)',
      collect,
      [],
    )
    .option('--dry-run', 'show the new offsets without committing them')
    .action(
      action(async (group: string, o: ResetOptions) => {
        const to = resetTarget(o);
        const scope = parseTopics(o.topic);
        await withAdmin(o, async (admin) => {
          const res = await admin.resetGroupOffsets(group, to, { ...scope, dryRun: o.dryRun });
          if (o.json) return printJson({ group, dryRun: Boolean(o.dryRun), offsets: res });
          if (res.length === 0)
            return out(colour.dim(`group ${group} has no offsets to reset (name topics with --topic)`));
          out(
            table(
              ['TOPIC', 'PARTITION', 'PREVIOUS', 'NEW'],
              res.map((r) => [r.topic, r.partition, r.previousOffset < 0 ? '-' : r.previousOffset, r.newOffset]),
            ),
          );
          out(
            o.dryRun
              ? colour.yellow('Dry run: nothing was committed.')
              : `Reset ${res.length} partition${res.length === 1 ? '' : 's'} of group ${colour.bold(group)}.`,
          );
        });
      }),
    );

  clientCommand(groups.command('delete <groups...>'))
    .description('delete consumer groups and their committed offsets (they must have no members)')
    .action(
      action(async (ids: string[], o: GlobalOptions) => {
        await withAdmin(o, async (admin) => {
          await admin.deleteGroups(ids);
          if (o.json) printJson({ deleted: ids });
          else for (const id of ids) out(`Deleted group ${colour.bold(id)}.`);
        });
      }),
    );
}
