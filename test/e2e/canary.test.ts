// Revision-based upgrades on the rig with real istioctl: a canary next to the old revision, tags moved, the old
// revision kept while a namespace still uses it; and a failed in-place upgrade rolled back with the old istioctl.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { cli, valuesFile } from './helpers.js';

let cluster: Cluster;
let dir: string;

const values = (tag: string, extra = '', readinessSeconds = 120) =>
  valuesFile(
    dir,
    `values-${Math.random().toString(36).slice(2)}.yaml`,
    `tag: "${tag}"\ninstaller:\n  timeouts:\n    readinessSeconds: ${readinessSeconds}\n${extra}`,
  );

async function webhookService(name: string): Promise<string> {
  const webhook = await cluster.kube.get<{ webhooks: { clientConfig: { service: { name: string } } }[] }>(
    `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`,
  );
  return webhook.webhooks[0]?.clientConfig.service.name ?? '';
}

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 30 * 60_000, nodes: 2 });
  dir = mkdtempSync(path.join(tmpdir(), 'e2e-canary-'));
});

afterAll(async () => {
  await cluster?.stop();
});

describe('revision-based upgrade', () => {
  const canary = 'upgrade:\n  strategy: RevisionBased\n  revisionTags: [prod-stable]\n';

  test('a fresh install becomes revision 1-30-4 with the default and prod-stable tags on it', async () => {
    const result = await cli(['install', '-f', values('1.30.4', canary)], cluster.kubeconfigPath);
    expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
    expect(await webhookService('istio-revision-tag-default')).toBe('istiod-1-30-4');
    expect(await webhookService('istio-revision-tag-prod-stable')).toBe('istiod-1-30-4');
  });

  test('1.31.0 as revision 1-31-0: tags move, and the unused 1-30-4 is removed', async () => {
    const result = await cli(['install', '-f', values('1.31.0', canary)], cluster.kubeconfigPath);
    expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
    expect(result.stdout).toMatch(/revision 1-30-4 removed/);
    expect(await webhookService('istio-revision-tag-default')).toBe('istiod-1-31-0');
    const status = JSON.parse((await cli(['status', '-o', 'json'], cluster.kubeconfigPath)).stdout) as {
      revisions: { revision: string }[];
    };
    expect(status.revisions.map((r) => r.revision)).toEqual(['1-31-0']);
    expect((await cli(['uninstall'], cluster.kubeconfigPath)).exitCode).toBe(0);
    expect((await cli(['install', '-f', values('1.30.4', canary)], cluster.kubeconfigPath)).exitCode).toBe(0);
  });

  test('1.31.0 is installed next to it as 1-31-0, the tags move, and 1-30-4 stays while namespace apps uses it', async () => {
    await cluster.kubectl(['create', 'namespace', 'apps']);
    await cluster.kubectl(['label', 'namespace', 'apps', 'istio.io/rev=1-30-4']);
    const result = await cli(['install', '-f', values('1.31.0', canary)], cluster.kubeconfigPath);
    expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
    expect(result.stderr).toMatch(
      /plan: upgrade-canary\n\s+why: install 1\.31\.0 as revision 1-31-0 next to 1-30-4 \(1\.30\.4\)/,
    );
    expect(result.stderr).toContain('revision 1-30-4 is still used by 1: namespace apps');
    expect(result.stdout).toMatch(/revision 1-30-4 kept \(used by 1\)/);
    expect(await webhookService('istio-revision-tag-default')).toBe('istiod-1-31-0');
    expect(await webhookService('istio-revision-tag-prod-stable')).toBe('istiod-1-31-0');
    const status = JSON.parse((await cli(['status', '-o', 'json'], cluster.kubeconfigPath)).stdout) as {
      revisions: { revision: string; version: string; tags: string[] }[];
    };
    expect(status.revisions).toEqual([
      { revision: '1-30-4', version: '1.30.4', ready: '1/1', tags: [] },
      { revision: '1-31-0', version: '1.31.0', ready: '1/1', tags: ['default', 'prod-stable'] },
    ]);
  });

  test('uninstall removes every revision', async () => {
    const result = await cli(['uninstall'], cluster.kubeconfigPath);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/uninstalled Istio revisions 1-30-4, 1-31-0/);
  });
});

describe('rollbackOnFailure', () => {
  test("a failed in-place upgrade re-applies the last good spec with the old version's istioctl", async () => {
    const first = await cli(['install', '-f', values('1.30.4')], cluster.kubeconfigPath);
    expect(`${first.exitCode} ${first.stderr}`).toMatch(/^0 /);
    // The new version's gateway can never be scheduled, so istioctl's readiness wait fails.
    const unschedulable = 'upgrade:\n  rollbackOnFailure: true\nnodeSelector:\n  no-such-node: "true"\n';
    const failed = await cli(['install', '-f', values('1.31.0', unschedulable, 10)], cluster.kubeconfigPath);
    expect([4, 5]).toContain(failed.exitCode);
    expect(failed.stderr).toContain('- roll back to Istio 1.30.4');
    expect(failed.stderr).toContain('rolled back to Istio 1.30.4');
    const status = JSON.parse((await cli(['status', '-o', 'json'], cluster.kubeconfigPath)).stdout) as {
      revisions: { version: string }[];
      lastApplied: { outcome: string; istioVersion: string };
    };
    expect(status.lastApplied).toMatchObject({ outcome: 'rolled-back', istioVersion: '1.30.4' });
    expect(status.revisions.map((r) => r.version)).toEqual(['1.30.4']);
  });
});
