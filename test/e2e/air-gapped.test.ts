// Air-gapped upgrade on the rig: the "image" bundles only istioctl N (1.31.0); N-1 (1.30.4) comes from a release
// mirror (`istio-installer mirror serve`) filled with `mirror add`, verified against its index and cached. The
// N-1 install and the rollback of a failed N upgrade both use that istioctl.
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, symlinkSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { toolPaths } from '../cluster/tools.js';
import { BIN, cli, valuesFile } from './helpers.js';
import { freePort } from '../cluster/rig.js';

let cluster: Cluster;
let dir: string;
let mirror: ReturnType<typeof execa> | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 2 });
  dir = mkdtempSync(path.join(tmpdir(), 'e2e-airgap-'));
  const tools = toolPaths();

  // The image's istioctl directory, with N only.
  const bundled = path.join(dir, 'istioctl');
  mkdirSync(path.join(bundled, '1.31.0'), { recursive: true });
  symlinkSync(tools.istioctl['1.31.0'], path.join(bundled, '1.31.0', 'istioctl'));

  // A release archive of N-1 as Istio publishes it, added to the mirror.
  const staging = path.join(dir, 'staging');
  mkdirSync(staging);
  copyFileSync(tools.istioctl['1.30.4'], path.join(staging, 'istioctl'));
  const archive = path.join(dir, 'istioctl-1.30.4-linux-amd64.tar.gz');
  await execa('tar', ['-czf', archive, '-C', staging, 'istioctl']);
  const mirrorDir = path.join(dir, 'mirror');
  mkdirSync(mirrorDir);
  const added = await execa(process.execPath, [BIN, 'mirror', 'add', '--dir', mirrorDir, archive], {
    reject: false,
  });
  expect(`${added.exitCode} ${added.stderr}`).toMatch(/^0 /);

  const port = await freePort();
  mirror = execa(
    process.execPath,
    [BIN, 'mirror', 'serve', '--dir', mirrorDir, '--port', String(port), '--host', '127.0.0.1'],
    { reject: false },
  );
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  env = {
    ISTIOCTL_DIR: bundled,
    RELEASE_MIRROR_URL: `http://127.0.0.1:${port}`,
    TMPDIR: path.join(dir, 'tmp'),
  };
  mkdirSync(env.TMPDIR as string);
});

afterAll(async () => {
  mirror?.kill('SIGTERM');
  await mirror?.catch(() => undefined);
  await cluster?.stop();
});

const values = (tag: string, extra = '', readinessSeconds = 120) =>
  valuesFile(
    dir,
    `values-${Math.random().toString(36).slice(2)}.yaml`,
    `tag: "${tag}"\ninstaller:\n  timeouts:\n    readinessSeconds: ${readinessSeconds}\n${extra}`,
  );

test('installing N-1 downloads its istioctl from the mirror, verified, and caches it', async () => {
  const result = await cli(['install', '-f', values('1.30.4')], cluster.kubeconfigPath, env);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stderr).toContain('downloading istioctl from the release mirror');
  expect(result.stderr).toContain('istioctl verified and cached');
  expect(
    existsSync(
      path.join(env.TMPDIR as string, 'istio-installer', 'istioctl', '1.30.4', 'linux-amd64', 'istioctl'),
    ),
  ).toBe(true);
});

test("a failed upgrade to N is rolled back with N-1's istioctl from the mirror cache", async () => {
  const unschedulable = 'upgrade:\n  rollbackOnFailure: true\nnodeSelector:\n  no-such-node: "true"\n';
  const result = await cli(
    ['install', '-f', values('1.31.0', unschedulable, 10)],
    cluster.kubeconfigPath,
    env,
  );
  expect([4, 5]).toContain(result.exitCode);
  expect(result.stderr).toContain('- roll back to Istio 1.30.4');
  expect(result.stderr).toMatch(/using istioctl 1\.30\.4 from the cache/);
  const status = JSON.parse((await cli(['status', '-o', 'json'], cluster.kubeconfigPath, env)).stdout) as {
    revisions: { version: string }[];
    lastApplied: { outcome: string; istioVersion: string };
  };
  expect(status.lastApplied).toMatchObject({ outcome: 'rolled-back', istioVersion: '1.30.4' });
  expect(status.revisions.map((r) => r.version)).toEqual(['1.30.4']);
});

test('a version neither bundled nor on the mirror is refused with exit 3 naming the mirror', async () => {
  // 1.30.3: one this rig's Kubernetes (1.36) supports, so that the missing istioctl, not the version, is refused.
  const result = await cli(
    ['install', '-f', values('1.30.3', 'forceInstall: true\n')],
    cluster.kubeconfigPath,
    env,
  );
  expect(result.exitCode).toBe(3);
  expect(result.stderr).toContain(env.RELEASE_MIRROR_URL);
  expect(result.stderr).toMatch(/1\.30\.3/);
});
