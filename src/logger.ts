import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Human-readable lines instead of JSON; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Destination stream (default stdout). */
  destination?: NodeJS.WritableStream;
}

/** Structured JSON logs for machines, readable lines on a terminal. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  if (pretty) {
    const stream = PinoPretty({
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      sync: true,
      destination: (opts.destination as NodeJS.WritableStream | undefined) ?? 1,
    });
    return pino({ level, base: undefined }, stream);
  }
  return pino({ level, base: undefined }, opts.destination ?? pino.destination({ dest: 1, sync: false }));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
