// What a command may touch of the process: its output streams and a logger; injected so tests can capture them.
import type { Logger } from '../log.js';

export type LogFormat = 'human' | 'json';

export interface Output {
  write(text: string): void;
}

export interface CliIO {
  /** Results only: a command's output that scripts read. */
  stdout: Output;
  /** Progress, logs and errors. */
  stderr: Output;
  /** Standard input as chunks, for `--overlay -`; the reader stops at its size limit. */
  stdin(): AsyncIterable<Uint8Array>;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** A logger on stderr: `level message key=value` for people, one JSON object per line for machines. */
export function createLogger(out: Output, format: LogFormat, now: () => Date = () => new Date()): Logger {
  const emit = (level: string, message: string, fields: Record<string, unknown> = {}): void => {
    if (format === 'json') {
      out.write(JSON.stringify({ time: now().toISOString(), level, msg: message, ...fields }) + '\n');
      return;
    }
    const extras = Object.entries(fields)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    const prefix = level === 'info' ? '' : `${level}: `;
    out.write(`${prefix}${message}${extras ? ' ' + extras : ''}\n`);
  };
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

/** The real process's IO. */
export function processIO(): CliIO {
  return {
    stdout: { write: (text) => void process.stdout.write(text) },
    stderr: { write: (text) => void process.stderr.write(text) },
    stdin: () => process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}
