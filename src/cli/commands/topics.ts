import type { Command } from 'commander';
import { Admin } from '../../client/admin.js';
import {
  UsageError,
  action,
  clientCommand,
  clientOptions,
  collect,
  colour,
  out,
  parseInteger,
  parseKeyValues,
  printJson,
  table,
  type GlobalOptions,
} from './common.js';

interface CreateOptions extends GlobalOptions {
  partitions?: string;
  replicationFactor?: string;
  config: string[];
  ifNotExists?: boolean;
}

interface AlterOptions extends GlobalOptions {
  partitions?: string;
  config: string[];
  deleteConfig: string[];
}

async function withAdmin<T>(o: GlobalOptions, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin(clientOptions(o));
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

export function registerTopicsCommands(program: Command): void {
  const topics = program.command('topics').description('create, list, describe, alter and delete topics');

  clientCommand(topics.command('create <name>'))
    .description('create a topic')
    .option('-p, --partitions <n>', "number of partitions (default: the broker's num.partitions)")
    .option('-r, --replication-factor <n>', "replicas per partition (default: the broker's default.replication.factor)")
    .option('-c, --config <key=value>', 'topic config, e.g. cleanup.policy=compact (repeatable)', collect, [])
    .option('--if-not-exists', 'succeed if the topic already exists')
    .action(
      action(async (name: string, o: CreateOptions) => {
        const partitions = o.partitions === undefined ? undefined : parseInteger('--partitions', o.partitions, 1);
        const replicationFactor =
          o.replicationFactor === undefined ? undefined : parseInteger('--replication-factor', o.replicationFactor, 1);
        const configs = parseKeyValues('--config', o.config);
        await withAdmin(o, async (admin) => {
          const created = await admin.createTopics([{ name, partitions, replicationFactor, configs }], {
            ifNotExists: o.ifNotExists,
          });
          const [d] = await admin.describeTopics([name]);
          const info = {
            topic: name,
            created: created.includes(name),
            partitions: d!.partitions.length,
            replicationFactor: d!.partitions[0]?.replicas.length ?? 0,
            configs,
          };
          if (o.json) printJson(info);
          else if (info.created)
            out(
              `Created topic ${colour.bold(name)} with ${info.partitions} partition${info.partitions === 1 ? '' : 's'} and replication factor ${info.replicationFactor}.`,
            );
          else out(`Topic ${colour.bold(name)} already exists (${info.partitions} partitions).`);
        });
      }),
    );

  clientCommand(topics.command('list'))
    .description('list topic names')
    .option('--include-internal', 'include internal topics such as __consumer_offsets')
    .action(
      action(async (o: GlobalOptions & { includeInternal?: boolean }) => {
        await withAdmin(o, async (admin) => {
          const names = await admin.listTopics({ includeInternal: o.includeInternal });
          if (o.json) printJson(names);
          else for (const n of names) out(n);
        });
      }),
    );

  clientCommand(topics.command('describe [names...]'))
    .description('partitions, leaders, replicas, ISR and non-default configs of topics (all when none named)')
    .option('--include-internal', 'with no names: include internal topics')
    .action(
      action(async (names: string[], o: GlobalOptions & { includeInternal?: boolean }) => {
        await withAdmin(o, async (admin) => {
          const list = (await admin.describeTopics(names.length > 0 ? names : undefined)).filter(
            (t) => names.length > 0 || o.includeInternal || !t.isInternal,
          );
          let configs: Awaited<ReturnType<Admin['describeConfigs']>> = [];
          try {
            if (list.length > 0)
              configs = await admin.describeConfigs(list.map((t) => ({ type: 'topic' as const, name: t.name })));
          } catch (err) {
            // Partitions are still worth showing when the broker cannot describe configs.
            process.stderr.write(
              `${colour.errDim(`brook: could not read topic configs: ${(err as Error).message}`)}\n`,
            );
          }
          const rows = list.map((t, i) => ({
            topic: t.name,
            topicId: t.topicId,
            internal: t.isInternal,
            partitionCount: t.partitions.length,
            replicationFactor: t.partitions[0]?.replicas.length ?? 0,
            configs: Object.fromEntries(
              (configs[i]?.configs ?? []).filter((c) => !c.isDefault && c.value !== null).map((c) => [c.name, c.value]),
            ),
            partitions: t.partitions.map((p) => ({
              partition: p.partition,
              leader: p.leader,
              leaderEpoch: p.leaderEpoch,
              replicas: p.replicas,
              isr: p.isr,
              offlineReplicas: p.offlineReplicas,
            })),
          }));
          if (o.json) return printJson(rows);
          rows.forEach((t, i) => {
            if (i > 0) out();
            const cfg = Object.entries(t.configs)
              .map(([k, v]) => `${k}=${v}`)
              .join(',');
            out(
              `${colour.bold('Topic:')} ${colour.cyan(t.topic)}  ${colour.bold('TopicId:')} ${t.topicId}  ${colour.bold('PartitionCount:')} ${t.partitionCount}  ${colour.bold('ReplicationFactor:')} ${t.replicationFactor}  ${colour.bold('Configs:')} ${cfg || colour.dim('(defaults)')}`,
            );
            out(
              table(
                ['PARTITION', 'LEADER', 'REPLICAS', 'ISR'],
                t.partitions.map((p) => [
                  p.partition,
                  p.leader < 0 ? colour.red('none') : p.leader,
                  p.replicas.join(','),
                  p.isr.join(','),
                ]),
              ),
            );
          });
        });
      }),
    );

  clientCommand(topics.command('alter <name>'))
    .description('add partitions or change configs of a topic')
    .option('-p, --partitions <n>', 'raise the partition count to n')
    .option('-c, --config <key=value>', 'set a topic config (repeatable)', collect, [])
    .option('--delete-config <key>', 'remove a topic config, back to the default (repeatable)', collect, [])
    .action(
      action(async (name: string, o: AlterOptions) => {
        const set = parseKeyValues('--config', o.config);
        if (o.partitions === undefined && o.config.length === 0 && o.deleteConfig.length === 0)
          throw new UsageError('nothing to alter: give --partitions, --config or --delete-config');
        await withAdmin(o, async (admin) => {
          const [before] = await admin.describeTopics([name]);
          const changes: string[] = [];
          if (o.partitions !== undefined) {
            const count = parseInteger('--partitions', o.partitions, 1);
            if (count < before!.partitions.length)
              throw new UsageError(
                `topic "${name}" has ${before!.partitions.length} partitions; partitions can be added but not removed`,
              );
            if (count > before!.partitions.length) {
              await admin.createPartitions([{ topic: name, count }]);
              changes.push(`partitions ${before!.partitions.length} -> ${count}`);
            }
          }
          if (o.config.length > 0 || o.deleteConfig.length > 0) {
            await admin.alterConfigs([{ type: 'topic', name, set, delete: o.deleteConfig }]);
            for (const [k, v] of Object.entries(set)) changes.push(`${k}=${v}`);
            for (const k of o.deleteConfig) changes.push(`${k} reset to default`);
          }
          if (o.json) printJson({ topic: name, changes });
          else
            out(
              changes.length === 0
                ? `Topic ${colour.bold(name)} unchanged.`
                : `Altered topic ${colour.bold(name)}: ${changes.join(', ')}.`,
            );
        });
      }),
    );

  clientCommand(topics.command('delete <names...>'))
    .description('delete topics and their data')
    .option('--if-exists', 'succeed if a topic does not exist')
    .action(
      action(async (names: string[], o: GlobalOptions & { ifExists?: boolean }) => {
        await withAdmin(o, async (admin) => {
          await admin.deleteTopics(names, { ifExists: o.ifExists });
          if (o.json) printJson({ deleted: names });
          else for (const n of names) out(`Deleted topic ${colour.bold(n)}.`);
        });
      }),
    );
}
