// The chart end to end on the rig, its Jobs running `istio-installer run` with the chart's own ServiceAccount token (so
// RBAC that is too narrow fails here): install, add a gateway by overlay, upgrade Istio, uninstall; the control plane
// goes, CRDs and users' Istio resources stay. Where Podman runs the locally built image the Jobs run in it, as Podman
// containers under the chart's securityContext; elsewhere as host processes. The test prints which.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalImage } from '../container/local-image.js';
import type { Cluster } from '../cluster/rig.js';
import { startChartRig, type ChartRig } from './chart-rig.js';
import { ISTIO_HUB, ISTIO_VERSIONS } from '../cluster/tools.js';
import { eventually } from '../cluster/testkit.js';
import { CHART, HELMS, NAMESPACE, RELEASE, helm } from './render.js';

const [OLDER = '', NEWER = ''] = ISTIO_VERSIONS;

interface Deployment {
  spec: { template: { spec: { containers: { image: string }[] } } };
}
interface List<T> {
  items: T[];
}
interface Named {
  metadata: { name: string; namespace?: string };
}
interface Pod extends Named {
  status?: { phase?: string; containerStatuses?: { containerID?: string }[] };
}
const say = (line: string) => process.stderr.write(`chart e2e: ${line}\n`);

describe.each([HELMS[0], HELMS[1]])(
  'helm %s: the chart installs, upgrades and uninstalls Istio',
  (_v, binary) => {
    let rig: ChartRig;
    let cluster: Cluster;
    let work: string;

    beforeAll(async () => {
      rig = await startChartRig('chart-e2e', { lifetimeMs: 30 * 60_000, nodes: 2 });
      ({ cluster, work } = rig);
      say(`helm ${_v}: ${cluster.podRuntime.reason}`);
      // The Jobs must run the image of this checkout: rebuilt here if its inputs changed since `npm run image`
      // (the base images are cached; a reused image costs the inputs hash, a few seconds).
      if (cluster.podRuntime.mode === 'podman') await ensureLocalImage(say);
    });

    afterAll(async () => {
      await rig?.stop();
    });

    const run = (args: string[]) => helm(binary, [...args, `--kubeconfig=${cluster.kubeconfigPath}`]);
    const values = (name: string, text: string) => {
      const file = join(work, name);
      writeFileSync(file, text);
      return file;
    };
    const get = <T>(path: string) => cluster.kube.get<T>(path);
    const exists = (path: string) =>
      get<unknown>(path).then(
        () => true,
        () => false,
      );
    const istiodImage = async () =>
      (await get<Deployment>(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod`)).spec.template.spec
        .containers[0]?.image;

    /** The mesh configuration istiod was given (ConfigMap `istio`, key `mesh`). */
    const meshConfig = async () =>
      (await get<{ data: Record<string, string> }>(`/api/v1/namespaces/${NAMESPACE}/configmaps/istio`)).data
        .mesh ?? '';

    /** The newest pod of a hook Job, which must have succeeded. */
    async function jobPod(job: string): Promise<Pod> {
      const pods = await get<List<Pod>>(
        `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${job}`,
      );
      const done = pods.items.filter((p) => p.status?.phase === 'Succeeded');
      const pod = done.at(-1);
      if (!pod)
        throw new Error(`no succeeded pod of Job ${job}: ${JSON.stringify(pods.items.map((p) => p.status))}`);
      return pod;
    }
    const jobLog = async (job: string) => cluster.podLogs(NAMESPACE, (await jobPod(job)).metadata.name);
    /** Where a Job's pod ran: a Podman container (`podman://…`) or, in process mode, no container at all. */
    const ranIn = async (job: string) =>
      (await jobPod(job)).status?.containerStatuses?.[0]?.containerID?.split('://')[0] ?? 'process';

    /** helm's result, and when it failed the logs of the hook Job's pods, so a failure shows the installer's reason. */
    async function outcome(r: { exitCode?: number; all?: string }, job: string) {
      if (r.exitCode === 0) return { exitCode: 0, output: '' };
      const pods = await get<List<Pod>>(
        `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${job}`,
      );
      // Each pod's last lines first: CI shows the start of a long failure message, and the reason is at a log's end.
      const logs = pods.items.map((p) => {
        const log = cluster.podLogs(NAMESPACE, p.metadata.name);
        const tail = log.trimEnd().split('\n').slice(-12).join('\n');
        return `--- ${p.metadata.name} (${p.status?.phase ?? '?'}), last lines:\n${tail}`;
      });
      return { exitCode: r.exitCode, output: `${logs.join('\n')}\n--- helm:\n${r.all ?? ''}` };
    }

    // Small readiness timeouts: kwok reports pods Ready at once, and a failure should surface in minutes.
    // The Jobs' image is the chart's default, tagged with the chart's version: the tag `npm run image` builds,
    // which podman mode runs.
    const base = `tag: "${OLDER}"\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n`;
    const gateway = [
      'overlays:',
      '  - apiVersion: install.istio.io/v1alpha1',
      '    kind: IstioOperator',
      '    spec:',
      '      components:',
      '        ingressGateways:',
      '          - name: edge-ingressgateway',
      '            enabled: true',
      '            k8s:',
      '              service:',
      '                type: ClusterIP',
      '',
    ].join('\n');

    test(`helm install: Istio ${OLDER} installed by the post-install Job`, async () => {
      const started = Date.now();
      const r = await run([
        'install',
        RELEASE,
        CHART,
        '-n',
        NAMESPACE,
        '--create-namespace',
        '-f',
        values('install.yaml', base),
        '--wait',
        '--timeout=10m',
      ]);
      expect(await outcome(r, `${RELEASE}-install`)).toEqual({ exitCode: 0, output: '' });
      // A figure for the README, not a check: helm returns once the Job has verified a healthy mesh.
      say(
        `helm ${_v}: helm install to a healthy mesh took ${Math.round((Date.now() - started) / 1000)} s ` +
          `(Job in ${cluster.podRuntime.mode} mode)`,
      );
      expect(await ranIn(`${RELEASE}-install`)).toBe(cluster.podRuntime.mode);
      expect(await istiodImage()).toBe(`${ISTIO_HUB}/pilot:${OLDER}`);
      expect(await exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istio-ingressgateway`)).toBe(
        true,
      );
      expect(await jobLog(`${RELEASE}-install`)).toMatch(
        new RegExp(`Istio ${OLDER.replace(/\./g, '\\.')}.*installed`),
      );

      // A user's resource, which an uninstall must keep; valid, so the next run's `istioctl analyze` has no finding.
      await cluster.kube.post('/apis/security.istio.io/v1/namespaces/default/peerauthentications', {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'users-own' },
        spec: { mtls: { mode: 'PERMISSIVE' } },
      });
    });

    test('helm upgrade, a gateway overlay and tracing on: the gateway, Jaeger, the mesh zipkin address', async () => {
      const r = await run([
        'upgrade',
        RELEASE,
        CHART,
        '-n',
        NAMESPACE,
        '-f',
        values('gateway.yaml', `${base}${gateway}tracing:\n  enabled: true\n`),
        '--wait',
        '--timeout=10m',
      ]);
      expect(await outcome(r, `${RELEASE}-install`)).toEqual({ exitCode: 0, output: '' });
      for (const there of ['edge-ingressgateway', 'istio-ingressgateway', 'jaeger'])
        expect([there, await exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${there}`)]).toEqual([
          there,
          true,
        ]);
      expect(await exists(`/api/v1/namespaces/${NAMESPACE}/services/zipkin`)).toBe(true);
      expect(await meshConfig()).toContain(`zipkin.${NAMESPACE}.svc:9411`);
    });

    test(`helm upgrade to Istio ${NEWER}, Kiali and Jaeger off: new istiod, gateway kept, subcharts gone`, async () => {
      const r = await run([
        'upgrade',
        RELEASE,
        CHART,
        '-n',
        NAMESPACE,
        '-f',
        values('newer.yaml', `${base.replace(OLDER, NEWER)}${gateway}kiali:\n  enabled: false\n`),
        '--wait',
        '--timeout=10m',
      ]);
      expect(await outcome(r, `${RELEASE}-install`)).toEqual({ exitCode: 0, output: '' });
      expect(await istiodImage()).toBe(`${ISTIO_HUB}/pilot:${NEWER}`);
      expect(await exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/edge-ingressgateway`)).toBe(
        true,
      );
      expect(await jobLog(`${RELEASE}-install`)).toMatch(new RegExp(`Istio ${NEWER.replace(/\./g, '\\.')}`));
      // Disabled subcharts leave nothing behind, and the mesh stops reporting to the Jaeger that is gone.
      for (const gone of ['deployments/kiali', 'deployments/jaeger'])
        expect([gone, await exists(`/apis/apps/v1/namespaces/${NAMESPACE}/${gone}`)]).toEqual([gone, false]);
      for (const gone of ['services/kiali', 'services/tracing', 'services/zipkin', 'serviceaccounts/kiali'])
        expect([gone, await exists(`/api/v1/namespaces/${NAMESPACE}/${gone}`)]).toEqual([gone, false]);
      expect(await exists('/apis/rbac.authorization.k8s.io/v1/clusterroles/kiali-istio-system')).toBe(false);
      expect(await meshConfig()).not.toContain('zipkin');
    });

    test('helm uninstall: the pre-delete Job removes the control plane; CRDs and user resources stay', async () => {
      const r = await run(['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout=10m']);
      expect(await outcome(r, `${RELEASE}-uninstall`)).toEqual({ exitCode: 0, output: '' });
      expect(await jobLog(`${RELEASE}-uninstall`)).toMatch(/uninstalled/);
      expect(await ranIn(`${RELEASE}-uninstall`)).toBe(cluster.podRuntime.mode);
      await eventually('istiod and the gateways to be gone', 120_000, async () => {
        const deployments = await get<List<Named>>(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments`);
        const istio = deployments.items.filter((d) => /istio|gateway/.test(d.metadata.name));
        return istio.length === 0 ? true : undefined;
      });
      const crds = await get<List<Named>>('/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
      expect(crds.items.filter((c) => c.metadata.name.endsWith('.istio.io')).length).toBeGreaterThan(10);
      expect(
        await exists('/apis/security.istio.io/v1/namespaces/default/peerauthentications/users-own'),
      ).toBe(true);
      // The chart's own objects went with the release; the installer's ClusterRole too.
      expect(await exists(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${RELEASE}-installer`)).toBe(
        false,
      );
      expect(
        await exists(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${RELEASE}-installer-${NAMESPACE}`),
      ).toBe(false);
    });
  },
);
