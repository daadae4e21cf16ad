// Applies one revision under the lock: record the attempt, clean stale webhooks, precheck, istioctl install (the
// control plane first where the node agents need it), scale up, verify, move tags, retire the old revision, record
// the outcome; a failed in-place upgrade is rolled back when asked.
import { IstioctlError, PreconditionError, TimeoutError } from '../../errors.js';
import type { JsonObject } from '../../overlay/json.js';
import { renderDocument } from '../../overlay/output.js';
import { pruneOlderLeftovers } from '../cluster/prune.js';
import { readClusterState } from '../cluster/read-state.js';
import { writeRecord, type Outcome } from '../cluster/record-store.js';
import { readProxyPods, restartOwner } from '../cluster/read-takeover.js';
import { pollUntil, verifyInstalled, waitUntilGone } from '../cluster/wait.js';
import { failOnCreationFailure } from '../cluster/watch-creation.js';
import { writeDashboards } from '../cluster/write-dashboards.js';
import { expectedObjects, scaledDown } from '../decide/health.js';
import { controlPlaneFirstSpec, type Plan } from '../decide/plan.js';
import type { Leftover } from '../decide/prune.js';
import { staleWebhooks } from '../decide/webhooks.js';
import { phase, type InstallerDeps } from '../deps.js';
import { installArgs, tagSetArgs, uninstallArgs } from '../istioctl/args.js';
import { judgePrechecks, runPrechecks, type PrecheckRuns } from '../istioctl/precheck.js';
import { istioctl, type HeldRun, type Istioctl } from '../istioctl/runner.js';
import { formatIstioVersion } from '../model/istio-version.js';
import { isIstioComponent } from '../model/labels.js';
import { markInterrupted, type InstallRecord, type RecordEntry } from '../model/record.js';
import { desiredOf } from '../model/spec.js';
import type { ClusterState } from '../model/state.js';
import { istioctlTimeoutMs, readinessTimeoutMs, waitOptions, type InstallRequest } from './request.js';
import { rollBack } from './rollback.js';

/** How many of istioctl's last output lines a failed run keeps in the record. */
const OUTPUT_LINES_KEPT = 20;

/** What install started before the lock for the decision it then made again under the lock, unchanged. */
export interface EarlyWork {
  /** The prechecks' results (install.ts). */
  prechecked?: Promise<PrecheckRuns>;
  /** istioctl install of this plan's spec, waiting at its prompt (install.ts). */
  held?: HeldRun;
}

/** One revision being applied: its plan, the state it was decided on, the istioctl of its version, the request, deps. */
interface RevisionRun extends EarlyWork {
  plan: Plan;
  state: ClusterState;
  tool: Istioctl;
  request: InstallRequest;
  deps: InstallerDeps;
}

type Recorder = (
  outcome: RecordEntry['outcome'],
  details?: Partial<Pick<Outcome, 'message' | 'output' | 'spec' | 'warnings'>>,
) => Promise<void>;

/**
 * Applies `plan` (one hop) and returns its summary line; records the attempt first and the outcome last, each with
 * the versions still ahead on a stepped upgrade's path (so that `status` can say how many hops are left).
 */
export async function applyRevision(
  plan: Plan,
  state: ClusterState,
  hash: string,
  request: InstallRequest,
  deps: InstallerDeps,
  pathAhead: readonly string[] = [],
  early: EarlyWork = {},
): Promise<string> {
  const versionText = plan.toVersion ? formatIstioVersion(plan.toVersion) : desiredOf(plan.istioOperator).tag;
  const record = recorder(plan, state, hash, versionText, request, deps, pathAhead);
  const tool = istioctl(await deps.istioctlFor(plan.toVersion), deps.runner, deps.env, (line) =>
    deps.log.info(line),
  );
  // The attempt goes on record before anything changes, so a run killed from here on is seen as interrupted.
  await record('in-progress');
  let warnings: string[] = [];
  try {
    const run: RevisionRun = { plan, state, tool, request, deps, ...early };
    const prepared = await prepare(run);
    warnings = prepared.warnings;
    // istioctl read the webhooks before these deletions to decide on the default tag's: it renders again.
    if (prepared.deleted.size > 0) run.held = cancelled(run.held);
    const pruned = await applyAndVerify(run);
    for (const tag of plan.moveTags)
      await phase(deps, `point tag ${tag} at ${plan.revision}`, () =>
        tool.run(tagSetArgs(tag, plan.revision), 120_000),
      );
    const retired = plan.previousRevision
      ? await retireOldRevision(plan.previousRevision, request, tool, deps)
      : '';
    // Rancher's installer copied Grafana dashboards for rancher-monitoring; so do we, when its namespace is there.
    await writeDashboards(deps);
    await record('succeeded', { message: retired || undefined, warnings });
    const warned = warnings.length > 0 ? `; ${warnings.length} warning(s) from istioctl analyze` : '';
    const removed =
      pruned.length > 0 ? `; ${pruned.length} object(s) older istioctl versions left removed` : '';
    return `${plan.kind}: Istio ${versionText} (revision ${plan.revision}) installed and ready${removed}${retired ? `; ${retired}` : ''}${warned}`;
  } catch (error) {
    await recordFailure(error, state, warnings, record);
    if (
      (error instanceof IstioctlError || error instanceof TimeoutError) &&
      plan.kind === 'upgrade-in-place' &&
      request.rollbackOnFailure
    )
      await rollBack(plan, state, request, deps, error);
    throw error;
  } finally {
    // A held install not answered by now (a refusal, a failed precheck) is answered no: it changed nothing.
    early.held?.cancel();
  }
}

function cancelled(held: HeldRun | undefined): undefined {
  held?.cancel();
  return undefined;
}

/**
 * Writes this run's entries: each replaces the record's current one. A record whose last attempt was left
 * `in-progress` by another holder is marked interrupted first (our lock is held, so that run was killed).
 */
function recorder(
  plan: Plan,
  state: ClusterState,
  hash: string,
  versionText: string,
  request: InstallRequest,
  deps: InstallerDeps,
  pathAhead: readonly string[],
): Recorder {
  let recorded: InstallRecord | undefined = markInterrupted(state.record, deps.holder);
  if (recorded !== state.record && recorded)
    deps.log.warn(
      `the last run (${recorded.current.action} by ${recorded.current.holder ?? 'unknown'}, started ${recorded.current.time}) was interrupted; recorded as such, and this run applies the spec again`,
    );
  const spec = renderDocument(plan.istioOperator, 'yaml');
  return async (outcome, details = {}) => {
    recorded = await writeRecord(deps, request.namespace, recorded, {
      action: plan.kind,
      outcome,
      specSha256: hash,
      istioVersion: versionText,
      revision: plan.revision,
      chartVersion: request.chartVersion,
      spec,
      pathAhead,
      ...details,
    });
  };
}

/** A refused run applied nothing: the spec on record stays the one last applied, which health is judged by. */
async function recordFailure(
  error: unknown,
  state: ClusterState,
  warnings: readonly string[],
  record: Recorder,
): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  const output = error instanceof IstioctlError ? lastLines(error.stderr, OUTPUT_LINES_KEPT) : undefined;
  const outcome = error instanceof PreconditionError ? 'refused' : 'failed';
  const keptSpec = outcome === 'refused' ? { spec: state.record?.spec } : {};
  await record(outcome, { message, output, warnings, ...keptSpec }).catch(() => undefined);
}

/**
 * Before istioctl changes anything: stale webhooks go, then the prechecks (unless forced); returns their warnings
 * and the webhooks deleted.
 */
async function prepare({
  plan,
  state,
  tool,
  request,
  deps,
  prechecked,
}: RevisionRun): Promise<{ warnings: string[]; deleted: Set<string> }> {
  const deleted = await cleanStaleWebhooks(state, deps);
  // Results istioctl got before these deletions are judged knowing them, as results it read from the API server's
  // cache after them always were (sortFindings).
  if (!request.force) {
    const runs = await (prechecked ?? runPrechecks(plan, tool, deps));
    return { warnings: judgePrechecks(runs, state, deps, deleted), deleted };
  }
  deps.log.warn(
    'forceInstall: skipping istioctl x precheck and istioctl analyze; nothing checks the cluster before this install',
  );
  return { warnings: [], deleted };
}

/**
 * istioctl install (after the control plane alone, where the node agents need that order), the prune istioctl leaves
 * undone, then verify; resolves with what that prune deleted.
 */
async function applyAndVerify(run: RevisionRun): Promise<Leftover[]> {
  const { plan, state, request, deps } = run;
  const controlPlaneFirst = controlPlaneFirstSpec(plan, state);
  if (controlPlaneFirst) {
    run.held = cancelled(run.held);
    await upgradeControlPlaneFirst(controlPlaneFirst, run);
  }
  await runInstall(
    run,
    plan.istioOperator,
    'istio-operator.yaml',
    `istioctl install (${plan.kind}, revision ${plan.revision})`,
    run.held,
  );
  const pruned = await pruneOlder(run);
  await scaleUp(plan, request.namespace, deps);
  await verifySpec(run, plan.istioOperator, 'verify');
  return pruned;
}

/**
 * What an older istioctl applied for this revision and this manifest no longer has (a gateway dropped in the same run
 * as an in-place upgrade): istioctl's prune does not see it, and health would ask for a repair that never removes it.
 * A fresh install (no control plane was found) has nothing an older istioctl made to look for.
 */
function pruneOlder({ plan, request, deps }: RevisionRun): Promise<Leftover[]> {
  const version = plan.toVersion;
  if (!version || plan.kind === 'install') return Promise.resolve([]);
  return phase(deps, 'remove what older istioctl versions left', () =>
    pruneOlderLeftovers(deps, plan.istioOperator, request.namespace, plan.revision, version),
  );
}

/**
 * Writes `spec` to a temp file and runs istioctl install on it, as one named phase; or answers yes to `held`, the
 * same install started before the lock, which has rendered the spec while the checks ran.
 */
async function runInstall(
  run: RevisionRun,
  spec: JsonObject,
  fileName: string,
  phaseName: string,
  held?: HeldRun,
): Promise<void> {
  const { tool, request, deps } = run;
  if (held) {
    await phase(deps, phaseName, () => failingFast(run, spec, (signal) => held.proceed(signal)));
    return;
  }
  const file = await deps.writeTempFile(fileName, renderDocument(spec, 'yaml'));
  await phase(deps, phaseName, () =>
    failingFast(run, spec, (signal) =>
      tool.run(installArgs(file, request.readinessSeconds), istioctlTimeoutMs(request), signal),
    ),
  );
}

/**
 * Runs `work` (istioctl's install and its readiness wait, or ours) while watching the Deployments `spec` asks for: one
 * whose ReplicaSet cannot create pods (PodSecurity, a quota) ends it at once with that reason (exit 5), and istioctl
 * is stopped, rather than both waiting out their timeouts for pods that will never exist.
 */
async function failingFast<T>(
  { plan, request, deps }: RevisionRun,
  spec: JsonObject,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const done = new AbortController();
  const expected = expectedObjects(spec, request.namespace, plan.revision);
  const { intervalMs, sleep, now } = waitOptions(request, deps);
  const watch = failOnCreationFailure(deps.kube, expected, { intervalMs, sleep, now }, done.signal);
  const working = work(done.signal);
  // Whichever loses the race is settled later; neither may become an unhandled rejection.
  watch.catch(() => undefined);
  working.catch(() => undefined);
  try {
    return await Promise.race([working, watch.then(() => working)]);
  } finally {
    done.abort();
  }
}

/** Waits, as one named phase, until what `spec` asks for is healthy at the plan's version. */
function verifySpec(run: RevisionRun, spec: JsonObject, phaseName: string): Promise<ClusterState> {
  const { plan, request, deps } = run;
  return phase(deps, phaseName, () =>
    failingFast(run, spec, () =>
      verifyInstalled(
        deps.kube,
        request.namespace,
        spec,
        plan.revision,
        plan.toVersion,
        waitOptions(request, deps),
      ),
    ),
  );
}

/**
 * The first of the two runs of controlPlaneFirstSpec: the control plane alone, verified at the target version; the
 * node agents must still be there, at their own version, for the second run to upgrade istio-cni and then ztunnel.
 */
async function upgradeControlPlaneFirst(controlPlaneFirst: JsonObject, run: RevisionRun): Promise<void> {
  const { plan, state, deps } = run;
  await runInstall(
    run,
    controlPlaneFirst,
    'istio-operator-control-plane.yaml',
    `istioctl install (control plane first, revision ${plan.revision}, without istio-cni and ztunnel)`,
  );
  const after = await verifySpec(run, controlPlaneFirst, 'verify the control plane');
  const kept = after.agents.map(
    (agent) => `${agent.name} ${agent.version ? formatIstioVersion(agent.version) : 'unknown'}`,
  );
  const before = state.agents.map((agent) => agent.name).sort();
  const missing = before.filter((name) => !after.agents.some((agent) => agent.name === name));
  if (missing.length > 0)
    deps.log.warn(
      `the control-plane run removed ${missing.join(' and ')}; the next run installs them again, and ambient pods on their nodes have no data plane until then`,
    );
  deps.log.info(
    `control plane ready; node agents still running: ${kept.join(', ') || 'none'}; next istio-cni, then ztunnel`,
  );
}

/** Deployments someone scaled to zero stay there through an apply (see scaledDown): scale them back up. */
async function scaleUp(plan: Plan, namespace: string, deps: InstallerDeps): Promise<void> {
  const state = await readClusterState(deps.kube, namespace);
  for (const down of scaledDown(expectedObjects(plan.istioOperator, namespace, plan.revision), state)) {
    deps.log.warn(
      `Deployment ${down.namespace}/${down.name} is scaled to ${down.replicas} replicas; scaling it to ${down.floor}`,
    );
    await deps.kube.scaleDeployment(down.namespace, down.name, down.floor);
  }
}

function lastLines(text: string, count: number): string[] {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(-count);
}

/** Webhooks that call a Service which no longer exists make later installs fail (IST0139); they belong to nothing. */
async function cleanStaleWebhooks(state: ClusterState, deps: InstallerDeps): Promise<Set<string>> {
  const deleted = new Set<string>();
  for (const webhook of staleWebhooks(state)) {
    deps.log.warn(
      `deleting stale ${webhook.kind} ${webhook.name}: it calls ${webhook.services.join(', ')}, which does not exist (left by a failed install or uninstall)`,
    );
    if (webhook.kind === 'MutatingWebhookConfiguration') await deps.kube.deleteMutatingWebhook(webhook.name);
    else await deps.kube.deleteValidatingWebhook(webhook.name);
    deleted.add(webhook.name);
  }
  return deleted;
}

/**
 * After a canary: report who still uses the old revision (namespaces and pods that name it, and pods its injector
 * made, whose proxies connect to its istiod), and remove it when nothing does (or when told to). With
 * updateWorkloads, the workloads it injected are first restarted onto the revision the tags now point at, so that
 * no proxy is left without its control plane.
 */
async function retireOldRevision(
  previous: string,
  request: InstallRequest,
  tool: Istioctl,
  deps: InstallerDeps,
): Promise<string> {
  const injectedBy = async () => (await readProxyPods(deps.kube)).filter((p) => p.revision === previous);
  const [namespaces, pods, injected] = await Promise.all([
    deps.kube.listNamespaces(`istio.io/rev=${previous}`),
    deps.kube.listPods(`istio.io/rev=${previous}`),
    injectedBy(),
  ]);
  const named = [
    ...namespaces.map((n) => `namespace ${n.metadata?.name}`),
    ...pods
      .filter((p) => !isIstioComponent(p.metadata?.labels))
      .map((p) => `pod ${p.metadata?.namespace}/${p.metadata?.name}`),
  ];
  const owners = [
    ...new Set(injected.map((p) => p.owner).filter((o): o is string => o !== undefined)),
  ].sort();
  let users = [...new Set([...named, ...injected.map((p) => `pod ${p.namespace}/${p.name}`)])];
  if (request.updateWorkloads && named.length === 0 && owners.length > 0 && injected.every((p) => p.owner)) {
    await phase(deps, `restart ${owners.length} workload(s) off revision ${previous}`, async () => {
      for (const owner of owners) {
        deps.log.info(`restarting ${owner} (upgrade.updateWorkloads)`);
        await restartOwner(deps.kube, owner, deps.now());
      }
      await pollUntil(
        waitOptions(request, deps),
        injectedBy,
        (left) => left.length === 0,
        (left) =>
          new TimeoutError(
            `${left.length} pod(s) still run proxies of revision ${previous}: ${left.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
          ),
      );
    });
    users = [];
  }
  if (users.length > 0)
    deps.log.warn(
      `revision ${previous} is still used by ${users.length}: ${users.slice(0, 10).join(', ')}${users.length > 10 ? ', ...' : ''}`,
    );
  const remove =
    request.removeOldRevision === 'Always' ||
    (request.removeOldRevision === 'WhenUnused' && users.length === 0);
  if (!remove) return `revision ${previous} kept${users.length > 0 ? ` (used by ${users.length})` : ''}`;
  await phase(deps, `remove old revision ${previous}`, async () => {
    await tool.run(uninstallArgs(previous, false), istioctlTimeoutMs(request));
    await waitUntilGone(deps, request.namespace, previous, readinessTimeoutMs(request));
  });
  return `revision ${previous} removed`;
}
