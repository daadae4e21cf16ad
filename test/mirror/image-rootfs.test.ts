// The image's file tree, assembled by docker/build-rootfs.sh from a local mirror standing in for GitHub, and the
// Dockerfile's own rules (no container engine runs here, so these are the checks that can).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readIndex, addToMirror } from '../../src/mirror/store.js';
import { startMirrorServer, type MirrorServer } from '../../src/mirror/server.js';
import { makeTarball, recordingLog, tempDir } from './helpers.js';

const VERSIONS = ['1.30.3', '1.31.0'];
const ARCHES = ['amd64', 'arm64'];
let work: ReturnType<typeof tempDir>;
let upstream: MirrorServer;
let pins: string;
let releaseUrl: string;

beforeAll(async () => {
  work = tempDir();
  const files = VERSIONS.flatMap((v) =>
    ARCHES.flatMap((a) => [
      makeTarball(work.path, 'release', v, a),
      makeTarball(work.path, 'istioctl', v, a),
    ]),
  );
  await addToMirror(join(work.path, 'github'), files, recordingLog());
  upstream = await startMirrorServer({
    dir: join(work.path, 'github'),
    port: 0,
    host: '127.0.0.1',
    log: recordingLog(),
  });
  releaseUrl = `${upstream.url}/istio/istio/releases/download`;
  pins = join(work.path, 'pins.txt');
  writeFileSync(
    pins,
    files
      .map(
        (file) =>
          `${createHash('sha256').update(readFileSync(file)).digest('hex')}  ${file.slice(work.path.length + 1)}\n`,
      )
      .join(''),
  );
});
afterAll(async () => {
  await upstream.close();
  work.remove();
});

const buildRootfs = (out: string, env: Record<string, string> = {}) =>
  execa('sh', [resolve('docker/build-rootfs.sh')], {
    reject: false,
    env: {
      ISTIO_VERSIONS: VERSIONS.join(' '),
      TARGETARCH: 'arm64',
      CHECKSUMS: pins,
      APP_SRC: resolve('.'),
      ISTIO_RELEASE_URL: releaseUrl,
      OUT: out,
      ...env,
    },
  });

test('assembles mirror, per-version istioctl for TARGETARCH, the default istioctl and the CLI entrypoint', async () => {
  const out = join(work.path, 'rootfs');
  const result = await buildRootfs(out);
  expect(result.stderr).toMatch(
    /build-rootfs: istioctl 1\.30\.3 1\.31\.0 for linux-arm64; mirror with amd64 arm64; default 1\.31\.0/,
  );
  expect(result.exitCode).toBe(0);
  for (const version of VERSIONS) {
    const istioctl = join(out, 'usr/local/lib/istioctl', version, 'istioctl');
    expect(lstatSync(istioctl).isSymbolicLink()).toBe(true);
    expect((await execa(istioctl)).stdout).toBe(`client version: ${version} (arm64)`);
  }
  expect(readlinkSync(join(out, 'usr/local/bin/istioctl'))).toBe('../lib/istioctl/1.31.0/istioctl');
  expect((await execa(join(out, 'usr/local/bin/istioctl'))).stdout).toContain('1.31.0 (arm64)');

  const mirror = join(out, 'usr/share/istio-mirror');
  const index = await readIndex(mirror);
  const names = index.versions.flatMap((v) => v.files.map((f) => f.name));
  for (const v of VERSIONS)
    for (const a of ARCHES)
      expect(names).toEqual(
        expect.arrayContaining([
          `istio-${v}-linux-${a}.tar.gz`,
          `istioctl-${v}-linux-${a}.tar.gz`,
          `istioctl-${v}-linux-${a}`,
        ]),
      );
  expect(existsSync(join(out, '.downloads'))).toBe(false);

  // The entrypoint as the image runs it, with no node_modules next to the app: its `#!` line starts the image's Node
  // from the start-up snapshot, which the runtime stage builds from the rootfs (Dockerfile); here this Node builds it.
  const entry = join(out, 'usr/local/bin/istio-installer');
  expect(existsSync(join(out, 'opt/istio-installer/node_modules'))).toBe(false);
  expect(readFileSync(entry, 'utf8').split('\n')[0]).toBe(
    '#!/usr/local/bin/node --snapshot-blob=/opt/istio-installer/istio-installer.blob',
  );
  const blob = join(work.path, 'istio-installer.blob');
  const snapshotSource = join(out, 'opt/istio-installer/dist/snapshot/istio-installer.cjs');
  await execa(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', snapshotSource]);
  const fromSnapshot = (args: string[]) =>
    execa(process.execPath, [`--snapshot-blob=${blob}`, entry, ...args], { reject: false, cwd: work.path });
  // mirror and help are outside the snapshot: it runs the rootfs's bundle for them.
  expect((await fromSnapshot(['mirror', 'verify', '--dir', mirror])).exitCode).toBe(0);
  expect((await fromSnapshot(['--help'])).stdout).toMatch(/mirror/);
  expect((await fromSnapshot(['schema'])).stdout).toMatch(/"\$schema"/);
  // Handed to Node without the snapshot, the launcher runs the rootfs's bin.
  expect((await execa(process.execPath, [entry, '--version'], { cwd: work.path })).stdout).toMatch(
    /^\d+\.\d+\.\d+$/,
  );
});

test('a download whose sha256 differs from its pin stops the build, naming the file', async () => {
  const bad = join(work.path, 'bad-pins.txt');
  writeFileSync(
    bad,
    readFileSync(pins, 'utf8').replace(
      /^[0-9a-f]{64}(?= {2}istioctl-1\.31\.0-linux-arm64\.tar\.gz)/m,
      'f'.repeat(64),
    ),
  );
  const result = await buildRootfs(join(work.path, 'rootfs-bad'), { CHECKSUMS: bad });
  expect(result.exitCode).toBe(1);
  expect(result.stderr).toMatch(
    /sha256 mismatch for istioctl-1\.31\.0-linux-arm64\.tar\.gz: got [0-9a-f]{64}, pinned f{64}/,
  );
  expect(existsSync(join(work.path, 'rootfs-bad/usr/share/istio-mirror'))).toBe(false);
});

test('an unpinned file, a version missing upstream and an unsupported arch stop the build', async () => {
  const unpinned = join(work.path, 'few-pins.txt');
  writeFileSync(
    unpinned,
    readFileSync(pins, 'utf8')
      .split('\n')
      .filter((l) => !l.includes('istio-1.30.3-linux-amd64'))
      .join('\n'),
  );
  const noPin = await buildRootfs(join(work.path, 'r1'), { CHECKSUMS: unpinned });
  expect(noPin.exitCode).toBe(1);
  expect(noPin.stderr).toMatch(/no pinned sha256 for istio-1\.30\.3-linux-amd64\.tar\.gz/);

  writeFileSync(
    join(work.path, 'pins-1.29.txt'),
    `${'a'.repeat(64)}  istio-1.29.9-linux-amd64.tar.gz\n${'a'.repeat(64)}  istioctl-1.29.9-linux-amd64.tar.gz\n`,
  );
  const missing = await buildRootfs(join(work.path, 'r2'), {
    ISTIO_VERSIONS: '1.29.9',
    TARGETARCH: 'amd64',
    MIRROR_ARCHES: 'amd64',
    CHECKSUMS: join(work.path, 'pins-1.29.txt'),
  });
  expect(missing.exitCode).toBe(1);
  expect(missing.stderr).toContain(`download of ${releaseUrl}/1.29.9/istio-1.29.9-linux-amd64.tar.gz failed`);

  const arch = await buildRootfs(join(work.path, 'r3'), { TARGETARCH: 's390x' });
  expect(arch.exitCode).toBe(1);
  expect(arch.stderr).toMatch(/unsupported TARGETARCH 's390x'/);
  const version = await buildRootfs(join(work.path, 'r4'), { ISTIO_VERSIONS: '1.30.3 ../x' });
  expect(version.stderr).toMatch(/'\.\.\/x' is not an Istio version/);
});

test('pin-checksums.sh writes the pins from the published .sha256 files', async () => {
  const written = join(work.path, 'pinned.txt');
  const result = await execa('sh', [resolve('docker/pin-checksums.sh')], {
    reject: false,
    env: { ISTIO_VERSIONS: VERSIONS.join(' '), ISTIO_RELEASE_URL: releaseUrl, CHECKSUMS: written },
  });
  expect(result.exitCode).toBe(0);
  const lines = readFileSync(written, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  expect(lines.sort()).toEqual(readFileSync(pins, 'utf8').trim().split('\n').sort());
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  // Instructions with their continuation lines joined, comments dropped.
  const instructions = dockerfile
    .replace(/\\\n(\s*#.*\n)*/g, ' ')
    .split('\n')
    .filter((line) => line.trim() && !line.trimStart().startsWith('#'));
  const stages = instructions.reduce<string[][]>((all, line) => {
    if (/^FROM /.test(line)) all.push([]);
    all[all.length - 1]?.push(line);
    return all;
  }, []);
  const final = stages[stages.length - 1]!;

  test('runs as the numeric non-root user with the CLI as entrypoint', () => {
    expect(final.filter((l) => l.startsWith('USER '))).toEqual(['USER 65532:65532']);
    expect(final).toContain('ENTRYPOINT ["/usr/local/bin/istio-installer"]');
    expect(final.join('\n')).toMatch(/ENV ISTIOCTL_DIR=\/usr\/local\/lib\/istioctl/);
  });

  test('builds with npm ci, bases on Node 24 slim, and removes package managers and sudo from the final stage', () => {
    expect(dockerfile).toMatch(/RUN npm ci /);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=docker\.io\/library\/node:24-[a-z]+-slim$/m);
    expect(final[0]).toBe('FROM ${NODE_IMAGE} AS runtime');
    const removal = final.find((l) => l.startsWith('RUN rm -rf'))!;
    for (const path of [
      '/usr/local/bin/npm',
      '/usr/local/bin/npx',
      '/usr/local/bin/corepack',
      '/usr/bin/apt-get',
      '/usr/bin/dpkg',
      '/usr/bin/sudo',
    ])
      expect(removal.split(/\s+/)).toContain(path);
    // Every other RUN of the final stage is in exec form (no shell), the start-up snapshot's build and its proof.
    expect(final.filter((l) => /^RUN /.test(l) && l !== removal)).toEqual([
      expect.stringMatching(/^RUN \["\/usr\/local\/bin\/node", "--snapshot-blob", /),
      'RUN ["/usr/local/bin/istio-installer", "--version"]',
    ]);
  });

  test('builds the start-up snapshot that the launcher starts Node from, with the Node that runs it', () => {
    const shebang = readFileSync('docker/istio-installer', 'utf8').split('\n')[0]!;
    const [, node, blob] = /^#!(\S+) --snapshot-blob=(\S+)$/.exec(shebang)!;
    const build = final.find((l) => l.includes('--build-snapshot'))!;
    expect(JSON.parse(build.slice('RUN '.length))).toEqual([
      node,
      '--snapshot-blob',
      blob,
      '--build-snapshot',
      '/opt/istio-installer/dist/snapshot/istio-installer.cjs',
    ]);
    // After the rootfs is in place, before the user changes: the blob is root's and read-only to the CLI.
    expect(final.indexOf(build)).toBeGreaterThan(
      final.findIndex((l) => l.startsWith('COPY --from=artifacts')),
    );
    expect(final.indexOf(build)).toBeLessThan(final.findIndex((l) => l.startsWith('USER ')));
  });

  test('never uses a floating tag, and every file it copies exists', () => {
    expect(dockerfile).not.toMatch(/:latest\b/);
    for (const line of instructions.filter((l) => /^COPY (?!--from)/.test(l))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources) expect(existsSync(source)).toBe(true);
    }
  });

  test('carries the OCI labels and one list of Istio versions', () => {
    for (const label of ['title', 'description', 'source', 'licenses', 'version', 'revision', 'created'])
      expect(dockerfile).toContain(`org.opencontainers.image.${label}=`);
    const defaults = [...dockerfile.matchAll(/^ARG ISTIO_VERSIONS="([^"]*)"$/gm)].map((m) => m[1]);
    expect(defaults).toHaveLength(2);
    expect(new Set(defaults).size).toBe(1);
  });
});
