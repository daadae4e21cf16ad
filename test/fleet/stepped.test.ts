// A stepped upgrade under a real Rancher Fleet, continued from Git, and a downstream cluster that goes down: a
// Kubernetes 1.32 rig left as Rancher 2.12 leaves it (Istio 1.25.0 by istioctl 1.25.0, real istiod 1.25.0, injected
// workloads) gets the chart from a Bundle with upgrade.updateWorkloads off and the Istio version left to the chart;
// the Job adopts, makes the first hop and stops for workload restarts; each restart plus the Git change docs/fleet.md
// names (a new installer.debug.secondsSleep in the cluster's target customization) carries it one hop further, to the
// end. A second cluster, the canary, then stops; a values change still reaches and installs on the first.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalImage } from '../container/local-image.js';
import { startChartRig, type ChartRig } from '../chart/chart-rig.js';
import { CHART, NAMESPACE, RELEASE } from '../chart/render.js';
import { startFleet, type Fleet } from '../cluster/fleet.js';
import type { Cluster } from '../cluster/rig.js';
import type { RigIstioVersion } from '../cluster/tools.js';
import { eventually } from '../cluster/testkit.js';
import { FLEET_VERSION } from '../cluster/fleet-build.js';
import { decodeRecord, RECORD_CONFIGMAP } from '../../src/installer/model/record.js';
import { RANCHER_2_12 } from '../e2e/rancher-shaped.js';
import {
  Monitor,
  injectedAtStart,
  istiods,
  jobLogs,
  startRancherRig,
  workloadProxies,
  type RancherRig,
} from '../e2e/rancher-path.js';

const say = (line: string) => process.stderr.write(`fleet stepped: ${line}\n`);
const BUNDLE = 'rancher-istio';
const START = RANCHER_2_12.istio;
/** The hops the installer plans from 1.25.0 on Kubernetes 1.32 through the image's istioctls (decide/path.ts). */
const HOPS = ['1.27.9', '1.29.6', '1.31.0'];
/** Every Istio whose istioctl or istiod the stepped cluster runs: the start, the hops, the image's bundled 1.30.4. */
const ISTIO: RigIstioVersion[] = ['1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'];
const GITREPO_TARGETS = [
  'targets:',
  '  - name: istio-clusters',
  '    clusterSelector:',
  '      matchExpressions:',
  '        - { key: istio.example.com/data-plane, operator: Exists }',
  '',
].join('\n');

interface List<T> {
  items: T[];
}
interface Condition {
  type: string;
  status: string;
  message?: string;
  lastUpdateTime?: string;
}
interface BundleDeployment {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { deploymentID?: string };
  status?: {
    appliedDeploymentID?: string;
    ready?: boolean;
    display?: { state?: string; message?: string };
    conditions?: Condition[];
  };
}

let stepped: RancherRig | undefined;
let canaryRig: ChartRig | undefined;
/** The Rancher 2.12 cluster: Fleet's management cluster too, as Rancher's local cluster is. */
let a: Cluster;
let fleet: Fleet;
let repo: string;
let monitor: Monitor;

beforeAll(async () => {
  stepped = await startRancherRig('fleet-stepped', RANCHER_2_12, ISTIO, 40 * 60_000);
  a = stepped.cluster;
  canaryRig = await startChartRig('fleet-stepped-canary', { lifetimeMs: 40 * 60_000, nodes: 1 });
  say(`Fleet ${FLEET_VERSION}; ${a.podRuntime.reason}`);
  if (a.podRuntime.mode === 'podman') await ensureLocalImage(say);
  fleet = await startFleet({
    management: a,
    downstream: [
      // The stepped cluster is in the sidecar group and the partition after the canaries.
      { name: 'stepped', cluster: a, labels: { 'istio.example.com/data-plane': 'sidecar' } },
      {
        name: 'canary',
        cluster: canaryRig.cluster,
        labels: { 'istio.example.com/data-plane': 'ambient', 'istio.example.com/rollout': 'canary' },
      },
    ],
    dir: join(stepped.work, 'fleet'),
    log: say,
  });
  // The Git checkout: the example with the chart beside it, the Istio version left to the chart and workloads left
  // to their owners (so the path stops for their restarts).
  repo = mkdtempSync(join(stepped.work, 'repo-'));
  cpSync('examples/fleet', repo, { recursive: true });
  cpSync(CHART, join(repo, 'rancher-istio'), { recursive: true });
  const values = join(repo, 'values.yaml');
  const text = readFileSync(values, 'utf8');
  writeFileSync(
    values,
    text.replace("tag: '1.31.0'\n", '').replace('updateWorkloads: true', 'updateWorkloads: false'),
  );
  expect(readFileSync(values, 'utf8')).not.toMatch(/^tag:|updateWorkloads: true/m);
  writeFileSync(join(repo, '..', 'targets.yaml'), GITREPO_TARGETS);
}, 20 * 60_000);

afterAll(async () => {
  await monitor?.stop();
  await fleet?.stop();
  await canaryRig?.stop();
  await stepped?.stop();
});

async function apply(): Promise<void> {
  const r = await fleet.apply(BUNDLE, repo, [`--targets-file=${join(repo, '..', 'targets.yaml')}`]);
  expect({ exitCode: r.exitCode, output: r.exitCode === 0 ? '' : r.all }).toEqual({ exitCode: 0, output: '' });
}

/** The Bundle's BundleDeployment on one registered cluster. */
async function bundleDeployment(name: 'stepped' | 'canary'): Promise<BundleDeployment | undefined> {
  const bds = await a.kube.get<List<BundleDeployment>>(
    `/apis/fleet.cattle.io/v1alpha1/namespaces/${fleet.clusters[name]?.namespace}/bundledeployments`,
  );
  return bds.items.find((b) => b.metadata.labels?.['fleet.cattle.io/bundle-name'] === BUNDLE);
}

const condition = (bd: BundleDeployment | undefined, type: string) =>
  bd?.status?.conditions?.find((c) => c.type === type);

/** Helm's release revisions on a cluster, `<revision> <status>`, from the Helm SDK's release Secrets. */
async function helmRevisions(cluster: Cluster): Promise<string[]> {
  const secrets = await cluster.kube.get<List<{ metadata: { labels?: Record<string, string> } }>>(
    `/api/v1/namespaces/${NAMESPACE}/secrets?labelSelector=owner%3Dhelm,name%3D${RELEASE}`,
  );
  return secrets.items
    .map((s) => ({ v: Number(s.metadata.labels?.version), status: s.metadata.labels?.status ?? '?' }))
    .sort((x, y) => x.v - y.v)
    .map((r) => `${r.v} ${r.status}`);
}

async function record(cluster: Cluster) {
  const cm = await cluster.kube.get<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(
    `/api/v1/namespaces/${NAMESPACE}/configmaps/${RECORD_CONFIGMAP}`,
  );
  return decodeRecord(cm.data, cm.binaryData);
}

/** The installer's history, oldest first: `<action> <istio> <outcome>`. */
async function history(cluster: Cluster): Promise<string[]> {
  return [...((await record(cluster))?.history ?? [])]
    .reverse()
    .map((e) => `${e.action} ${e.istioVersion} ${e.outcome}`);
}

interface JobPod {
  metadata: { name: string; uid: string; creationTimestamp?: string };
  status?: {
    phase?: string;
    containerStatuses?: { state?: { terminated?: { exitCode: number; message?: string } } }[];
  };
}
const jobPods = async (cluster: Cluster) =>
  (
    await cluster.kube.get<List<JobPod>>(
      `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${RELEASE}-install`,
    )
  ).items;

/**
 * What one deployment of the stepped cluster ended with, once Fleet's agent has run a Helm upgrade newer than
 * `revisionsBefore` to its end: Ready on the new deployment ID, or the Deployed condition False.
 */
async function steppedOutcome(
  what: string,
  revisionsBefore: string[],
): Promise<{ ready: boolean; bd: BundleDeployment; revisions: string[] }> {
  const newest = (r: string[]) => Number(r.at(-1)?.split(' ')[0] ?? 0);
  try {
    return await Promise.race([
      fleet.exited,
      eventually(what, 10 * 60_000, async () => {
        const revisions = await helmRevisions(a);
        if (newest(revisions) <= newest(revisionsBefore) || /pending/.test(revisions.at(-1) ?? ''))
          return undefined;
        const bd = await bundleDeployment('stepped');
        if (!bd) return undefined;
        const applied = bd.status?.appliedDeploymentID === bd.spec?.deploymentID;
        if (applied && bd.status?.ready && revisions.at(-1)?.endsWith('deployed'))
          return { ready: true, bd, revisions };
        const deployed = condition(bd, 'Deployed');
        if (deployed?.status === 'False' && revisions.at(-1)?.endsWith('failed'))
          return { ready: false, bd, revisions };
        return undefined;
      }),
    ]);
  } catch (err) {
    const bd = await bundleDeployment('stepped').catch(() => undefined);
    throw new Error(
      [
        (err as Error).message,
        JSON.stringify(bd?.status),
        (await helmRevisions(a).catch(() => [])).join(', '),
        fleet.log('agent-stepped').slice(-3000),
      ].join('\n'),
    );
  }
}

/** Sets the sidecar group's installer.debug.secondsSleep in fleet.yaml: the Git change that continues a path. */
function setSecondsSleep(seconds: number): void {
  const file = join(repo, 'fleet.yaml');
  const text = readFileSync(file, 'utf8');
  const sidecar = '        dns:\n          enabled: true\n';
  const sleep = (s: number) => `        installer:\n          debug:\n            secondsSleep: ${s}\n`;
  const next = /secondsSleep: \d+/.test(text)
    ? text.replace(/secondsSleep: \d+/, `secondsSleep: ${seconds}`)
    : text.replace(sidecar, `${sidecar}${sleep(seconds)}`);
  expect(next).toContain(`secondsSleep: ${seconds}`);
  writeFileSync(file, next);
}

/** `kubectl rollout restart deployment/web`, through the API as the installer's restartOwner does it. */
async function restartWeb(): Promise<void> {
  await a.kube.mergePatch('/apis/apps/v1/namespaces/apps/deployments/web', {
    spec: {
      template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } },
    },
  });
}

/** The Istio versions the Job's pods planned and ran, from their logs (`hop <v>: istioctl <v>` lines). */
const ranVersions = new Set<string>();
async function noteVersions(): Promise<void> {
  for (const m of (await jobLogs(a)).matchAll(/^ {2}hop (\S+): istioctl ([\d.]+)/gm))
    ranVersions.add(`istioctl ${m[2] ?? ''}`);
}

test("Rancher 2.12's start on Kubernetes 1.32: istiod 1.25.0 Ready, the workloads injected by it", async () => {
  const [istiod] = await istiods(a);
  expect([istiod?.version, istiod?.ready]).toEqual([START, true]);
  expect((await injectedAtStart(a)).map((p) => p.version)).toEqual([START, START]);
  const version = await a.kube.get<{ gitVersion: string }>('/version');
  expect(version.gitVersion).toMatch(/^v1\.32\./);
});

let stoppedMessage = '';

test('fleet apply: adopt, the first hop, then the Job stops (exit 3) for workload restarts and Fleet shows it', async () => {
  monitor = new Monitor(a);
  const before = await helmRevisions(a);
  const started = Date.now();
  await apply();
  const out = await steppedOutcome('the first deployment on the stepped cluster to end', before);
  say(`first deployment ended after ${Math.round((Date.now() - started) / 1000)} s; ready ${out.ready}`);
  say(`BundleDeployment status: ${JSON.stringify(out.bd.status?.conditions)} ${JSON.stringify(out.bd.status?.display)}`);
  say(`helm revisions: ${out.revisions.join(', ')}; record: ${(await history(a)).join('; ')}`);
  await noteVersions();
  expect(out.ready).toBe(false);
  const pods = await jobPods(a);
  const terminated = pods.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated);
  expect(terminated.map((t) => t?.exitCode)).toEqual([3]);
  stoppedMessage = terminated[0]?.message ?? '';
  expect(stoppedMessage).toContain('kubectl -n apps rollout restart deployment/web');
  expect(await history(a)).toEqual([`adopt ${START} succeeded`, `upgrade-canary ${HOPS[0]} succeeded`]);
  const deployed = condition(out.bd, 'Deployed');
  say(`Fleet's message: ${deployed?.message ?? ''}`);
  expect(deployed?.message).toMatch(/rancher-istio-install/);
});

test('a pause: does Fleet retry by itself before the Git change?', async () => {
  const before = await helmRevisions(a);
  const uids = (await jobPods(a)).map((p) => p.metadata.uid);
  await new Promise((r) => setTimeout(r, 90_000));
  const after = await helmRevisions(a);
  const uidsAfter = (await jobPods(a)).map((p) => p.metadata.uid);
  say(`in 90 s without a change: helm ${before.join(', ')} -> ${after.join(', ')}; job pods ${uids.join(',')} -> ${uidsAfter.join(',')}`);
  say(`record: ${(await history(a)).join('; ')}`);
  say(`proxies: ${JSON.stringify(await workloadProxies(a))}`);
});
