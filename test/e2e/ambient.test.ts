// Ambient mode on a real API server with real istioctl 1.30.4 and 1.31.0: install with ztunnel and istio-cni, an
// in-place upgrade (plan's order and ztunnel warning; istio-cni rolled before ztunnel), status, and uninstall.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { cli, valuesFile } from './helpers.js';

const NAMESPACE = 'istio-system';
let cluster: Cluster;
let dir: string;
let kubeconfig: string;

const values = (tag: string) =>
  valuesFile(
    dir,
    `ambient-${tag}.yaml`,
    `tag: "${tag}"\nambient:\n  enabled: true\ncni:\n  platform: rke2\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n`,
  );

interface DaemonSet {
  metadata: { managedFields?: { manager: string; time: string; operation: string }[] };
  spec: { template: { spec: { containers: { image: string }[]; nodeSelector?: Record<string, string> } } };
  status: { numberReady: number; desiredNumberScheduled: number };
}

const daemonSet = (name: string) =>
  cluster.kube.get<DaemonSet>(`/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/${name}`);

/** When istioctl last applied the object (its server-side apply entry). */
const appliedAt = (ds: DaemonSet) =>
  ds.metadata.managedFields?.find((f) => f.manager === 'istio-operator' && f.operation === 'Apply')?.time ??
  '';

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 30 * 60_000, nodes: 2 });
  dir = mkdtempSync(path.join(tmpdir(), 'e2e-ambient-'));
  kubeconfig = cluster.kubeconfigPath;
});

afterAll(async () => {
  await cluster?.stop();
});

test('ambient install of 1.30.4: istiod, istio-cni-node and ztunnel ready on every node, no gateway', async () => {
  const result = await cli(['install', '-f', values('1.30.4')], kubeconfig);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.exitCode).toBe(0);
  expect(result.stderr).toContain(
    "order (istioctl's): base, then the control plane and istio-cni side by side",
  );
  for (const name of ['istio-cni-node', 'ztunnel']) {
    const ds = await daemonSet(name);
    expect(ds.status.desiredNumberScheduled).toBe(2);
    expect(ds.status.numberReady).toBe(2);
    expect(ds.spec.template.spec.containers[0]?.image).toMatch(/:1\.30\.4/);
    expect(ds.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
  }
  const gateways = await cluster.kube.get<{ items: unknown[] }>(
    `/apis/apps/v1/namespaces/${NAMESPACE}/deployments?labelSelector=app%3Distio-ingressgateway`,
  );
  expect(gateways.items).toEqual([]);
});

test('status shows the node agents and an enrolled namespace', async () => {
  await cluster.kubectl(['create', 'namespace', 'shop']);
  await cluster.kubectl(['label', 'namespace', 'shop', 'istio.io/dataplane-mode=ambient']);
  const status = await cli(['status'], kubeconfig);
  expect(status.exitCode).toBe(0);
  expect(status.stdout).toContain(`node agent ${NAMESPACE}/ztunnel: Istio 1.30.4, 2/2 pods ready`);
  expect(status.stdout).toContain('    ambient: shop');
});

test('in-place upgrade to 1.31.0: plan warns about ztunnel restarts; istio-cni is applied before ztunnel', async () => {
  const plan = await cli(['plan', '-f', values('1.31.0')], kubeconfig);
  expect(plan.exitCode).toBe(0);
  expect(plan.stderr + plan.stdout).toContain('warning: a ztunnel restart cuts the existing connections');
  const result = await cli(['install', '-f', values('1.31.0')], kubeconfig);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toMatch(/^upgrade-in-place: Istio 1\.31\.0/);
  const [cni, ztunnel] = await Promise.all([daemonSet('istio-cni-node'), daemonSet('ztunnel')]);
  expect(cni.spec.template.spec.containers[0]?.image).toMatch(/:1\.31\.0/);
  expect(ztunnel.spec.template.spec.containers[0]?.image).toMatch(/:1\.31\.0/);
  expect(appliedAt(ztunnel) >= appliedAt(cni)).toBe(true);
});

test('uninstall removes ztunnel and istio-cni and says what stays on the nodes', async () => {
  const result = await cli(['uninstall'], kubeconfig);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toMatch(/^uninstalled Istio revisions default and istio-cni-node, ztunnel/);
  expect(result.stderr).toContain('What stays: the namespace labels istio.io/dataplane-mode');
  const left = await cluster.kube.get<{ items: unknown[] }>(
    `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets`,
  );
  expect(left.items).toEqual([]);
});
