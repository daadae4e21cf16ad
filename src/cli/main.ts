// The `istio-installer` program: registers one commander command per file and is the single place errors become exit codes.
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf, ExitCode, InputError } from '../errors.js';
import { createLogger, type CliIO, type LogFormat } from './io.js';
import { registerMirror } from './mirror.js';
import { registerRender } from './render.js';
import { registerSchema } from './schema.js';
import { registerPlan } from './plan.js';
import { registerInstall } from './install.js';
import { registerUninstall } from './uninstall.js';
import { registerStatus } from './status.js';
import { registerRun } from './run.js';
import { registerPrepareSite } from './prepare-site.js';
import { VERSION } from '../version.js';

/** Everything a command's action needs besides its own options. */
export interface CommandContext {
  io: CliIO;
  logFormat(): LogFormat;
}

/** Runs the CLI with `argv` (without node and script) and resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const program = new Command('istio-installer')
    .description(
      'Installs, upgrades and uninstalls Istio from Rancher-compatible values and IstioOperator overlays.',
    )
    .version(VERSION)
    .option('--log-format <format>', 'log format on stderr: human or json', 'human')
    .option('--debug', 'print stack traces of internal errors')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError(false);

  const context: CommandContext = {
    io,
    logFormat: () => (program.opts<{ logFormat: string }>().logFormat === 'json' ? 'json' : 'human'),
  };
  registerRender(program, context);
  registerSchema(program, context);
  registerPlan(program, context);
  registerInstall(program, context);
  registerUninstall(program, context);
  registerStatus(program, context);
  registerRun(program, context);
  registerMirror(program, context);
  registerPrepareSite(program, context);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; usage errors are input errors to us.
      if (error.exitCode === 0) return ExitCode.ok;
      return ExitCode.input;
    }
    // People get the bare lines (`FILE:LINE:COL  path: reason`); machines get one JSON object per line.
    const lines = describeError(error);
    if (context.logFormat() === 'json') {
      const log = createLogger(io.stderr, 'json');
      for (const line of lines) log.error(line, { exitCode: exitCodeOf(error) });
    } else for (const line of lines) io.stderr.write(`${line}\n`);
    if (
      exitCodeOf(error) === ExitCode.bug &&
      program.opts<{ debug?: boolean }>().debug &&
      error instanceof Error
    )
      io.stderr.write(`${error.stack ?? ''}\n`);
    return exitCodeOf(error);
  }
}

/** Parses a repeatable option into an array (commander's collector). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Validates an enumerated option value, as an input error naming the option. */
export function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new InputError([{ path: option, message: `must be one of ${allowed.join(', ')}, got "${value}"` }]);
}
