// The installer's lifecycle on a real API server with real istioctl 1.30 and 1.31: install, no-op, reconfigure,
// in-place upgrade, refusals, locking, a killed run, a vanished API server, analyze warnings, and uninstall with and
// without purge.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dump, load } from 'js-yaml';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { eventually } from '../cluster/testkit.js';
import { ApiRelay, cli, startCli, valuesFile, whenStderrHas } from './helpers.js';

const NAMESPACE = 'istio-system';
let cluster: Cluster;
let dir: string;
let kubeconfig: string;

const values = (tag: string, extra = '') =>
  valuesFile(
    dir,
    `values-${tag}-${Math.random().toString(36).slice(2)}.yaml`,
    `tag: "${tag}"\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n${extra}`,
  );

async function istiodImage(): Promise<string> {
  const deployment = await cluster.kube.get<{
    spec: { template: { spec: { containers: { image: string }[] } } };
  }>(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod`);
  return deployment.spec.template.spec.containers[0]?.image ?? '';
}

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 40 * 60_000, nodes: 2 });
  dir = mkdtempSync(path.join(tmpdir(), 'e2e-lifecycle-'));
  kubeconfig = cluster.kubeconfigPath;
});

afterAll(async () => {
  await cluster?.stop();
});

test('fresh install of 1.30.4 succeeds, verified and recorded', async () => {
  await cluster.kubectl(['create', 'namespace', 'cattle-dashboards']);
  const result = await cli(['install', '-f', values('1.30.4')], kubeconfig);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toMatch(/^install: Istio 1\.30\.4 \(revision default\) installed and ready/);
  expect(await istiodImage()).toBe('registry.istio.io/release/pilot:1.30.4');
  const status = await cli(['status', '-o', 'json'], kubeconfig);
  const report = JSON.parse(status.stdout) as {
    healthy: boolean;
    lastApplied: { outcome: string; istioVersion: string };
  };
  expect(report).toMatchObject({
    healthy: true,
    lastApplied: { outcome: 'succeeded', istioVersion: '1.30.4' },
  });
  const events = await cluster.kube.get<{ items: { reason: string }[] }>(
    `/api/v1/namespaces/${NAMESPACE}/events?fieldSelector=involvedObject.name=istio-installer-state`,
  );
  expect(events.items.map((e) => e.reason)).toContain('InstallSucceeded');
  const dashboards = await cluster.kube.get<{ items: unknown[] }>(
    '/api/v1/namespaces/cattle-dashboards/configmaps?labelSelector=grafana_dashboard%3D1',
  );
  expect(dashboards.items).toHaveLength(3);
});

test('a re-run with the same inputs does nothing and never calls istioctl install', async () => {
  const result = await cli(['install', '-f', values('1.30.4')], kubeconfig);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toMatch(/^nothing to do: /);
  expect(result.stderr).not.toContain('istioctl install');
});

test('credentials only client-node understands (an exec plugin) work too', async () => {
  const admin = load(readFileSync(kubeconfig, 'utf8')) as {
    users: { user: Record<string, string> }[];
    clusters: { cluster: Record<string, string> }[];
  };
  const user = admin.users[0]?.user ?? {};
  const plugin = path.join(dir, 'credential-plugin.mjs');
  const credential = {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: {
      clientCertificateData: Buffer.from(user['client-certificate-data'] ?? '', 'base64').toString(),
      clientKeyData: Buffer.from(user['client-key-data'] ?? '', 'base64').toString(),
    },
  };
  writeFileSync(plugin, `process.stdout.write(${JSON.stringify(JSON.stringify(credential))});\n`);
  const execConfig = path.join(dir, 'exec-kubeconfig');
  writeFileSync(
    execConfig,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'rig',
      contexts: [{ name: 'rig', context: { cluster: 'rig', user: 'exec' } }],
      clusters: [{ name: 'rig', cluster: admin.clusters[0]?.cluster }],
      users: [
        {
          name: 'exec',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: process.execPath,
              args: [plugin],
              interactiveMode: 'Never',
            },
          },
        },
      ],
    }),
  );
  const status = await cli(['status', '-o', 'json'], execConfig);
  expect(`${status.exitCode} ${status.stderr}`).toMatch(/^0 /);
  expect((JSON.parse(status.stdout) as { healthy: boolean }).healthy).toBe(true);
});

test('an overlay that adds a gateway reconfigures, and the default gateway stays', async () => {
  const overlay = valuesFile(
    dir,
    'gateway.yaml',
    'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  components:\n    ingressGateways:\n      - name: internal-gateway\n        enabled: true\n        label: {istio: internal-gateway}\n',
  );
  const plan = await cli(['plan', '-f', values('1.30.4'), '--overlay', overlay], kubeconfig);
  expect(plan.stdout).toMatch(/^plan: reconfigure/);
  expect(plan.stdout).toContain('+      - enabled: true');
  const result = await cli(['install', '-f', values('1.30.4'), '--overlay', overlay], kubeconfig);
  expect(result.exitCode).toBe(0);
  const gateways = await cluster.kube.get<{ items: { metadata: { name: string } }[] }>(
    `/apis/apps/v1/namespaces/${NAMESPACE}/deployments?labelSelector=operator.istio.io/component%3DIngressGateways`,
  );
  expect(gateways.items.map((d) => d.metadata.name).sort()).toEqual([
    'internal-gateway',
    'istio-ingressgateway',
  ]);
});

test('a downgrade is refused with exit 3 and changes nothing', async () => {
  const result = await cli(['install', '-f', values('1.30.0')], kubeconfig);
  expect(result.exitCode).toBe(3);
  expect(result.stderr).toContain('refused: downgrade from 1.30.4 to 1.30.0');
  expect(await istiodImage()).toBe('registry.istio.io/release/pilot:1.30.4');
});

test("in-place upgrade 1.30.4 -> 1.31.0 with 1.31.0's istioctl, dropping the overlay's gateway on the way", async () => {
  // Without the overlay of the test above: its internal gateway goes in the same run. istioctl 1.31.0's own prune
  // cannot see it (it selects only what carries its own version label); the installer's prune removes it.
  const result = await cli(['install', '-f', values('1.31.0')], kubeconfig);
  expect(result.stderr).toMatch(
    /plan: upgrade-in-place\n\s+why: upgrade default in place from 1\.30\.4 to 1\.31\.0/,
  );
  expect(result.exitCode).toBe(0);
  expect(await istiodImage()).toBe('registry.istio.io/release/pilot:1.31.0');
  expect(result.stderr).toContain(
    "deleted Deployment istio-system/internal-gateway: applied by istioctl 1.30.4 for this installation, not in Istio 1.31.0's manifest",
  );
  const left = await cluster.kubectl([
    'get',
    'deployments,services,serviceaccounts,roles,rolebindings,horizontalpodautoscalers',
    '-A',
    '-l',
    'operator.istio.io/version=1.30.4',
    '-o',
    'name',
  ]);
  expect(`${left.exitCode} ${String(left.stdout).trim()}`).toBe('0 ');
  // Converged: the next run finds nothing to do (health no longer sees a 1.30.4 gateway to repair).
  const again = await cli(['install', '-f', values('1.31.0')], kubeconfig);
  expect(again.stdout).toMatch(/^nothing to do: /);
});

test('an upgrade that skips a minor is refused (istiod made to look like 1.29)', async () => {
  await cluster.kubectl([
    '-n',
    NAMESPACE,
    'set',
    'image',
    'deployment/istiod',
    'discovery=registry.istio.io/release/pilot:1.29.3',
  ]);
  const result = await cli(['install', '-f', values('1.31.0')], kubeconfig);
  expect(result.exitCode).toBe(3);
  expect(result.stderr).toContain('skips 1 minor release(s)');
  expect(result.stderr).toContain('hint: upgrade to the latest 1.30.x first');
  await cluster.kubectl([
    '-n',
    NAMESPACE,
    'set',
    'image',
    'deployment/istiod',
    'discovery=registry.istio.io/release/pilot:1.31.0',
  ]);
});

test('a run while another run holds the lock and renews it exits 3 naming the holder', async () => {
  const now = () => new Date().toISOString().replace('Z', '000Z');
  await cluster.kubectl(
    ['-n', NAMESPACE, 'create', '-f', '-'],
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'istio-installer-lock' },
      spec: {
        holderIdentity: 'job-elsewhere',
        leaseDurationSeconds: 600,
        acquireTime: now(),
        renewTime: now(),
      },
    }),
  );
  // The other run is alive: it renews its lease, as every holder does.
  const renewing = setInterval(
    () =>
      void cluster.kube
        .mergePatch(`/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/istio-installer-lock`, {
          spec: { renewTime: now() },
        })
        .catch(() => undefined),
    1_000,
  );
  try {
    const result = await cli(
      ['install', '-f', values('1.31.0', 'meshConfig: {accessLogFile: /dev/stdout}\n')],
      kubeconfig,
    );
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain('holder job-elsewhere');
    expect(result.stderr).toContain('waiting for the lock');
  } finally {
    clearInterval(renewing);
  }
  await cluster.kubectl(['-n', NAMESPACE, 'delete', 'lease', 'istio-installer-lock']);
});

test('two concurrent runs: one acts; the other is refused while that run lives, or then finds nothing to do', async () => {
  const file = values('1.31.0', 'meshConfig: {accessLogEncoding: JSON}\n');
  const results = await Promise.all([
    cli(['install', '-f', file], kubeconfig),
    cli(['install', '-f', file], kubeconfig),
  ]);
  // Which of the two the second run meets depends on timing: the first run renewing the lock while the second waits
  // for it (exit 3), or the first run done and the lock released before that (then the decision under the lock is
  // that nothing is left). Never both acting.
  const outcome = ({ exitCode, stdout, stderr }: { exitCode?: number; stdout: string; stderr: string }) =>
    exitCode === 3 && stderr.includes('another istio-installer run holds the lock')
      ? 'refused: the lock is held'
      : exitCode === 0 && stdout.startsWith('nothing to do: ')
        ? 'nothing to do'
        : exitCode === 0
          ? 'acted'
          : `exit ${exitCode}`;
  expect([
    ['acted', 'nothing to do'],
    ['acted', 'refused: the lock is held'],
  ]).toContainEqual(results.map(outcome).sort());
});

test('an installer killed with SIGKILL mid-install: the re-run takes over its lock at once and converges', async () => {
  const file = values('1.31.0', 'meshConfig: {accessLogFile: /dev/killed}\n');
  const child = startCli(['install', '-f', file], kubeconfig);
  await whenStderrHas(child, '- istioctl install');
  process.kill(-(child.pid as number), 'SIGKILL');
  await child;
  const rerun = await cli(['install', '-f', file], kubeconfig);
  expect(rerun.exitCode).toBe(0);
  expect(rerun.stderr).toContain(`its process ${child.pid} on this host is dead`);
  expect(rerun.stdout).toMatch(/Istio 1\.31\.0 \(revision default\) installed and ready/);
});

test('the API server vanishing mid-run gives exit 4 or 5 with a clear message; the re-run converges', async () => {
  const relay = await ApiRelay.create(cluster);
  const relayed = relay.kubeconfig(cluster, dir);
  const file = values('1.31.0', 'meshConfig: {accessLogFile: /dev/vanished}\n');
  const child = startCli(['install', '-f', file], relayed);
  await whenStderrHas(child, '- istioctl install');
  await relay.stop();
  const failed = await child;
  expect([4, 5]).toContain(failed.exitCode);
  expect(String(failed.stderr)).toMatch(/^(istioctl failed \(exit \d+\)|timed out): /m);
  expect(String(failed.stderr)).not.toMatch(/\n\s+at /);
  await relay.start();
  await new Promise((resolve) => setTimeout(resolve, 9_000));
  const rerun = await cli(['install', '-f', file], relayed);
  expect(rerun.exitCode).toBe(0);
  await relay.stop();
});

test("istioctl analyze findings about users' own resources are warnings: the install goes on and status shows them", async () => {
  await cluster.kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'broken-vs', namespace: 'default' },
      spec: {
        hosts: ['broken.example.com'],
        http: [{ route: [{ destination: { host: 'no-such-service.default.svc.cluster.local' } }] }],
      },
    }),
  );
  const result = await cli(
    ['install', '-f', values('1.31.0', 'meshConfig: {accessLogEncoding: TEXT}\n')],
    kubeconfig,
  );
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stderr).toMatch(
    /warn: Error \[IST0101\] \(VirtualService default\/broken-vs\) Referenced host not found: .* \(about existing configuration; not blocking the install\)/,
  );
  const status = JSON.parse((await cli(['status', '-o', 'json'], kubeconfig)).stdout) as {
    warnings: string[];
  };
  expect(status.warnings).toEqual([
    expect.stringMatching(/^Error \[IST0101\] \(VirtualService default\/broken-vs\)/),
  ]);
  await cluster.kubectl(['-n', 'default', 'delete', 'virtualservice', 'broken-vs']);
});

test('after an interrupted uninstall (revision webhooks gone), plan repairs and uninstall still removes everything, keeping the CRDs and a user VirtualService; a second uninstall succeeds', async () => {
  const revisionWebhooks = await cluster.kube.get<{
    items: { metadata: { name: string; labels?: Record<string, string> } }[];
  }>('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations');
  for (const webhook of revisionWebhooks.items.filter((w) => w.metadata.labels?.['istio.io/rev']))
    await cluster.kubectl(['delete', 'mutatingwebhookconfiguration', webhook.metadata.name]);
  const plan = await cli(['plan', '-f', values('1.31.0', 'forceInstall: true\n')], kubeconfig);
  expect(plan.stdout).toMatch(/^plan: repair/);
  await cluster.kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'user-vs', namespace: 'default' },
      spec: {
        hosts: ['example.com'],
        http: [{ route: [{ destination: { host: 'kubernetes.default.svc.cluster.local' } }] }],
      },
    }),
  );
  const result = await cli(['uninstall'], kubeconfig);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stderr).toContain('removing what rancher-istio installed by owner');
  expect(result.stdout).toMatch(/^uninstalled Istio revisions default \(CRDs and Istio resources kept\)/);
  const deployments = await cluster.kube.get<{ items: unknown[] }>(
    `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
  );
  expect(deployments.items).toHaveLength(0);
  const webhooks = await cluster.kube.get<{ items: { metadata: { name: string } }[] }>(
    '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  );
  expect(webhooks.items.filter((w) => w.metadata.name.startsWith('istio'))).toEqual([]);
  const vs = await cluster.kube.get<{ metadata: { name: string } }>(
    '/apis/networking.istio.io/v1/namespaces/default/virtualservices/user-vs',
  );
  expect(vs.metadata.name).toBe('user-vs');
  // The dashboards of the mesh that went, went with it.
  const dashboards = await cluster.kube.get<{ items: unknown[] }>(
    '/api/v1/namespaces/cattle-dashboards/configmaps?labelSelector=grafana_dashboard%3D1',
  );
  expect(dashboards.items).toEqual([]);
  const again = await cli(['uninstall'], kubeconfig);
  expect(again.exitCode).toBe(0);
  expect(again.stdout).toMatch(/^nothing to uninstall/);
});

test("uninstall removes the webhooks istioctl's uninstall is known to leave: istiod-default-validator and istio-revision-tag-default", async () => {
  const install = await cli(['install', '-f', values('1.31.0')], kubeconfig);
  expect(`${install.exitCode} ${install.stderr}`).toMatch(/^0 /);
  const first = await cli(['uninstall'], kubeconfig);
  expect(`${first.exitCode} ${first.stderr}`).toMatch(/^0 /);
  // Leftovers as an istioctl uninstall leaves them (istio/istio issues): the validator calls istiod, which is gone;
  // the tag webhook calls a URL, so only its name marks it as a leftover. Neither matches a request
  // (failurePolicy Ignore, an API group nobody serves).
  const admission = '/apis/admissionregistration.k8s.io/v1';
  const hook = (clientConfig: unknown) => ({
    name: 'leftover.istio.io',
    clientConfig,
    rules: [
      { apiGroups: ['leftover.invalid'], apiVersions: ['*'], operations: ['CREATE'], resources: ['*'] },
    ],
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Ignore',
  });
  const leftovers = [
    [
      'validatingwebhookconfigurations',
      'ValidatingWebhookConfiguration',
      'istiod-default-validator',
      { service: { namespace: NAMESPACE, name: 'istiod', path: '/validate' } },
    ],
    [
      'mutatingwebhookconfigurations',
      'MutatingWebhookConfiguration',
      'istio-revision-tag-default',
      { url: 'https://istiod.leftover.invalid/inject' },
    ],
  ] as const;
  for (const [plural, kind, name, clientConfig] of leftovers)
    await cluster.kube.post(`${admission}/${plural}`, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind,
      metadata: { name },
      webhooks: [hook(clientConfig)],
    });

  const result = await cli(['uninstall'], kubeconfig);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stdout).toMatch(/^uninstalled Istio revisions none \(CRDs and Istio resources kept\)/);
  for (const [plural, kind, name] of leftovers) {
    expect(result.stderr).toContain(`deleted leftover ${kind} ${name}`);
    await expect(cluster.kube.get(`${admission}/${plural}/${name}`)).rejects.toThrow(/HTTP 404/);
  }
  const status = JSON.parse((await cli(['status', '-o', 'json'], kubeconfig)).stdout) as {
    history: { action: string; message?: string }[];
  };
  expect(status.history[0]).toMatchObject({
    action: 'uninstall',
    message: 'removed revisions none; 2 leftover webhook(s) deleted; CRDs and Istio resources kept',
  });
});

test('uninstall --purge logs how many user resources go, then removes the CRDs', async () => {
  const reinstall = await cli(['install', '-f', values('1.31.0')], kubeconfig);
  expect(`${reinstall.exitCode} ${reinstall.stderr}`).toMatch(/^0 /);
  const result = await cli(['uninstall', '--purge'], kubeconfig);
  expect(result.exitCode).toBe(0);
  expect(result.stderr).toMatch(
    /purge: deleting \d+ Istio CRDs and with them 1 Istio resource\(s\) users made: 1 virtualservices\.networking\.istio\.io/,
  );
  // The apiserver removes a deleted CRD once it has deleted every resource of it; on a busy machine that lags.
  await eventually('the Istio CRDs to be gone', 120_000, async () => {
    const crds = await cluster.kube.get<{ items: { spec: { group: string } }[] }>(
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    );
    return crds.items.some((c) => c.spec.group.endsWith('istio.io')) ? undefined : true;
  });
});
