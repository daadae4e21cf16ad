// `install`: read state, decide, take the lock, precheck, run istioctl, verify, record; rolls back a failed in-place upgrade when asked.
import { IstioctlError, PreconditionError, TimeoutError } from '../errors.js';
import { isObject, type JsonObject } from '../overlay/json.js';
import { renderDocument } from '../overlay/output.js';
import { parseYamlSource } from '../overlay/yaml-source.js';
import { dashboardConfigMaps, DASHBOARD_NAMESPACE } from './dashboards.js';
import { phase, type InstallerDeps } from './deps.js';
import { writeRecord } from './history.js';
import { formatIstioVersion, parseIstioVersion, type IstioVersion } from './istio-version.js';
import { analyzeArgs, installArgs, istioctl, precheckArgs, tagSetArgs, uninstallArgs } from './istioctl.js';
import { withLock } from './lock.js';
import { checkWithIstioctl, type SpecLocator } from './offline-check.js';
import { describePlan, planAction, specDiff, type Plan } from './plan.js';
import { readClusterState } from './read-state.js';
import { specHash } from './record.js';
import { staleWebhooks, type ClusterState } from './state.js';
import { verifyInstalled, waitUntilGone } from './verify.js';

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

/** Reads the cluster and decides; throws PreconditionError when a guard refuses. Changes nothing. */
export async function makePlan(
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<{ plan: Plan; state: ClusterState; hash: string }> {
  const state = await readClusterState(deps.kube, request.namespace);
  const { version, revision } = desiredOf(request.istioOperator);
  const hash = specHash(request.istioOperator);
  const decided = planAction(
    state,
    {
      istioOperator: request.istioOperator,
      version,
      revision,
      strategy: request.strategy,
      revisionTags: request.revisionTags,
      force: request.force,
    },
    hash,
  );
  if ('refused' in decided) throw new PreconditionError(decided.message, decided.hint);
  return { plan: decided, state, hash };
}

export function planReport(plan: Plan, state: ClusterState): string[] {
  const diff = specDiff(state.record?.spec, renderDocument(plan.istioOperator, 'yaml'));
  return [
    ...describePlan(plan),
    ...(diff
      ? ['  spec diff against the last applied one:', ...diff.split('\n').map((l) => `    ${l}`)]
      : []),
  ];
}

export async function install(request: InstallRequest, deps: InstallerDeps): Promise<InstallResult> {
  const started = deps.now().getTime();
  const first = await phase(deps, 'read cluster state and plan', () => makePlan(request, deps));
  for (const line of planReport(first.plan, first.state)) deps.log.info(line);
  if (first.plan.kind === 'nothing')
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
    const { plan, state, hash } = await makePlan(request, deps);
    if (plan.kind === 'nothing')
      return { plan, summary: `nothing to do: ${plan.reason} (${elapsed(deps, started)})` };
    const result = await act(plan, state, hash, request, deps);
    return { plan, summary: `${result} (${elapsed(deps, started)})` };
  });
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
  const record = (
    outcome: 'succeeded' | 'failed' | 'rolled-back',
    message?: string,
    recordedSpec = spec,
    recordedHash = hash,
    recordedVersion = versionText,
  ) =>
    writeRecord(deps, request.namespace, state.record, {
      action: plan.kind,
      outcome,
      specSha256: recordedHash,
      istioVersion: recordedVersion,
      revision: plan.revision,
      chartVersion: request.chartVersion,
      message,
      spec: recordedSpec,
    });

  const tool = istioctl(await deps.istioctlFor(version), deps.runner, deps.env, (line) =>
    deps.log.info(line),
  );
  await cleanStaleWebhooks(state, deps);
  if (!request.force) await precheck(plan, tool, deps);

  try {
    const specFile = await deps.writeTempFile('istio-operator.yaml', spec);
    await phase(deps, `istioctl install (${plan.kind}, revision ${plan.revision})`, () =>
      tool.run(installArgs(specFile, request.readinessSeconds), istioctlTimeoutMs(request)),
    );
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
    await installDashboards(deps);
    await record('succeeded', retired || undefined);
    return `${plan.kind}: Istio ${versionText} (revision ${plan.revision}) installed and ready${retired ? `; ${retired}` : ''}`;
  } catch (error) {
    if (!(error instanceof IstioctlError || error instanceof TimeoutError)) throw error;
    await record('failed', error.message).catch(() => undefined);
    if (plan.kind === 'upgrade-in-place' && request.rollbackOnFailure)
      await rollBack(plan, state, request, deps, error);
    throw error;
  }
}

/** Rancher's installer copied Grafana dashboards for rancher-monitoring; so do we, when its namespace is there. */
async function installDashboards(deps: InstallerDeps): Promise<void> {
  if (!(await deps.kube.namespaceExists(DASHBOARD_NAMESPACE))) return;
  await phase(deps, `Grafana dashboards into ${DASHBOARD_NAMESPACE}`, async () => {
    for (const configMap of dashboardConfigMaps()) await deps.kube.applyConfigMap(configMap);
  });
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

/** istioctl x precheck and istioctl analyze, side by side: both only read the cluster. */
async function precheck(plan: Plan, tool: ReturnType<typeof istioctl>, deps: InstallerDeps): Promise<void> {
  const meshConfig =
    isObject(plan.istioOperator.spec) && isObject(plan.istioOperator.spec.meshConfig)
      ? plan.istioOperator.spec.meshConfig
      : {};
  const meshConfigFile = await deps.writeTempFile('mesh-config.yaml', renderDocument(meshConfig, 'yaml'));
  const checks = [
    phase(deps, 'istioctl x precheck', async () => {
      try {
        await tool.run(precheckArgs(plan.revision), 300_000);
      } catch (error) {
        if (error instanceof IstioctlError)
          throw new PreconditionError(
            `istioctl x precheck found problems: ${error.message}`,
            'fix them, or set forceInstall: true to skip the prechecks',
          );
        throw error;
      }
    }),
    phase(deps, 'istioctl analyze', async () => {
      try {
        await tool.run(analyzeArgs(meshConfigFile), ANALYZE_TIMEOUT_MS);
      } catch (error) {
        // analyze waits for informers to sync and can hang (CRDs just deleted, a kind it may not list); it is
        // advice, so a hang is reported and the install goes on rather than being blocked by it.
        if (error instanceof TimeoutError) {
          deps.log.warn(
            `istioctl analyze did not finish within ${ANALYZE_TIMEOUT_MS / 1000}s; going on without its findings`,
          );
          return;
        }
        if (error instanceof IstioctlError && error.exitCode === 79) {
          const findings = error.stderr
            .split('\n')
            .map((line) => line.trim())
            .filter((line) => /^Error \[IST\d+\]/.test(line));
          throw new PreconditionError(
            `istioctl analyze found ${findings.length || 'some'} error(s) in the mesh's configuration${findings.length ? `: ${findings.join('; ')}` : ''}`,
            'fix them, or set forceInstall: true to skip the prechecks',
          );
        }
        throw error;
      }
    }),
  ];
  const results = await Promise.allSettled(checks);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
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
