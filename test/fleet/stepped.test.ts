// A stepped upgrade under a real Rancher Fleet, continued from Git, and a downstream cluster that goes down: a
// Kubernetes 1.32 rig left as Rancher 2.12 leaves it (Istio 1.25.0 by istioctl 1.25.0, real istiod 1.25.0, injected
// workloads) gets the chart from a Bundle with upgrade.updateWorkloads off and the Istio version left to the chart;
// the Job adopts, makes the first hop and stops for workload restarts; Fleet's agent retries by itself and each retry
// stops again; each restart plus the Git change docs/fleet.md names (a new installer.debug.secondsSleep in the
// cluster's target customization) carries it one hop further, to the end. Then the other cluster, the canary, stops:
// under the example's maxUnavailable 1 it holds a values change back from the first, under 2 it does not.
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
  hopsInLogs,
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
  spec?: { deploymentID?: string; stagedDeploymentID?: string };
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
  watching = false;
  await monitor?.stop();
  await fleet?.stop();
  await canaryRig?.stop();
  await stepped?.stop();
});

async function apply(): Promise<void> {
  const r = await fleet.apply(BUNDLE, repo, [`--targets-file=${join(repo, '..', 'targets.yaml')}`]);
  expect({ exitCode: r.exitCode, output: r.exitCode === 0 ? '' : r.all }).toEqual({
    exitCode: 0,
    output: '',
  });
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
  spec?: { containers: { env?: { name: string; value?: string }[] }[] };
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

/** The stepped cluster's deployment ID and Helm revisions before the last `fleet apply`. */
let beforeApply: { id: string | undefined; revisions: string[] } = { id: undefined, revisions: [] };

/** `fleet apply` of the checkout, noting what the stepped cluster had before it. */
async function applyChange(): Promise<void> {
  beforeApply = {
    id: (await bundleDeployment('stepped'))?.spec?.deploymentID,
    revisions: await helmRevisions(a),
  };
  await apply();
}

/**
 * What the last applied change ended with on the stepped cluster, once Fleet gave it a new deployment ID and its
 * agent ran a Helm upgrade to its end: Ready on that ID, or the Deployed condition False with the release failed.
 */
async function steppedOutcome(
  what: string,
): Promise<{ ready: boolean; bd: BundleDeployment; revisions: string[] }> {
  const newest = (r: string[]) => Number(r.at(-1)?.split(' ')[0] ?? 0);
  try {
    return await Promise.race([
      fleet.exited,
      eventually(what, 10 * 60_000, async () => {
        const revisions = await helmRevisions(a);
        const bd = await bundleDeployment('stepped');
        if (!bd?.spec?.deploymentID || bd.spec.deploymentID === beforeApply.id) return undefined;
        if (newest(revisions) <= newest(beforeApply.revisions) || /pending/.test(revisions.at(-1) ?? ''))
          return undefined;
        // Settled: one Git change can reach the agent as two deployment IDs (Fleet updated the BundleDeployment
        // before its values Secret caught up, seen as two helm upgrades seconds apart), so wait for the staged one.
        const applied =
          bd.status?.appliedDeploymentID === bd.spec.deploymentID &&
          bd.spec.deploymentID === bd.spec.stagedDeploymentID;
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
        (await jobLogs(a).catch(() => '')).slice(-3000),
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
      template: {
        metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } },
      },
    },
  });
}

/** What each Job run read here did, from its pod's log: the istioctl of each hop it planned and what it installed. */
const runs: string[] = [];
async function noteRun(pod: JobPod | undefined): Promise<string> {
  // By name, not through the current Job: Fleet's agent may already have replaced the Job with a retry's. The pod's
  // log is complete a moment after its exit code is: read it until it stops growing.
  let logs = '';
  for (let i = 0; i < 10 && pod; i++) {
    const now = a.podLogs(NAMESPACE, pod.metadata.name);
    if (now.length > 0 && now === logs) break;
    logs = now;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const { planned, installed } = hopsInLogs(logs);
  runs.push(
    logs
      ? `planned ${planned.join(', ') || '-'}, installed ${installed.join(', ') || 'nothing'}`
      : `${pod?.metadata.name ?? 'no pod'}: log not read`,
  );
  return logs;
}

test("Rancher 2.12's start on Kubernetes 1.32: istiod 1.25.0 Ready, the workloads injected by it", async () => {
  const [istiod] = await istiods(a);
  expect([istiod?.version, istiod?.ready]).toEqual([START, true]);
  expect((await injectedAtStart(a)).map((p) => p.version)).toEqual([START, START]);
  const version = await a.kube.get<{ gitVersion: string }>('/version');
  expect(version.gitVersion).toMatch(/^v1\.32\./);
});

/** The Job pod of the Job that exists now (before-hook-creation deletes the previous one with its pods). */
async function lastJobPod(): Promise<JobPod | undefined> {
  return (await jobPods(a))
    .sort((x, y) => (x.metadata.creationTimestamp ?? '').localeCompare(y.metadata.creationTimestamp ?? ''))
    .at(-1);
}
const exitCode = (pod: JobPod | undefined) =>
  pod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode;
const secondsSleepOf = (pod: JobPod | undefined) =>
  pod?.spec?.containers[0]?.env?.find((e) => e.name === 'SECONDS_SLEEP')?.value;

/**
 * Every Job pod seen on the stepped cluster, by name, with its latest status: Fleet's agent replaces a failed Job with
 * a retry's within seconds (before-hook-creation deletes the old one), so a pod is read from here, its log by name.
 */
const seenPods = new Map<string, JobPod>();
let watching = true;
async function watchJobPods(): Promise<void> {
  while (watching) {
    try {
      for (const pod of await jobPods(a)) seenPods.set(pod.metadata.name, pod);
    } catch {
      // A busy apiserver on two shared cores; the next poll reads it.
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
/** The first Job pod seen, not among `skip`, that `when` accepts once it has exited. */
function exitedPod(what: string, when: (pod: JobPod) => boolean, skip: string[] = []): Promise<JobPod> {
  return eventually(what, 10 * 60_000, async () =>
    [...seenPods.values()].find(
      (p) => !skip.includes(p.metadata.name) && exitCode(p) !== undefined && when(p),
    ),
  );
}

/** The Helm revision creation times seen so far: when Fleet's agent ran a helm upgrade. */
const upgradesSeen = new Map<string, number>();
async function noteUpgrades(): Promise<void> {
  for (const r of await helmRevisions(a)) {
    const n = r.split(' ')[0] ?? '';
    if (!upgradesSeen.has(n)) upgradesSeen.set(n, Date.now());
  }
}

let appliedAt = 0;

let firstPod: JobPod;

test('fleet apply: adopt, the first hop, then the Job stops (exit 3) for workload restarts; Fleet shows a failed hook', async () => {
  monitor = new Monitor(a);
  void watchJobPods();
  appliedAt = Date.now();
  await applyChange();
  const out = await steppedOutcome('the first deployment on the stepped cluster to end');
  await noteUpgrades();
  firstPod = await exitedPod('the first Job pod to end', () => true);
  const logs = await noteRun(firstPod);
  const deployed = condition(out.bd, 'Deployed');
  say(`first deployment ended after ${Math.round((Date.now() - appliedAt) / 1000)} s`);
  say(`Fleet shows: state ${out.bd.status?.display?.state}; Deployed=False: ${deployed?.message ?? ''}`);
  say(`helm revisions: ${out.revisions.join(', ')}; record: ${(await history(a)).join('; ')}`);
  expect(out.ready).toBe(false);
  expect(exitCode(firstPod)).toBe(3);
  expect(await history(a)).toEqual([`adopt ${START} succeeded`, `upgrade-canary ${HOPS[0]} succeeded`]);
  // Fleet shows Helm's hook failure, not the installer's words: Helm's wait reads the Job's status, which says only
  // that it failed. The commands are in the Job's log (kubectl -n istio-system logs job/rancher-istio-install).
  expect(out.bd.status?.display?.state).toBe('ErrApplied');
  expect(deployed?.message).toMatch(
    /post-upgrade hooks failed: resource Job\/istio-system\/rancher-istio-install not ready\. status: Failed/,
  );
  expect(deployed?.message).not.toContain('rollout restart');
  expect(logs).toContain(`before the hop to ${HOPS[1]}`);
  expect(logs).toContain('kubectl -n apps rollout restart deployment/web');
});

test("Fleet's agent retries the failed release by itself: each retry's Job stops again before the hop, changing nothing", async () => {
  const retried = await exitedPod('a retry by Fleet’s agent to end', () => true, [firstPod.metadata.name]);
  await noteUpgrades();
  const logs = await noteRun(retried);
  say(`a retry without a change: helm revisions ${(await helmRevisions(a)).join(', ')}`);
  expect(exitCode(retried)).toBe(3);
  // Without the gate before a run's first hop, this retry went on to 1.29.6 and 1.31.0 with the proxies on 1.25.0.
  expect(await history(a)).toEqual([`adopt ${START} succeeded`, `upgrade-canary ${HOPS[0]} succeeded`]);
  expect(logs).toContain(`before the hop to ${HOPS[1]}`);
  expect(hopsInLogs(logs).installed).toEqual([]);
  expect((await workloadProxies(a)).map((p) => p.version)).toEqual([START, START]);
});

test(`restarts plus a Git change each (a new secondsSleep) carry the path on to ${HOPS.at(-1)}; istiod Ready throughout`, async () => {
  const started = Date.now();
  const continued: string[] = [];
  for (let sleep = 1; sleep <= 4; sleep++) {
    const active = (await record(a))?.current.istioVersion ?? '';
    const revision = `1-${active.split('.')[1] ?? ''}`;
    // What the stop's message asks for: a rollout restart, so the default tag injects the active version.
    await restartWeb();
    await eventually(`both web pods on ${active}`, 120_000, async () => {
      const now = await workloadProxies(a);
      return now.length === 2 && now.every((p) => p.version === active && p.revision === revision)
        ? true
        : undefined;
    });
    setSecondsSleep(sleep);
    await applyChange();
    // Fleet redeploys: a new deployment ID, and a Job whose pod carries the new value.
    const pod = await exitedPod(
      `the Job with secondsSleep ${sleep} to end`,
      (p) => secondsSleepOf(p) === String(sleep),
    );
    const bd = await bundleDeployment('stepped');
    expect(bd?.spec?.deploymentID).not.toBe(beforeApply.id);
    await noteUpgrades();
    await noteRun(pod);
    const rec = await history(a);
    continued.push(`secondsSleep ${sleep}: exit ${exitCode(pod)}, record ends ${rec.at(-1)}`);
    say(continued.at(-1) ?? '');
    if (exitCode(pod) === 0) break;
    expect(exitCode(pod)).toBe(3);
  }
  const out = await steppedOutcome('the last deployment to be Ready');
  // Fleet may still hand the agent a second deployment ID for the same change (see steppedOutcome): settled once the
  // stepped cluster's Helm revisions stay the same over two agent check-ins, on the staged ID, Ready.
  await eventually('Fleet to settle on the stepped cluster', 5 * 60_000, async () => {
    const revisions = await helmRevisions(a);
    await new Promise((r) => setTimeout(r, 30_000));
    const bd = await bundleDeployment('stepped');
    const same = JSON.stringify(await helmRevisions(a)) === JSON.stringify(revisions);
    return same &&
      bd?.status?.ready &&
      bd.spec?.deploymentID === bd.spec?.stagedDeploymentID &&
      bd.status.appliedDeploymentID === bd.spec?.deploymentID
      ? true
      : undefined;
  });
  await monitor.stop();
  const seen = monitor.seen();
  const installed = [...seenPods.keys()].map((name) => hopsInLogs(a.podLogs(NAMESPACE, name)).installed);
  const installs = [...seenPods.keys()].flatMap((name, i) =>
    (installed[i] ?? []).map((rev) => `${rev} (${name})`),
  );
  say(`istioctl installs in the ${seenPods.size} Job runs seen: ${installs.join(', ')}`);
  say(`path continued from Git in ${Math.round((Date.now() - started) / 1000)} s: ${continued.join('; ')}`);
  say(`istiod seen Ready: ${seen.istiods.join(', ')}`);
  say(`workload proxies seen: ${seen.proxies.join(', ')}; record: ${(await history(a)).join('; ')}`);
  say(
    `helm upgrades by Fleet's agent, s after fleet apply: ${[...upgradesSeen.entries()].map(([n, t]) => `${n}@${Math.round((t - appliedAt) / 1000)}`).join(', ')}`,
  );
  const agentLog = fleet.log('agent-stepped');
  const ids = new Set([...agentLog.matchAll(/"deploymentID":"[^":]*:([0-9a-f]{8})/g)].map((m) => m[1]));
  say(
    `the stepped agent so far: ${agentLog.split('Upgrading helm release').length - 1} helm upgrades, ${agentLog.split('Reconciler error').length - 1} failed, deployment IDs ${[...ids].join(', ')}`,
  );
  expect(out.ready).toBe(true);
  expect(out.revisions.at(-1)).toMatch(/deployed$/);
  // One istioctl install per hop over every Job run seen (retries and no-op runs install nothing).
  expect(installed.flat()).toEqual(['1-27', '1-29', '1-31-0']);
  expect(await history(a)).toEqual([
    `adopt ${START} succeeded`,
    ...HOPS.map((v) => `upgrade-canary ${v} succeeded`),
  ]);
  // Every hop's istiod (real pilot-discovery of that version) seen Ready.
  for (const v of [START, ...HOPS])
    expect(seen.istiods.some((d) => d.endsWith(`:${v}`) || d.includes(`:${v}-`))).toBe(true);
  expect(monitor.samples.length).toBeGreaterThan(30);
  // What each istiod's readiness did, as runs of samples (`1-31-0 ready 120-150s`), and its pods' restarts: to tell a
  // tag moved too early from an istiod that went unready after it.
  const timeline = new Map<string, string[]>();
  let previous = new Map<string, boolean>();
  for (const sample of monitor.samples) {
    const now = new Map(sample.istiods.map((d) => [d.name, d.ready] as const));
    for (const [name, ready] of now)
      if (previous.get(name) !== ready)
        timeline.set(name, [
          ...(timeline.get(name) ?? []),
          `${ready ? 'ready' : 'not ready'} at ${Math.round(sample.at / 1000)}s`,
        ]);
    previous = now;
  }
  const istiodPods = await a.kube.get<
    List<{ metadata: { name: string }; status?: { containerStatuses?: { restartCount?: number }[] } }>
  >(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=app%3Distiod`);
  say(`istiod readiness: ${[...timeline.entries()].map(([n, t]) => `${n}: ${t.join(', ')}`).join('; ')}`);
  say(
    `istiod restarts: ${istiodPods.items.map((p) => `${p.metadata.name} ${p.status?.containerStatuses?.[0]?.restartCount ?? 0}`).join(', ')}`,
  );
  say(
    `injection probes refused: ${
      monitor.probes
        .filter((p) => p.injected.startsWith('refused'))
        .map((p) => `${Math.round(p.at / 1000)}s`)
        .join(', ') || 'none'
    }`,
  );
  expect(monitor.violations()).toEqual({
    noIstiodReady: [],
    injectedFromNoLiveRevision: [],
    skewed: [],
    stranded: [],
  });
  expect(seen.proxies).toEqual([START, HOPS[0], HOPS[1]]);
});

/** The Fleet `Cluster` object of a registered cluster, as the management side sees it. */
async function fleetCluster(name: 'stepped' | 'canary') {
  return a.kube.get<{ status?: { agent?: { lastSeen?: string }; display?: Record<string, unknown> } }>(
    `/apis/fleet.cattle.io/v1alpha1/namespaces/fleet-default/clusters/${fleet.clusters[name]?.name}`,
  );
}

async function bundleStatus(): Promise<string> {
  const bundle = await a.kube.get<{ status?: { display?: unknown; conditions?: Condition[] } }>(
    `/apis/fleet.cattle.io/v1alpha1/namespaces/fleet-default/bundles/${BUNDLE}`,
  );
  const ready = bundle.status?.conditions?.find((c) => c.type === 'Ready');
  return `${JSON.stringify(bundle.status?.display)} Ready=${ready?.status}: ${ready?.message ?? ''}`;
}

let downAt = 0;
let canaryApplied: string | undefined;

test("the canary cluster goes down: with the example's maxUnavailable 1 it holds a values change back from the stepped cluster; nothing hangs", async () => {
  const canaryBefore = await bundleDeployment('canary');
  expect([canaryBefore?.status?.display?.state, canaryBefore?.status?.ready]).toEqual(['Ready', true]);
  canaryApplied = canaryBefore?.status?.appliedDeploymentID;
  const steppedBefore = await bundleDeployment('stepped');
  // The whole cluster goes: its agent (which dials out to the management cluster) and its apiserver.
  await fleet.stopAgent('canary');
  await canaryRig?.stop();
  canaryRig = undefined;
  downAt = Date.now();
  const values = join(repo, 'values.yaml');
  writeFileSync(values, `${readFileSync(values, 'utf8')}meshConfig:\n  accessLogFile: /dev/stdout\n`);
  await applyChange();
  // Fleet stages the change for both and hands it to the canary (first in order) at once: a cluster whose
  // deployment is not applied counts as unavailable, and with it the one cluster maxUnavailable allows is used up.
  await eventually('the change staged for both clusters', 120_000, async () => {
    const [canary, stepped] = [await bundleDeployment('canary'), await bundleDeployment('stepped')];
    return canary?.spec?.deploymentID !== canaryBefore?.spec?.deploymentID &&
      stepped?.spec?.stagedDeploymentID !== steppedBefore?.spec?.stagedDeploymentID
      ? true
      : undefined;
  });
  const stagedAt = Date.now();
  const revisionsAtStage = await helmRevisions(a);
  await eventually('two check-ins of the stepped agent after the change', 120_000, async () =>
    Date.parse((await fleetCluster('stepped')).status?.agent?.lastSeen ?? '') > stagedAt + 15_000
      ? true
      : undefined,
  );
  const stepped = await bundleDeployment('stepped');
  const canary = await bundleDeployment('canary');
  const lastSeen = (await fleetCluster('canary')).status?.agent?.lastSeen ?? '';
  say(`with the canary down, Bundle: ${await bundleStatus()}`);
  say(
    `canary: state ${canary?.status?.display?.state}, ready ${canary?.status?.ready}, last seen ${lastSeen}`,
  );
  say(
    `stepped: state ${stepped?.status?.display?.state}, deployment ${stepped?.spec?.deploymentID === steppedBefore?.spec?.deploymentID ? 'unchanged' : 'changed'}, staged ${stepped?.spec?.stagedDeploymentID === steppedBefore?.spec?.stagedDeploymentID ? 'unchanged' : 'new'}`,
  );
  // The canary's deployment waits for an agent that does not come; its last check-in is from before the stop.
  expect(canary?.status?.appliedDeploymentID).toBe(canaryApplied);
  expect(canary?.spec?.deploymentID).not.toBe(canaryApplied);
  expect(Date.parse(lastSeen)).toBeLessThan(downAt);
  // The stepped cluster keeps its deployment, Ready, and no Job ran: the change is staged, not handed over.
  expect(stepped?.spec?.deploymentID).toBe(steppedBefore?.spec?.deploymentID);
  // (Its display state was `OutOfSync` in some runs and `Ready` in others, as the agent last wrote it.)
  expect(stepped?.status?.ready).toBe(true);
  expect(await helmRevisions(a)).toEqual(revisionsAtStage);
  expect((await record(a))?.spec).not.toContain('accessLogFile');
});

test('raising rolloutStrategy.maxUnavailable in Git lets the change reach and install on the stepped cluster; the canary stays not applied', async () => {
  const file = join(repo, 'fleet.yaml');
  const text = readFileSync(file, 'utf8');
  expect(text).toContain('  maxUnavailable: 1\n  maxUnavailablePartitions: 0');
  writeFileSync(file, text.replace('  maxUnavailable: 1\n', '  maxUnavailable: 2\n'));
  const started = Date.now();
  await applyChange();
  const out = await steppedOutcome('the values change to be Ready on the stepped cluster');
  say(
    `values change on the stepped cluster once maxUnavailable was 2: ${Math.round((Date.now() - started) / 1000)} s`,
  );
  await noteRun(await lastJobPod());
  say(`that run: ${runs.at(-1) ?? ''}; Bundle: ${await bundleStatus()}`);
  expect(out.ready).toBe(true);
  const rec = await record(a);
  expect(rec?.current.outcome).toBe('succeeded');
  expect(rec?.spec).toContain('accessLogFile: /dev/stdout');
  const canary = await bundleDeployment('canary');
  expect(canary?.status?.appliedDeploymentID).toBe(canaryApplied);
  expect(Date.parse((await fleetCluster('canary')).status?.agent?.lastSeen ?? '')).toBeLessThan(downAt);
});
