// A cluster hardened as Rancher's `rancher-restricted` template leaves it (PodSecurity `restricted` enforced everywhere
// but Rancher's exempted namespaces, istio-system among them), with real istioctl 1.31.0, the API server's real
// PodSecurity admission and a real istiod's injection: the up-front refusals (a gateway without a seccomp profile in a
// restricted namespace, a gateway namespace that does not exist) change nothing; the default install puts a gateway in
// a restricted namespace and its pods are admitted; a restricted namespace gets sidecars through istio-cni; and a
// forced install whose pods PodSecurity refuses ends at once with the ReplicaSet's reason (exit 5), not after a
// readiness timeout.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadAll } from 'js-yaml';
import { BUNDLED_ISTIO_VERSIONS } from '../../src/overlay/values-schema.js';
import { runCli } from '../helpers/run-cli.js';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { toolPaths } from '../cluster/tools.js';
import { eventually } from '../cluster/testkit.js';
import { cli, valuesFile } from './helpers.js';

const VERSION = '1.31.0';
let cluster: Cluster;
let dir: string;
let kubeconfig: string;

/** A gateway of the user's in `namespace`, as an overlay puts it there. */
const gatewayOverlay = (namespace: string) =>
  valuesFile(
    dir,
    `gateway-${namespace}.yaml`,
    `apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  components:\n    ingressGateways:\n      - name: ${namespace}-gateway\n        namespace: ${namespace}\n        enabled: true\n`,
  );

const values = (extra = '', cni = true, version = VERSION) =>
  valuesFile(
    dir,
    `values-${Math.random().toString(36).slice(2)}.yaml`,
    `tag: "${version}"\ncni:\n  enabled: ${cni}\n  platform: rke2\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n${extra}`,
  );

interface Meta {
  name: string;
  namespace?: string;
}
interface PodSpec {
  containers: { name: string; securityContext?: Record<string, unknown> }[];
  initContainers?: { name: string }[];
  securityContext?: { seccompProfile?: { type: string } };
}

const list = async <T>(apiPath: string) => (await cluster.kube.get<{ items: T[] }>(apiPath)).items;
const names = (items: { metadata: Meta }[]) => items.map((i) => i.metadata.name).sort();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hardened-'));
  cluster = await startCluster({
    podSecurity: 'rancher-restricted',
    istio: [...BUNDLED_ISTIO_VERSIONS],
    nodes: 2,
  });
  kubeconfig = cluster.kubeconfigPath;
  // `gateways` holds the user's gateway, `apps` their sidecar-injected workloads: neither is exempt.
  for (const name of ['gateways', 'apps'])
    await cluster.kube.post('/api/v1/namespaces', {
      metadata: { name, labels: name === 'apps' ? { 'istio-injection': 'enabled' } : {} },
    });
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
});

test("the rig enforces Rancher's rancher-restricted: a plain pod is refused in a user namespace, admitted in istio-system's exemption", async () => {
  const plain = {
    metadata: { name: 'plain' },
    spec: { containers: [{ name: 'c', image: 'example.com/c:1' }] },
  };
  await expect(cluster.kube.post('/api/v1/namespaces/gateways/pods?dryRun=All', plain)).rejects.toThrow(
    /HTTP 403.*violates PodSecurity/,
  );
  await cluster.kube.post('/api/v1/namespaces', { metadata: { name: 'istio-system' } });
  await expect(
    cluster.kube.post('/api/v1/namespaces/istio-system/pods?dryRun=All', plain),
  ).resolves.toBeDefined();
}, 60_000);

interface ManifestObject {
  kind: string;
  metadata: Meta;
  data?: Record<string, string>;
  spec?: { template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } };
}

/** The objects real istioctl `version` makes of our default rendering (istio-cni on, a gateway in `gateways`). */
async function manifestOf(version: string): Promise<ManifestObject[]> {
  const rendered = await runCli([
    'render',
    '-f',
    values('', true, version),
    '--overlay',
    gatewayOverlay('gateways'),
  ]);
  if (rendered.code !== 0) throw new Error(rendered.stderr);
  const spec = path.join(dir, `spec-${version}.yaml`);
  writeFileSync(spec, rendered.stdout);
  const generated = await execa(toolPaths().istioctl[version as (typeof BUNDLED_ISTIO_VERSIONS)[number]], [
    'manifest',
    'generate',
    '-f',
    spec,
  ]);
  return (loadAll(generated.stdout) as (ManifestObject | null)[]).filter((o): o is ManifestObject => !!o);
}

/** Dry-runs `pod` in the restricted, uninjected `gateways` namespace; resolves with PodSecurity's refusal, or ''. */
async function refusalOf(pod: object): Promise<string> {
  try {
    await cluster.kube.post('/api/v1/namespaces/gateways/pods?dryRun=All', pod);
    return '';
  } catch (error) {
    return String(error).replace(/\\"/g, '"');
  }
}

/** A workload written for `restricted`: its containers comply; the seccomp profile at pod level or per container. */
const restrictedApp = (seccomp: 'pod' | 'container', namespace = 'gateways') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace, labels: { app: 'web' } },
  spec: {
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      ...(seccomp === 'pod' ? { seccompProfile: { type: 'RuntimeDefault' } } : {}),
    },
    containers: [
      {
        name: 'web',
        image: 'example.com/web:1',
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          ...(seccomp === 'container' ? { seccompProfile: { type: 'RuntimeDefault' } } : {}),
        },
      },
    ],
  },
});

/** The pod real istioctl `version` injects into `app`, from the injector and mesh ConfigMaps of `objects`. */
async function injected(version: string, objects: ManifestObject[], app: object): Promise<object> {
  const data = (name: string) =>
    objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)?.data ?? {};
  const file = (name: string, text: string) => {
    const at = path.join(dir, `${version}-${name}`);
    writeFileSync(at, text);
    return at;
  };
  const injector = data('istio-sidecar-injector');
  const result = await execa(toolPaths().istioctl[version as (typeof BUNDLED_ISTIO_VERSIONS)[number]], [
    'kube-inject',
    '--injectConfigFile',
    file('inject.yaml', injector.config ?? ''),
    '--valuesFile',
    file('values.json', injector.values ?? ''),
    '--meshConfigFile',
    file('mesh.yaml', data('istio').mesh ?? ''),
    '-f',
    file('app.yaml', JSON.stringify(app)),
    // From 1.29 kube-inject asks the cluster's version (native sidecars) even with every config given as a file.
    '--kubeconfig',
    kubeconfig,
  ]);
  return loadAll(result.stdout).find((o) => !!o) as object;
}

describe.each(BUNDLED_ISTIO_VERSIONS)(
  'Istio %s, as the installer renders it, under restricted',
  (version) => {
    let objects: ManifestObject[];
    beforeAll(async () => {
      objects = await manifestOf(version);
    }, 120_000);

    test("istiod and every gateway: each Deployment's pod is admitted in a restricted namespace", async () => {
      const deployments = objects.filter((o) => o.kind === 'Deployment');
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
        'gateways-gateway',
        'istio-ingressgateway',
        'istiod',
      ]);
      for (const d of deployments) {
        // Without its ServiceAccount, which istioctl would create with it: the pod is judged on its own.
        const spec = Object.fromEntries(
          Object.entries(d.spec!.template!.spec).filter(([key]) => key !== 'serviceAccountName'),
        );
        const pod = {
          metadata: { name: `${d.metadata.name}-check`, labels: d.spec?.template?.metadata?.labels },
          spec,
        };
        expect({ deployment: d.metadata.name, refusal: await refusalOf(pod) }).toEqual({
          deployment: d.metadata.name,
          refusal: '',
        });
      }
    }, 60_000);

    test('an injected pod (istio-cni on) is admitted with the seccomp profile at pod level; per container only from 1.29', async () => {
      const atPod = await injected(version, objects, restrictedApp('pod'));
      expect(JSON.stringify(atPod)).toContain('istio-validation');
      expect(await refusalOf(atPod)).toBe('');
      const perContainer = await refusalOf(await injected(version, objects, restrictedApp('container')));
      if (Number(version.split('.')[1]) >= 29) expect(perContainer).toBe('');
      // istioctl before 1.29 cannot set the proxies' seccomp profile: the pod must set it (docs/hardened-clusters.md).
      else expect(perContainer).toMatch(/seccompProfile \(pod or containers? .*"istio-proxy"/);
    }, 60_000);
  },
);

test('a gateway without a seccomp profile in a restricted namespace is refused by plan and install before anything changes', async () => {
  const args = [
    '-f',
    values("podSecurity:\n  seccompProfile: ''\n"),
    '--overlay',
    gatewayOverlay('gateways'),
  ];
  for (const verb of ['plan', 'install']) {
    const run = await cli([verb, ...args], kubeconfig);
    expect({ verb, exit: run.exitCode }).toEqual({ verb, exit: 3 });
    expect(run.stderr).toContain(
      'Deployment gateways/gateways-gateway would not be admitted: pods "gateways-gateway-admission-check" is forbidden: violates PodSecurity "restricted:latest"',
    );
    expect(run.stderr).toMatch(/seccompProfile/);
    expect(run.stderr).toMatch(/hint: ways out: exempt the namespace/);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }
  for (const namespace of ['istio-system', 'gateways'])
    expect(
      names(await list<{ metadata: Meta }>(`/apis/apps/v1/namespaces/${namespace}/deployments`)),
    ).toEqual([]);
  expect(
    await list(
      '/api/v1/namespaces/istio-system/configmaps?fieldSelector=metadata.name=istio-installer-state',
    ),
  ).toEqual([]);
}, 180_000);

test('plan warns that an injected restricted namespace refuses istio-init while istio-cni is off', async () => {
  const run = await cli(['plan', '-f', values('', false)], kubeconfig);
  expect({ exit: run.exitCode, err: run.exitCode === 0 ? '' : run.stderr }).toEqual({ exit: 0, err: '' });
  expect(run.stdout).toContain(
    'warning: namespace apps has sidecar injection on and PodSecurity refuses istio-init there (enforces restricted:latest)',
  );
  const withCni = await cli(['plan', '-f', values()], kubeconfig);
  expect(withCni.stdout).not.toContain('refuses istio-init');
}, 120_000);

test('a gateway in a namespace that does not exist is refused up front, naming it', async () => {
  const run = await cli(['plan', '-f', values(), '--overlay', gatewayOverlay('nowhere')], kubeconfig);
  expect(run.exitCode).toBe(3);
  expect(run.stderr).toContain(
    'namespace nowhere does not exist (Deployment nowhere-gateway would run there)',
  );
  expect(run.stderr).toContain('hint: create the namespace first');
}, 120_000);

test('by default the gateway in the restricted namespace is admitted, and istio-cni lets sidecars in there too', async () => {
  const run = await cli(['install', '-f', values(), '--overlay', gatewayOverlay('gateways')], kubeconfig);
  expect({ exit: run.exitCode, err: run.exitCode === 0 ? '' : run.stderr }).toEqual({ exit: 0, err: '' });
  // The gateway's pods exist: the ReplicaSet controller created them and PodSecurity admitted them.
  const pods = await eventually('the gateway pod in gateways', 60_000, async () => {
    const found = await list<{ metadata: Meta; spec: PodSpec }>('/api/v1/namespaces/gateways/pods');
    return found.length > 0 ? found : undefined;
  });
  expect(pods[0]?.spec.securityContext?.seccompProfile).toEqual({ type: 'RuntimeDefault' });

  // A workload written for `restricted` (its own containers comply), created in the injected restricted namespace:
  // the real istiod injects it (istio-validation instead of istio-init, with istio-cni), PodSecurity admits it.
  const app = restrictedApp('pod', 'apps');
  const injected = await eventually('an injected pod admitted in apps', 60_000, async () => {
    const pod = await cluster.kube
      .post<{ spec: PodSpec }>('/api/v1/namespaces/apps/pods?dryRun=All', app)
      .catch(() => undefined);
    return pod &&
      [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some((c) => c.name === 'istio-proxy')
      ? pod
      : undefined;
  });
  const containers = [...(injected.spec.initContainers ?? []), ...injected.spec.containers].map(
    (c) => c.name,
  );
  expect(containers).toContain('istio-validation');
  expect(containers).not.toContain('istio-init');
}, 400_000);

test('a forced install whose gateway PodSecurity refuses ends at once with the ReplicaSet’s reason (exit 5), on record', async () => {
  const run = await cli(
    [
      'install',
      '-f',
      values("forceInstall: true\npodSecurity:\n  seccompProfile: ''\n"),
      '--overlay',
      gatewayOverlay('gateways'),
    ],
    kubeconfig,
  );
  expect(run.exitCode).toBe(5);
  expect(run.stderr).toContain('cannot create pods (FailedCreate)');
  expect(run.stderr).toContain('Deployment gateways/gateways-gateway');
  expect(run.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  const status = await cli(['status', '-o', 'json'], kubeconfig);
  expect(status.stdout).toMatch(/FailedCreate/);
}, 300_000);

test('ambient: a restricted namespace enrolled in the ambient data plane runs restricted pods, with no warning', async () => {
  await cluster.kube.post('/api/v1/namespaces', {
    metadata: { name: 'ambient-apps', labels: { 'istio.io/dataplane-mode': 'ambient' } },
  });
  const run = await cli(['install', '-f', values('ambient:\n  enabled: true\n')], kubeconfig);
  expect({ exit: run.exitCode, err: run.exitCode === 0 ? '' : run.stderr }).toEqual({ exit: 0, err: '' });
  const pod = restrictedApp('pod', 'ambient-apps');
  // Created for real (not a dry run): PodSecurity admits it, and ambient leaves it as written.
  const created = await cluster.kube.post<{ spec: PodSpec }>('/api/v1/namespaces/ambient-apps/pods', pod);
  expect(created.spec.containers.map((c) => c.name)).toEqual(['web']);
  expect(created.spec.initContainers ?? []).toEqual([]);
  const plan = await cli(['plan', '-f', values('ambient:\n  enabled: true\n')], kubeconfig);
  expect(plan.stdout).not.toContain('refuses istio-init');
}, 300_000);

test('a forced install whose istio-cni DaemonSet PodSecurity refuses ends at once with the controller’s FailedCreate (exit 5)', async () => {
  // A namespace no exemption covers: the privileged CNI agent cannot run there, which the DaemonSet controller says
  // only in Events (a DaemonSet has no failure condition).
  await cluster.kube.post('/api/v1/namespaces', { metadata: { name: 'cni-restricted' } });
  const overlay = valuesFile(
    dir,
    'cni-restricted.yaml',
    'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  components:\n    cni:\n      namespace: cni-restricted\n',
  );
  const run = await cli(['install', '-f', values('forceInstall: true\n'), '--overlay', overlay], kubeconfig);
  expect(run.exitCode).toBe(5);
  expect(run.stderr).toContain('cannot create pods (FailedCreate)');
  expect(run.stderr).toContain('DaemonSet cni-restricted/istio-cni-node');
  expect(run.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
}, 300_000);
