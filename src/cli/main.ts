#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerStartCommand } from './start.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('brook')
  .description('Brook: an event streaming platform that speaks the Kafka protocol')
  .version(pkg.version, '-V, --version', 'print the Brook version')
  .showHelpAfterError('(run with --help for usage)');

registerStartCommand(program);
// The client commands pull in the whole client; `brook start` does not need them, and loading
// only what a command uses keeps start-up (and every short command) fast.
if (process.argv[2] !== 'start') {
  const { registerClientCommands } = await import('./commands/index.js');
  registerClientCommands(program);
}

await program.parseAsync(process.argv);
