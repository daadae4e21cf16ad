// Reads version, os and arch out of Istio's release file names, and orders Istio versions.

export type ReleaseOs = 'linux' | 'osx' | 'win';
export type ReleaseArch = 'amd64' | 'arm64' | 'armv7';
/** `release`: the whole Istio release; `istioctl-archive`: istioctl alone, packed; `istioctl`: the bare binary. */
export type ArtifactKind = 'release' | 'istioctl-archive' | 'istioctl';

export interface ReleaseName {
  name: string;
  kind: ArtifactKind;
  version: string;
  os: ReleaseOs;
  arch: ReleaseArch;
  format: 'tar.gz' | 'zip' | 'binary';
}

/** Istio tags: `1.30.3`, `1.31.0-rc.0`, `1.24.0-beta.1`, `1.22.0-alpha.0`; never a `v` prefix. */
const VERSION = String.raw`(\d{1,4})\.(\d{1,4})\.(\d{1,4})(?:-(alpha|beta|rc)\.(\d{1,4}))?`;
const VERSION_RE = new RegExp(`^${VERSION}$`);
// Older releases name macOS and Windows archives without an arch (`istio-1.20.0-osx.tar.gz`): those are amd64.
const ARCHIVE_RE = new RegExp(
  `^(istio|istioctl)-(${VERSION})-(linux|osx|win)(?:-(amd64|arm64|armv7))?\\.(tar\\.gz|zip)$`,
);
// The bare binaries `mirror add` extracts are stored under a name of our own, in the same version folder.
const BINARY_RE = new RegExp(`^istioctl-(${VERSION})-(linux|osx)-(amd64|arm64|armv7)$`);

export function isIstioVersion(text: string): boolean {
  return VERSION_RE.test(text);
}

/** Parses an artifact file name (no directory); undefined when it is not one of Istio's release files. */
export function parseReleaseName(name: string): ReleaseName | undefined {
  const archive = ARCHIVE_RE.exec(name);
  if (archive) {
    const [, product, version, , , , , , os, arch, format] = archive;
    return {
      name,
      kind: product === 'istio' ? 'release' : 'istioctl-archive',
      version: version!,
      os: os as ReleaseOs,
      arch: (arch ?? 'amd64') as ReleaseArch,
      format: format as 'tar.gz' | 'zip',
    };
  }
  const binary = BINARY_RE.exec(name);
  if (binary) {
    const [, version, , , , , , os, arch] = binary;
    return {
      name,
      kind: 'istioctl',
      version: version!,
      os: os as ReleaseOs,
      arch: arch as ReleaseArch,
      format: 'binary',
    };
  }
  return undefined;
}

/** The file name under which the bare istioctl of a version/os/arch is stored in the mirror. */
export function binaryName(version: string, os: ReleaseOs, arch: ReleaseArch): string {
  return `istioctl-${version}-${os}-${arch}`;
}

/** Orders versions numerically (1.9 < 1.10), pre-releases before their release (1.31.0-rc.0 < 1.31.0). */
export function compareVersions(a: string, b: string): number {
  const pa = VERSION_RE.exec(a);
  const pb = VERSION_RE.exec(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  for (const i of [1, 2, 3]) {
    const diff = Number(pa[i]) - Number(pb[i]);
    if (diff !== 0) return diff;
  }
  const stage = (m: RegExpExecArray): number => (m[4] ? ['alpha', 'beta', 'rc'].indexOf(m[4]) : 3);
  const stageDiff = stage(pa) - stage(pb);
  if (stageDiff !== 0) return stageDiff;
  return Number(pa[5] ?? 0) - Number(pb[5] ?? 0);
}
