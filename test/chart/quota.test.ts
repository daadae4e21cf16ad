// The chart under ResourceQuotas on a cluster hardened as Rancher's `rancher-restricted` leaves it, with real helm
// and the API server's real quota admission: a quota too small for the installer Job, or one that makes every pod
// set resources the Job was told not to set, is refused while Helm renders (one line naming the quota, the key and
// the value to change) and nothing is created; a quota that fits lets the Job install Istio under it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalImage } from '../container/local-image.js';
import type { Cluster } from '../cluster/rig.js';
import { eventually } from '../cluster/testkit.js';
import { ISTIO_VERSIONS } from '../cluster/tools.js';
import { startChartRig, ranIn, type ChartRig } from './chart-rig.js';
import { CHART, HELMS, NAMESPACE, RELEASE, helm } from './render.js';

const [VERSION = ''] = ISTIO_VERSIONS;
const HELM = HELMS[0][1];
const say = (line: string) => process.stderr.write(`chart quota: ${line}\n`);

interface List<T> {
  items: T[];
}
interface Pod {
  metadata: { name: string };
  spec: { containers: { resources?: Record<string, Record<string, string>> }[] };
  status?: { phase?: string; containerStatuses?: { containerID?: string }[] };
}

let rig: ChartRig;
let cluster: Cluster;

beforeAll(async () => {
  rig = await startChartRig('chart-quota', {
    lifetimeMs: 20 * 60_000,
    nodes: 2,
    podSecurity: 'rancher-restricted',
  });
  cluster = rig.cluster;
  say(cluster.podRuntime.reason);
  if (cluster.podRuntime.mode === 'podman') await ensureLocalImage(say);
});

afterAll(async () => {
  await rig?.stop();
});

const run = (args: string[]) => helm(HELM, [...args, `--kubeconfig=${cluster.kubeconfigPath}`]);
const valuesFile = (name: string, text: string) => {
  const file = join(rig.work, name);
  writeFileSync(file, text);
  return file;
};

/** A namespace with one ResourceQuota, once the quota controller has counted what it holds (status.used). */
async function namespaceWithQuota(namespace: string, hard: Record<string, string>): Promise<void> {
  await cluster.kube.post('/api/v1/namespaces', { metadata: { name: namespace } });
  await cluster.kube.post(`/api/v1/namespaces/${namespace}/resourcequotas`, {
    metadata: { name: 'compute' },
    spec: { hard },
  });
  await eventually(`the quota controller to count ${namespace}/compute`, 60_000, async () => {
    const quota = await cluster.kube.get<{ status?: { used?: Record<string, string> } }>(
      `/api/v1/namespaces/${namespace}/resourcequotas/compute`,
    );
    return Object.keys(quota.status?.used ?? {}).length === Object.keys(hard).length ? true : undefined;
  });
}

/** Everything Helm would have made in a namespace: its release Secrets, the chart's ConfigMaps and Jobs. */
async function madeIn(namespace: string): Promise<string[]> {
  const names = await Promise.all(
    [
      '/api/v1/namespaces/%s/secrets',
      '/api/v1/namespaces/%s/configmaps',
      '/apis/batch/v1/namespaces/%s/jobs',
    ].map(async (path) =>
      (await cluster.kube.get<List<{ metadata: { name: string } }>>(path.replace('%s', namespace))).items
        .map((o) => o.metadata.name)
        // The API server's own root CA ConfigMap is in every namespace.
        .filter((name) => name !== 'kube-root-ca.crt'),
    ),
  );
  return names.flat();
}

test('a quota with less memory left than the installer Job requests refuses the release while Helm renders; nothing is made', async () => {
  await namespaceWithQuota('istio-small', { 'requests.memory': '256Mi', pods: '10' });
  const r = await run(['install', RELEASE, CHART, '-n', 'istio-small', '--wait', '--timeout=2m']);
  expect(r.exitCode).not.toBe(0);
  const message = String(r.stderr).trim();
  expect(message.split('\n')).toHaveLength(1);
  expect(message).toContain(
    'installer.resources: ResourceQuota istio-small/compute has 256Mi of requests.memory left (hard 256Mi, used 0) and the installer Job needs 384Mi: raise the quota, or lower installer.resources',
  );
  expect(await madeIn('istio-small')).toEqual([]);

  // Lowered within the quota, the same release renders (a server-side dry run: nothing is made either).
  const lowered = valuesFile(
    'small.yaml',
    'installer:\n  resources:\n    requests: {cpu: 100m, memory: 200Mi}\n    limits: {cpu: "1", memory: 1Gi}\n',
  );
  const dry = await run(['install', RELEASE, CHART, '-n', 'istio-small', '-f', lowered, '--dry-run=server']);
  expect([dry.exitCode, String(dry.stderr)]).toEqual([0, '']);
  expect(await madeIn('istio-small')).toEqual([]);
});

test('a quota on CPU limits refuses a Job told to set no resources (and no LimitRange defaults them), naming the value', async () => {
  await namespaceWithQuota('istio-limits', { 'limits.cpu': '8' });
  const none = valuesFile('none.yaml', 'installer:\n  resources: null\n');
  const r = await run([
    'install',
    RELEASE,
    CHART,
    '-n',
    'istio-limits',
    '-f',
    none,
    '--wait',
    '--timeout=2m',
  ]);
  expect(r.exitCode).not.toBe(0);
  expect(String(r.stderr).trim()).toMatch(
    /^Error: INSTALLATION FAILED: .*: installer\.resources: ResourceQuota istio-limits\/compute limits limits\.cpu, so its pods must set it, and the installer Job sets none: set installer\.resources\.limits\.cpu \(the chart's defaults do\)$/,
  );
  expect(await madeIn('istio-limits')).toEqual([]);
});

test(`a quota that fits: the Job, with the chart's default resources, installs Istio ${VERSION} under it`, async () => {
  // Room for the Job (250m/384Mi) beside istiod's and the gateway's requests; Istio's pods set no limits, so none here.
  await namespaceWithQuota(NAMESPACE, { 'requests.cpu': '4', 'requests.memory': '8Gi', pods: '20' });
  const values = valuesFile(
    'fits.yaml',
    `tag: "${VERSION}"\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n`,
  );
  const r = await run(['install', RELEASE, CHART, '-n', NAMESPACE, '-f', values, '--wait', '--timeout=10m']);
  expect([r.exitCode, r.exitCode === 0 ? '' : String(r.all)]).toEqual([0, '']);

  const pods = await cluster.kube.get<List<Pod>>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${RELEASE}-install`,
  );
  const pod = pods.items.find((p) => p.status?.phase === 'Succeeded');
  expect(pod?.spec.containers[0]?.resources).toEqual({
    requests: { cpu: '250m', memory: '384Mi' },
    limits: { cpu: '1', memory: '1Gi' },
  });
  expect(pod && ranIn(pod)).toBe(cluster.podRuntime.mode);
  const quota = await cluster.kube.get<{ status: { used: Record<string, string> } }>(
    `/api/v1/namespaces/${NAMESPACE}/resourcequotas/compute`,
  );
  say(`quota used after the install: ${JSON.stringify(quota.status.used)}`);
  await cluster.kube.get(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod`);
});
