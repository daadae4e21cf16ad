// Istio versions compared as numbers (istioctl's own skew checks compared strings: "1.9" > "1.10").
export interface IstioVersion {
  major: number;
  minor: number;
  patch: number;
  /** `-rc.1`, `-distroless`, ...: kept for display, ignored when comparing releases. */
  suffix: string;
}

const VERSION = /^v?(\d+)\.(\d+)(?:\.(\d+))?(.*)$/;

/** Parses `1.31.0`, `1.30.4-distroless`, `v1.29`; undefined for anything else (`latest`, a digest). */
export function parseIstioVersion(text: string): IstioVersion | undefined {
  const match = VERSION.exec(text.trim());
  if (!match) return undefined;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3] ?? 0),
    suffix: match[4] ?? '',
  };
}

export function formatIstioVersion(version: IstioVersion): string {
  return `${version.major}.${version.minor}.${version.patch}`;
}

/** Negative, zero or positive, like a sort comparator; suffixes are ignored. */
export function compareVersions(a: IstioVersion, b: IstioVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** How many minor releases `to` is ahead of `from` (negative for a downgrade); a major change counts as 100. */
export function minorDistance(from: IstioVersion, to: IstioVersion): number {
  return (to.major - from.major) * 100 + (to.minor - from.minor);
}

/** The revision name for a canary of this version: `1-31-0`. */
export function revisionName(version: IstioVersion): string {
  return `${version.major}-${version.minor}-${version.patch}`;
}

/**
 * The revision of an intermediate hop of a stepped upgrade, named by its minor alone (`1-27`): which patch a hop uses
 * depends on the istioctl found at run time, and the chart's RBAC must name every revision before that.
 */
export function transitRevisionName(version: IstioVersion): string {
  return `${version.major}-${version.minor}`;
}

/** The version an image reference carries in its tag (`.../pilot:1.31.0-distroless` -> 1.31.0). */
export function versionOfImage(image: string): IstioVersion | undefined {
  const withoutDigest = image.split('@')[0] ?? image;
  const colon = withoutDigest.lastIndexOf(':');
  if (colon < 0 || withoutDigest.slice(colon).includes('/')) return undefined;
  return parseIstioVersion(withoutDigest.slice(colon + 1));
}

/** Whether a revision is a stepped upgrade's transit revision (`1-27`): a path that has not reached its target. */
export const isTransitRevision = (revision: string): boolean => /^\d+-\d+$/.test(revision);
