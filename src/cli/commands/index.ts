import type { Command } from 'commander';
import { registerTopicsCommands } from './topics.js';
import { registerProduceCommand } from './produce.js';
import { registerConsumeCommand } from './consume.js';
import { registerGroupsCommands } from './groups.js';
import { registerPerfCommands } from './perf.js';
import { registerLogCommands } from './log-dump.js';

/** The client-side commands: topics, produce, consume, groups, perf and log. */
export function registerClientCommands(program: Command): void {
  registerTopicsCommands(program);
  registerProduceCommand(program);
  registerConsumeCommand(program);
  registerGroupsCommands(program);
  registerPerfCommands(program);
  registerLogCommands(program);
}
