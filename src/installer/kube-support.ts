// Which Kubernetes minors each Istio minor supports, and what follows from it: the newest Istio a cluster can run, and
// the stepped path through the istioctl versions at hand whose every hop the cluster's Kubernetes supports. Pure.
import {
  compareVersions,
  formatIstioVersion,
  minorDistance,
  parseIstioVersion,
  type IstioVersion,
} from './istio-version.js';

/** A Kubernetes minor, as the API server's `/version` reports it (`v1.32.3+rke2r1` -> 1.32). */
export interface KubeVersion {
  major: number;
  minor: number;
}

export interface KubeRange {
  min: KubeVersion;
  max: KubeVersion;
}

const range = (min: number, max: number): KubeRange => ({
  min: { major: 1, minor: min },
  max: { major: 1, minor: max },
});

/**
 * Istio's support matrix: the Kubernetes minors each Istio minor is supported on. Source: istio.io's "Supported
 * releases" table (`data/compatibility/supportStatus.yml` of istio/istio.io) and each minor's release announcement
 * ("Istio 1.X.0 is officially supported on Kubernetes versions A to B"). Where the table was widened after the
 * release (1.26 and 1.28 by one minor up, 1.31 to 1.37), the table wins: it is what Istio supports today.
 */
export const ISTIO_KUBE_SUPPORT: Readonly<Record<string, KubeRange>> = {
  '1.20': range(25, 29),
  '1.21': range(26, 29),
  '1.22': range(27, 30),
  '1.23': range(27, 30),
  '1.24': range(28, 31),
  '1.25': range(29, 32),
  '1.26': range(29, 33),
  '1.27': range(29, 33),
  '1.28': range(30, 34),
  '1.29': range(31, 35),
  '1.30': range(32, 36),
  '1.31': range(32, 37),
};

const KUBE = /^v?(\d+)\.(\d+)/;

/** `v1.32.3`, `1.32`, `v1.33.2+rke2r1` -> 1.32 / 1.33; undefined for anything else. */
export function parseKubeVersion(text: string): KubeVersion | undefined {
  const match = KUBE.exec(text.trim());
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

export const formatKube = (v: KubeVersion): string => `${v.major}.${v.minor}`;
export const formatKubeRange = (r: KubeRange): string => `${formatKube(r.min)}-${formatKube(r.max)}`;

const kubeCompare = (a: KubeVersion, b: KubeVersion): number => a.major - b.major || a.minor - b.minor;

/** The Kubernetes range an Istio version is supported on; undefined where the matrix has no row for its minor. */
export function kubeSupportOf(istio: IstioVersion): KubeRange | undefined {
  return ISTIO_KUBE_SUPPORT[`${istio.major}.${istio.minor}`];
}

export type Support = 'supported' | 'unsupported' | 'unknown';

/** Whether `istio` is supported on `kube`: `unknown` for a minor the matrix does not list (older or newer). */
export function supportOn(istio: IstioVersion, kube: KubeVersion): Support {
  const r = kubeSupportOf(istio);
  if (!r) return 'unknown';
  return kubeCompare(kube, r.min) >= 0 && kubeCompare(kube, r.max) <= 0 ? 'supported' : 'unsupported';
}

/** One line naming both ranges: `Istio 1.31.0 supports Kubernetes 1.32-1.37; this cluster runs 1.31`. */
export function unsupportedLine(istio: IstioVersion, kube: KubeVersion): string {
  const r = kubeSupportOf(istio);
  const supported = r ? `supports Kubernetes ${formatKubeRange(r)}` : 'has no known Kubernetes support range';
  return `Istio ${formatIstioVersion(istio)} ${supported}; this cluster runs Kubernetes ${formatKube(kube)}`;
}

/** Releases (no `-rc`/`-dev` suffix) parsed from version texts, newest first, each once. */
export function releases(texts: readonly string[]): IstioVersion[] {
  const parsed = texts
    .map(parseIstioVersion)
    .filter((v): v is IstioVersion => v !== undefined && v.suffix === '')
    .sort((a, b) => compareVersions(b, a));
  return parsed.filter((v, i) => i === 0 || compareVersions(v, parsed[i - 1] as IstioVersion) !== 0);
}

/** Whether `istio` is held back because this Kubernetes is older than any it supports. */
const needsNewerKube = (istio: IstioVersion, kube: KubeVersion): boolean => {
  const r = kubeSupportOf(istio);
  return r !== undefined && kubeCompare(kube, r.min) < 0;
};

/** The target when the values name no Istio version: the newest available one this Kubernetes supports. */
export interface AutoTarget {
  /** Undefined when no available version is supported on this Kubernetes. */
  target: IstioVersion | undefined;
  /** Newer available versions passed over because this Kubernetes is older than their range, newest first. */
  passedOver: IstioVersion[];
}

/**
 * The newest of `available` that `kube` supports; a version the matrix does not know is taken only when no known
 * version is supported (a newer istioctl than this installer knows of is not guessed to be safe).
 */
export function autoTarget(available: readonly string[], kube: KubeVersion): AutoTarget {
  const all = releases(available);
  const target =
    all.find((v) => supportOn(v, kube) === 'supported') ?? all.find((v) => supportOn(v, kube) === 'unknown');
  const newer = target ? all.filter((v) => compareVersions(v, target) > 0) : all;
  return { target, passedOver: newer.filter((v) => needsNewerKube(v, kube)) };
}

/**
 * What `plan`, the Job log, NOTES and `status` say when a newer Istio is held back by the cluster's Kubernetes:
 * `Istio 1.31.0 needs Kubernetes >= 1.32; this cluster runs 1.31: installed 1.29.6; upgrade Kubernetes, then upgrade
 * again`. Undefined when nothing was passed over.
 */
export function heldBackLine(auto: AutoTarget, kube: KubeVersion): string | undefined {
  const newest = auto.passedOver[0];
  const r = newest && kubeSupportOf(newest);
  if (!newest || !r || !auto.target) return undefined;
  return `Istio ${formatIstioVersion(newest)} needs Kubernetes >= ${formatKube(r.min)}; this cluster runs ${formatKube(kube)}: installed ${formatIstioVersion(auto.target)}; upgrade Kubernetes, then upgrade again`;
}

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
export function steppedPath(
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
