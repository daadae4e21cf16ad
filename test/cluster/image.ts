// Reproduces the product container image (see Dockerfile) for the process kubelet: `istio-installer` and the newest
// `istioctl` on PATH, every bundled istioctl at `$ISTIOCTL_DIR/<version>/istioctl`, its ENV/WORKDIR/ENTRYPOINT/CMD.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_ISTIO_VERSIONS, DEFAULT_ISTIO_TAG } from '../../src/overlay/values-schema.js';
import { RIG_ISTIO_VERSIONS, toolPaths, type RigIstioVersion, type ToolPaths } from './tools.js';

/**
 * The tag of a variant of the product image that bundles only `keep` (test/container/variant-image.ts derives it with
 * buildah): the product image's version, what it keeps, and the product image's ID (which renews the variant).
 */
export function variantTag(version: string, keep: readonly string[], productImageId: string): string {
  return `${version}-only-${keep.join('_')}-${productImageId.slice(0, 12)}`;
}

/** The bundled Istio versions a variant tag names, or undefined for any other tag (the image bundles them all). */
export function variantVersions(tag: string): RigIstioVersion[] | undefined {
  const kept = /-only-([0-9._]+)-[0-9a-z]+$/.exec(tag)?.[1]?.split('_');
  return kept?.every((v): v is RigIstioVersion => (RIG_ISTIO_VERSIONS as readonly string[]).includes(v))
    ? kept
    : undefined;
}

/** The checkout whose `bin/istio-installer.js` (and built `dist/`) the rig runs. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ImageLayout {
  /** Directories that go first on the pod's PATH. */
  path: string[];
  /** Environment the image sets (the pod's own env overrides it). */
  env: Record<string, string>;
  /** The image's ENTRYPOINT and CMD, used when a container sets no `command` (or no `args`). */
  entrypoint: string[];
  cmd: string[];
  /** The image's WORKDIR, used when a container sets no `workingDir`. */
  workingDir: string;
  /** Host directories the image's files live in; they stay visible whatever a pod mounts over them (an emptyDir on /tmp). */
  hostPaths: string[];
  /** Directories of the image a process sees at their image path (read-only bind mounts): the image's mirror. */
  imageMounts: { source: string; target: string }[];
}

/** Where the Dockerfile puts the release mirror it fills with the bundled releases (`mirror serve --dir` of the chart). */
export const IMAGE_MIRROR_DIR = '/usr/share/istio-mirror';

/**
 * A release mirror with no release in it: the image's `/usr/share/istio-mirror` for host processes. Making the bundled
 * releases' archives from the tool cache's istioctls would cost a minute of gzip at every rig start; a test that needs
 * releases served gives them as the chart's extra releases, which is what an air-gapped site does.
 */
export function emptyMirror(dir: string): string {
  mkdirSync(join(dir, 'releases'), { recursive: true });
  writeFileSync(
    join(dir, 'releases', 'index.json'),
    JSON.stringify({ schemaVersion: 1, versions: [] }) + '\n',
  );
  return dir;
}

/**
 * `dir/<version>/istioctl` for each version the image bundles (BUNDLED_ISTIO_VERSIONS, the Dockerfile's list) and no
 * other: the tool cache also holds 1.23.2 and 1.24.1, which an installer given the cache's `istioctl/` as
 * ISTIOCTL_DIR would count as bundled.
 */
export function bundledIstioctlDir(
  dir: string,
  tools: ToolPaths = toolPaths(),
  versions: readonly RigIstioVersion[] = BUNDLED_ISTIO_VERSIONS,
): string {
  for (const version of versions) {
    mkdirSync(join(dir, version), { recursive: true });
    symlinkSync(tools.istioctl[version], join(dir, version, 'istioctl'));
  }
  return dir;
}

let processIstioctlDir: string | undefined;
/** One bundledIstioctlDir per test process, in a temp dir, for installers run outside the rig's image. */
export function imageIstioctlDir(): string {
  processIstioctlDir ??= bundledIstioctlDir(
    join(mkdtempSync(join(tmpdir(), 'rancher-istio-bundled-')), 'istioctl'),
  );
  return processIstioctlDir;
}

/**
 * Builds the layout under `dir`. ISTIOCTL_DIR points at `dir/istioctl` rather than the image's default
 * `/usr/local/lib/istioctl`, so nothing is written outside the cluster's directory.
 */
export function buildImageLayout(
  dir: string,
  tools: ToolPaths,
  repoRoot: string = REPO_ROOT,
  versions: readonly RigIstioVersion[] = BUNDLED_ISTIO_VERSIONS,
): ImageLayout {
  const bin = join(dir, 'bin');
  const mirror = emptyMirror(join(dir, 'mirror'));
  const istioctlDir = join(dir, 'istioctl');
  mkdirSync(bin, { recursive: true });
  bundledIstioctlDir(istioctlDir, tools, versions);
  // The Dockerfile links the newest bundled release onto PATH.
  const newest = versions.includes(DEFAULT_ISTIO_TAG) ? DEFAULT_ISTIO_TAG : versions.at(-1);
  if (newest) symlinkSync(tools.istioctl[newest], join(bin, 'istioctl'));
  // The image's `istio-installer` runs the repo's CLI (package.json's bin entry) with the node running the rig.
  const wrapper = join(bin, 'istio-installer');
  const script = join(repoRoot, installerBin(repoRoot));
  writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${script}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  // ENV, WORKDIR, ENTRYPOINT and CMD as the Dockerfile sets them.
  return {
    path: [bin],
    env: { ISTIOCTL_DIR: istioctlDir, NODE_ENV: 'production', HOME: '/tmp', TMPDIR: '/tmp' },
    entrypoint: [wrapper],
    cmd: ['--help'],
    workingDir: '/tmp',
    hostPaths: [
      ...new Set([
        repoRoot,
        dir,
        dirname(process.execPath),
        ...Object.values(tools.istioctl).map((p) => dirname(p)),
      ]),
    ],
    imageMounts: [{ source: mirror, target: IMAGE_MIRROR_DIR }],
  };
}

function installerBin(repoRoot: string): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>;
  };
  const entry = pkg.bin?.['istio-installer'];
  if (!entry) throw new Error(`package.json of ${repoRoot} has no bin entry istio-installer`);
  return entry;
}
