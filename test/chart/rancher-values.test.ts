// Rancher's rancher-istio values of every line (104.x, 105.x, 107.x) at chart level, with real helm v3/v4: they lint and
// render unchanged, the Jobs run this chart's installer, Kiali honours the upstream keys Rancher set, and Rancher's
// string booleans mean what they say.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { valuesSchema } from '../../src/overlay/values-schema.js';
import { CHART, HELMS, NAMESPACE, RELEASE, helm, renderChart, type KubeObject } from './render.js';
import { KUBE_VERSION, toolPaths } from '../cluster/tools.js';

const RANCHER_LINES = ['104.5.0', '105.5.1', '107.0.0', '107.1.0'] as const;
const fixture = (version: string) => `test/fixtures/rancher/${version}-values.yaml`;
const CHART_YAML = load(readFileSync(`${CHART}/Chart.yaml`, 'utf8')) as { version: string };

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
  readinessProbe?: { httpGet?: { path?: string } };
}
const find = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const containersOf = (o: KubeObject) =>
  (o.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers;
const envOf = (c: Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));

/** Kiali's configuration file, as the chart writes it into the `kiali` Secret. */
function kialiConfig(objects: KubeObject[]) {
  const secret = find(objects, 'Secret', 'kiali') as unknown as { data: Record<string, string> } | undefined;
  if (!secret) throw new Error('no Secret kiali');
  return load(Buffer.from(secret.data['config.yaml'] ?? '', 'base64').toString()) as {
    auth: { strategy: string };
    server: { web_root: string };
    deployment: { view_only_mode: boolean };
    external_services: {
      prometheus: { url: string };
      custom_dashboards: { prometheus: { url: string } };
      grafana: { internal_url: string; external_url: string };
      tracing: { internal_url: string; use_grpc: boolean };
    };
  };
}

describe.each(HELMS)('helm %s', (_version, binary) => {
  describe.each(RANCHER_LINES)("Rancher's %s values, unchanged", (version) => {
    let objects: KubeObject[];
    beforeAll(async () => {
      objects = (await renderChart(binary, undefined, ['-f', fixture(version)])).objects;
    });

    test('lint --strict passes', async () => {
      const r = await helm(binary, [
        'lint',
        CHART,
        '--strict',
        '--namespace',
        NAMESPACE,
        '--kube-version',
        KUBE_VERSION,
        '-f',
        fixture(version),
      ]);
      expect(r.all).not.toMatch(/\[(ERROR|WARNING)\]/);
      expect(r.exitCode).toBe(0);
    });

    test("both Jobs run this chart's installer image, never rancher/istio-installer", () => {
      for (const action of ['install', 'uninstall']) {
        const job = find(objects, 'Job', `${RELEASE}-${action}`);
        expect(job).toBeDefined();
        const [installer] = containersOf(job as KubeObject);
        expect(installer?.image).toBe(`rancher-istio/istio-installer:${CHART_YAML.version}`);
      }
      const images = objects
        .filter((o) => ['Deployment', 'Job', 'DaemonSet'].includes(o.kind))
        .flatMap((o) => containersOf(o).map((c) => c.image));
      expect(images.filter((image) => image.includes('istio-installer'))).toEqual([
        `rancher-istio/istio-installer:${CHART_YAML.version}`,
        `rancher-istio/istio-installer:${CHART_YAML.version}`,
      ]);
    });

    test('the values the installer reads are the file, Rancher keys included', () => {
      const cm = find(objects, 'ConfigMap', `${RELEASE}-installer-values`) as unknown as {
        data: Record<string, string>;
      };
      const values = load(cm.data['values.yaml'] ?? '') as Record<string, unknown>;
      expect(valuesSchema.safeParse(values).error?.issues ?? []).toEqual([]);
      expect((values.installer as { repository?: string }).repository).toBe('rancher/istio-installer');
    });

    test("Kiali honours the upstream keys Rancher's values set", () => {
      const config = kialiConfig(objects);
      expect(config.auth.strategy).toBe('token');
      expect(config.server.web_root).toBe('/');
      const prometheus = 'http://rancher-monitoring-prometheus.cattle-monitoring-system.svc:9090';
      expect(config.external_services.prometheus.url).toBe(prometheus);
      expect(config.external_services.custom_dashboards.prometheus.url).toBe(prometheus);
      const grafana = 'http://rancher-monitoring-grafana.cattle-monitoring-system.svc:80';
      expect(config.external_services.grafana).toMatchObject({
        internal_url: grafana,
        external_url: grafana,
      });
      expect(config.external_services.tracing).toMatchObject({
        internal_url: 'http://tracing.istio-system.svc:16686/jaeger',
        use_grpc: false,
      });
      const [kiali] = containersOf(find(objects, 'Deployment', 'kiali') as KubeObject);
      expect(kiali?.readinessProbe?.httpGet?.path).toBe('/healthz');
      // deployment.ingress_enabled: false in Rancher's file.
      expect(find(objects, 'Ingress', 'kiali')).toBeUndefined();
    });
  });

  test('deployment.ingress_enabled (Rancher) and deployment.ingress.enabled (kiali-server) make an Ingress on the web root', async () => {
    for (const key of ['kiali.deployment.ingress_enabled', 'kiali.deployment.ingress.enabled']) {
      const { objects } = await renderChart(binary, undefined, [
        '-f',
        fixture('104.5.0'),
        '--set',
        `${key}=true`,
      ]);
      const ingress = find(objects, 'Ingress', 'kiali') as
        | (KubeObject & {
            spec: {
              ingressClassName?: string;
              rules: { http: { paths: { path: string; backend: unknown }[] } }[];
            };
          })
        | undefined;
      expect([key, ingress?.spec.ingressClassName]).toEqual([key, 'nginx']);
      expect(ingress?.spec.rules[0]?.http.paths).toEqual([
        { path: '/', pathType: 'Prefix', backend: { service: { name: 'kiali', port: { number: 20001 } } } },
      ]);
    }
  });

  test("Kiali defaults to /kiali without Rancher's web_root, and keeps kiali-server's trailing-slash rule", async () => {
    const plain = await renderChart(binary, undefined);
    expect(kialiConfig(plain.objects).server.web_root).toBe('/kiali');
    const custom = await renderChart(binary, undefined, ['--set', 'kiali.server.web_root=/mesh/']);
    expect(kialiConfig(custom.objects).server.web_root).toBe('/mesh');
  });

  test("an air-gapped registry's list: the documented `helm template | grep image:` names the installer, Kiali and Jaeger", async () => {
    const { text } = await renderChart(binary, undefined, [
      '-f',
      fixture('104.5.0'),
      '--set',
      'tracing.enabled=true',
      '--set',
      'global.cattle.systemDefaultRegistry=reg.local',
    ]);
    // docs/migrating-from-rancher.md: `grep -E '^ +image: ' | sort -u`
    const images = [...new Set(text.split('\n').filter((line) => /^ +image: /.test(line)))]
      .map((line) => line.replace(/^ +image: /, '').replace(/"/g, ''))
      .sort();
    expect(images).toEqual([
      expect.stringMatching(/^reg\.local\/jaegertracing\/jaeger:/),
      expect.stringMatching(/^reg\.local\/kiali\/kiali:/),
      `reg.local/rancher-istio/istio-installer:${CHART_YAML.version}`,
    ]);
  });

  test("without a cluster to look at (Argo CD, helm template), kiali.selectorInstance keeps Rancher's Kiali selector", async () => {
    const selector = (objects: KubeObject[]) =>
      (find(objects, 'Deployment', 'kiali')?.spec as { selector: { matchLabels: Record<string, string> } })
        .selector.matchLabels;
    const plain = await renderChart(binary, undefined, ['-f', fixture('107.1.0')]);
    expect(selector(plain.objects)).toEqual({
      'app.kubernetes.io/name': 'kiali',
      'app.kubernetes.io/instance': RELEASE,
    });
    const kept = await renderChart(binary, undefined, [
      '-f',
      fixture('107.1.0'),
      '--set',
      'kiali.selectorInstance=kiali',
    ]);
    expect(selector(kept.objects)).toEqual({
      'app.kubernetes.io/name': 'kiali',
      'app.kubernetes.io/instance': 'kiali',
    });
    const service = find(kept.objects, 'Service', 'kiali')?.spec as { selector: Record<string, string> };
    expect(service.selector).toEqual({
      'app.kubernetes.io/name': 'kiali',
      'app.kubernetes.io/instance': 'kiali',
    });
  });

  test("Rancher's string booleans and counts take their evident meaning in the chart too", async () => {
    const { objects } = await renderChart(binary, undefined, [
      '-f',
      fixture('104.5.0'),
      '--set-string',
      'forceInstall=true,installer.debug.secondsSleep=30,dns.enabled=true,kiali.enabled=false',
      '--set-string',
      'tracing.enabled=false,egressGateways.enabled=false,installer.releaseMirror.enabled=false',
    ]);
    const env = envOf(containersOf(find(objects, 'Job', `${RELEASE}-install`) as KubeObject)[0]);
    expect(env).toMatchObject({
      FORCE_INSTALL: 'true',
      SECONDS_SLEEP: '30',
      RELEASE_MIRROR_ENABLED: 'false',
    });
    // "false" is false here, though Rancher's Go templates took it as true.
    expect(find(objects, 'Deployment', 'kiali')).toBeUndefined();
    expect(objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/name'] === 'kiali')).toEqual([]);
    expect(find(objects, 'Deployment', 'jaeger')).toBeUndefined();
    expect(find(objects, 'Deployment', `${RELEASE}-mirror`)).toBeUndefined();
    const role = find(objects, 'Role', `${RELEASE}-installer`) as unknown as {
      rules: { verbs: string[]; resourceNames?: string[] }[];
    };
    const names = role.rules.find((r) => r.verbs.includes('escalate'))?.resourceNames ?? [];
    expect(names).toContain('istio-ingressgateway-sds');
    expect(names).not.toContain('istio-egressgateway-sds');

    const on = await renderChart(binary, undefined, [
      '--set-string',
      'kiali.enabled=true,tracing.enabled=true,installer.releaseMirror.enabled=true',
    ]);
    expect(find(on.objects, 'Deployment', 'kiali')).toBeDefined();
    expect(find(on.objects, 'Deployment', 'jaeger')).toBeDefined();
    expect(find(on.objects, 'Deployment', `${RELEASE}-mirror`)).toBeDefined();
  });

  test('a string that is not a boolean is refused by the chart schema, naming the key', async () => {
    const r = await helm(binary, [
      'template',
      RELEASE,
      CHART,
      '--kube-version',
      KUBE_VERSION,
      '--set-string',
      'dns.enabled=yes',
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toMatch(/dns\.enabled|\/dns\/enabled/);
  });
});

// helm v4 renders NOTES.txt in a client-side dry run without a cluster (helm v3 needs one to run `install` at all).
describe('NOTES (helm v4 install --dry-run=client)', () => {
  const notes = async (values: string[]) => {
    const r = await helm(toolPaths().helm4, [
      'install',
      RELEASE,
      CHART,
      '--namespace',
      NAMESPACE,
      '--dry-run=client',
      ...values,
    ]);
    if (r.exitCode !== 0) throw new Error(r.all);
    return r.stdout.slice(r.stdout.indexOf('NOTES:'));
  };

  test("Rancher's values: the ignored installer keys are named, with the image that ran instead", async () => {
    const text = await notes(['-f', fixture('104.5.0')]);
    expect(text).toContain(
      "installer.repository/installer.tag (rancher/istio-installer:1.23.2-rancher1) are Rancher's",
    );
    expect(text).toContain(
      `The Jobs ran\nrancher-istio/istio-installer:${CHART_YAML.version} (installer.image)`,
    );
    expect(text).toContain('port-forward svc/kiali 20001, then http://localhost:20001/\n');
  });

  test('without them, no such note, and Kiali at its default web root', async () => {
    const text = await notes([]);
    expect(text).not.toContain('installer.repository');
    expect(text).toContain('port-forward svc/kiali 20001, then http://localhost:20001/kiali\n');
    expect(text).not.toContain("Kiali's Deployment keeps the selector");
  });

  test("kiali.selectorInstance: NOTES say which selector Kiali's Deployment keeps", async () => {
    const text = await notes(['--set', 'kiali.selectorInstance=kiali']);
    expect(text).toContain("Kiali's Deployment keeps the selector app.kubernetes.io/instance: kiali");
  });
});
