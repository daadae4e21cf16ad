// The one shape of "the installer will not act": what is wrong and what the user can do, and the one error it becomes (exit 3).
import { PreconditionError } from '../../errors.js';

/** Why a decision refused, and what to do about it. Deciders return it as data; actions throw refusalError(it). */
export interface Refusal {
  message: string;
  hint: string;
}

/** A refusal where a decision returns either a result or a refusal (planAction, stepFor): told apart by `refused`. */
export interface Refused extends Refusal {
  refused: true;
}

export const refused = (message: string, hint: string): Refused => ({ refused: true, message, hint });

/** The single place a refusal becomes an error: PreconditionError, which errors.ts maps to exit 3. */
export function refusalError(refusal: Refusal): PreconditionError {
  return new PreconditionError(refusal.message, refusal.hint);
}

/** The result of a decision that may refuse, or the refusal thrown as its error. */
export function orRefuse<T extends object>(result: T | Refused): T {
  if ('refused' in result) throw refusalError(result);
  return result;
}
