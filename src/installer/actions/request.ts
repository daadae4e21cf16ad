// What an install is asked to do (the request the chart's values describe) and the time limits and wait options derived from it.
import type { JsonObject } from '../../overlay/json.js';
import type { Values } from '../../overlay/index.js';
import type { PollOptions } from '../cluster/wait.js';
import type { Plan } from '../decide/plan.js';
import type { InstallerDeps } from '../deps.js';
import type { SpecLocator } from '../istioctl/offline-check.js';

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
  /** No input named the Istio version: install the newest at hand that the cluster's Kubernetes supports. */
  autoVersion?: boolean;
  /** Install a named version (and hop) even where Istio's matrix does not list the cluster's Kubernetes. */
  allowUnsupportedKubernetes?: boolean;
  /** Seconds after which a stepped upgrade starts no further hop (0 or unset: no limit). */
  pathSeconds?: number;
}

export interface InstallResult {
  plan: Plan;
  /** One line for stdout. */
  summary: string;
}

/** The install request the values describe (upgrade strategy, guards, timeouts). */
export function installRequest(
  inputs: { istioOperator: JsonObject; values: Values; locate?: SpecLocator; autoVersion?: boolean },
  namespace: string,
  env: Readonly<Record<string, string | undefined>>,
  dryRun: boolean,
): InstallRequest {
  const { values } = inputs;
  return {
    istioOperator: inputs.istioOperator,
    ...(inputs.locate ? { locateSpec: inputs.locate } : {}),
    namespace,
    strategy: values.upgrade.strategy,
    revisionTags: values.upgrade.revisionTags,
    removeOldRevision: values.upgrade.removeOldRevision,
    rollbackOnFailure: values.upgrade.rollbackOnFailure,
    force: values.forceInstall || env.FORCE_INSTALL === 'true',
    readinessSeconds: values.installer.timeouts.readinessSeconds,
    chartVersion: env.CHART_VERSION ?? '',
    dryRun,
    updateWorkloads: values.upgrade.updateWorkloads,
    autoVersion: inputs.autoVersion === true,
    allowUnsupportedKubernetes: values.upgrade.allowUnsupportedKubernetes,
    pathSeconds: values.installer.timeouts.pathSeconds,
    ...(env.RELEASE_NAME ? { release: env.RELEASE_NAME } : {}),
  };
}

export const readinessTimeoutMs = (request: InstallRequest) => request.readinessSeconds * 1000;
/** istioctl waits per component; our own limit covers all components plus the apply itself. */
export const istioctlTimeoutMs = (request: InstallRequest) => (request.readinessSeconds * 6 + 120) * 1000;

/** How every wait of an install polls: within the readiness timeout, every two seconds. */
export function waitOptions(
  request: InstallRequest,
  deps: Pick<InstallerDeps, 'sleep' | 'now'>,
): PollOptions {
  return {
    timeoutMs: readinessTimeoutMs(request),
    intervalMs: 2000,
    sleep: deps.sleep,
    now: () => deps.now().getTime(),
  };
}

/** Seconds since `started`, for a summary line. */
export function elapsed(deps: Pick<InstallerDeps, 'now'>, started: number): string {
  return `${((deps.now().getTime() - started) / 1000).toFixed(1)}s`;
}
