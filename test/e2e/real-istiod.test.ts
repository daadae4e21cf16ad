// The data plane's side of installs and upgrades, against a real istiod (pilot-discovery run by the rig's process
// kubelet): sidecar injection of the right revision, the validating webhook, a canary's tag move, a killed istiod
// seen as not ready, and no webhook left failing closed after uninstall.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { imageTag, istiodVersion } from '../cluster/real-istiod.js';
import { routesOffMachine } from '../cluster/netns.js';
import { podAddress } from '../cluster/pod-network.js';
import { eventually } from '../cluster/testkit.js';
import { cli, valuesFile } from './helpers.js';

describe('which pods are real istiod, and as which version', () => {
  const pod = (image: string, app = 'istiod') => ({
    metadata: { labels: { app } },
    spec: { containers: [{ name: 'discovery', image }] },
  });

  test('the tag decides, whatever the registry and image name; variants are the same build', () => {
    expect(imageTag('registry.example:5000/istio/pilot:1.31.0-distroless@sha256:abc')).toBe(
      '1.31.0-distroless',
    );
    expect(imageTag('localhost:5000/pilot')).toBeUndefined();
    expect(istiodVersion(pod('registry.istio.io/release/pilot:1.31.0')).version).toBe('1.31.0');
    expect(istiodVersion(pod('my.registry/rancher/mirrored-istio-pilot:1.30.4-distroless')).version).toBe(
      '1.30.4',
    );
    // The old releases built from source, by Istio's and by Rancher's image names.
    expect(istiodVersion(pod('docker.io/istio/pilot:1.24.1')).version).toBe('1.24.1');
    expect(istiodVersion(pod('docker.io/rancher/mirrored-istio-pilot:1.25.0-distroless')).version).toBe(
      '1.25.0',
    );
    expect(istiodVersion(pod('docker.io/istio/pilot:1.22.0')).version).toBeUndefined();
    expect(istiodVersion(pod('docker.io/istio/pilot:1.25.0-rc.1')).version).toBeUndefined();
  });

  test('real pods get addresses from the top of the pod range', () => {
    expect([podAddress(1), podAddress(254), podAddress(255)]).toEqual([
      '10.244.200.1',
      '10.244.200.254',
      '10.244.201.1',
    ]);
  });
});

let cluster: Cluster;
let dir: string;

const values = (tag: string, extra = '') =>
  valuesFile(
    dir,
    `values-${Math.random().toString(36).slice(2)}.yaml`,
    `tag: "${tag}"\ninstaller:\n  timeouts:\n    readinessSeconds: 240\n${extra}`,
  );
const canary = 'upgrade:\n  strategy: RevisionBased\n';

interface PodObject {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { containers: { name: string; image: string }[]; initContainers?: { name: string; image: string }[] };
  status?: { podIP?: string; phase?: string; conditions?: { type: string; status: string }[] };
}

/** Creates a pod through the apiserver (and so through every admission webhook) and returns what it stored. */
const createPod = (namespace: string, name: string) =>
  cluster.kube.post<PodObject>(`/api/v1/namespaces/${namespace}/pods`, {
    metadata: { name },
    spec: { containers: [{ name: 'app', image: 'example.com/shop/web:1' }] },
  });

/** Every image in a pod that is Istio's proxy (a sidecar, or the native-sidecar init container). */
const proxyImages = (pod: PodObject) =>
  [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]
    .filter((c) => c.name === 'istio-proxy')
    .map((c) => c.image);

const istiodPods = async (revision: string) =>
  (
    await cluster.kube.get<{ items: PodObject[] }>(
      `/api/v1/namespaces/istio-system/pods?labelSelector=app%3Distiod,istio.io%2Frev%3D${revision}`,
    )
  ).items;

const isReady = (pod: PodObject) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 40 * 60_000, nodes: 2 });
  dir = mkdtempSync(path.join(tmpdir(), 'e2e-istiod-'));
  for (const ns of ['shop', 'legacy']) await cluster.kubectl(['create', 'namespace', ns]);
  await cluster.kubectl(['label', 'namespace', 'shop', 'istio-injection=enabled']);
});

afterAll(async () => {
  await cluster?.stop();
});

test('install 1.30.4: istiod runs for real, at its own pod IP, Ready by its own readiness endpoint', async () => {
  const result = await cli(['install', '-f', values('1.30.4', canary)], cluster.kubeconfigPath);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  const [pod] = await istiodPods('1-30-4');
  expect(pod && isReady(pod)).toBe(true);
  expect(pod?.status?.podIP).toMatch(/^10\.244\.2\d\d\./);
  // The rig's namespace gained a link into istiod's, and still no route off the machine.
  const routes = cluster.network.routes();
  expect(routes.some((r) => r.destination === `${pod?.status?.podIP}/32`)).toBe(true);
  expect(routesOffMachine(routes)).toEqual([]);
  // istiod's own log, read through the apiserver and kwok's kubelet server.
  const logs = await cluster.kubectl(['-n', 'istio-system', 'logs', pod?.metadata.name ?? '']);
  expect(logs.stdout).toMatch(/pilot-discovery|istiod/i);
  expect(logs.stdout).toContain('1.30.4');
});

test("a pod in an injected namespace comes back with the installed revision's proxy", async () => {
  const pod = await createPod('shop', 'web-1');
  expect(proxyImages(pod)).toHaveLength(1);
  expect(imageTag(proxyImages(pod)[0] ?? '')).toMatch(/^1\.30\.4/);
});

test("an invalid VirtualService is refused by istiod's validating webhook", async () => {
  const apply = () =>
    cluster.kubectl(
      ['apply', '-f', '-'],
      [
        'apiVersion: networking.istio.io/v1',
        'kind: VirtualService',
        'metadata: {name: broken, namespace: shop}',
        'spec:',
        '  hosts: [web]',
        '  http:',
        '  - route:',
        '    - destination: {host: web}',
        '      weight: -5',
      ].join('\n'),
    );
  const refused = await apply();
  expect(refused.exitCode).not.toBe(0);
  expect(refused.stderr).toMatch(/admission webhook "[^"]*validation\.istio\.io" denied the request/);
  expect(refused.stderr).toMatch(/weight/i);
});

test('canary to 1.31.0: the default tag moves, a pinned namespace keeps the old revision', async () => {
  await cluster.kubectl(['label', 'namespace', 'legacy', 'istio.io/rev=1-30-4']);
  const result = await cli(['install', '-f', values('1.31.0', canary)], cluster.kubeconfigPath);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  const [newer] = await istiodPods('1-31-0');
  const [older] = await istiodPods('1-30-4');
  expect(newer && isReady(newer)).toBe(true);
  expect(older && isReady(older)).toBe(true);
  expect(newer?.status?.podIP).not.toBe(older?.status?.podIP);
  expect(imageTag(proxyImages(await createPod('shop', 'web-2'))[0] ?? '')).toMatch(/^1\.31\.0/);
  expect(imageTag(proxyImages(await createPod('legacy', 'old-1'))[0] ?? '')).toMatch(/^1\.30\.4/);
});

test('a killed istiod is named not ready by status and plan, and is restarted', async () => {
  const pilot = cluster.tools.pilotDiscovery['1.31.0'];
  const killed = await execa('pkill', ['-KILL', '-f', `^${pilot} `], { reject: false });
  expect(killed.exitCode).toBe(0);
  const report = await eventually('status to see istiod 1-31-0 not ready', 60_000, async () => {
    const status = await cli(['status', '-o', 'json'], cluster.kubeconfigPath);
    const parsed = JSON.parse(status.stdout) as {
      healthy: boolean;
      revisions: { revision: string; ready: string }[];
    };
    return parsed.healthy ? undefined : parsed;
  });
  expect(report.revisions.find((r) => r.revision === '1-31-0')?.ready).toBe('0/1');
  // The installer's own health rules (plan, and the verify of the repair it would run) name it too.
  const plan = await cli(['plan', '-f', values('1.31.0', canary)], cluster.kubeconfigPath);
  expect(plan.stdout).toMatch(/^plan: repair\n\s+why: revision 1-31-0 is not healthy: .*istiod-1-31-0/s);
  await eventually('istiod 1-31-0 to be restarted and Ready', 120_000, async () => {
    const [pod] = await istiodPods('1-31-0');
    return pod && isReady(pod) ? true : undefined;
  });
});

test('after uninstall, a pod in a formerly injected namespace is created: no webhook fails closed', async () => {
  const result = await cli(['uninstall'], cluster.kubeconfigPath);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  const pod = await createPod('shop', 'web-3');
  expect(proxyImages(pod)).toEqual([]);
  const left = await cluster.kube.get<{ items: unknown[] }>(
    '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?labelSelector=app%3Dsidecar-injector',
  );
  expect(left.items).toEqual([]);
});
