// `install`: read state, decide, take the lock, precheck, run istioctl, verify, record; rolls back a failed in-place upgrade when asked.
import { IstioctlError, PreconditionError, TimeoutError } from '../../errors.js';
import { isObject, type JsonObject } from '../../overlay/json.js';
import { renderDocument } from '../../overlay/output.js';
import { parseYamlSource } from '../../overlay/yaml-source.js';
import { writeDashboards } from '../cluster/write-dashboards.js';
import { phase, type InstallerDeps } from '../deps.js';
import { writeRecord } from '../cluster/record-store.js';
import { formatIstioVersion, parseIstioVersion, type IstioVersion } from '../model/istio-version.js';
import {
  analyzeArgs,
  installArgs,
  istioctl,
  precheckArgs,
  tagSetArgs,
  uninstallArgs,
} from '../istioctl/runner.js';
import { withLock } from '../cluster/lock.js';
import { checkWithIstioctl, type SpecLocator } from '../istioctl/offline-check.js';
import { controlPlaneFirstSpec, describePlan, planAction, specDiff, type Plan } from '../decide/plan.js';
import { readClusterState } from '../cluster/read-state.js';
import { markInterrupted, specHash, type RecordEntry } from '../model/record.js';
import { expectedObjects, scaledDown } from '../decide/health.js';
import { ownWebhooks, staleWebhooks, type ClusterState } from '../model/state.js';
import { parseFindings, sortFindings, type SortedFindings } from '../decide/findings.js';
import { verifyInstalled, waitUntilGone } from '../cluster/wait.js';
import { readProxyPods, readTakeoverFacts, removeLeftovers, restartOwner } from '../cluster/read-takeover.js';
import {
  beyondSkew,
  describeFound,
  describePath,
  recognise,
  skewGate,
  stepFor,
  type Hop,
  type Recognition,
} from '../decide/takeover.js';

export interface InstallRequest {
  istioOperator: JsonObject;
  /** Locates a key of the spec in the user's files, for what istioctl's offline check refuses. */
  locateSpec?: SpecLocator;
  namespace: string;
  strategy: 'InPlace' | 'RevisionBased';
  revisionTags: readonly string[];
  removeOldRevision: 'WhenUnused' | 'Never' | 'Always';
  rollbackOnFailure: boolean;
  force: boolean;
  readinessSeconds: number;
  chartVersion: string;
  dryRun: boolean;
  /** Restart workloads whose proxies fall beyond the supported skew between the hops of a stepped upgrade. */
  updateWorkloads?: boolean;
  /** The Helm release the chart Job runs for (RELEASE_NAME), to tell Rancher's release from this one. */
  release?: string;
}

export interface InstallResult {
  plan: Plan;
  /** One line for stdout. */
  summary: string;
}

function specOf(istioOperator: JsonObject): JsonObject {
  return isObject(istioOperator.spec) ? istioOperator.spec : {};
}

/** The Istio version and revision a spec asks for. */
export function desiredOf(istioOperator: JsonObject): {
  version: IstioVersion | undefined;
  revision: string;
  tag: string;
} {
  const spec = isObject(istioOperator.spec) ? istioOperator.spec : {};
  const tag = typeof spec.tag === 'string' ? spec.tag : '';
  return {
    version: parseIstioVersion(tag),
    revision: typeof spec.revision === 'string' ? spec.revision : '',
    tag,
  };
}

export interface Decided {
  plan: Plan;
  state: ClusterState;
  hash: string;
  /** Whether this installer made what runs, or takes it over now. */
  recognition: Recognition;
  /** The hops still to go (this plan's first), for a stepped upgrade. */
  hops: Hop[];
  /** Lines `plan` and the log print besides the plan: what a takeover found, the path. */
  notes: string[];
}

/** Reads the cluster and decides; throws PreconditionError when a guard refuses. Changes nothing. */
export async function makePlan(request: InstallRequest, deps: InstallerDeps): Promise<Decided> {
  const [state, facts, available] = await Promise.all([
    readClusterState(deps.kube, request.namespace),
    readTakeoverFacts(deps.kube, request.namespace, request.release),
    deps.istioctlVersions?.() ?? Promise.resolve([]),
  ]);
  const recognition = recognise(state, facts);
  if (recognition.kind === 'refuse') throw new PreconditionError(recognition.message, recognition.hint);
  const { version, revision } = desiredOf(request.istioOperator);
  const step = stepFor(
    state,
    recognition.kind === 'adopt',
    { istioOperator: request.istioOperator, version, strategy: request.strategy },
    available,
    deps.platform ?? { os: 'linux', arch: 'amd64' },
  );
  if ('refused' in step) throw new PreconditionError(step.message, step.hint);
  const hash = specHash(step.istioOperator);
  const decided = planAction(
    state,
    {
      istioOperator: step.istioOperator,
      version: step.version,
      revision: step.revision ?? revision,
      strategy: step.strategy,
      revisionTags: request.revisionTags,
      force: request.force,
    },
    hash,
  );
  if ('refused' in decided) throw new PreconditionError(decided.message, decided.hint);
  const notes = [
    ...(recognition.kind === 'adopt'
      ? [
          `  takeover: ${describeFound(recognition.found)}`,
          ...recognition.leftovers.map(
            (l) => `  leftover: ${l.kind} ${l.namespace}/${l.name} (${l.why}): delete`,
          ),
        ]
      : []),
    ...(step.from && step.hops.length > 1
      ? describePath(step.from, step.hops, version ? { spec: request.istioOperator, version } : undefined)
      : []),
  ];
  return { plan: decided, state, hash, recognition, hops: step.hops, notes };
}

export function planReport(plan: Plan, state: ClusterState, notes: readonly string[] = []): string[] {
  const diff = specDiff(state.record?.spec, renderDocument(plan.istioOperator, 'yaml'));
  return [
    ...notes,
    ...describePlan(plan),
    ...(diff
      ? ['  spec diff against the last applied one:', ...diff.split('\n').map((l) => `    ${l}`)]
      : []),
  ];
}

export async function install(request: InstallRequest, deps: InstallerDeps): Promise<InstallResult> {
  const started = deps.now().getTime();
  const first = await phase(deps, 'read cluster state and plan', () => makePlan(request, deps));
  for (const line of planReport(first.plan, first.state, first.notes)) deps.log.info(line);
  if (first.plan.kind === 'nothing' && first.recognition.kind !== 'adopt')
    return { plan: first.plan, summary: `nothing to do: ${first.plan.reason} (${elapsed(deps, started)})` };
  await phase(deps, 'istioctl manifest generate (offline check of the merged spec)', async () => {
    // The generated manifest is thousands of lines: not logged; a refusal's cause is in the error.
    const tool = istioctl(
      await deps.istioctlFor(first.plan.toVersion),
      deps.runner,
      deps.env,
      () => undefined,
    );
    const specFile = await deps.writeTempFile(
      'istio-operator.yaml',
      renderDocument(first.plan.istioOperator, 'yaml'),
    );
    await checkWithIstioctl(tool, specFile, specOf(first.plan.istioOperator), request.locateSpec);
  });
  if (request.dryRun)
    return { plan: first.plan, summary: `dry run: would ${first.plan.kind} (${first.plan.reason})` };

  if (!(await deps.kube.namespaceExists(request.namespace)))
    await deps.kube.createNamespace(request.namespace);
  return withLock(deps, request.namespace, async () => {
    // Another run may have acted between the first read and the lock: decide again on fresh state.
    let decided = await makePlan(request, deps);
    if (decided.recognition.kind === 'adopt') {
      await adopt(decided.recognition, decided.state, request, deps);
      decided = await makePlan(request, deps);
    }
    const done: string[] = [];
    // Each pass applies one hop; a path that does not get shorter would loop, which is a bug.
    let passes = decided.hops.length + 1;
    for (;;) {
      const { plan, state, hash, hops } = decided;
      if (passes-- <= 0)
        throw new Error(
          `the stepped upgrade did not advance: still planning ${plan.kind} of ${plan.revision}`,
        );
      if (plan.kind === 'nothing') {
        const summary = done.length ? done.join('; ') : `nothing to do: ${plan.reason}`;
        return { plan, summary: `${summary} (${elapsed(deps, started)})` };
      }
      done.push(await act(plan, state, hash, request, deps));
      if (hops.length <= 1) return { plan, summary: `${done.join('; ')} (${elapsed(deps, started)})` };
      // Between hops of a stepped upgrade: proxies must stay within the supported skew before going further.
      if (plan.toVersion) await gateSkew(plan.toVersion, hops[1]?.version ?? '', request, deps);
      decided = await makePlan(request, deps);
      for (const line of planReport(decided.plan, decided.state, decided.notes)) deps.log.info(line);
    }
  });
}

/** The takeover's first act: its leftovers go, and the record starts with `adopt` and what was found. */
async function adopt(
  recognition: Extract<Recognition, { kind: 'adopt' }>,
  state: ClusterState,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<void> {
  const found = describeFound(recognition.found);
  deps.log.info(found);
  await removeLeftovers(deps.kube, recognition.leftovers, (line) => deps.log.warn(line));
  await writeRecord(deps, request.namespace, state.record, {
    action: 'adopt',
    outcome: 'succeeded',
    specSha256: '',
    istioVersion: recognition.found.version,
    revision: recognition.found.revision,
    chartVersion: request.chartVersion,
    message: [
      found,
      ...recognition.leftovers.map((l) => `deleted ${l.kind} ${l.namespace}/${l.name} (${l.why})`),
    ].join('; '),
  });
}

/**
 * Stops (exit 3, naming every pod) when proxies are beyond Istio's supported skew of the revision just installed,
 * or with `updateWorkloads` restarts their workloads and waits until none is left behind.
 */
async function gateSkew(
  active: IstioVersion,
  next: string,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<void> {
  const nextVersion = parseIstioVersion(next) ?? active;
  const decision = skewGate(
    await readProxyPods(deps.kube),
    active,
    nextVersion,
    request.updateWorkloads === true,
  );
  if (decision.kind === 'go') return;
  if (decision.kind === 'stop') throw new PreconditionError(decision.message, decision.hint);
  await phase(
    deps,
    `restart ${decision.owners.length} workload(s) onto Istio ${formatIstioVersion(active)}`,
    async () => {
      for (const owner of decision.owners) {
        deps.log.info(`restarting ${owner} (upgrade.updateWorkloads)`);
        await restartOwner(deps.kube, owner, deps.now());
      }
      const deadline = deps.now().getTime() + readinessTimeoutMs(request);
      for (;;) {
        const behind = beyondSkew(await readProxyPods(deps.kube), active);
        if (behind.length === 0) return;
        if (deps.now().getTime() > deadline)
          throw new TimeoutError(
            `${behind.length} pod(s) still run proxies beyond the supported skew of Istio ${formatIstioVersion(active)}: ${behind.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
          );
        await deps.sleep(2000);
      }
    },
  );
}

function elapsed(deps: Pick<InstallerDeps, 'now'>, started: number): string {
  return `${((deps.now().getTime() - started) / 1000).toFixed(1)}s`;
}

const readinessTimeoutMs = (request: InstallRequest) => request.readinessSeconds * 1000;
/** istioctl waits per component; our own limit covers all components plus the apply itself. */
const istioctlTimeoutMs = (request: InstallRequest) => (request.readinessSeconds * 6 + 120) * 1000;

async function act(
  plan: Plan,
  state: ClusterState,
  hash: string,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<string> {
  const spec = renderDocument(plan.istioOperator, 'yaml');
  const version = plan.toVersion;
  const versionText = version ? formatIstioVersion(version) : desiredOf(plan.istioOperator).tag;
  // Our lock is held, so an attempt still `in-progress` by another holder is a run that was killed.
  let recorded = markInterrupted(state.record, deps.holder);
  if (recorded !== state.record && recorded)
    deps.log.warn(
      `the last run (${recorded.current.action} by ${recorded.current.holder ?? 'unknown'}, started ${recorded.current.time}) was interrupted; recorded as such, and this run applies the spec again`,
    );
  let warnings: string[] = [];
  const record = async (
    outcome: RecordEntry['outcome'],
    details: { message?: string; output?: readonly string[]; spec?: string | undefined } = {},
  ) => {
    recorded = await writeRecord(deps, request.namespace, recorded, {
      action: plan.kind,
      outcome,
      specSha256: hash,
      istioVersion: versionText,
      revision: plan.revision,
      chartVersion: request.chartVersion,
      spec,
      warnings,
      ...details,
    });
  };

  const tool = istioctl(await deps.istioctlFor(version), deps.runner, deps.env, (line) =>
    deps.log.info(line),
  );
  // The attempt goes on record before anything changes, so a run killed from here on is seen as interrupted.
  await record('in-progress');
  try {
    await cleanStaleWebhooks(state, deps);
    if (request.force)
      deps.log.warn(
        'forceInstall: skipping istioctl x precheck and istioctl analyze; nothing checks the cluster before this install',
      );
    else warnings = await precheck(plan, state, tool, deps);

    const controlPlaneFirst = controlPlaneFirstSpec(plan, state);
    if (controlPlaneFirst)
      await upgradeControlPlaneFirst(controlPlaneFirst, plan, state, tool, request, deps);
    const specFile = await deps.writeTempFile('istio-operator.yaml', spec);
    await phase(deps, `istioctl install (${plan.kind}, revision ${plan.revision})`, () =>
      tool.run(installArgs(specFile, request.readinessSeconds), istioctlTimeoutMs(request)),
    );
    await scaleUp(plan, request.namespace, deps);
    await phase(deps, 'verify', () =>
      verifyInstalled(deps.kube, request.namespace, plan.istioOperator, plan.revision, version, {
        timeoutMs: readinessTimeoutMs(request),
        intervalMs: 2000,
        sleep: deps.sleep,
        now: () => deps.now().getTime(),
      }),
    );
    for (const tag of plan.moveTags)
      await phase(deps, `point tag ${tag} at ${plan.revision}`, () =>
        tool.run(tagSetArgs(tag, plan.revision), 120_000),
      );
    const retired = plan.previousRevision
      ? await retireOldRevision(plan.previousRevision, request, tool, deps)
      : '';
    // Rancher's installer copied Grafana dashboards for rancher-monitoring; so do we, when its namespace is there.
    await writeDashboards(deps);
    await record('succeeded', { message: retired || undefined });
    const warned = warnings.length > 0 ? `; ${warnings.length} warning(s) from istioctl analyze` : '';
    return `${plan.kind}: Istio ${versionText} (revision ${plan.revision}) installed and ready${retired ? `; ${retired}` : ''}${warned}`;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const output = error instanceof IstioctlError ? lastLines(error.stderr, OUTPUT_LINES_KEPT) : undefined;
    // A refused run applied nothing: the spec on record stays the one last applied, which health is judged by.
    const outcome = error instanceof PreconditionError ? 'refused' : 'failed';
    const keptSpec = outcome === 'refused' ? { spec: state.record?.spec } : {};
    await record(outcome, { message, output, ...keptSpec }).catch(() => undefined);
    if (
      (error instanceof IstioctlError || error instanceof TimeoutError) &&
      plan.kind === 'upgrade-in-place' &&
      request.rollbackOnFailure
    )
      await rollBack(plan, state, request, deps, error);
    throw error;
  }
}

/**
 * The first of the two runs of controlPlaneFirstSpec: the control plane alone, verified at the target version; the
 * node agents must still be there, at their own version, for the second run to upgrade istio-cni and then ztunnel.
 */
async function upgradeControlPlaneFirst(
  controlPlaneFirst: JsonObject,
  plan: Plan,
  state: ClusterState,
  tool: ReturnType<typeof istioctl>,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<void> {
  const file = await deps.writeTempFile(
    'istio-operator-control-plane.yaml',
    renderDocument(controlPlaneFirst, 'yaml'),
  );
  await phase(
    deps,
    `istioctl install (control plane first, revision ${plan.revision}, without istio-cni and ztunnel)`,
    () => tool.run(installArgs(file, request.readinessSeconds), istioctlTimeoutMs(request)),
  );
  const after = await phase(deps, 'verify the control plane', () =>
    verifyInstalled(deps.kube, request.namespace, controlPlaneFirst, plan.revision, plan.toVersion, {
      timeoutMs: readinessTimeoutMs(request),
      intervalMs: 2000,
      sleep: deps.sleep,
      now: () => deps.now().getTime(),
    }),
  );
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

/** How many of istioctl's last output lines a failed run keeps in the record. */
const OUTPUT_LINES_KEPT = 20;

function lastLines(text: string, count: number): string[] {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(-count);
}

/** Webhooks that call a Service which no longer exists make later installs fail (IST0139); they belong to nothing. */
async function cleanStaleWebhooks(state: ClusterState, deps: InstallerDeps): Promise<void> {
  for (const webhook of staleWebhooks(state)) {
    deps.log.warn(
      `deleting stale ${webhook.kind} ${webhook.name}: it calls ${webhook.services.join(', ')}, which does not exist (left by a failed install or uninstall)`,
    );
    if (webhook.kind === 'MutatingWebhookConfiguration') await deps.kube.deleteMutatingWebhook(webhook.name);
    else await deps.kube.deleteValidatingWebhook(webhook.name);
  }
}

const ANALYZE_TIMEOUT_MS = 120_000;
const PRECHECK_HINT = 'fix them, or set forceInstall: true to skip the prechecks';

/**
 * istioctl x precheck and istioctl analyze, side by side (both only read the cluster). Findings that make the
 * install unsafe refuse it; an overlap of our own webhooks left by our interrupted run is repaired by the install;
 * findings about users' own configuration are returned as warnings.
 */
async function precheck(
  plan: Plan,
  state: ClusterState,
  tool: ReturnType<typeof istioctl>,
  deps: InstallerDeps,
): Promise<string[]> {
  const meshConfig =
    isObject(plan.istioOperator.spec) && isObject(plan.istioOperator.spec.meshConfig)
      ? plan.istioOperator.spec.meshConfig
      : {};
  const meshConfigFile = await deps.writeTempFile('mesh-config.yaml', renderDocument(meshConfig, 'yaml'));
  const own = new Set(ownWebhooks(state).map((w) => w.name));
  const last = state.record?.current;
  const unfinishedRun = last !== undefined && last.outcome !== 'succeeded' && last.outcome !== 'uninstalled';
  // Only for an install taken over: re-applying an adopted istioctl install in place leaves this overlap (see
  // sortFindings); for installs this installer made, the same overlap still stops the run.
  const adopted = (state.record?.history ?? []).some((entry) => entry.action === 'adopt');
  const revisionOf = new Map(
    adopted ? ownWebhooks(state).map((w) => [w.name, w.revision ?? 'default'] as const) : [],
  );
  const sort = (output: string, source: 'analyze' | 'precheck') =>
    sortFindings(parseFindings(output), source, own, unfinishedRun, revisionOf);
  const reportOurs = (found: SortedFindings) => {
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
        if (found.blocking.length === 0 && found.ours.length > 0) return [];
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

/** Istio's own pods (istiod, gateways) carry their revision label too; they are not its users. */
function isIstioComponent(labels: Record<string, string> | undefined): boolean {
  return (
    labels?.app === 'istiod' ||
    labels?.['operator.istio.io/component'] !== undefined ||
    labels?.istio === 'pilot'
  );
}

/** After a canary: report who still uses the old revision, and remove it when nothing does (or when told to). */
async function retireOldRevision(
  previous: string,
  request: InstallRequest,
  tool: ReturnType<typeof istioctl>,
  deps: InstallerDeps,
): Promise<string> {
  const [namespaces, pods] = await Promise.all([
    deps.kube.listNamespaces(`istio.io/rev=${previous}`),
    deps.kube.listPods(`istio.io/rev=${previous}`),
  ]);
  const users = [
    ...namespaces.map((n) => `namespace ${n.metadata?.name}`),
    ...pods
      .filter((p) => !isIstioComponent(p.metadata?.labels))
      .map((p) => `pod ${p.metadata?.namespace}/${p.metadata?.name}`),
  ];
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

/** Re-applies the last good spec with the istioctl of its own version, then records the rollback. */
async function rollBack(
  plan: Plan,
  state: ClusterState,
  request: InstallRequest,
  deps: InstallerDeps,
  cause: Error,
): Promise<void> {
  const lastGood = state.record?.lastGood;
  const lastGoodSpec = state.record?.lastGoodSpec;
  if (!lastGood || !lastGoodSpec) {
    deps.log.warn('rollbackOnFailure: no successful install is on record, nothing to roll back to');
    return;
  }
  const version = parseIstioVersion(lastGood.istioVersion);
  await phase(deps, `roll back to Istio ${lastGood.istioVersion}`, async () => {
    const tool = istioctl(await deps.istioctlFor(version), deps.runner, deps.env, (line) =>
      deps.log.info(line),
    );
    const specFile = await deps.writeTempFile('rollback-istio-operator.yaml', lastGoodSpec);
    await tool.run(installArgs(specFile, request.readinessSeconds), istioctlTimeoutMs(request));
    const parsed = parseYamlSource(lastGoodSpec, 'last good spec');
    if (parsed.ok && isObject(parsed.source.value))
      await verifyInstalled(deps.kube, request.namespace, parsed.source.value, plan.revision, version, {
        timeoutMs: readinessTimeoutMs(request),
        intervalMs: 2000,
        sleep: deps.sleep,
        now: () => deps.now().getTime(),
      });
  });
  await writeRecord(deps, request.namespace, (await readClusterState(deps.kube, request.namespace)).record, {
    action: 'rollback',
    outcome: 'rolled-back',
    specSha256: lastGood.specSha256,
    istioVersion: lastGood.istioVersion,
    revision: plan.revision,
    chartVersion: request.chartVersion,
    message: `upgrade to ${plan.toVersion ? formatIstioVersion(plan.toVersion) : '?'} failed (${cause.message}); rolled back to ${lastGood.istioVersion}`,
    spec: lastGoodSpec,
  });
  deps.log.warn(`rolled back to Istio ${lastGood.istioVersion}`);
}
