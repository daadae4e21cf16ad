// Runs the CLI in-process with captured output; a test double for process IO, not for any of our logic.
import { Readable } from 'node:stream';
import { COMMANDS } from '../../src/cli/commands.js';
import { main, type CommandLoaders } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: readonly string[],
  /** `commands`: the loaders main gets (the bin's by default). */
  options: { cwd?: string; stdin?: string; commands?: CommandLoaders } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    stdin: () => Readable.from([Buffer.from(options.stdin ?? '')]),
    env: {},
    cwd: options.cwd ?? process.cwd(),
  };
  const code = await main(args, io, options.commands ?? COMMANDS);
  return { code, stdout, stderr };
}
