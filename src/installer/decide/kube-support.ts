// Which Kubernetes minors each Istio minor supports (Istio's published matrix), and the newest Istio a cluster can run
// of the versions at hand. Pure.
import {
  compareVersions,
  formatIstioVersion,
  parseIstioVersion,
  type IstioVersion,
} from '../model/istio-version.js';

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
