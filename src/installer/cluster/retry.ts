// Calls to the API server made safe: retried when transient (bounded, with backoff), a 4xx turned into a refusal
// (exit 3, ForbiddenError for 403), an unreachable server into a TimeoutError naming it; 404 and 409 as answers.
import { ForbiddenError, PreconditionError, TimeoutError } from '../../errors.js';

/** HTTP statuses and socket errors worth another try: conflicts on read-modify-write aside, the server was busy or away. */
export function isTransient(error: unknown): boolean {
  const code = statusOf(error);
  if (code !== undefined) return code === 429 || code >= 500;
  const text = String((error as { code?: string })?.code ?? (error as Error)?.message ?? error);
  return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|fetch failed/i.test(text);
}

/** A read whose 404 means "not there". */
export async function undefinedOn404<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

/** A create or compare-and-swap whose 409 means "someone else was first". */
export async function falseOn409(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return true;
  } catch (error) {
    if (statusOf(error) === 409) return false;
    throw error;
  }
}

export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const defaultRetry: RetryOptions = {
  attempts: 5,
  baseDelayMs: 500,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Retries a call on transient failures with exponential backoff. When the API server stays unreachable, the
 * failure becomes a TimeoutError naming it (exit 5), not a stack trace.
 */
export async function withRetry<T>(
  what: string,
  server: string,
  call: () => Promise<T>,
  options: RetryOptions = defaultRetry,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw refusal(what, error);
      lastError = error;
      if (attempt < options.attempts) await options.sleep(options.baseDelayMs * 2 ** (attempt - 1));
    }
  }
  const reason = statusOf(lastError) ? `HTTP ${statusOf(lastError)}` : describeNetworkError(lastError);
  throw new TimeoutError(
    `the Kubernetes API server ${server} did not answer ${what} after ${options.attempts} attempts (${reason})`,
  );
}

/**
 * A dry-run create's answer: an admission's 4xx refusal becomes data; the client's own lack of RBAC permission (the
 * API server's `cannot create resource`) stays an error, as any other call's would.
 */
export async function admissionAnswer(
  what: string,
  promise: Promise<unknown>,
): Promise<{ admitted: true } | { admitted: false; status: number; message: string }> {
  try {
    await promise;
    return { admitted: true };
  } catch (error) {
    const status = statusOf(error);
    if (status === undefined || status < 400 || status >= 500) throw error;
    const message = statusMessage(error);
    if (status === 403 && /cannot create resource/.test(message)) throw refusal(what, error);
    return { admitted: false, status, message };
  }
}

/** A 4xx answer (forbidden, invalid) is the API server refusing: exit 3 with its own words, not a stack trace. */
function refusal(what: string, error: unknown): unknown {
  const code = statusOf(error);
  if (code === undefined || code < 400 || code >= 500) return error;
  const message = `the Kubernetes API server refused to ${what}: HTTP ${code}: ${statusMessage(error)}`;
  return code === 403
    ? new ForbiddenError(
        message,
        "the installer's ServiceAccount lacks this permission; check the chart's ClusterRole",
      )
    : new PreconditionError(message);
}

export function statusMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && 'message' in body)
    return String((body as { message: unknown }).message);
  return (error as Error).message?.split('\n')[0] ?? String(error);
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string } })?.cause?.code;
  const code = (error as { code?: string })?.code;
  return String(cause ?? code ?? (error as Error)?.message ?? error);
}
