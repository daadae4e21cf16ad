// Builds istioctl and pilot-discovery of the Istio releases older than the module proxy here serves (Rancher 2.12's
// 1.24.1 and 1.25.0, and the hops of the stepped upgrade) from the exact sources in ../shared/third-party, each
// archive checked against that directory's SHA256SUMS first.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/**
 * Istio releases the rig builds from source, older first: Rancher 2.12's starting points (1.23.2 of chart 104.5.0,
 * 1.24.1 of 105.5.1/107.0.0, 1.25.0 of 107.1.0) and the newest patch of each minor the stepped upgrade goes through.
 * Not part of ISTIO_VERSIONS: the installer image bundles none of them; tests reach them by name.
 */
export const SOURCE_ISTIO_BUILDS = [
  // Every one of these releases compiled docker.io/istio in as its hub (1.30 moved to registry.istio.io/release).
  { version: '1.23.2', hub: 'docker.io/istio' },
  { version: '1.24.1', hub: 'docker.io/istio' },
  { version: '1.25.0', hub: 'docker.io/istio' },
  { version: '1.27.9', hub: 'docker.io/istio' },
  { version: '1.29.6', hub: 'docker.io/istio' },
] as const;

export type SourceIstioVersion = (typeof SOURCE_ISTIO_BUILDS)[number]['version'];
export const SOURCE_ISTIO_VERSIONS: readonly SourceIstioVersion[] = SOURCE_ISTIO_BUILDS.map((b) => b.version);

/** Where the archives are: $RANCHER_ISTIO_THIRD_PARTY, else `../shared/third-party` beside the checkout. */
export function thirdPartyDir(): string {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return process.env.RANCHER_ISTIO_THIRD_PARTY ?? join(repoRoot, '..', 'shared', 'third-party');
}

export const istioArchiveName = (version: string): string => `istio-${version}-src.tar.gz`;

/** The sha256 SHA256SUMS pins for `file`, or a one-line reason it pins none. */
export function pinnedSha256(sums: string, file: string): string | undefined {
  for (const line of sums.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m && m[2] === file) return m[1];
  }
  return undefined;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The archive `name` in `dir`, checked against SHA256SUMS. Throws one line naming the file that is missing or does
 * not match: a build must fail, never quietly skip, when these sources are absent.
 */
export async function checkedThirdPartyArchive(name: string, dir: string = thirdPartyDir()): Promise<string> {
  const archive = join(dir, name);
  const sumsFile = join(dir, 'SHA256SUMS');
  const how = `(the sources in shared/third-party; set RANCHER_ISTIO_THIRD_PARTY to another copy)`;
  if (!existsSync(dir)) throw new Error(`needs the directory ${dir} ${how}`);
  if (!existsSync(sumsFile)) throw new Error(`needs ${sumsFile} ${how}`);
  if (!existsSync(archive)) throw new Error(`needs ${archive} ${how}`);
  const pinned = pinnedSha256(readFileSync(sumsFile, 'utf8'), name);
  if (!pinned) throw new Error(`${sumsFile} pins no ${name}`);
  const actual = await sha256Of(archive);
  if (actual !== pinned)
    throw new Error(`${archive}: sha256 ${actual} does not match ${pinned} pinned in ${sumsFile}`);
  return archive;
}

/** The Istio source archive of `version`, checked (see checkedThirdPartyArchive). */
export function checkedIstioArchive(version: string, dir: string = thirdPartyDir()): Promise<string> {
  return checkedThirdPartyArchive(istioArchiveName(version), dir);
}

/** Directories of an extracted archive besides `istio/`, each the local copy of the module its go.mod pins. */
const SIBLING_MODULES: Record<string, string> = {
  api: 'istio.io/api',
  'client-go': 'istio.io/client-go',
  // Only 1.27.9 carries it: its root-module pin of go-control-plane is refused by the proxy too.
  'go-control-plane': 'github.com/envoyproxy/go-control-plane',
};

/** The istio commit SOURCE.txt names (what `buildGitRevision` is in a release). */
export function istioCommit(sourceTxt: string): string {
  const m = /^istio\/\s+\S+\s+tag \S+\s+commit ([0-9a-f]{40})/m.exec(sourceTxt);
  if (!m?.[1]) throw new Error('SOURCE.txt names no istio commit');
  return m[1];
}

/** The ldflags Istio's release sets (common/scripts/report_build_info.sh with the release's VERSION and HUB). */
export function releaseLdflags(
  build: { version: string; hub: string },
  commit: string,
  arch: string,
): string[] {
  const v = 'istio.io/istio/pkg/version';
  return [
    '-s',
    '-w',
    `-X ${v}.buildVersion=${build.version}`,
    `-X ${v}.buildGitRevision=${commit}`,
    `-X ${v}.buildStatus=Clean`,
    `-X ${v}.buildTag=${build.version}`,
    `-X ${v}.buildHub=${build.hub}`,
    `-X ${v}.buildOS=linux`,
    `-X ${v}.buildArch=${arch}`,
  ];
}

export type GoRunner = (args: string[], cwd: string) => Promise<string>;

/**
 * Builds `pkg` (a package path inside istio.io/istio) of `build` into `out`: the checked archive extracted into a
 * temp dir, `istio/go.mod` pointed at the sibling module copies, every other module from the module proxy. Go's
 * build cache (keyed without the directory under -trimpath) lets the second binary of a version reuse the first's.
 */
export async function buildIstioFromSource(opts: {
  build: { version: string; hub: string };
  pkg: string;
  out: string;
  arch: string;
  go: GoRunner;
}): Promise<void> {
  const archive = await checkedIstioArchive(opts.build.version);
  const dir = mkdtempSync(join(tmpdir(), `rancher-istio-src-${opts.build.version}-`));
  try {
    await execa('tar', ['-xzf', archive, '-C', dir]);
    const istio = join(dir, 'istio');
    const replaces = Object.entries(SIBLING_MODULES)
      .filter(([sub]) => existsSync(join(dir, sub, 'go.mod')))
      .map(([sub, module]) => `-replace=${module}=../${sub}`);
    await opts.go(['mod', 'edit', ...replaces], istio);
    const commit = istioCommit(readFileSync(join(dir, 'SOURCE.txt'), 'utf8'));
    await opts.go(
      [
        'build',
        '-trimpath',
        '-ldflags',
        releaseLdflags(opts.build, commit, opts.arch).join(' '),
        '-o',
        opts.out,
        `./${opts.pkg}`,
      ],
      istio,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
