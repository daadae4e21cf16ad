// Ambient mode on a real API server with real istioctl 1.30.4 and 1.31.0: install with ztunnel and istio-cni, an
// in-place upgrade (Sail Operator's order: control plane, istio-cni, ztunnel; plan's ztunnel warning), status,
// uninstall, and a canary (revision-based) upgrade of an ambient mesh.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { cli, valuesFile } from './helpers.js';

const NAMESPACE = 'istio-system';
let cluster: Cluster;
let dir: string;
let kubeconfig: string;

const values = (tag: string, extra = '') =>
  valuesFile(
    dir,
    `ambient-${tag}-${Math.random().toString(36).slice(2)}.yaml`,
    `tag: "${tag}"\nambient:\n  enabled: true\ncni:\n  platform: rke2\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n${extra}`,
  );

interface DaemonSet {
  metadata: { name: string; generation?: number };
  spec: {
    template: {
      spec: {
        containers: { image: string; env?: { name: string; value?: string }[] }[];
        nodeSelector?: Record<string, string>;
      };
    };
  };
  status: {
    numberReady: number;
    desiredNumberScheduled: number;
    updatedNumberScheduled?: number;
    observedGeneration?: number;
  };
}

const daemonSet = (name: string) =>
  cluster.kube.get<DaemonSet>(`/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/${name}`);

const imageOf = (ds: DaemonSet) => ds.spec.template.spec.containers[0]?.image ?? '';

/** Rolled out: the controller saw the spec, and every scheduled pod (at least one) is updated and ready. */
const rolledOut = (ds: DaemonSet) =>
  (ds.status.observedGeneration ?? 0) >= (ds.metadata.generation ?? 0) &&
  ds.status.desiredNumberScheduled > 0 &&
  ds.status.updatedNumberScheduled === ds.status.desiredNumberScheduled &&
  ds.status.numberReady === ds.status.desiredNumberScheduled;

/**
 * Every state of the DaemonSets while `run` runs, in the order the apiserver stored them (a watch from the list's
 * resourceVersion: no sampling, no timestamps).
 */
async function daemonSetHistory<R>(run: () => Promise<R>): Promise<{ result: R; states: DaemonSet[] }> {
  const path = `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets`;
  const list = await cluster.kube.get<{ metadata: { resourceVersion: string } }>(path);
  const states: DaemonSet[] = [];
  const watch = cluster.kube.watch<DaemonSet>(
    `${path}?watch=1&allowWatchBookmarks=false&resourceVersion=${list.metadata.resourceVersion}`,
    (event) => {
      if (event.type === 'ADDED' || event.type === 'MODIFIED') states.push(event.object);
    },
  );
  try {
    const result = await run();
    return { result, states };
  } finally {
    watch.stop();
    await watch.ended;
  }
}

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

test("in-place upgrade to 1.31.0 in Sail Operator's order: the control plane, then istio-cni, then ztunnel; plan warns about ztunnel restarts", async () => {
  const plan = await cli(['plan', '-f', values('1.31.0')], kubeconfig);
  expect(plan.exitCode).toBe(0);
  expect(plan.stderr + plan.stdout).toContain('warning: a ztunnel restart cuts the existing connections');
  expect(plan.stderr + plan.stdout).toContain(
    'the control plane first (an istioctl run without istio-cni and ztunnel), then istio-cni, then ztunnel',
  );
  const { result, states } = await daemonSetHistory(() =>
    cli(['install', '-f', values('1.31.0')], kubeconfig),
  );
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stdout).toMatch(/^upgrade-in-place: Istio 1\.31\.0/);
  // The first istioctl run upgraded istiod and left both node agents running 1.30.4 (istioctl pruned nothing).
  const log = result.stderr;
  const first = log.indexOf(
    '- istioctl install (control plane first, revision default, without istio-cni and ztunnel)',
  );
  const kept = log.indexOf(
    'control plane ready; node agents still running: istio-cni-node 1.30.4, ztunnel 1.30.4; next istio-cni, then ztunnel',
  );
  const second = log.indexOf('- istioctl install (upgrade-in-place, revision default)');
  expect([first >= 0, kept > first, second > kept]).toEqual([true, true, true]);
  expect(log).not.toContain('the control-plane run removed');
  const [cni, ztunnel] = await Promise.all([daemonSet('istio-cni-node'), daemonSet('ztunnel')]);
  expect(cni.spec.template.spec.containers[0]?.image).toMatch(/:1\.31\.0/);
  expect(ztunnel.spec.template.spec.containers[0]?.image).toMatch(/:1\.31\.0/);
  // ztunnel's template changed only after istio-cni had rolled out 1.31.0 on every node: two distinct events of one
  // ordered stream, so neither a tie nor a missing event passes.
  const cniRolledOut = states.findIndex(
    (ds) => ds.metadata.name === 'istio-cni-node' && /:1\.31\.0/.test(imageOf(ds)) && rolledOut(ds),
  );
  const ztunnelChanged = states.findIndex(
    (ds) => ds.metadata.name === 'ztunnel' && /:1\.31\.0/.test(imageOf(ds)),
  );
  const seen = states.map(
    (ds) =>
      `${ds.metadata.name} ${imageOf(ds).split(':').at(-1)} ${ds.status.numberReady}/${ds.status.desiredNumberScheduled} ${rolledOut(ds) ? 'rolled-out' : ''}`,
  );
  const cniFirst = cniRolledOut >= 0 && ztunnelChanged > cniRolledOut;
  expect(cniFirst ? 'istio-cni rolled out before ztunnel changed' : seen.join('\n')).toBe(
    'istio-cni rolled out before ztunnel changed',
  );
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

// Istio's ambient upgrade: the control plane as a canary revision next to the old one, istio-cni and ztunnel (one
// DaemonSet each, not revisioned) upgraded in place to the new version and pointed at the new istiod, then the old
// revision removed once nothing uses it.
test('canary upgrade of an ambient mesh: 1-31-0 next to 1-30-4, ztunnel and istio-cni moved in place, 1-30-4 removed', async () => {
  const canary = 'upgrade:\n  strategy: RevisionBased\n';
  const first = await cli(['install', '-f', values('1.30.4', canary)], kubeconfig);
  expect(`${first.exitCode} ${first.stderr}`).toMatch(/^0 /);
  expect((await daemonSet('ztunnel')).spec.template.spec.containers[0]?.image).toMatch(/:1\.30\.4/);

  const plan = await cli(['plan', '-f', values('1.31.0', canary)], kubeconfig);
  expect(plan.exitCode).toBe(0);
  expect(plan.stdout + plan.stderr).toContain(
    'istio-cni and ztunnel are not revisioned: they move to revision 1-31-0 in place',
  );
  const result = await cli(['install', '-f', values('1.31.0', canary)], kubeconfig);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stdout).toMatch(/^upgrade-canary: Istio 1\.31\.0 \(revision 1-31-0\)/);
  expect(result.stdout).toMatch(/revision 1-30-4 removed/);

  const left = await cluster.kube.get<{ items: DaemonSet[] }>(
    `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets`,
  );
  expect(left.items.map((d) => d.metadata.name).sort()).toEqual(['istio-cni-node', 'ztunnel']);
  for (const ds of left.items) {
    expect(ds.spec.template.spec.containers[0]?.image).toMatch(/:1\.31\.0/);
    expect(ds.status.numberReady).toBe(2);
  }
  // ztunnel gets its certificates and configuration from the new revision's istiod.
  const env = (await daemonSet('ztunnel')).spec.template.spec.containers[0]?.env ?? [];
  expect(env.find((e) => e.name === 'XDS_ADDRESS')?.value).toBe(`istiod-1-31-0.${NAMESPACE}.svc:15012`);

  const status = JSON.parse((await cli(['status', '-o', 'json'], kubeconfig)).stdout) as {
    healthy: boolean;
    revisions: { revision: string }[];
    nodeAgents: { name: string; version: string; healthy: boolean }[];
  };
  expect(status.revisions.map((r) => r.revision)).toEqual(['1-31-0']);
  expect(status.nodeAgents.map((a) => `${a.name} ${a.version} ${a.healthy}`).sort()).toEqual([
    'istio-cni-node 1.31.0 true',
    'ztunnel 1.31.0 true',
  ]);
  expect(status.healthy).toBe(true);
});
