// The chart's installer RBAC on the rig, for the transit revisions of a stepped upgrade (`1-29`, named by minor so the
// chart can list them before the patch is known): real istioctl, acting with the installer's own ServiceAccount token,
// installs and removes such a revision; a revision named with a patch (`1-29-8`) is denied, as the chart cannot name it.
import type { Cluster } from '../cluster/rig.js';
import { startChartRig, type ChartRig } from './chart-rig.js';
import { ISTIO_VERSIONS } from '../cluster/tools.js';
import { eventually, podFinished } from '../cluster/testkit.js';
import { CHART, HELMS, NAMESPACE, RELEASE, helm } from './render.js';

const [OLDER = ''] = ISTIO_VERSIONS;
const say = (line: string) => process.stderr.write(`transit rbac: ${line}\n`);

describe("the installer's ServiceAccount and transit revisions", () => {
  let rig: ChartRig;
  let cluster: Cluster;
  let work: string;

  beforeAll(async () => {
    rig = await startChartRig('transit-rbac', { lifetimeMs: 20 * 60_000 });
    ({ cluster, work } = rig);
    // The release's objects without its hooks: the ServiceAccount and RBAC the Jobs would run with, and no Job.
    const r = await helm(HELMS[0][1], [
      'install',
      RELEASE,
      CHART,
      '-n',
      NAMESPACE,
      '--create-namespace',
      '--no-hooks',
      '--set',
      'kiali.enabled=false',
      `--kubeconfig=${cluster.kubeconfigPath}`,
    ]);
    if (r.exitCode !== 0) throw new Error(r.all);
  });

  afterAll(async () => {
    await rig?.stop();
  });

  /** Real istioctl in a pod of the installer's ServiceAccount: the apiserver sees that identity and no other. */
  async function istioctlAsInstaller(name: string, args: string[]) {
    await cluster.kube.post(`/api/v1/namespaces/${NAMESPACE}/pods`, {
      metadata: { name, labels: { 'rancher-istio.test/process-kubelet': 'true' } },
      spec: {
        serviceAccountName: `${RELEASE}-installer`,
        // The chart's ServiceAccount mounts no token by default (its Jobs mount one explicitly): this pod asks for it.
        automountServiceAccountToken: true,
        restartPolicy: 'Never',
        containers: [
          {
            name: 'istioctl',
            image: `registry.invalid/istioctl:${OLDER}`,
            command: [cluster.tools.istioctl[OLDER as keyof typeof cluster.tools.istioctl], ...args],
            env: [{ name: 'HOME', value: work }],
          },
        ],
      },
    });
    const status = await podFinished(cluster, NAMESPACE, name, 300_000);
    return { phase: status.phase, log: cluster.podLogs(NAMESPACE, name) };
  }

  const install = (revision: string) => [
    'install',
    '-y',
    '--set',
    'profile=minimal',
    '--set',
    `revision=${revision}`,
    '--readiness-timeout=3m',
  ];

  test('a transit revision (1-29) is installed and uninstalled with the Job identity', async () => {
    const installed = await istioctlAsInstaller('install-transit', install('1-29'));
    say(`istioctl install --revision 1-29: ${installed.phase}`);
    expect([installed.phase, installed.log]).toEqual([
      'Succeeded',
      expect.stringContaining('Installation complete'),
    ]);
    await cluster.kube.get(
      `/apis/rbac.authorization.k8s.io/v1/clusterroles/istiod-clusterrole-1-29-${NAMESPACE}`,
    );
    await cluster.kube.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/roles/istiod-1-29`);

    const removed = await istioctlAsInstaller('uninstall-transit', ['uninstall', '-y', '--revision', '1-29']);
    expect([removed.phase, removed.log]).toEqual(['Succeeded', expect.any(String)]);
    await eventually('revision 1-29 to be gone', 120_000, async () => {
      const list = await cluster.kube.get<{ items: unknown[] }>(
        `/apis/apps/v1/namespaces/${NAMESPACE}/deployments?labelSelector=istio.io%2Frev%3D1-29`,
      );
      return list.items.length === 0 ? true : undefined;
    });
  });

  test('a revision named with its patch (1-29-8) is denied: the chart cannot know the patch', async () => {
    const denied = await istioctlAsInstaller('install-patch-named', install('1-29-8'));
    expect(denied.phase).toBe('Failed');
    expect(denied.log).toMatch(
      new RegExp(`cannot (escalate|bind)|attempting to grant RBAC permissions not currently held`),
    );
  });
});
