// The `istio-installer` program: registers one commander command per file and is the single place errors become exit codes.
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf, ExitCode, InputError } from '../errors.js';
import { createLogger, type CliIO, type LogFormat } from './io.js';
import { VERSION } from '../version.js';

/** Everything a command's action needs besides its own options. */
export interface CommandContext {
  io: CliIO;
  logFormat(): LogFormat;
}

export type Register = (program: Command, context: CommandContext) => void;

/** Every command, in the order help lists them. */
export const COMMAND_NAMES = [
  'render',
  'schema',
  'plan',
  'install',
  'uninstall',
  'status',
  'run',
  'mirror',
  'prepare-site',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/**
 * How to load each command's module: `commands.ts` imports each only when needed; the start-up snapshot
 * (`startup-snapshot.ts`) holds render's and schema's already loaded and lists no other.
 */
export type CommandLoaders = Readonly<Partial<Record<CommandName, () => Promise<Register>>>>;

/** The program's own options that may come before a command without changing what it needs to know. */
const GLOBAL_FLAGS = new Set(['--debug']);
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--log-format']);

/**
 * Which commands must be registered to run `argv`: only the named one when nothing but global options precede
 * it, none for a lone `--version`, every one otherwise (help, unknown commands and their suggestions, anything
 * unusual), as before.
 */
export function commandsNeeded<Name extends string>(
  argv: readonly string[],
  names: readonly Name[],
): readonly Name[] {
  // The version alone (the image build checks the bundle with it) needs no command at all.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (GLOBAL_FLAGS.has(arg) || GLOBAL_OPTIONS_WITH_VALUE.has(arg.split('=')[0] as string)) {
      if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) i++;
      continue;
    }
    const named = names.find((name) => name === arg);
    return named === undefined ? names : [named];
  }
  return names;
}

/** Runs the CLI with `argv` (without node and script) and resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIO, commands: CommandLoaders): Promise<number> {
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
  try {
    // One after another: jest's ESM loader fails on concurrent imports that share modules, and order is help's.
    for (const name of commandsNeeded(argv, COMMAND_NAMES)) {
      const load = commands[name];
      // A bug (the snapshot runs main only with every needed command): reported as one, with an exit code.
      if (!load) throw new Error(`the ${name} command is not available in this build`);
      (await load())(program, context);
    }
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
