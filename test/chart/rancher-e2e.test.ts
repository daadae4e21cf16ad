// Rancher's values on the rig: `helm install` of this chart with Rancher's 107.1.0 values file unchanged, a string
// boolean and Rancher's overlay example; the Job runs this chart's installer, which warns about Rancher's keys in its
// log, and the gateways the overlay adds get Rancher's NodePort type. Istio's version is the rig's (the image has no
// istioctl 1.25), and so are the pinned images' tags; every other Rancher value is as Rancher wrote it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import type { Cluster } from '../cluster/rig.js';
import { ensureLocalImage } from '../container/local-image.js';
import { ranIn, startChartRig, type ChartRig } from './chart-rig.js';
import { ISTIO_VERSIONS } from '../cluster/tools.js';
import { CHART, HELMS, NAMESPACE, RELEASE, helm } from './render.js';

const [VERSION = ''] = ISTIO_VERSIONS;
const CHART_YAML = load(readFileSync(`${CHART}/Chart.yaml`, 'utf8')) as { version: string };
const OVERLAY_EXAMPLE = readFileSync('test/fixtures/render/rancher-overlay-example/overlay.yaml', 'utf8');

interface Named {
  metadata: { name: string; namespace?: string };
}
interface Pod extends Named {
  status?: { phase?: string; containerStatuses?: { containerID?: string }[] };
}
interface Service extends Named {
  spec: { type: string; ports: { name: string; nodePort?: number }[] };
}
interface PodTemplateOwner {
  spec: { template: { spec: { containers: { image: string }[] } } };
}

describe("helm v4: Rancher's 107.1.0 values installed on the rig", () => {
  let rig: ChartRig;
  let cluster: Cluster;
  let work: string;
  beforeAll(async () => {
    // The pod runtime is the rig's (podman mode where CI requires it): the Job runs the image a Rancher cluster runs.
    rig = await startChartRig('rancher-e2e', { lifetimeMs: 20 * 60_000, nodes: 2 });
    ({ cluster, work } = rig);
    const say = (line: string) => process.stderr.write(`rancher e2e: ${line}\n`);
    say(cluster.podRuntime.reason);
    // The image must be this checkout's (the machine-wide one may have been built from another): rebuilt here if
    // its inputs changed since `npm run image`.
    if (cluster.podRuntime.mode === 'podman') await ensureLocalImage(say);
  });
  afterAll(async () => {
    await rig?.stop();
  });

  const get = <T>(path: string) => cluster.kube.get<T>(path);

  test('install: our installer runs, names the Rancher keys it ignores or reads as strings, and the gateways are NodePort', async () => {
    // Rancher's overlay example places gateways in these namespaces; the chart's Roles there need them to exist.
    for (const name of ['user-ingressgateway-ns', 'cattle-istio-system'])
      await cluster.kube.post('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name },
      });
    const pinned = `${VERSION}-distroless`;
    const local = join(work, 'local.yaml');
    writeFileSync(
      local,
      [
        `tag: "${VERSION}"`,
        `pilot: {tag: "${pinned}"}`,
        `cni: {tag: "${pinned}"}`,
        `global: {proxy: {tag: "${pinned}"}, proxy_init: {tag: "${pinned}"}}`,
        'dns: {enabled: "true"}',
        'installer: {timeouts: {readinessSeconds: 120}}',
        `overlayFile: ${JSON.stringify(OVERLAY_EXAMPLE)}`,
        '',
      ].join('\n'),
    );
    const r = await helm(HELMS[1][1], [
      'install',
      RELEASE,
      CHART,
      '-n',
      NAMESPACE,
      '--create-namespace',
      '-f',
      'test/fixtures/rancher/107.1.0-values.yaml',
      '-f',
      local,
      '--wait',
      '--timeout=10m',
      `--kubeconfig=${cluster.kubeconfigPath}`,
    ]);
    const pods = await get<{ items: Pod[] }>(
      `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${RELEASE}-install`,
    );
    const logs = pods.items.map((p) => cluster.podLogs(NAMESPACE, p.metadata.name)).join('\n');
    expect([r.exitCode, r.exitCode === 0 ? '' : `${r.all}\n${logs}`]).toEqual([0, '']);
    expect(pods.items.map(ranIn).at(-1)).toBe(cluster.podRuntime.mode);

    const job = await get<PodTemplateOwner>(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${RELEASE}-install`);
    expect(job.spec.template.spec.containers[0]?.image).toBe(
      `rancher-istio/istio-installer:${CHART_YAML.version}`,
    );
    const values = '/etc/istio-installer/values/values.yaml';
    expect(logs).toMatch(
      new RegExp(`${values}:\\d+:\\d+ {2}installer\\.repository: Rancher's installer image key is ignored`),
    );
    expect(logs).toMatch(
      new RegExp(`${values}:\\d+:\\d+ {2}dns\\.enabled: the string "true" is read as the boolean true`),
    );

    const istiod = await get<PodTemplateOwner>(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod`);
    expect(istiod.spec.template.spec.containers[0]?.image).toBe(`rancher/mirrored-istio-pilot:${pinned}`);
    const mesh = await get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${NAMESPACE}/configmaps/istio`,
    );
    expect(mesh.data.mesh).toContain('ISTIO_META_DNS_CAPTURE');

    const service = (namespace: string, name: string) =>
      get<Service>(`/api/v1/namespaces/${namespace}/services/${name}`);
    const ingress = await service(NAMESPACE, 'istio-ingressgateway');
    expect(ingress.spec.type).toBe('NodePort');
    expect(ingress.spec.ports.find((p) => p.name === 'http2')?.nodePort).toBe(31380);
    for (const [namespace, name] of [
      ['user-ingressgateway-ns', 'ilb-gateway'],
      ['cattle-istio-system', 'other-gateway'],
    ] as const)
      expect([name, (await service(namespace, name)).spec.type]).toEqual([name, 'NodePort']);

    const secret = await get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${NAMESPACE}/secrets/kiali`,
    );
    const kiali = load(Buffer.from(secret.data['config.yaml'] ?? '', 'base64').toString()) as {
      server: { web_root: string };
    };
    expect(kiali.server.web_root).toBe('/');
  });
});
