// Runs istioctl: a runner that streams its output and turns failures into IstioctlError, and istioctl bound to one binary.
import { IstioctlError, TimeoutError } from '../../errors.js';

export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs: number;
  env?: Readonly<Record<string, string | undefined>>;
  /** Each line of output as it arrives. */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Stops the process (SIGTERM, then SIGKILL) when aborted: the run already knows it cannot succeed. */
  signal?: AbortSignal;
}

/** Runs a program with an argv array (never a shell). Injected so tests can record calls without running anything. */
export interface ProcessRunner {
  run(file: string, args: readonly string[], options: RunOptions): Promise<RunResult>;
}

/** The real runner, on execa: killed (SIGTERM, then SIGKILL) when the timeout passes. */
export function execaRunner(): ProcessRunner {
  return {
    async run(file, args, options) {
      const { execa } = await import('execa');
      const child = execa(file, [...args], {
        reject: false,
        timeout: options.timeoutMs,
        ...(options.signal ? { cancelSignal: options.signal } : {}),
        forceKillAfterDelay: 5_000,
        env: options.env as Record<string, string>,
        extendEnv: false,
        stdin: 'ignore',
        lines: false,
        buffer: true,
        stripFinalNewline: false,
      });
      const forward = (stream: 'stdout' | 'stderr') => {
        let pending = '';
        child[stream]?.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) options.onLine?.(stream, line);
        });
        child[stream]?.on('end', () => {
          if (pending.trim()) options.onLine?.(stream, pending);
        });
      };
      forward('stdout');
      forward('stderr');
      const result = await child;
      return {
        exitCode: result.exitCode,
        stdout: String(result.stdout ?? ''),
        stderr: String(result.stderr ?? ''),
        timedOut: result.timedOut === true,
      };
    },
  };
}

/**
 * Lines istioctl prints in runs that succeed too, so they never explain a failure: its version probe's port-forward
 * to istiod fails wherever pods are not reachable from where istioctl runs.
 */
const NOISE = [/error forwarding port/i, /portforward/i];

/**
 * The line of istioctl's output that says why it failed: its `Error:` line, else its first failure mark (✘, which
 * names the component and the cause), else the last other line that mentions an error and is not known noise,
 * else the last line. istioctl exits 1 for almost everything, so the text is the cause.
 */
export function causeFromOutput(stderr: string, stdout = ''): string {
  const lines = `${stdout}\n${stderr}`
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const errorLine = [...lines].reverse().find((line) => line.startsWith('Error:'));
  if (errorLine) return errorLine.replace(/^Error:\s*/, '');
  const marked = lines.find((line) => line.includes('✘'));
  if (marked) return marked;
  const mentioned = [...lines]
    .reverse()
    .find((line) => /\berror\b/i.test(line) && !NOISE.some((noise) => noise.test(line)));
  return mentioned ?? lines.at(-1) ?? 'no output';
}

export interface Istioctl {
  /** Runs istioctl; resolves with stdout, throws IstioctlError or TimeoutError. */
  run(args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<string>;
  binary: string;
}

/** istioctl bound to one binary, a runner, an environment and a logger for its output lines. */
export function istioctl(
  binary: string,
  runner: ProcessRunner,
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
): Istioctl {
  return {
    binary,
    async run(args, timeoutMs, signal) {
      const result = await runner.run(binary, args, {
        timeoutMs,
        signal,
        env,
        onLine: (_stream, line) => log(`istioctl: ${line}`),
      });
      if (result.timedOut)
        throw new TimeoutError(
          `istioctl ${args.slice(0, 2).join(' ')} did not finish within ${Math.round(timeoutMs / 1000)}s and was stopped`,
          [causeFromOutput(result.stderr, result.stdout)],
        );
      if (result.exitCode !== 0)
        // istioctl reports findings on stdout and errors on stderr; the error keeps both.
        throw new IstioctlError(
          args,
          result.exitCode,
          `${result.stdout}${result.stderr}`,
          causeFromOutput(result.stderr, result.stdout),
        );
      return result.stdout;
    },
  };
}
