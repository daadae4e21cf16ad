// Taking over an Istio this installer did not make (Rancher's rancher-istio chart, or plain istioctl), and the stepped
// canary path from its version to the chart's: recognise or refuse, name the leftovers, plan the hops, gate proxy skew. Pure.
import {
  compareVersions,
  formatIstioVersion,
  minorDistance,
  parseIstioVersion,
  transitRevisionName,
  type IstioVersion,
} from '../model/istio-version.js';
import type { JsonObject } from '../../overlay/json.js';
import { controlPlaneOf, defaultRevision, type ClusterState } from '../model/state.js';

/** Names Rancher's chart gave the objects of its installer (rancher/charts `rancher-istio` 1.x–107.x). */
export const RANCHER_CONFIGMAPS = ['istio-installer-base', 'istio-installer-overlay'] as const;
export const RANCHER_HOOK_JOBS = ['istioctl-installer', 'istioctl-uninstaller'] as const;
export const RANCHER_RELEASE = 'rancher-istio';

/**
 * Istio's published skew policy (istio.io, "Supported releases", Control Plane/Data Plane Skew): the control plane
 * may be one minor ahead of the data plane, never behind it.
 */
export const SUPPORTED_PROXY_SKEW = 1;

/** A Kubernetes object the takeover looks at, reduced to what it decides on. */
export interface FoundObject {
  kind: string;
  namespace: string | undefined;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface FoundJob extends FoundObject {
  /** Pods still running (or to be started): a Job that has not finished. */
  active: boolean;
}

/** What the cluster holds besides ClusterState, read at the edge (read-takeover.ts). */
export interface TakeoverFacts {
  /** Labels and annotations of each istiod Deployment, by name. */
  istiod: FoundObject[];
  /** Rancher's installer ConfigMaps that are there. */
  rancherConfigMaps: FoundObject[];
  /** Rancher's hook Jobs that are there. */
  rancherJobs: FoundJob[];
  /** IstioOperator custom resources (the in-cluster operator's input, or istioctl < 1.21's installed-state). */
  istioOperators: FoundObject[];
  /** Deployments of Istio's in-cluster operator (removed in 1.24). */
  operatorDeployments: FoundObject[];
  /** Every revision of every Helm release in the Istio namespace (Helm's release Secrets). */
  helmRevisions: HelmRevision[];
  /** The Helm release the installer runs for (the chart Job's RELEASE_NAME), if any. */
  release: string | undefined;
}

/** One revision of a Helm release, from the Secret Helm keeps for it. */
export interface HelmRevision {
  release: string;
  revision: number;
  chart: string;
  chartVersion: string;
  status: string;
}

/** Rancher's chart: named rancher-istio, versioned `<rancher>+up<istio>` (104.5.0+up1.23.2). */
export const isRancherChart = (r: Pick<HelmRevision, 'chart' | 'chartVersion'>): boolean =>
  r.chart === RANCHER_RELEASE && /\+up\d/.test(r.chartVersion);

/** Releases whose newest revision is Rancher's chart: Rancher's release, still installed. */
export function liveRancherReleases(revisions: readonly HelmRevision[]): HelmRevision[] {
  const newest = new Map<string, HelmRevision>();
  for (const r of revisions)
    if ((newest.get(r.release)?.revision ?? -1) < r.revision) newest.set(r.release, r);
  return [...newest.values()].filter(isRancherChart);
}

/** What an adopted install was, for the record's `adopt` entry and the log. */
export interface Found {
  installedBy: string;
  version: string;
  revision: string;
  gateways: string[];
}

export interface Leftover {
  kind: string;
  namespace: string | undefined;
  name: string;
  /** Why it goes (every leftover the takeover acts on is deleted). */
  why: string;
}

export type Recognition =
  | { kind: 'ours' }
  | { kind: 'fresh' }
  | { kind: 'adopt'; found: Found; leftovers: Leftover[] }
  | { kind: 'refuse'; message: string; hint: string };

const HELM_RELEASE = 'meta.helm.sh/release-name';
const OWNING_RESOURCE = 'install.operator.istio.io/owning-resource';
const COMPONENT = 'operator.istio.io/component';

const objectName = (o: FoundObject) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

/** Who made an istiod Deployment, from what istioctl, Helm and Rancher leave on it and around it. */
export function installedBy(istiod: FoundObject | undefined, facts: TakeoverFacts): string | undefined {
  const rancher = facts.rancherConfigMaps[0];
  const rancherRelease = rancher?.annotations[HELM_RELEASE];
  const rancherRevision = facts.helmRevisions
    .filter(isRancherChart)
    .sort((a, b) => b.revision - a.revision)[0];
  if (istiod?.annotations[HELM_RELEASE])
    return `Helm release ${istiod.annotations[HELM_RELEASE]} (Istio's own istiod chart)`;
  if (istiod?.labels[COMPONENT] || istiod?.labels[OWNING_RESOURCE]) {
    if (rancherRevision)
      return `Rancher's rancher-istio chart ${rancherRevision.chartVersion} (Helm release ${rancherRevision.release}, revision ${rancherRevision.revision}), applied by istioctl`;
    if (rancher)
      return `Rancher's rancher-istio chart (release ${rancherRelease ?? RANCHER_RELEASE}, ConfigMap ${rancher.name}), applied by istioctl`;
    if (facts.rancherJobs.length > 0)
      return `Rancher's rancher-istio chart (its Job ${facts.rancherJobs[0]?.name} is left), applied by istioctl`;
    return 'istioctl (no installer record, no Helm release of Rancher left)';
  }
  return undefined;
}

/**
 * Decides whether the installer may take the cluster over. It adopts one control plane that istioctl applied (for
 * Rancher's chart, or by hand) and refuses what it cannot safely own: two control planes and no record, an
 * operator that reconciles IstioOperators, Istio's own Helm charts, a Rancher installer Job still running, or
 * Rancher's release still installed next to another one.
 */
export function recognise(state: ClusterState, facts: TakeoverFacts): Recognition {
  if (state.record) return { kind: 'ours' };
  if (state.controlPlanes.length === 0 && facts.operatorDeployments.length === 0) return { kind: 'fresh' };

  const operators = facts.operatorDeployments.map(objectName);
  if (operators.length > 0)
    return {
      kind: 'refuse',
      message: `Istio's in-cluster operator runs (${operators.join(', ')})${facts.istioOperators.length ? ` and reconciles ${facts.istioOperators.map(objectName).join(', ')}` : ''}: it would undo what this installer applies`,
      hint: 'remove the operator first (its IstioOperator resources stay as input for istioctl), or keep the operator and do not install this chart',
    };
  if (state.controlPlanes.length > 1)
    return {
      kind: 'refuse',
      message: `${state.controlPlanes.length} control planes of unknown origin (${state.controlPlanes.map((p) => `${p.namespace}/${p.deployment} ${p.version ? formatIstioVersion(p.version) : 'unknown version'}`).join(', ')}) and no record of this installer`,
      hint: 'uninstall all but one revision with the istioctl that installed it (istioctl uninstall --revision R), then run again',
    };

  const plane = state.controlPlanes[0];
  if (!plane) return { kind: 'fresh' };
  const istiod = facts.istiod.find((d) => d.name === plane.deployment);
  const who = installedBy(istiod, facts);
  if (!who)
    return {
      kind: 'refuse',
      message: `Deployment ${plane.namespace}/${plane.deployment} was not made by istioctl (no ${COMPONENT} label) nor by Helm; this installer cannot tell what else owns it`,
      hint: 'uninstall it with the tool that made it, then install with this chart',
    };
  if (istiod?.annotations[HELM_RELEASE])
    return {
      kind: 'refuse',
      message: `Deployment ${plane.namespace}/${plane.deployment} belongs to ${who}; Helm would fight istioctl over it`,
      hint: "migrate from Istio's Helm charts by uninstalling that release's istiod after installing a revision with this chart, or keep using Istio's charts",
    };
  const running = facts.rancherJobs.filter((job) => job.active);
  if (running.length > 0)
    return {
      kind: 'refuse',
      message: `Rancher's installer is running (${running.map(objectName).join(', ')}); two installers at once would race`,
      hint: 'wait until it finishes (kubectl -n istio-system wait --for=condition=complete job/istioctl-installer), then run again',
    };
  const liveRelease =
    liveRancherReleases(facts.helmRevisions).find((r) => r.release !== facts.release)?.release ??
    facts.rancherConfigMaps
      .map((cm) => cm.annotations[HELM_RELEASE])
      .find((release) => release !== undefined && release !== facts.release);
  if (liveRelease)
    return {
      kind: 'refuse',
      message: `Rancher's release ${liveRelease} is still installed in ${plane.namespace}; its next upgrade would run Rancher's installer over this one`,
      hint: `take it over with "helm upgrade ${liveRelease} <this chart> -n ${plane.namespace} -f <its values>", or remove it with "helm uninstall ${liveRelease} -n ${plane.namespace} --no-hooks" first (never without --no-hooks: its pre-delete Job deletes Istio's CRDs)`,
    };

  return {
    kind: 'adopt',
    found: {
      installedBy: who,
      version: plane.version ? formatIstioVersion(plane.version) : 'unknown',
      revision: plane.revision,
      gateways: state.gateways.map((g) => `${g.namespace}/${g.name}`).sort(),
    },
    leftovers: leftovers(facts),
  };
}

/** Rancher's objects that would break or confuse later runs; none of them is a user's Istio resource or a CRD. */
export function leftovers(facts: TakeoverFacts): Leftover[] {
  return [
    ...facts.rancherJobs
      .filter((job) => !job.active)
      .map((job) => ({
        kind: 'Job',
        namespace: job.namespace,
        name: job.name,
        why:
          job.name === 'istioctl-uninstaller'
            ? "Rancher's pre-delete Job, which deletes Istio's CRDs when run"
            : "Rancher's installer hook Job, left behind (it ran Rancher's istioctl)",
      })),
    ...facts.rancherConfigMaps.map((cm) => ({
      kind: 'ConfigMap',
      namespace: cm.namespace,
      name: cm.name,
      why: "Rancher's installer input, which no release owns any more",
    })),
  ];
}

/** The line the log and the record's `adopt` entry carry. */
export function describeFound(found: Found): string {
  return `adopted Istio ${found.version} (revision ${found.revision}) installed by ${found.installedBy}; gateways: ${found.gateways.length ? found.gateways.join(', ') : 'none'}`;
}

/** One canary hop of a stepped upgrade. */
export interface Hop {
  /** `1.27` for a minor whose istioctl is nowhere; the exact version otherwise. */
  version: string;
  /** Where its istioctl comes from; `missing` hops stop the path before it starts. */
  istioctl: 'available' | 'missing';
}

const minorKey = (v: IstioVersion) => `${v.major}.${v.minor}`;

/**
 * The canary hops from `from` to `to`, each at most two minors (revision-based upgrades may skip one minor), ending
 * exactly on `to`: counted back from `to`, so the path has the fewest hops. An intermediate minor uses the newest
 * patch whose istioctl is available (bundled or in the mirror). Empty when there is nothing to go up.
 */
export function upgradePath(from: IstioVersion, to: IstioVersion, available: readonly string[]): Hop[] {
  if (compareVersions(to, from) <= 0) return [];
  const versions = available
    .map(parseIstioVersion)
    .filter((v): v is IstioVersion => v !== undefined && v.suffix === '');
  const stops: IstioVersion[] = [];
  for (let minor = to.minor - 2; minor > from.minor && to.major === from.major; minor -= 2)
    stops.unshift({ major: to.major, minor, patch: 0, suffix: '' });
  const isAvailable = (v: IstioVersion) => versions.some((a) => compareVersions(a, v) === 0);
  const hops: Hop[] = stops.map((stop) => {
    const newest = versions
      .filter((v) => minorKey(v) === minorKey(stop))
      .sort(compareVersions)
      .at(-1);
    return newest
      ? { version: formatIstioVersion(newest), istioctl: 'available' }
      : { version: minorKey(stop), istioctl: 'missing' };
  });
  hops.push({ version: formatIstioVersion(to), istioctl: isAvailable(to) ? 'available' : 'missing' });
  return hops;
}

/** A hop's version as a release names it: a minor whose istioctl is missing has no patch yet (`1.27.<patch>`). */
function releaseVersion(hop: Hop): string {
  return hop.version.split('.').length === 2 ? `${hop.version}.<patch>` : hop.version;
}

/** The command that adds a missing hop's istioctl to the release mirror. */
export function mirrorAddCommand(hop: Hop, platform: { os: string; arch: string }): string {
  const version = releaseVersion(hop);
  return `istio-installer mirror add --dir DIR istioctl-${version}-${platform.os}-${platform.arch}.tar.gz (from https://github.com/istio/istio/releases/download/${version}/)`;
}

/**
 * The lines `plan` prints for a stepped path: the path, then per hop its istioctl and the control plane and proxy
 * images its spec pulls (what an air-gapped cluster's registry and release mirror need), given the target spec.
 */
export function describePath(
  from: IstioVersion,
  hops: readonly Hop[],
  target?: { spec: JsonObject; version: IstioVersion },
): string[] {
  if (hops.length === 0) return [];
  return [
    `  path: ${[formatIstioVersion(from), ...hops.map((h) => h.version)].join(' -> ')} (${hops.length} canary hop${hops.length > 1 ? 's' : ''} of at most two minors)`,
    ...hops.map((hop) => {
      // A minor whose istioctl is missing: its images carry the patch its istioctl will have.
      const images = target
        ? `; images ${hopImages(specForHop(target.spec, target.version, releaseVersion(hop))).join(', ')}`
        : '';
      return hop.istioctl === 'missing'
        ? `  missing: istioctl ${hop.version} is neither bundled, on PATH nor in the release mirror${images}`
        : `  hop ${hop.version}: istioctl ${hop.version}${images}`;
    }),
  ];
}

const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The images istioctl renders for istiod, the proxies (sidecars and gateways) and, when enabled, the CNI agent and
 * ztunnel: a `values.<component>.image` with a `/` is used as it is (Rancher pins them so), otherwise
 * `<hub>/<image or default name>:<tag>`, as Istio's charts do.
 */
export function hopImages(istioOperator: JsonObject): string[] {
  const spec = isObject(istioOperator.spec) ? istioOperator.spec : {};
  const values = isObject(spec.values) ? spec.values : {};
  const components = isObject(spec.components) ? spec.components : {};
  const hub = typeof spec.hub === 'string' && spec.hub ? spec.hub : 'registry.istio.io/release';
  const tag = typeof spec.tag === 'string' ? spec.tag : '';
  const at = (...path: string[]): unknown =>
    path.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), values);
  const image = (pinned: unknown, name: string) =>
    typeof pinned === 'string' && pinned.includes('/')
      ? pinned
      : `${hub}/${typeof pinned === 'string' && pinned ? pinned : name}:${tag}`;
  const enabled = (name: string) => isObject(components[name]) && components[name].enabled === true;
  return [
    image(at('pilot', 'image'), 'pilot'),
    image(at('global', 'proxy', 'image'), 'proxyv2'),
    ...(enabled('cni') ? [image(at('cni', 'image'), 'install-cni')] : []),
    ...(enabled('ztunnel') ? [image(at('ztunnel', 'image'), 'ztunnel')] : []),
  ].filter((ref, i, all) => all.indexOf(ref) === i);
}

/**
 * The spec of one hop: the target spec with the hop's version as `tag`, and every image pinned to the target's
 * version (Rancher's values pin `repository:tag` per image, e.g. `1.31.0-distroless`) pinned to the hop's instead.
 * The hop may be a version's text (`1.29.<patch>` for a minor whose patch is not known yet).
 */
export function specForHop<T>(spec: T, target: IstioVersion, hop: IstioVersion | string): T {
  const from = formatIstioVersion(target);
  const to = typeof hop === 'string' ? hop : formatIstioVersion(hop);
  if (from === to) return spec;
  const image = new RegExp(`^(.+:)${from.replace(/\./g, '\\.')}(-[a-z]+)?$`);
  const walk = (value: unknown, key: string | undefined): unknown => {
    if (Array.isArray(value)) return value.map((item) => walk(item, undefined));
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    if (typeof value !== 'string') return value;
    if (key === 'tag' && value === from) return to;
    const match = image.exec(value);
    return match ? `${match[1]}${to}${match[2] ?? ''}` : value;
  };
  return walk(spec, undefined) as T;
}

/** A workload pod with a sidecar or gateway proxy, reduced to what the skew gate needs. */
export interface ProxyPod {
  namespace: string;
  name: string;
  /** The pod's revision (`istio.io/rev`), `default` when unset. */
  revision: string;
  /** The version of its proxy image, when it names one. */
  proxyVersion: IstioVersion | undefined;
  /** `Deployment ns/name`, `StatefulSet ns/name`, ... : what a restart goes through; undefined for a bare pod. */
  owner: string | undefined;
}

/** Pods whose proxy is beyond the supported skew from the control plane at `active`. */
export function beyondSkew(pods: readonly ProxyPod[], active: IstioVersion): ProxyPod[] {
  return pods.filter(
    (pod) => pod.proxyVersion !== undefined && minorDistance(pod.proxyVersion, active) > SUPPORTED_PROXY_SKEW,
  );
}

/** What the gate between two hops says: nothing, restart these owners, or stop naming them. */
export type SkewDecision =
  | { kind: 'go' }
  | { kind: 'restart'; owners: string[]; pods: ProxyPod[] }
  | { kind: 'stop'; message: string; hint: string };

/**
 * Between two hops: every proxy must be within the supported skew of the revision the last hop made active before
 * the next hop goes two minors further (their own old revision stays while they use it, but the path would leave
 * them further behind at every hop).
 */
export function skewGate(
  pods: readonly ProxyPod[],
  active: IstioVersion,
  next: IstioVersion,
  updateWorkloads: boolean,
): SkewDecision {
  const behind = beyondSkew(pods, active);
  if (behind.length === 0) return { kind: 'go' };
  const owners = [...new Set(behind.map((p) => p.owner).filter((o): o is string => o !== undefined))].sort();
  const bare = behind.filter((p) => p.owner === undefined);
  if (updateWorkloads && bare.length === 0) return { kind: 'restart', owners, pods: behind };
  const namespaces = [...new Set(behind.map((p) => p.namespace))].sort();
  const listed = behind
    .slice(0, 20)
    .map(
      (p) =>
        `${p.namespace}/${p.name} (revision ${p.revision}, proxy ${p.proxyVersion ? formatIstioVersion(p.proxyVersion) : '?'})`,
    );
  return {
    kind: 'stop',
    message: `${behind.length} pod(s) in namespace(s) ${namespaces.join(', ')} run proxies more than ${SUPPORTED_PROXY_SKEW} minor behind Istio ${formatIstioVersion(active)}, the active revision, before the hop to ${formatIstioVersion(next)}: ${listed.join(', ')}${behind.length > 20 ? ', ...' : ''}`,
    hint: `${bare.length > 0 ? `delete the bare pods (${bare.map((p) => `${p.namespace}/${p.name}`).join(', ')}) and ` : ''}restart the workloads (${owners.length ? owners.map(restartCommand).join('; ') : 'none with an owner'}), then run again; or set upgrade.updateWorkloads: true and the installer restarts them between hops`,
  };
}

/** `Deployment apps/web` -> `kubectl -n apps rollout restart deployment/web`. */
export function restartCommand(owner: string): string {
  const [kind = '', ref = ''] = owner.split(' ');
  const [namespace = '', name = ''] = ref.split('/');
  return `kubectl -n ${namespace} rollout restart ${kind.toLowerCase()}/${name}`;
}

/** What one run of a stepped upgrade applies now: this hop's spec and strategy, and the whole path for the plan. */
export interface Step {
  /** The spec of the hop to apply now (the desired spec itself for the last or only hop). */
  istioOperator: JsonObject;
  version: IstioVersion | undefined;
  strategy: 'InPlace' | 'RevisionBased';
  /** The revision of an intermediate hop (`1-27`); undefined for the last or only hop, named as configured. */
  revision?: string;
  /** The version the active revision runs, where the path starts. */
  from: IstioVersion | undefined;
  /** Every hop still to go, this one first; empty when the version does not change. */
  hops: Hop[];
}

const VERSION_NAMED_REVISION = /^\d+-\d+(-\d+)?$/;

/**
 * The step a run takes towards `desired`. An install that was taken over (adopted now, or `adopt` on record) goes up
 * by canary hops whatever `upgrade.strategy` says, and one that runs a canary revision stays revision-based: the adopted control plane
 * keeps serving until a newer revision is ready. Hops are planned from the active revision each run, so a re-run
 * after an interruption resumes at the hop the cluster is at. Undefined with a refusal when a hop's istioctl is
 * missing.
 */
export function stepFor(
  state: ClusterState,
  adopting: boolean,
  desired: {
    istioOperator: JsonObject;
    version: IstioVersion | undefined;
    strategy: 'InPlace' | 'RevisionBased';
  },
  available: readonly string[],
  platform: { os: string; arch: string },
): Step | { refused: true; message: string; hint: string } {
  const activeRevision = defaultRevision(state);
  const from = activeRevision ? controlPlaneOf(state, activeRevision)?.version : undefined;
  const to = desired.version;
  const changes = from !== undefined && to !== undefined && compareVersions(to, from) > 0;
  const takenOver = adopting || (state.record?.history ?? []).some((entry) => entry.action === 'adopt');
  // Once on a version-named revision, an in-place plan would look for the unrevisioned istiod and install a second
  // control plane beside it: stay revision-based, even when nothing changes.
  const strategy =
    desired.strategy === 'RevisionBased' ||
    VERSION_NAMED_REVISION.test(activeRevision ?? '') ||
    (changes && takenOver)
      ? 'RevisionBased'
      : 'InPlace';
  if (!changes || strategy === 'InPlace' || !from || !to)
    return { istioOperator: desired.istioOperator, version: to, strategy, from, hops: [] };
  const hops = upgradePath(from, to, available);
  if (hops.length === 1) return { istioOperator: desired.istioOperator, version: to, strategy, from, hops };
  const missing = hops.filter((hop) => hop.istioctl === 'missing');
  if (missing.length > 0)
    return {
      refused: true,
      message: `the path ${[formatIstioVersion(from), ...hops.map((h) => h.version)].join(' -> ')} needs istioctl ${missing.map((h) => h.version).join(', ')}, which is neither bundled, on PATH nor in the release mirror`,
      hint: `add ${missing.length > 1 ? 'them' : 'it'}: ${missing.map((h) => mirrorAddCommand(h, platform)).join('; ')}; then run again`,
    };
  const first = parseIstioVersion(hops[0]?.version ?? '');
  return {
    istioOperator: first ? specForHop(desired.istioOperator, to, first) : desired.istioOperator,
    version: first,
    revision: first ? transitRevisionName(first) : undefined,
    strategy,
    from,
    hops,
  };
}
