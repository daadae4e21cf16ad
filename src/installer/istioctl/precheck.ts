// The prechecks before an install: istioctl x precheck and istioctl analyze, their findings sorted into what refuses
// the install, what the install itself repairs, and warnings about users' own configuration.
import { IstioctlError, PreconditionError, TimeoutError } from '../../errors.js';
import { renderDocument } from '../../overlay/output.js';
import { parseFindings, sortFindings, type SortedFindings } from '../decide/findings.js';
import type { Plan } from '../decide/plan.js';
import { ownWebhooks } from '../decide/webhooks.js';
import { phase, type InstallerDeps } from '../deps.js';
import { adoptedOnRecord, endedCleanly } from '../model/record.js';
import { objectAt, specOf } from '../model/spec.js';
import type { ClusterState } from '../model/state.js';
import { analyzeArgs, precheckArgs } from './args.js';
import type { Istioctl } from './runner.js';

const ANALYZE_TIMEOUT_MS = 120_000;
const PRECHECK_HINT = 'fix them, or set forceInstall: true to skip the prechecks';

/**
 * istioctl x precheck and istioctl analyze, side by side (both only read the cluster). Findings that make the
 * install unsafe refuse it; an overlap of our own webhooks left by our interrupted run is repaired by the install;
 * findings about users' own configuration are returned as warnings.
 */
export async function precheck(
  plan: Plan,
  state: ClusterState,
  tool: Istioctl,
  deps: InstallerDeps,
  /** Stale webhook configurations this run deleted just before (see sortFindings). */
  deleted: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const meshConfig = objectAt(specOf(plan.istioOperator), 'meshConfig');
  const meshConfigFile = await deps.writeTempFile('mesh-config.yaml', renderDocument(meshConfig, 'yaml'));
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

  const checks = [
    phase(deps, 'istioctl x precheck', async (): Promise<string[]> => {
      try {
        await tool.run(precheckArgs(plan.revision), 300_000);
        return [];
      } catch (error) {
        if (!(error instanceof IstioctlError)) throw error;
        const found = sort(error.stderr, 'precheck');
        reportOurs(found);
        if (found.blocking.length === 0 && found.ours.length + found.gone.length > 0) return [];
        const named = found.blocking.map((f) => f.line);
        throw new PreconditionError(
          `istioctl x precheck found problems: ${named.length ? named.join('; ') : error.message}`,
          PRECHECK_HINT,
        );
      }
    }),
    phase(deps, 'istioctl analyze', async (): Promise<string[]> => {
      let output: string;
      try {
        output = await tool.run(analyzeArgs(meshConfigFile), ANALYZE_TIMEOUT_MS);
      } catch (error) {
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
    }),
  ];
  const results = await Promise.allSettled(checks);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
}
