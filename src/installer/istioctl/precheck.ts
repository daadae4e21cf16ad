// The prechecks before an install: istioctl x precheck and istioctl analyze, their findings sorted into what refuses
// the install, what the install itself repairs, and warnings about users' own configuration.
import { IstioctlError, PreconditionError, TimeoutError } from '../../errors.js';
import { renderDocument } from '../../overlay/output.js';
import { parseFindings, sortFindings, type SortedFindings } from '../decide/findings.js';
import type { Plan } from '../decide/plan.js';
import { ownWebhooks } from '../decide/webhooks.js';
import type { InstallerDeps } from '../deps.js';
import { adoptedOnRecord, endedCleanly } from '../model/record.js';
import { objectAt, specOf } from '../model/spec.js';
import type { ClusterState } from '../model/state.js';
import { analyzeArgs, precheckArgs } from './args.js';
import type { Istioctl } from './runner.js';

const ANALYZE_TIMEOUT_MS = 120_000;
const PRECHECK_HINT = 'fix them, or set forceInstall: true to skip the prechecks';

/** What one check's istioctl process gave: its stdout, or the error it ended with (judged later, under the lock). */
export type CheckRun = { ok: true; output: string } | { ok: false; error: unknown };

/** The two processes' results, as istioctl saw the cluster when they ran. */
export interface PrecheckRuns {
  precheck: CheckRun;
  analyze: CheckRun;
}

const settle = (work: Promise<string>): Promise<CheckRun> =>
  work.then(
    (output) => ({ ok: true, output }),
    (error: unknown) => ({ ok: false, error }),
  );

/**
 * Starts istioctl x precheck and istioctl analyze side by side (both only read the cluster) and resolves with what
 * each gave, judging nothing: install starts them before the lock and judges them under it (judgePrechecks), so
 * that their seconds overlap the held istioctl install's render. `signal` stops both.
 */
export function runPrechecks(
  plan: Plan,
  tool: Istioctl,
  deps: Pick<InstallerDeps, 'writeTempFile' | 'log' | 'now'>,
  signal?: AbortSignal,
): Promise<PrecheckRuns> {
  const started = deps.now().getTime();
  const seconds = () => ((deps.now().getTime() - started) / 1000).toFixed(1);
  const run = async (name: string, work: () => Promise<string>) => {
    deps.log.info(`- ${name}`);
    const result = await settle(work());
    if (!signal?.aborted) deps.log.info(`  done: ${name} (${seconds()}s)`, { phase: name });
    return result;
  };
  const meshConfig = objectAt(specOf(plan.istioOperator), 'meshConfig');
  const meshConfigFile = deps.writeTempFile('mesh-config.yaml', renderDocument(meshConfig, 'yaml'));
  return Promise.all([
    run('istioctl x precheck', () => tool.run(precheckArgs(plan.revision), 300_000, signal)),
    run('istioctl analyze', async () =>
      tool.run(analyzeArgs(await meshConfigFile), ANALYZE_TIMEOUT_MS, signal),
    ),
  ]).then(([precheck, analyze]) => ({ precheck, analyze }));
}

/**
 * Judges the prechecks' results: findings that make the install unsafe refuse it (PreconditionError); an overlap of
 * our own webhooks left by our interrupted run is repaired by the install; findings about users' own configuration
 * are returned as warnings.
 */
export function judgePrechecks(
  runs: PrecheckRuns,
  state: ClusterState,
  deps: Pick<InstallerDeps, 'log'>,
  /** Stale webhook configurations this run deleted just before (see sortFindings). */
  deleted: ReadonlySet<string> = new Set(),
): string[] {
  const own = new Set(ownWebhooks(state).map((w) => w.name));
  const last = state.record?.current;
  const lastRunEndedBadly = last !== undefined && !endedCleanly(last.outcome);
  // Only for an install taken over: re-applying an adopted istioctl install in place leaves this overlap (see
  // sortFindings); for installs this installer made, the same overlap still stops the run.
  const adopted = adoptedOnRecord(state.record);
  const revisionOf = new Map(
    adopted ? ownWebhooks(state).map((w) => [w.name, w.revision ?? 'default'] as const) : [],
  );
  const sort = (output: string, source: 'analyze' | 'precheck') =>
    sortFindings(parseFindings(output), source, own, lastRunEndedBadly, revisionOf, deleted);
  const reportOurs = (found: SortedFindings) => {
    for (const finding of found.gone)
      deps.log.info(
        `${finding.line} (about a webhook configuration this run deleted as stale; istioctl read it from the API server's cache)`,
      );
    for (const finding of found.ours)
      deps.log.warn(
        `${finding.line} (between this installation's own webhooks, left by the unfinished last run; the install re-applies them)`,
      );
  };
  const judgePrecheck = (): string[] => {
    if (runs.precheck.ok) return [];
    const { error } = runs.precheck;
    if (!(error instanceof IstioctlError)) throw error;
    const found = sort(error.stderr, 'precheck');
    reportOurs(found);
    if (found.blocking.length === 0 && found.ours.length + found.gone.length > 0) return [];
    const named = found.blocking.map((f) => f.line);
    throw new PreconditionError(
      `istioctl x precheck found problems: ${named.length ? named.join('; ') : error.message}`,
      PRECHECK_HINT,
    );
  };
  const judgeAnalyze = (): string[] => {
    let output: string;
    if (runs.analyze.ok) output = runs.analyze.output;
    else {
      const { error } = runs.analyze;
      // analyze waits for informers to sync and can hang (CRDs just deleted, a kind it may not list); it is
      // advice, so a hang is reported and the install goes on rather than being blocked by it.
      if (error instanceof TimeoutError) {
        deps.log.warn(
          `istioctl analyze did not finish within ${ANALYZE_TIMEOUT_MS / 1000}s; going on without its findings`,
        );
        return [`istioctl analyze did not finish within ${ANALYZE_TIMEOUT_MS / 1000}s`];
      }
      if (!(error instanceof IstioctlError) || error.exitCode !== 79) throw error;
      output = error.stderr;
    }
    const found = sort(output, 'analyze');
    reportOurs(found);
    if (found.blocking.length > 0)
      throw new PreconditionError(
        `istioctl analyze found ${found.blocking.length} finding(s) that make installing unsafe: ${found.blocking.map((f) => f.line).join('; ')}`,
        PRECHECK_HINT,
      );
    for (const finding of found.warnings)
      deps.log.warn(`${finding.line} (about existing configuration; not blocking the install)`);
    return found.warnings.map((f) => f.line);
  };
  // Both are judged (analyze's warnings are logged either way); precheck's refusal goes first, as it names what
  // breaks the install itself.
  const judged = [judgePrecheck, judgeAnalyze].map((judge): { warnings: string[] } | { error: unknown } => {
    try {
      return { warnings: judge() };
    } catch (error) {
      return { error };
    }
  });
  for (const result of judged) if ('error' in result) throw result.error;
  return judged.flatMap((result) => ('warnings' in result ? result.warnings : []));
}
