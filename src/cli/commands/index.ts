import type { Command } from 'commander';
import { registerTopicsCommands } from './topics.js';
import { registerProduceCommand } from './produce.js';
import { registerConsumeCommand } from './consume.js';
import { registerGroupsCommands } from './groups.js';
import { registerPerfCommands } from './perf.js';
import { registerLogCommands } from './log-dump.js';
import { EXIT } from './common.js';

/** Bad flags and arguments exit with 2 (usage), as the commands' own checks do; help and version with 0. */
function usageExitCodes(cmd: Command): void {
  cmd.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.USAGE);
  });
  for (const sub of cmd.commands) usageExitCodes(sub);
}

const CLIENT_COMMANDS = ['topics', 'produce', 'consume', 'groups', 'perf', 'log'];

/** The client-side commands: topics, produce, consume, groups, perf and log. */
export function registerClientCommands(program: Command): void {
  registerTopicsCommands(program);
  registerProduceCommand(program);
  registerConsumeCommand(program);
  registerGroupsCommands(program);
  registerPerfCommands(program);
  registerLogCommands(program);
  for (const c of program.commands) if (CLIENT_COMMANDS.includes(c.name())) usageExitCodes(c);
}
