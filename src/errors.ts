// The error types every command throws, each carrying its data, and the one table that maps them to exit codes.

/** Process exit codes shared by every command; scripts and the chart's Jobs depend on them. */
export const ExitCode = {
  ok: 0,
  bug: 1,
  input: 2,
  precondition: 3,
  istioctl: 4,
  timeout: 5,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** One problem with the user's input, located as precisely as the source allows. */
export interface Issue {
  file?: string;
  line?: number;
  col?: number;
  /** Dotted path of the offending key, e.g. `ingressGateways.type`; empty for the whole document. */
  path: string;
  message: string;
}

/** Renders an issue as `FILE:LINE:COL  path.to.key: reason`, omitting the parts that are unknown. */
export function formatIssue(issue: Issue): string {
  const where = issue.file
    ? [issue.file, issue.line, issue.line !== undefined ? issue.col : undefined]
        .filter((part) => part !== undefined)
        .join(':')
    : '';
  const what = issue.path ? `${issue.path}: ${issue.message}` : issue.message;
  return where ? `${where}  ${what}` : what;
}

/** Invalid user input: every problem found, not just the first. */
export class InputError extends Error {
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'InputError';
    this.issues = issues;
  }
}

/** The installer refused to act because the cluster or the request is not in a state it can safely handle. */
export class PreconditionError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'PreconditionError';
    this.hint = hint;
  }
}

/** The API server answered 403: the caller lacks a permission. A refusal like any other, told apart where optional. */
export class ForbiddenError extends PreconditionError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'ForbiddenError';
  }
}

/** istioctl ran and failed; `cause` is the line of its stderr that explains why. */
export class IstioctlError extends Error {
  readonly args: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | undefined, stderr: string, reason: string) {
    super(reason);
    this.name = 'IstioctlError';
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Waiting for the cluster took longer than allowed; `waitingFor` names what was still not ready. */
export class TimeoutError extends Error {
  readonly waitingFor: readonly string[];
  constructor(message: string, waitingFor: readonly string[] = []) {
    super(message);
    this.name = 'TimeoutError';
    this.waitingFor = waitingFor;
  }
}

/** The single mapping from an error to the process exit code. */
export function exitCodeOf(error: unknown): ExitCodeValue {
  if (error instanceof InputError) return ExitCode.input;
  if (error instanceof PreconditionError) return ExitCode.precondition;
  if (error instanceof IstioctlError) return ExitCode.istioctl;
  if (error instanceof TimeoutError) return ExitCode.timeout;
  return ExitCode.bug;
}

/** The lines a user sees for an error: data, never a stack trace (except for bugs, behind --debug). */
export function describeError(error: unknown): string[] {
  if (error instanceof InputError) return error.issues.map(formatIssue);
  if (error instanceof PreconditionError)
    return error.hint
      ? [`refused: ${error.message}`, `  hint: ${error.hint}`]
      : [`refused: ${error.message}`];
  if (error instanceof IstioctlError)
    return [
      `istioctl failed (exit ${error.exitCode ?? 'killed'}): ${error.message}`,
      `  command: istioctl ${error.args.join(' ')}`,
    ];
  if (error instanceof TimeoutError)
    return [`timed out: ${error.message}`, ...error.waitingFor.map((what) => `  not ready: ${what}`)];
  const message = error instanceof Error ? error.message : String(error);
  return [`internal error (a bug, please report it): ${message}`];
}
