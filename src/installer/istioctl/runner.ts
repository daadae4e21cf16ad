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
  /**
   * The answer to the process's one confirmation prompt, given on its stdin once this settles: `y` when it resolves
   * true, else `n`. `timeoutMs` counts from the `y`, since the process only waited until then.
   */
  answer?: Promise<boolean>;
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
      const { answer } = options;
      const child = execa(file, [...args], {
        reject: false,
        ...(answer ? {} : { timeout: options.timeoutMs }),
        ...(options.signal ? { cancelSignal: options.signal } : {}),
        forceKillAfterDelay: 5_000,
        env: options.env as Record<string, string>,
        extendEnv: false,
        stdin: answer ? 'pipe' : 'ignore',
        lines: false,
        buffer: true,
        stripFinalNewline: false,
      });
      /** Streams whole lines; the returned flush hands on a partial one (a prompt, which ends in no newline). */
      const forward = (stream: 'stdout' | 'stderr') => {
        let pending = '';
        const flush = () => {
          if (pending.trim()) options.onLine?.(stream, pending);
          pending = '';
        };
        child[stream]?.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) options.onLine?.(stream, line);
        });
        child[stream]?.on('end', flush);
        return flush;
      };
      const flushPrompt = forward('stdout');
      forward('stderr');
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      void answer?.then(
        (yes) => {
          // The prompt, if the process has printed it, is logged as answered now rather than with its next line.
          flushPrompt();
          child.stdin?.end(yes ? 'y\n' : 'n\n');
          if (yes)
            timer = setTimeout(() => {
              timedOut = true;
              child.kill();
            }, options.timeoutMs);
        },
        () => child.stdin?.end('n\n'),
      );
      // A process that exits before reading its answer (a failed render) must not fail the write.
      child.stdin?.on('error', () => undefined);
      const result = await child.finally(() => clearTimeout(timer));
      return {
        exitCode: result.exitCode,
        stdout: String(result.stdout ?? ''),
        stderr: String(result.stderr ?? ''),
        timedOut: result.timedOut === true || timedOut,
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
  /**
   * Starts istioctl on a command that asks before it changes anything (`install` without `-y`): it does its reading
   * and rendering, then waits at its prompt for the answer `held` gives.
   */
  hold(args: readonly string[], timeoutMs: number): HeldRun;
  binary: string;
}

/** An istioctl process waiting at its confirmation prompt. */
export interface HeldRun {
  /** Answers yes; resolves or throws as `run` does. `signal` stops it, as for `run`. */
  proceed(signal?: AbortSignal): Promise<string>;
  /** Answers no and stops it: nothing was changed. Harmless after `proceed`. */
  cancel(): void;
}

/** istioctl's confirmation prompt (`... Proceed? (y/N) `), which ends in no newline: the next output joins its line. */
const PROMPT = /^(.*\? \(y\/N\)) ?(.*)$/;

/** istioctl bound to one binary, a runner, an environment and a logger for its output lines. */
export function istioctl(
  binary: string,
  runner: ProcessRunner,
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
): Istioctl {
  const onLine = (_stream: 'stdout' | 'stderr', line: string) => {
    const prompt = PROMPT.exec(line);
    if (!prompt) return log(`istioctl: ${line}`);
    log(`istioctl: ${prompt[1]} (answered by the installer)`);
    if (prompt[2]?.trim()) log(`istioctl: ${prompt[2]}`);
  };
  return {
    binary,
    async run(args, timeoutMs, signal) {
      return outcome(args, timeoutMs, await runner.run(binary, args, { timeoutMs, signal, env, onLine }));
    },
    hold(args, timeoutMs) {
      let answer: (yes: boolean) => void = () => undefined;
      const answered = new Promise<boolean>((resolve) => (answer = resolve));
      const stop = new AbortController();
      const running = runner.run(binary, args, {
        timeoutMs,
        signal: stop.signal,
        env,
        onLine,
        answer: answered,
      });
      let proceeded = false;
      // Ended before its answer: it failed before its prompt (an API server that did not answer it then), so it
      // changed nothing either. Answered later or never: never an unhandled rejection meanwhile.
      let endedEarly: RunResult | undefined;
      running.then(
        (result) => (endedEarly = proceeded ? undefined : result),
        () => undefined,
      );
      return {
        async proceed(signal) {
          proceeded = true;
          if (endedEarly) {
            // What it met then may be gone now: it runs again, answered at once, as `run` would have run it.
            log(
              `istioctl: ${args[0]} ended before it was answered (${causeFromOutput(endedEarly.stderr, endedEarly.stdout)}); running it again`,
            );
            const again = runner.run(binary, args, {
              timeoutMs,
              signal,
              env,
              onLine,
              answer: Promise.resolve(true),
            });
            return outcome(args, timeoutMs, await again);
          }
          const onAbort = () => stop.abort();
          signal?.addEventListener('abort', onAbort, { once: true });
          answer(true);
          try {
            return outcome(args, timeoutMs, await running);
          } finally {
            signal?.removeEventListener('abort', onAbort);
          }
        },
        cancel() {
          if (proceeded) return;
          answer(false);
          stop.abort();
        },
      };
    },
  };
}

/** istioctl's stdout, or the error its exit says. */
function outcome(args: readonly string[], timeoutMs: number, result: RunResult): string {
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
}
