// The chart in ambient mode on the rig, its Jobs running with the chart's own ServiceAccount (so RBAC that is too
// narrow for istio-cni and ztunnel fails here): helm install with ambient.enabled on RKE2, then helm uninstall.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalImage } from '../container/local-image.js';
import type { Cluster } from '../cluster/rig.js';
import { ranIn, startChartRig, type ChartRig } from './chart-rig.js';
import { ISTIO_VERSIONS } from '../cluster/tools.js';
import { CHART, HELMS, NAMESPACE, RELEASE, helm } from './render.js';

const VERSION = ISTIO_VERSIONS.at(-1) ?? '';

interface List<T> {
  items: T[];
}
interface DaemonSet {
  metadata: { name: string };
  status: { numberReady: number; desiredNumberScheduled: number };
}
interface Pod {
  metadata: { name: string };
  status?: { phase?: string; containerStatuses?: { containerID?: string }[] };
}

let rig: ChartRig;
let cluster: Cluster;
let work: string;

beforeAll(async () => {
  rig = await startChartRig('chart-ambient', { lifetimeMs: 20 * 60_000, nodes: 2 });
  ({ cluster, work } = rig);
  // In podman mode the Jobs run the chart's default image, the local build of the chart's version: it must be this
  // checkout's (an image built from another branch may not know `ambient`), rebuilt here if its inputs changed.
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(cluster.podRuntime.reason);
  if (cluster.podRuntime.mode === 'podman') await ensureLocalImage(say);
});

afterAll(async () => {
  await rig?.stop();
});

const [, binary] = HELMS[0];
const run = (args: string[]) => helm(binary, [...args, `--kubeconfig=${cluster.kubeconfigPath}`]);
const daemonSets = () =>
  cluster.kube.get<List<DaemonSet>>(`/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets`).then((l) => l.items);

/** helm's output and, when it failed, the hook Job's pod logs: a failure shows the installer's reason. */
async function outcome(r: { exitCode?: number; all?: string }, job: string) {
  if (r.exitCode === 0) return { exitCode: 0, output: '' };
  const pods = await cluster.kube.get<List<Pod>>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${job}`,
  );
  const logs = pods.items.map(
    (p) => `--- ${p.metadata.name}\n${cluster.podLogs(NAMESPACE, p.metadata.name)}`,
  );
  return { exitCode: r.exitCode, output: `${r.all ?? ''}\n${logs.join('\n')}` };
}

test(`helm install with ambient.enabled on RKE2: Istio ${VERSION}, istio-cni-node and ztunnel ready, no gateway`, async () => {
  const file = join(work, 'ambient.yaml');
  writeFileSync(
    file,
    `tag: "${VERSION}"\nambient:\n  enabled: true\ncni:\n  platform: rke2\nkiali:\n  enabled: false\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n`,
  );
  const r = await run([
    'install',
    RELEASE,
    CHART,
    '-n',
    NAMESPACE,
    '--create-namespace',
    '-f',
    file,
    '--timeout=10m',
  ]);
  expect(await outcome(r, `${RELEASE}-install`)).toEqual({ exitCode: 0, output: '' });
  const jobPods = await cluster.kube.get<List<Pod>>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${RELEASE}-install`,
  );
  expect(jobPods.items.map(ranIn).at(-1)).toBe(cluster.podRuntime.mode);
  const agents = await daemonSets();
  expect(agents.map((d) => d.metadata.name).sort()).toEqual(['istio-cni-node', 'ztunnel']);
  // Ready on both rig nodes: 0 of 0 would be a DaemonSet scheduled nowhere.
  expect(
    agents.map((d) => `${d.metadata.name} ${d.status.numberReady}/${d.status.desiredNumberScheduled}`).sort(),
  ).toEqual(['istio-cni-node 2/2', 'ztunnel 2/2']);
  const gateways = await cluster.kube.get<List<unknown>>(
    `/apis/apps/v1/namespaces/${NAMESPACE}/deployments?labelSelector=app%3Distio-ingressgateway`,
  );
  expect(gateways.items).toEqual([]);
});

test('helm uninstall: the pre-delete Job removes ztunnel and istio-cni with the control plane', async () => {
  const r = await run(['uninstall', RELEASE, '-n', NAMESPACE, '--timeout=10m']);
  expect(r.exitCode).toBe(0);
  expect(await daemonSets()).toEqual([]);
});
