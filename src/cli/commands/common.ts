import type { Command } from 'commander';
import { ErrorCode } from '../../protocol/errors.js';
import { ConnectionError, KafkaError, RequestTimeoutError, UnsupportedVersionError } from '../../client/errors.js';
import type { ClientOptions } from '../../client/cluster.js';

/** Exit codes of the client commands. */
export const EXIT = {
  OK: 0,
  /** The operation failed (the broker said no, records failed, bad input). */
  FAILED: 1,
  /** Bad flags or arguments. */
  USAGE: 2,
  /** No broker could be reached. */
  UNREACHABLE: 3,
} as const;

/** Options every client command has. */
export interface GlobalOptions {
  bootstrap: string;
  json?: boolean;
  clientId?: string;
  timeoutMs?: string;
}

export const DEFAULT_BOOTSTRAP = 'localhost:9092';

/** Adds --bootstrap and --json (and friends) to a command. */
export function clientCommand(cmd: Command): Command {
  return cmd
    .option(
      '-b, --bootstrap <host:port>',
      'broker address(es), comma separated (env BROOK_BOOTSTRAP)',
      process.env.BROOK_BOOTSTRAP ?? DEFAULT_BOOTSTRAP,
    )
    .option('--json', 'machine-readable JSON output')
    .option('--client-id <id>', 'client id sent to the broker', 'brook-cli')
    .option('--timeout-ms <ms>', 'request timeout', '30000');
}

export function clientOptions(o: GlobalOptions): ClientOptions {
  const requestTimeoutMs = Number(o.timeoutMs ?? 30000);
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0)
    throw new UsageError(`--timeout-ms: "${o.timeoutMs}" is not a positive number`);
  return {
    bootstrap: o.bootstrap,
    clientId: o.clientId ?? 'brook-cli',
    requestTimeoutMs,
    connectTimeoutMs: Math.min(10_000, requestTimeoutMs),
  };
}

/** A mistake in how the command was called: reported with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// ---- terminal output ----

const stdoutTTY = Boolean(process.stdout.isTTY);

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function useColour(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

function sgr(code: string, stream?: NodeJS.WriteStream): (s: string) => string {
  return (s) => (useColour(stream) ? `\u001b[${code}m${s}\u001b[0m` : s);
}

export const colour = {
  bold: sgr('1'),
  dim: sgr('2'),
  red: sgr('31'),
  green: sgr('32'),
  yellow: sgr('33'),
  cyan: sgr('36'),
  errRed: sgr('31', process.stderr),
  errGreen: sgr('32', process.stderr),
  errDim: sgr('2', process.stderr),
  errBold: sgr('1', process.stderr),
};

export function out(line = ''): void {
  process.stdout.write(line + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, stdoutTTY ? 2 : undefined) + '\n');
}

/** Visible width of a string (ANSI colour codes excluded). */
function width(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/**
 * A table with a bold header and columns aligned to their widest cell. Numeric columns (every
 * cell a number or '-') are right-aligned.
 */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))));
  const numeric = headers.map((_, i) => cells.length > 0 && cells.every((r) => /^-?\d+(\.\d+)?$|^-$/.test(r[i] ?? '')));
  const pad = (s: string, i: number) => {
    const gap = ' '.repeat(widths[i]! - width(s));
    return numeric[i] ? gap + s : s + gap;
  };
  const lines = [
    headers
      .map((h, i) => colour.bold(pad(h, i)))
      .join('  ')
      .trimEnd(),
  ];
  for (const r of cells)
    lines.push(
      r
        .map((c, i) => pad(c, i))
        .join('  ')
        .trimEnd(),
    );
  return lines.join('\n');
}

// ---- errors ----

function describeKafkaError(err: KafkaError): string {
  switch (err.code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: {
      const m = /topic "([^"]+)"/.exec(err.message);
      return m !== null
        ? `topic "${m[1]}" does not exist (see \`brook topics list\`, or create it with \`brook topics create ${m[1]}\`)`
        : err.message;
    }
    case ErrorCode.TOPIC_ALREADY_EXISTS: {
      const m = /topic "([^"]+)"/.exec(err.message);
      return m !== null ? `topic "${m[1]}" already exists` : err.message;
    }
    case ErrorCode.INVALID_PARTITIONS:
    case ErrorCode.INVALID_REPLICATION_FACTOR:
    case ErrorCode.INVALID_CONFIG:
    case ErrorCode.INVALID_TOPIC_EXCEPTION:
    case ErrorCode.POLICY_VIOLATION:
      return err.message;
    default:
      return err.message;
  }
}

/** Prints an error the way a user can act on it and returns the exit code. */
export function reportError(err: unknown): number {
  const prefix = colour.errBold('brook:');
  let message: string;
  let code: number = EXIT.FAILED;
  if (err instanceof UsageError) {
    message = err.message;
    code = EXIT.USAGE;
  } else if (err instanceof ConnectionError) {
    message = `${err.message}${err.code === 'ECONNREFUSED' ? '\n  start a broker with `brook start`, or point at one with --bootstrap host:port' : ''}`;
    code = EXIT.UNREACHABLE;
  } else if (err instanceof RequestTimeoutError) {
    message = `${err.message} (is the broker overloaded? raise --timeout-ms)`;
  } else if (err instanceof KafkaError) {
    message = describeKafkaError(err);
  } else if (err instanceof UnsupportedVersionError) {
    message = err.message;
  } else if (
    (err as NodeJS.ErrnoException)?.code === 'ENOENT' ||
    (err as NodeJS.ErrnoException)?.code === 'EACCES' ||
    (err as NodeJS.ErrnoException)?.code === 'EISDIR'
  ) {
    message = (err as Error).message;
  } else if (err instanceof SyntaxError || err instanceof TypeError || err instanceof RangeError) {
    message = err.message;
  } else {
    message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  process.stderr.write(`${prefix} ${colour.errRed(message)}\n`);
  return code;
}

let pipeGuard = false;

/** A reader that went away (`brook consume t | head -1`) is not an error: stop writing quietly. */
function guardStdout(): void {
  if (pipeGuard) return;
  pipeGuard = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

/** Runs a command body, turning failures into a message and an exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    guardStdout();
    try {
      const code = await fn(...args);
      if (typeof code === 'number' && code !== 0) process.exitCode = code;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

// ---- parsing helpers ----

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function parseInteger(flag: string, value: string, min = -Infinity): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(
      `${flag}: "${value}" is not ${min === 1 ? 'a positive' : min === 0 ? 'a non-negative' : 'an'} integer`,
    );
  return n;
}

/** Parses repeated k=v flags into an object. */
export function parseKeyValues(flag: string, list: string[]): Record<string, string> {
  const outObj: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} expects key=value, got "${kv}"`);
    outObj[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return outObj;
}

/** Text for a byte string: UTF-8 when it is valid UTF-8, else base64 marked as such. */
const utf8 = new TextDecoder('utf-8', { fatal: true });
export function bytesToText(b: Buffer | null): string | null {
  if (b === null) return null;
  try {
    return utf8.decode(b);
  } catch {
    return `base64:${b.toString('base64')}`;
  }
}

export function isUtf8(b: Buffer): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}
