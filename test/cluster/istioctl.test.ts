// Smoke test of real istioctl on the rig, for both pinned versions: `manifest generate` offline (and what the admission
// check reads of its output), then `install -y --set profile=minimal` with istiod Ready and `uninstall --purge -y`
// removing it again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadAll } from 'js-yaml';
import { admissionObjects } from '../../src/installer/actions/preflight.js';
import type { AnyObject } from '../../src/installer/model/objects.js';
import { startCluster, type Cluster } from './rig.js';
import { ISTIO_HUB, ISTIO_VERSIONS, toolPaths } from './tools.js';
import { eventually } from './testkit.js';

describe('istioctl manifest generate (offline)', () => {
  test.each([...ISTIO_VERSIONS])(
    '%s renders the minimal profile with its own version and hub',
    async (version) => {
      const home = mkdtempSync(join(tmpdir(), 'rig-istioctl-'));
      try {
        // No kubeconfig and no network at all (a fresh network namespace has only a down loopback).
        const istioctl = toolPaths().istioctl[version];
        const args = ['manifest', 'generate', '--set', 'profile=minimal'];
        const r = await execa('unshare', ['--net', '--', istioctl, ...args], {
          reject: false,
          env: { HOME: home, KUBECONFIG: join(home, 'absent'), PATH: process.env.PATH ?? '' },
          extendEnv: false,
        });
        expect(r.stderr).not.toMatch(/error/i);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toMatch(/kind: Deployment\s*\nmetadata:\s*\n(\s+\S.*\n)*?\s+name: istiod\s*\n/);
        expect(r.stdout).toContain(`image: ${ISTIO_HUB}/pilot:${version}`);
        // The admission check parses only the documents it reads: exactly what parsing all of it would find.
        const read = new Set(['Namespace', 'Deployment', 'DaemonSet', 'StatefulSet']);
        const all = (loadAll(r.stdout) as AnyObject[]).filter((o) => o && read.has(o.kind ?? ''));
        expect(all.length).toBeGreaterThan(0);
        expect(admissionObjects(r.stdout)).toEqual(all);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
  );
});

describe.each([...ISTIO_VERSIONS])('istioctl %s install and uninstall against the rig', (version) => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 30 * 60_000, nodes: 3 });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const istioctl = (args: string[]) =>
    execa(cluster.tools.istioctl[version], [...args, `--kubeconfig=${cluster.kubeconfigPath}`], {
      reject: false,
      all: true,
    });

  test('install -y --set profile=minimal succeeds with istiod Ready', async () => {
    const r = await istioctl(['install', '-y', '--set', 'profile=minimal', '--readiness-timeout=3m']);
    expect(r.all).toMatch(/Installation complete/);
    expect(r.exitCode).toBe(0);

    const deploy = await cluster.kube.get<{
      spec: { template: { spec: { containers: { image: string }[] } } };
      status?: { readyReplicas?: number };
    }>('/apis/apps/v1/namespaces/istio-system/deployments/istiod');
    expect(deploy.status?.readyReplicas).toBeGreaterThanOrEqual(1);
    expect(deploy.spec.template.spec.containers[0]?.image).toBe(`${ISTIO_HUB}/pilot:${version}`);
  });

  test('uninstall --purge -y removes istiod and the Istio CRDs', async () => {
    const r = await istioctl(['uninstall', '--purge', '-y']);
    expect(r.exitCode).toBe(0);

    await eventually('istiod and the Istio CRDs to be gone', 120_000, async () => {
      const deploys = await cluster.kube.get<{ items: unknown[] }>(
        '/apis/apps/v1/namespaces/istio-system/deployments',
      );
      const crds = await cluster.kube.get<{ items: { metadata: { name: string } }[] }>(
        '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      );
      const istioCrds = crds.items.filter((c) => c.metadata.name.endsWith('.istio.io'));
      return deploys.items.length === 0 && istioCrds.length === 0 ? true : undefined;
    });
  });
});
