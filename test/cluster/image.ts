// Reproduces the product container image (see Dockerfile) for the process kubelet: `istio-installer` and the newest
// `istioctl` on PATH, every bundled istioctl at `$ISTIOCTL_DIR/<version>/istioctl`, its ENV/WORKDIR/ENTRYPOINT/CMD.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_ISTIO_VERSIONS, DEFAULT_ISTIO_TAG } from '../../src/overlay/values-schema.js';
import { toolPaths, type ToolPaths } from './tools.js';

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
}

/**
 * `dir/<version>/istioctl` for each version the image bundles (BUNDLED_ISTIO_VERSIONS, the Dockerfile's list) and no
 * other: the tool cache also holds 1.23.2 and 1.24.1, which an installer given the cache's `istioctl/` as
 * ISTIOCTL_DIR would count as bundled.
 */
export function bundledIstioctlDir(dir: string, tools: ToolPaths = toolPaths()): string {
  for (const version of BUNDLED_ISTIO_VERSIONS) {
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
export function buildImageLayout(dir: string, tools: ToolPaths, repoRoot: string = REPO_ROOT): ImageLayout {
  const bin = join(dir, 'bin');
  const istioctlDir = join(dir, 'istioctl');
  mkdirSync(bin, { recursive: true });
  bundledIstioctlDir(istioctlDir, tools);
  symlinkSync(tools.istioctl[DEFAULT_ISTIO_TAG], join(bin, 'istioctl'));
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
