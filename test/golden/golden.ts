// Golden files of the render tests: compared, or rewritten with UPDATE_GOLDEN=1 (never under CI).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export type GoldenMode = 'check' | 'update';

/** CI=true (as CI services set it) counts, and so does any value but empty, 0 and false. */
function underCi(env: NodeJS.ProcessEnv): boolean {
  const value = (env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== '0' && value !== 'false';
}

/**
 * `update` with UPDATE_GOLDEN=1, `check` otherwise. Under CI, UPDATE_GOLDEN=1 is refused: a run that rewrites its
 * goldens checks nothing, and CI must check.
 */
export function goldenMode(env: NodeJS.ProcessEnv): GoldenMode {
  if (env.UPDATE_GOLDEN !== '1') return 'check';
  if (underCi(env))
    throw new Error(
      `UPDATE_GOLDEN=1 is refused under CI (CI=${env.CI}): goldens are rewritten by a person, who reviews the diff`,
    );
  return 'update';
}

/**
 * What the golden file held before this run ('' when there is none); in update mode the file is rewritten with
 * `actual` (removed when `actual` is empty and `optional`, as for an expected stderr). The caller compares `actual`
 * against the returned text, never against what was just written: an update run fails where it changed a golden,
 * and passes once run again.
 */
export function golden(file: string, actual: string, mode: GoldenMode, optional = false): string {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (mode === 'update' && actual !== before) {
    if (optional && actual === '') rmSync(file);
    else writeFileSync(file, actual);
  }
  return before;
}
