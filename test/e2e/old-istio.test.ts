// Istio releases older than the image bundles, for real on a Kubernetes 1.32 rig (what Rancher 2.12 clusters run):
// istioctl 1.25.0 installs the default profile as Rancher 107.1.0 leaves it, 1.27.9 and 1.29.6 canary-install their
// revisions beside it (the hops of the stepped upgrade) and 1.24.1 (Rancher 107.0.0) one of its own; each istiod is
// that version's real pilot-discovery, Ready by its own probe, and injects its own proxy. One cluster for all.
import { execa } from 'execa';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { imageTag } from '../cluster/real-istiod.js';
import { eventually } from '../cluster/testkit.js';
import type { SourceIstioVersion } from '../cluster/tools.js';

let cluster: Cluster;

interface PodObject {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: { name: string; image: string }[]; initContainers?: { name: string; image: string }[] };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

/** Which versions ran, and what each said, for the test output. */
const said = (line: string) => process.stderr.write(`old-istio: ${line}\n`);

function istioctl(version: SourceIstioVersion, args: string[]) {
  return execa(cluster.tools.istioctl[version], args, {
    reject: false,
    all: true,
    env: { KUBECONFIG: cluster.kubeconfigPath },
    timeout: 8 * 60_000,
  });
}

async function install(version: SourceIstioVersion, args: string[] = []): Promise<void> {
  const started = Date.now();
  const r = await istioctl(version, ['install', '-y', '--readiness-timeout', '240s', ...args]);
  said(
    `istioctl ${version} install ${args.join(' ')}: exit ${r.exitCode} in ${Math.round((Date.now() - started) / 1000)}s`,
  );
  expect(`${r.exitCode} ${r.all}`).toMatch(/^0 /);
}

const isReady = (pod: PodObject) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** The one live istiod pod of `revision` ('default' for the unrevisioned install), once Ready. */
const readyIstiod = (revision: string) =>
  eventually(`istiod of revision ${revision} to be Ready`, 180_000, async () => {
    const pods = (
      await cluster.kube.get<{ items: PodObject[] }>(
        `/api/v1/namespaces/istio-system/pods?labelSelector=app%3Distiod,istio.io%2Frev%3D${revision}`,
      )
    ).items.filter((p) => !p.metadata.deletionTimestamp);
    return pods.length === 1 && pods[0] && isReady(pods[0]) ? pods[0] : undefined;
  });

/** Asserts istiod of `version` is the rig's real pilot-discovery of that version, and returns its pod. */
async function realIstiod(version: SourceIstioVersion, revision: string): Promise<PodObject> {
  const pod = await readyIstiod(revision);
  expect(pod.spec.containers[0]?.image).toBe(`docker.io/istio/pilot:${version}`);
  // Its own address in the pod range the rig gives real pods, and its own log naming its version.
  expect(pod.status?.podIP).toMatch(/^10\.244\.2\d\d\./);
  const logged = new RegExp(`version: ${version.replaceAll('.', '\\.')}-[0-9a-f]{40}-Clean`);
  await eventually(`istiod ${version} to log its version`, 30_000, async () =>
    logged.test(cluster.podLogs('istio-system', pod.metadata.name)) ? true : undefined,
  );
  return pod;
}

/** Creates a pod through every admission webhook and returns the proxy version injected into it. */
async function injectedProxy(namespace: string, name: string): Promise<string[]> {
  const pod = await cluster.kube.post<PodObject>(`/api/v1/namespaces/${namespace}/pods`, {
    metadata: { name },
    spec: { containers: [{ name: 'app', image: 'example.com/shop/web:1' }] },
  });
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]
    .filter((c) => c.name === 'istio-proxy')
    .map((c) => c.image);
}

const BROKEN_VIRTUAL_SERVICE = [
  'apiVersion: networking.istio.io/v1',
  'kind: VirtualService',
  'metadata: {name: broken, namespace: shop}',
  'spec:',
  '  hosts: [web]',
  '  http:',
  '  - route:',
  '    - destination: {host: web}',
  '      weight: -5',
].join('\n');

const webhookNames = async () => {
  const names = async (kind: string) =>
    (
      await cluster.kube.get<{ items: { metadata: { name: string } }[] }>(
        `/apis/admissionregistration.k8s.io/v1/${kind}`,
      )
    ).items
      .map((w) => w.metadata.name)
      .sort();
  return {
    mutating: await names('mutatingwebhookconfigurations'),
    validating: await names('validatingwebhookconfigurations'),
  };
};

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 40 * 60_000, nodes: 2, kube: '1.32' });
  for (const ns of ['shop', 'hop24', 'hop27', 'hop29']) await cluster.kubectl(['create', 'namespace', ns]);
  await cluster.kubectl(['label', 'namespace', 'shop', 'istio-injection=enabled']);
  await cluster.kubectl(['label', 'namespace', 'hop27', 'istio.io/rev=1-27-9']);
  await cluster.kubectl(['label', 'namespace', 'hop29', 'istio.io/rev=1-29-6']);
  said(`Kubernetes ${cluster.kubeVersion}`);
});

afterAll(async () => {
  await cluster?.stop();
});

test('istioctl 1.25.0 installs the default profile (Rancher 107.1.0); istiod 1.25.0 runs real and injects 1.25.0', async () => {
  const precheck = await istioctl('1.25.0', ['x', 'precheck']);
  said(`istioctl 1.25.0 x precheck: exit ${precheck.exitCode}: ${precheck.all}`);
  expect(precheck.exitCode).toBe(0);
  await install('1.25.0');
  await realIstiod('1.25.0', 'default');
  expect(await injectedProxy('shop', 'web-1250')).toEqual(['docker.io/istio/proxyv2:1.25.0']);
  // Its validating webhook answers: istiod is reachable from the 1.32 apiserver at its pod IP.
  const refused = await cluster.kubectl(['apply', '-f', '-'], BROKEN_VIRTUAL_SERVICE);
  expect(refused.stderr).toMatch(/admission webhook "validation\.istio\.io" denied the request.*weight/);
  said(`webhooks after 1.25.0: ${JSON.stringify(await webhookNames())}`);
});

test('istioctl 1.27.9 canary-installs revision 1-27-9 beside 1.25.0; both istiods Ready', async () => {
  const precheck = await istioctl('1.27.9', ['x', 'precheck']);
  said(`istioctl 1.27.9 x precheck: exit ${precheck.exitCode}: ${precheck.all}`);
  await install('1.27.9', ['--set', 'revision=1-27-9']);
  await realIstiod('1.27.9', '1-27-9');
  await realIstiod('1.25.0', 'default');
  expect(await injectedProxy('hop27', 'web-1279')).toEqual(['docker.io/istio/proxyv2:1.27.9']);
  expect(await injectedProxy('shop', 'web-1250-b')).toEqual(['docker.io/istio/proxyv2:1.25.0']);
  said(`webhooks after 1.27.9: ${JSON.stringify(await webhookNames())}`);
});

test('istioctl 1.29.6 canary-installs 1-29-6; its tag command moves the default tag onto it', async () => {
  const precheck = await istioctl('1.29.6', ['x', 'precheck']);
  said(`istioctl 1.29.6 x precheck: exit ${precheck.exitCode}: ${precheck.all}`);
  await install('1.29.6', ['--set', 'revision=1-29-6']);
  await realIstiod('1.29.6', '1-29-6');
  expect(await injectedProxy('hop29', 'web-1296')).toEqual(['docker.io/istio/proxyv2:1.29.6']);
  const tag = await istioctl('1.29.6', ['tag', 'set', 'default', '--revision', '1-29-6', '--overwrite']);
  said(`istioctl 1.29.6 tag set default: exit ${tag.exitCode}: ${tag.all}`);
  expect(tag.exitCode).toBe(0);
  const moved = await injectedProxy('shop', 'web-tagged');
  expect(moved.map((image) => imageTag(image))).toEqual(['1.29.6']);
  said(`webhooks after 1.29.6 and the tag: ${JSON.stringify(await webhookNames())}`);
});

test('istioctl 1.24.1 (Rancher 105.5.1, 107.0.0) installs its revision too; istiod 1.24.1 runs real and Ready', async () => {
  await install('1.24.1', ['--set', 'revision=1-24-1']);
  await realIstiod('1.24.1', '1-24-1');
  await cluster.kubectl(['label', 'namespace', 'hop24', 'istio.io/rev=1-24-1']);
  expect(await injectedProxy('hop24', 'web-1241')).toEqual(['docker.io/istio/proxyv2:1.24.1']);
});
