// The stepped canary path from the active version to the desired one: the hops (at most two minors each, through
// the istioctl versions at hand), each hop's spec and images, and the step one run takes. Pure.
import {
  compareVersions,
  formatIstioVersion,
  minorDistance,
  parseIstioVersion,
  transitRevisionName,
  type IstioVersion,
} from '../model/istio-version.js';
import { formatKube, releases, supportOn, type KubeVersion } from './kube-support.js';
import { isObject, type JsonObject } from '../../overlay/json.js';
import { adoptedOnRecord } from '../model/record.js';
import { refused, type Refused } from '../model/refusal.js';
import { objectAt, specOf } from '../model/spec.js';
import { controlPlaneOf, defaultRevision, type ClusterState } from '../model/state.js';

/** One canary hop of a stepped upgrade. */
export interface Hop {
  /** `1.27` for a minor whose istioctl is nowhere; the exact version otherwise. */
  version: string;
  /** Where its istioctl comes from; `missing` hops stop the path before it starts. */
  istioctl: 'available' | 'missing';
}

/** The most minors one canary hop may cross (revision-based upgrades may skip one minor). */
export const MAX_HOP_MINORS = 2;

interface Stop {
  version: IstioVersion;
  hop: Hop;
}

/** Cost of a path so far: missing istioctls first (fewer is better), then hops. */
interface Best {
  missing: number;
  hops: number;
  path: Stop[];
}

const better = (a: Best, b: Best | undefined): boolean =>
  !b || a.missing < b.missing || (a.missing === b.missing && a.hops < b.hops);

/**
 * The canary hops from `from` to `to`, each at most two minors, ending exactly on `to`, through versions whose
 * istioctl is `available` (the newest patch of each minor): the fewest missing istioctls, then the fewest hops, and
 * among equals the one that climbs fastest. A minor with no istioctl at hand is named (as `1.27`, `missing`) only
 * where no path of available versions exists. With `kube`, every hop must be supported there (or unknown to the
 * matrix); undefined when no path exists at all. Empty when there is nothing to go up.
 */
export function upgradePath(
  from: IstioVersion,
  to: IstioVersion,
  available: readonly string[],
  kube?: KubeVersion,
): Hop[] | undefined {
  if (compareVersions(to, from) <= 0) return [];
  const allowed = (v: IstioVersion) => !kube || supportOn(v, kube) !== 'unsupported';
  const newestPerMinor = new Map<string, IstioVersion>();
  for (const v of releases(available)) {
    const key = `${v.major}.${v.minor}`;
    const between = compareVersions(v, from) > 0 && compareVersions(v, to) < 0 && v.minor !== to.minor;
    if (between && !newestPerMinor.has(key)) newestPerMinor.set(key, v);
  }
  const stops: Stop[] = [];
  for (let minor = from.minor + 1; minor < to.minor && from.major === to.major; minor++) {
    const found = newestPerMinor.get(`${to.major}.${minor}`);
    const version = found ?? { major: to.major, minor, patch: 0, suffix: '' };
    if (!allowed(version)) continue;
    stops.push({
      version,
      hop: found
        ? { version: formatIstioVersion(found), istioctl: 'available' }
        : { version: `${to.major}.${minor}`, istioctl: 'missing' },
    });
  }
  const targetAvailable = releases(available).some((v) => compareVersions(v, to) === 0);
  stops.push({
    version: to,
    hop: { version: formatIstioVersion(to), istioctl: targetAvailable ? 'available' : 'missing' },
  });
  if (!allowed(to)) return undefined;
  return cheapestPath(from, stops);
}

/**
 * Dynamic programming over the stops in ascending order (every hop goes up, so a stop's best is final before any stop
 * above it is reached). Among equal costs the lowest predecessor wins: the last hops are the long ones, so the
 * intermediate minors count back from the target in twos, the transit revisions the chart's RBAC names.
 */
function cheapestPath(from: IstioVersion, stops: readonly Stop[]): Hop[] | undefined {
  const best: (Best | undefined)[] = [];
  const reach = (prev: IstioVersion, start: Best, to: number) => {
    const stop = stops[to] as Stop;
    const distance = minorDistance(prev, stop.version);
    if (distance < 1 || distance > MAX_HOP_MINORS) return;
    const next: Best = {
      missing: start.missing + (stop.hop.istioctl === 'missing' ? 1 : 0),
      hops: start.hops + 1,
      path: [...start.path, stop],
    };
    if (better(next, best[to])) best[to] = next;
  };
  for (let to = 0; to < stops.length; to++) {
    reach(from, { missing: 0, hops: 0, path: [] }, to);
    for (let prev = 0; prev < to; prev++) {
      const start = best[prev];
      if (start) reach((stops[prev] as Stop).version, start, to);
    }
  }
  return best[stops.length - 1]?.path.map((s) => s.hop);
}

/** A hop's version as a release names it: a minor whose istioctl is missing has no patch yet (`1.27.<patch>`). */
function releaseVersion(hop: Hop): string {
  return hop.version.split('.').length === 2 ? `${hop.version}.<patch>` : hop.version;
}

/** The command that adds a missing hop's istioctl to the release mirror. */
export function mirrorAddCommand(hop: Hop, platform: { os: string; arch: string }): string {
  return `istio-installer mirror add --dir DIR istioctl-${releaseVersion(hop)}-${platform.os}-${platform.arch}.tar.gz`;
}

/**
 * The one command that prepares a site for this path on a connected machine: every hop's istioctl archive, verified,
 * as a release mirror in DIR/mirror, and the images of every hop. Its hops are exactly these (`--istio-version` of
 * each), so it plans the same path; without a known Kubernetes it reads the cluster's.
 */
export function prepareSiteCommand(
  from: IstioVersion,
  hops: readonly Hop[],
  kube: KubeVersion | undefined,
  platform: { arch: string },
): string {
  return [
    'istio-installer prepare-site --dir DIR --chart CHART -f VALUES',
    `--from ${formatIstioVersion(from)}`,
    kube ? `--kube ${formatKube(kube)}` : '--kubeconfig KUBECONFIG',
    ...hops.map((hop) => `--istio-version ${releaseVersion(hop)}`),
    // prepare-site's default architecture is amd64.
    ...(platform.arch === 'amd64' ? [] : [`--arch ${platform.arch}`]),
  ].join(' ');
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

/**
 * The images istioctl renders for istiod, the proxies (sidecars and gateways) and, when enabled, the CNI agent and
 * ztunnel: a `values.<component>.image` with a `/` is used as it is (Rancher pins them so), otherwise
 * `<hub>/<image or default name>:<tag>`, as Istio's charts do.
 */
export function hopImages(istioOperator: JsonObject): string[] {
  const spec = specOf(istioOperator);
  const values = objectAt(spec, 'values');
  const components = objectAt(spec, 'components');
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
  /** The cluster's Kubernetes, which every hop must support; undefined to route without it (allowUnsupportedKubernetes). */
  kube?: KubeVersion,
): Step | Refused {
  const activeRevision = defaultRevision(state);
  const from = activeRevision ? controlPlaneOf(state, activeRevision)?.version : undefined;
  const to = desired.version;
  const changes = from !== undefined && to !== undefined && compareVersions(to, from) > 0;
  const takenOver = adopting || adoptedOnRecord(state.record);
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
  const hops = upgradePath(from, to, available, kube);
  if (!hops)
    return refused(
      `no path from Istio ${formatIstioVersion(from)} to ${formatIstioVersion(to)} has every hop supported on Kubernetes ${kube ? formatKube(kube) : '?'} (each hop is at most two minors)`,
      'upgrade in fewer steps from a version nearer the target, choose a target this Kubernetes supports, or set upgrade.allowUnsupportedKubernetes: true to go through unsupported hops anyway',
    );
  if (hops.length === 1) return { istioOperator: desired.istioOperator, version: to, strategy, from, hops };
  const missing = hops.filter((hop) => hop.istioctl === 'missing');
  if (missing.length > 0)
    return refused(
      `the path ${[formatIstioVersion(from), ...hops.map((h) => h.version)].join(' -> ')} needs istioctl ${missing.map((h) => h.version).join(', ')}, which is neither bundled, on PATH nor in the release mirror`,
      `on a connected machine run "${prepareSiteCommand(from, hops, kube, platform)}" and serve DIR/mirror as the release mirror (installer.releaseMirror.extraReleases), or add ${missing.length > 1 ? 'each' : 'it'} with "${missing.map((h) => mirrorAddCommand(h, platform)).join('" and "')}" (from https://github.com/istio/istio/releases/); then run again`,
    );
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

/**
 * Whether a stepped upgrade stops before its next hop: the longest hop so far, started now, would end past the run's
 * budget (`installer.timeouts.pathSeconds`, which keeps the chart's Job within Helm's --timeout). The first hop always
 * runs, so every run makes progress; 0 is no budget.
 */
export function pauseBeforeHop(elapsedMs: number, longestHopMs: number, budgetSeconds: number): boolean {
  return budgetSeconds > 0 && elapsedMs + longestHopMs > budgetSeconds * 1000;
}

/** The summary of a paused path: where it stands, what is left, and how it goes on. */
export function describePause(at: string, left: readonly Hop[], budgetSeconds: number): string {
  return `paused at Istio ${at}: ${left.length} hop${left.length === 1 ? '' : 's'} to go (${left.map((h) => h.version).join(' -> ')}), not started within installer.timeouts.pathSeconds (${budgetSeconds}s); run helm upgrade (or istio-installer install) again to go on`;
}
