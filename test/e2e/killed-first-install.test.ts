// A first install killed (with its istioctl) before the gateways exist, on a real API server with real istioctl
// 1.31.0 and the rig's real istiod: status names what is missing, plan repairs it, and a plain re-run converges.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { cli, startCli, valuesFile, whenStderrHas } from './helpers.js';

let cluster: Cluster;
let values: string;

interface Status {
  healthy: boolean;
  problems: string[];
  history: { action: string; outcome: string }[];
}

async function status(): Promise<Status> {
  const result = await cli(['status', '-o', 'json'], cluster.kubeconfigPath);
  expect(`${result.exitCode} ${result.stderr}`).toMatch(/^0 /);
  return JSON.parse(result.stdout) as Status;
}

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 20 * 60_000 });
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-killed-first-'));
  values = valuesFile(
    dir,
    'values.yaml',
    'tag: "1.31.0"\ningressGateways:\n  enabled: true\ninstaller:\n  timeouts:\n    readinessSeconds: 120\n',
  );
});

afterAll(async () => {
  await cluster?.stop();
});

test('killed once the CRDs are in: status is not healthy and names the missing gateway, plan repairs, a re-run converges', async () => {
  const child = startCli(['install', '-f', values], cluster.kubeconfigPath);
  // istioctl applies the gateways only after istiod is ready, which the real istiod takes seconds to be: killed
  // here, the gateway can never have been created.
  await whenStderrHas(child, 'Istio core installed');
  process.kill(-(child.pid as number), 'SIGKILL');
  await child;

  const broken = await status();
  expect(broken.healthy).toBe(false);
  expect(broken.problems).toContain('Deployment istio-system/istio-ingressgateway: missing');
  expect(broken.history.map((h) => `${h.action} ${h.outcome}`)).toEqual(['install interrupted']);

  const plan = await cli(['plan', '-f', values], cluster.kubeconfigPath);
  expect(`${plan.exitCode} ${plan.stderr}`).toMatch(/^0 /);
  expect(plan.stdout).toMatch(/^plan: (install|repair)\n/);

  const rerun = await cli(['install', '-f', values], cluster.kubeconfigPath);
  expect(`${rerun.exitCode} ${rerun.stderr}`).toMatch(/^0 /);
  expect(rerun.stderr).not.toContain('forceInstall');
  const healed = await status();
  expect(healed).toMatchObject({ healthy: true, problems: [] });
  expect(healed.history.map((h) => `${h.action} ${h.outcome}`)).toEqual([
    expect.stringMatching(/^(install|repair) succeeded$/),
    'install interrupted',
  ]);
});
