#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerStartCommand } from './start.js';
import { registerClientCommands } from './commands/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('brook')
  .description('Brook: an event streaming platform that speaks the Kafka protocol')
  .version(pkg.version, '-V, --version', 'print the Brook version')
  .showHelpAfterError('(run with --help for usage)');

registerStartCommand(program);
registerClientCommands(program);

await program.parseAsync(process.argv);
