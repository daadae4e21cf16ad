// `plan`: reads the cluster (state, takeover facts, the istioctl versions at hand) and decides; changes nothing.
// install decides through it before and again under the lock.
import { renderDocument } from '../../overlay/output.js';
import type { JsonObject } from '../../overlay/json.js';
import { withoutUnsupportedPodSecurity } from '../../overlay/pod-security.js';
import { componentEnabled, effectiveProfile } from '../../overlay/profiles.js';
import { readInjectionRefusals } from '../cluster/read-injection.js';
import { readClusterState } from '../cluster/read-state.js';
import { readTakeoverFacts } from '../cluster/read-takeover.js';
import { parseKubeVersion } from '../decide/kube-support.js';
import { describePath, stepFor, type Hop } from '../decide/path.js';
import { injectionWarning } from '../decide/pod-admission.js';
import { chooseTarget } from '../decide/target.js';
import { describePlan, planAction, specDiff, type Plan } from '../decide/plan.js';
import { describeFound, recognise, type Recognition } from '../decide/takeover.js';
import type { InstallerDeps } from '../deps.js';
import { specHash } from '../model/record.js';
import { orRefuse, refusalError } from '../model/refusal.js';
import { formatIstioVersion, type IstioVersion } from '../model/istio-version.js';
import { desiredOf, specOf } from '../model/spec.js';
import type { ClusterState } from '../model/state.js';
import type { InstallRequest } from './request.js';

export interface Decided {
  plan: Plan;
  state: ClusterState;
  hash: string;
  /** Whether this installer made what runs, or takes it over now. */
  recognition: Recognition;
  /** The hops still to go (this plan's first), for a stepped upgrade. */
  hops: Hop[];
  /** The version the active revision runs, where the hops start. */
  from: IstioVersion | undefined;
  /** Lines `plan` and the log print besides the plan: what a takeover found, the path. */
  notes: string[];
}

/** Reads the cluster and decides; throws the refusal's PreconditionError when a guard refuses. Changes nothing. */
export async function makePlan(request: InstallRequest, deps: InstallerDeps): Promise<Decided> {
  const [state, facts, available, serverVersion] = await Promise.all([
    readClusterState(deps.kube, request.namespace),
    readTakeoverFacts(deps.kube, request.namespace, request.release),
    deps.istioctlVersions?.() ?? Promise.resolve([]),
    deps.kube.serverVersion(),
  ]);
  const recognition = recognise(state, facts);
  if (recognition.kind === 'refuse') throw refusalError(recognition);
  const kube = parseKubeVersion(serverVersion);
  const allowUnsupported = request.allowUnsupportedKubernetes === true;
  const target = orRefuse(
    chooseTarget({
      istioOperator: request.istioOperator,
      autoVersion: request.autoVersion === true,
      available,
      kube,
      allowUnsupportedKubernetes: allowUnsupported,
    }),
  );
  const { revision } = desiredOf(target.istioOperator);
  const version = target.version;
  const step = orRefuse(
    stepFor(
      state,
      recognition.kind === 'adopt',
      { istioOperator: target.istioOperator, version, strategy: request.strategy },
      available,
      deps.platform ?? { os: 'linux', arch: 'amd64' },
      allowUnsupported ? undefined : kube,
    ),
  );
  const hopSpec = specForVersion(step.istioOperator, step.version);
  const hash = specHash(hopSpec);
  const plan = orRefuse(
    planAction(
      state,
      {
        istioOperator: hopSpec,
        version: step.version,
        revision: step.revision ?? revision,
        strategy: step.strategy,
        revisionTags: request.revisionTags,
        force: request.force,
      },
      hash,
    ),
  );
  const injection = injectionNeedsPrivileges(specOf(hopSpec))
    ? (await readInjectionRefusals(deps.kube)).map((r) => `  warning: ${injectionWarning(r)}`)
    : [];
  const notes = [
    ...target.notes,
    ...injection,
    ...(recognition.kind === 'adopt'
      ? [
          `  takeover: ${describeFound(recognition.found)}`,
          ...recognition.leftovers.map(
            (l) => `  leftover: ${l.kind} ${l.namespace}/${l.name} (${l.why}): delete`,
          ),
        ]
      : []),
    ...(step.from && step.hops.length > 1
      ? describePath(step.from, step.hops, version ? { spec: target.istioOperator, version } : undefined)
      : []),
  ];
  return { plan, state, hash, recognition, hops: step.hops, from: step.from, notes };
}

/**
 * The spec a hop of `version` applies: a hop (or a chosen version) older than the spec's tag gets only what its
 * istioctl takes of `podSecurity`.
 */
export function specForVersion(istioOperator: JsonObject, version: IstioVersion | undefined): JsonObject {
  return version
    ? {
        ...istioOperator,
        spec: withoutUnsupportedPodSecurity(specOf(istioOperator), formatIstioVersion(version)),
      }
    : istioOperator;
}

/** Injection makes istio-init (NET_ADMIN, NET_RAW, root) unless istio-cni or ambient takes over its job. */
function injectionNeedsPrivileges(spec: JsonObject): boolean {
  return !componentEnabled(spec, 'cni') && !effectiveProfile(spec).includes('ambient');
}

/** The lines `plan` prints (and install logs): notes, the plan, and the spec's diff against the last applied one. */
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
