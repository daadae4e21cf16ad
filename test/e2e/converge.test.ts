// Faults an operator meets, on a real API server with real istioctl 1.31.0: components scaled to zero, deleted or
// missing their ServiceAccount, a run killed mid-reconfigure, stale locks, and the API server vanishing during
// istioctl install. Each time status tells the truth and a plain re-run (no forceInstall) converges.
import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { ApiRelay, cli, startCli, valuesFile, whenStderrHas } from './helpers.js';

const NAMESPACE = 'istio-system';
let cluster: Cluster;
let dir: string;
let kubeconfig: string;

/** Values for 1.31.0; `extra` YAML changes the spec so that a run has something to apply. */
const values = (extra = '') =>
  valuesFile(
    dir,
    `values-${Math.random().toString(36).slice(2)}.yaml`,
    `tag: "1.31.0"\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n${extra}`,
  );

interface Entry {
  action: string;
  outcome: string;
  holder?: string;
  message?: string;
  warnings?: string[];
  output?: string[];
}
interface Status {
  healthy: boolean;
  problems: string[];
  warnings: string[];
  lastApplied: Entry | null;
  history: Entry[];
}

async function status(config = kubeconfig): Promise<Status> {
  const result = await cli(['status', '-o', 'json'], config);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  return JSON.parse(result.stdout) as Status;
}

const deployment = (name: string) =>
  cluster.kube
    .get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`)
    .catch(() => undefined);

/** A Lease as another installer run would have left it. */
async function leaseHeldBy(holder: string, seconds: number): Promise<void> {
  const now = new Date().toISOString().replace('Z', '000Z');
  await cluster.kubectl(['-n', NAMESPACE, 'delete', 'lease', 'istio-installer-lock', '--ignore-not-found']);
  const created = await cluster.kubectl(
    ['-n', NAMESPACE, 'create', '-f', '-'],
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'istio-installer-lock' },
      spec: { holderIdentity: holder, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now },
    }),
  );
  expect(created.exitCode).toBe(0);
}

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 40 * 60_000, nodes: 2 });
  dir = mkdtempSync(path.join(tmpdir(), 'e2e-converge-'));
  kubeconfig = cluster.kubeconfigPath;
  const first = await cli(['install', '-f', values()], kubeconfig);
  expect(`${first.exitCode} ${first.stderr}`).toMatch(/^0 /);
});

afterAll(async () => {
  await cluster?.stop();
});

test('istiod scaled to zero: status is not healthy, plan says repair, install scales it back', async () => {
  await cluster.kubectl(['-n', NAMESPACE, 'scale', 'deployment', 'istiod', '--replicas=0']);
  const report = await status();
  expect(report.healthy).toBe(false);
  expect(report.problems).toContain('Deployment istio-system/istiod: scaled to 0 replicas');
  const plan = await cli(['plan', '-f', values()], kubeconfig);
  expect(plan.stdout).toMatch(/^plan: repair\n\s+why: revision default is not healthy: /);
  const result = await cli(['install', '-f', values()], kubeconfig);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stdout).toMatch(/^repair: Istio 1\.31\.0 \(revision default\) installed and ready/);
  expect((await deployment('istiod'))?.spec.replicas).toBe(1);
  expect(await status()).toMatchObject({ healthy: true, problems: [] });
});

test('a deleted gateway Deployment: not healthy, and install recreates it (with forceInstall too, saying it skipped the prechecks)', async () => {
  await cluster.kubectl(['-n', NAMESPACE, 'delete', 'deployment', 'istio-ingressgateway']);
  expect((await status()).problems).toContain('Deployment istio-system/istio-ingressgateway: missing');
  const forced = values('forceInstall: true\n');
  const plan = await cli(['plan', '-f', forced], kubeconfig);
  expect(plan.stdout).toMatch(/^plan: repair/);
  const result = await cli(['install', '-f', forced], kubeconfig);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stderr).toContain(
    'forceInstall: skipping istioctl x precheck and istioctl analyze; nothing checks the cluster before this install',
  );
  expect(await deployment('istio-ingressgateway')).toBeDefined();
  expect((await status()).healthy).toBe(true);
});

test('a gateway without its ServiceAccount (an apply cut off half-way) is repaired', async () => {
  await cluster.kubectl([
    '-n',
    NAMESPACE,
    'delete',
    'serviceaccount',
    'istio-ingressgateway-service-account',
  ]);
  const plan = await cli(['plan', '-f', values()], kubeconfig);
  expect(plan.stdout).toContain(
    'unhealthy: Deployment istio-system/istio-ingressgateway: its ServiceAccount istio-system/istio-ingressgateway-service-account is missing',
  );
  const result = await cli(['install', '-f', values()], kubeconfig);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  const account = await cluster.kubectl([
    '-n',
    NAMESPACE,
    'get',
    'serviceaccount',
    'istio-ingressgateway-service-account',
  ]);
  expect(account.exitCode).toBe(0);
});

const ADMISSION = '/apis/admissionregistration.k8s.io/v1';

/** Names of the mutating webhooks of revision default (the injector, and the default tag's when there is one). */
async function injectionWebhooks(): Promise<string[]> {
  const list = await cluster.kube.get<{ items: { metadata: { name: string } }[] }>(
    `${ADMISSION}/mutatingwebhookconfigurations?labelSelector=istio.io%2Frev%3Ddefault`,
  );
  return list.items.map((w) => w.metadata.name).sort();
}

test('the injection webhook deleted and a stale webhook left by a failed run: plan says repair; install restores the one, deletes the other and records a repair', async () => {
  const injectors = await injectionWebhooks();
  expect(injectors).toContain('istio-sidecar-injector');
  for (const name of injectors)
    await cluster.kube.delete(`${ADMISSION}/mutatingwebhookconfigurations/${name}`);
  // A validator of a revision whose istiod Service is gone, as a failed install of another revision leaves it; it
  // matches no request (failurePolicy Ignore, an API group nobody serves).
  await cluster.kube.post(`${ADMISSION}/validatingwebhookconfigurations`, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'istio-validator-gone-istio-system', labels: { 'istio.io/rev': 'gone' } },
    webhooks: [
      {
        name: 'rev.validation.istio.io',
        clientConfig: { service: { namespace: NAMESPACE, name: 'istiod-gone', path: '/validate' } },
        rules: [
          { apiGroups: ['stale.invalid'], apiVersions: ['*'], operations: ['CREATE'], resources: ['*'] },
        ],
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
      },
    ],
  });
  expect((await status()).problems).toContain(
    'MutatingWebhookConfiguration istio-system/istio-sidecar-injector: missing',
  );
  const plan = await cli(['plan', '-f', values()], kubeconfig);
  expect(plan.stdout).toMatch(/^plan: repair\n\s+why: revision default is not healthy: /);

  const result = await cli(['install', '-f', values()], kubeconfig);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stdout).toMatch(/^repair: Istio 1\.31\.0 \(revision default\) installed and ready/);
  expect(result.stderr).toContain(
    'deleting stale ValidatingWebhookConfiguration istio-validator-gone-istio-system: it calls istio-system/istiod-gone, which does not exist',
  );
  expect(await injectionWebhooks()).toEqual(injectors);
  await expect(
    cluster.kube.get(`${ADMISSION}/validatingwebhookconfigurations/istio-validator-gone-istio-system`),
  ).rejects.toThrow(/HTTP 404/);
  const report = await status();
  expect(report).toMatchObject({ healthy: true, problems: [] });
  expect(report.history[0]).toMatchObject({ action: 'repair', outcome: 'succeeded' });
});

test('a reconfigure killed (with its istioctl) while applying istiod: the re-run right away takes the lock, needs no force, and the record shows the interrupted attempt', async () => {
  const file = values('meshConfig: {accessLogFile: /dev/interrupted}\n');
  const child = startCli(['install', '-f', file], kubeconfig);
  await whenStderrHas(child, 'Istio core installed');
  process.kill(-(child.pid as number), 'SIGKILL');
  await child;
  const rerun = await cli(['install', '-f', file], kubeconfig);
  expect(`${rerun.exitCode} ${rerun.stderr}`).toMatch(/^0 /);
  expect(rerun.stderr).toMatch(
    new RegExp(
      `taking over the lock from process:[^/]+/${child.pid}: its process ${child.pid} on this host is dead`,
    ),
  );
  expect(rerun.stderr).toMatch(
    /the last run \(reconfigure by process:[^ ]+, started [^)]+\) was interrupted/,
  );
  const report = await status();
  expect(report.healthy).toBe(true);
  // The re-run is a reconfigure, or a repair if the killed run left something unhealthy.
  expect(report.history.slice(0, 2).map((h) => `${h.action} ${h.outcome}`)).toEqual([
    expect.stringMatching(/^(reconfigure|repair) succeeded$/),
    'reconfigure interrupted',
  ]);
  // No overlap of the injection webhooks is left behind.
  const analyze = await execa(
    cluster.tools.istioctl['1.31.0'],
    ['analyze', '--all-namespaces', '--kubeconfig', kubeconfig],
    { reject: false },
  );
  expect(`${analyze.stdout}${analyze.stderr}`).not.toContain('IST0139');
});

test('a lease whose holder stopped renewing is waited out, with progress in the log', async () => {
  await leaseHeldBy('process:another-host/4242', 8);
  const result = await cli(
    ['install', '-f', values('meshConfig: {accessLogFile: /dev/waited}\n')],
    kubeconfig,
  );
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stderr).toMatch(
    /waiting for the lock \(Lease istio-system\/istio-installer-lock\): held by process:another-host\/4242, last renewed .*; it expires in \ds unless renewed/,
  );
});

test('a lease whose holder pod no longer exists is taken over at once', async () => {
  await leaseHeldBy('pod:istio-system/rancher-istio-install-gone', 600);
  const result = await cli(
    ['install', '-f', values('meshConfig: {accessLogFile: /dev/podgone}\n')],
    kubeconfig,
  );
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  expect(result.stderr).toContain(
    'taking over the lock from pod:istio-system/rancher-istio-install-gone: its pod istio-system/rancher-istio-install-gone no longer exists',
  );
  expect(result.stderr).not.toContain('waiting for the lock');
});

test("the API server vanishing during istioctl install: the error is istioctl's reason, and the record keeps its last lines", async () => {
  const relay = await ApiRelay.create(cluster);
  const relayed = relay.kubeconfig(cluster, dir);
  try {
    const child = startCli(
      ['install', '-f', values('meshConfig: {accessLogFile: /dev/vanished}\n')],
      relayed,
    );
    await whenStderrHas(child, 'Istiod installed');
    await relay.stop();
    // Back before the installer gives up writing the record (five attempts with backoff).
    await whenStderrHas(child, 'failed: istioctl install');
    await relay.start();
    const failed = await child;
    expect(failed.exitCode).toBe(4);
    const reason = /^istioctl failed \(exit \d+\): (.*)$/m.exec(String(failed.stderr))?.[1] ?? '';
    expect(reason).not.toMatch(/error forwarding port|portforward/);
    expect(reason).toMatch(/✘|EOF|connection refused|dial tcp/);
    const last = (await status(relayed)).history[0];
    expect(last).toMatchObject({ outcome: 'failed', message: reason });
    expect(last?.output?.length).toBeGreaterThan(0);
    const rerun = await cli(
      ['install', '-f', values('meshConfig: {accessLogFile: /dev/vanished}\n')],
      relayed,
    );
    expect(`${rerun.exitCode} ${rerun.stderr}`).toMatch(/^0 /);
  } finally {
    await relay.stop();
  }
});
