// A cluster as Rancher 2.12 leaves it, moved onto this chart and stepped up for real, on the Kubernetes Rancher 2.12
// runs (1.32): the Rancher-shaped release at chart 107.1.0 with Rancher's values, its control plane installed by
// istioctl 1.25.0 with Rancher's pinned images, real istiod 1.25.0, workloads it injected and users' Istio resources;
// then `helm upgrade rancher-istio <this chart>` with the Istio version left to the chart and upgrade.updateWorkloads,
// whose Job adopts and canaries 1.27.9 -> 1.29.6 -> 1.31.0, each hop with its real istioctl and istiod. The Job's pod
// is killed (-9) in the hop to 1.29.6 and the next `helm upgrade` resumes. A monitor samples istiod, the workloads'
// proxies and a dry-run pod's injection from the first upgrade to the end of the second.
import { readFileSync, readdirSync } from 'node:fs';
import type { Cluster } from '../cluster/rig.js';
import type { RigIstioVersion } from '../cluster/tools.js';
import { NAMESPACE } from '../chart/render.js';
import { RANCHER_2_12 } from './rancher-shaped.js';
import {
  Monitor,
  history,
  hopsInLogs,
  injectedAtStart,
  istiods,
  jobLogs,
  releaseStatus,
  startRancherRig,
  type RancherRig,
  upgradeOntoChart as upgrade,
  userResources,
  workloadsEndOn,
  type Pod,
} from './rancher-path.js';

const START = RANCHER_2_12.istio;
/** The hops the installer plans from 1.25.0 on Kubernetes 1.32 through the image's istioctls (decide/path.ts). */
const HOPS = ['1.27.9', '1.29.6', '1.31.0'];
/** Every Istio whose istioctl or istiod this test runs: the start, the hops, and the image's 1.30.4 (bundled, unused). */
const ISTIO: RigIstioVersion[] = ['1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'];

let cluster: Cluster;
let work: string;
let created: Record<string, string> = {};

/**
 * `kill -9` of the running installer Job pod, as a node's kernel kills a container: every process whose environment
 * names the pod as HOSTNAME (the process kubelet sets it; Podman sets it from the pod's hostname), its istioctl too.
 */
async function killJobPod(): Promise<string[]> {
  const pods = await cluster.kube.get<{ items: Pod[] }>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3Drancher-istio-install`,
  );
  const running = pods.items.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata.name);
  const killed: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let environ: string[];
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const pod = running.find((name) => environ.includes(`HOSTNAME=${name}`));
    if (!pod) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed.push(`${pod} pid ${pid}`);
    } catch {
      // Exited meanwhile.
    }
  }
  return killed;
}

let rig: RancherRig | undefined;

beforeAll(async () => {
  rig = await startRancherRig('rancher-2-12', RANCHER_2_12, ISTIO, 50 * 60_000);
  ({ cluster, work, created } = rig);
}, 20 * 60_000);

afterAll(async () => {
  await rig?.stop();
});

test("Rancher 2.12's start: istiod 1.25.0 (Rancher's pinned image, real pilot-discovery) Ready; it injected the workloads", async () => {
  const [istiod] = await istiods(cluster);
  expect(istiod).toEqual({
    name: 'istiod',
    image: 'rancher/mirrored-istio-pilot:1.25.0-distroless',
    version: START,
    ready: true,
  });
  expect((await injectedAtStart(cluster)).map((p) => p.version)).toEqual([START, START]);
});

let monitor: Monitor;
let firstLogs = '';
const upgradeOntoChart = () =>
  // No retry of the Job by Kubernetes: the kill below is resumed by the next helm upgrade.
  upgrade(cluster, work, RANCHER_2_12, 'installer: {backoffLimit: 0, timeouts: {readinessSeconds: 180}}');

test(
  `helm upgrade rancher-istio onto this chart, its Job pod killed (-9) in the hop to 1.29.6: helm fails, istiod served on`,
  async () => {
    monitor = new Monitor(cluster);
    let killed: string[] = [];
    monitor.trigger = {
      when: (sample) => sample.istiods.some((d) => d.name === 'istiod-1-29'),
      then: async () => {
        killed = await killJobPod();
      },
    };
    const r = await upgradeOntoChart();
    // A run that ended before 1-29 appeared must not be killed in the next test's run instead.
    monitor.trigger = undefined;
    firstLogs = await jobLogs(cluster);
    console.error(`rancher-2-12: killed ${killed.join(', ') || 'nothing'}; helm upgrade exit ${r.exitCode}`);
    expect(killed.length).toBeGreaterThan(0);
    expect([r.exitCode, String(r.all)]).toEqual([1, expect.stringMatching(/rancher-istio-install/)]);
    expect(await history(cluster)).toEqual([
      `adopt ${START} default succeeded`,
      'upgrade-canary 1.27.9 1-27 succeeded',
      expect.stringMatching(/^upgrade-canary 1\.29\.6 1-29 /),
    ]);
  },
  30 * 60_000,
);

test(
  `the next helm upgrade resumes: ${HOPS.join(' -> ')} finished through the Job, istiod always Ready, no proxy stranded`,
  async () => {
    const started = Date.now();
    const r = await upgradeOntoChart();
    const seconds = Math.round((Date.now() - started) / 1000);
    await monitor.stop();
    const resumedLogs = await jobLogs(cluster);
    const logs = `${firstLogs}\n${resumedLogs}`;
    const { planned, installed } = hopsInLogs(logs);
    const seen = monitor.seen();
    console.error(
      [
        `rancher-2-12: helm upgrade took ${seconds}s (exit ${r.exitCode})`,
        `  istioctl of each hop: ${planned.join(', ') || 'none'}; installed revisions ${installed.join(', ')}`,
        `  istiod seen Ready: ${seen.istiods.join(', ')}`,
        `  workload proxies seen: ${seen.proxies.join(', ')}`,
        `  record: ${(await history(cluster)).join('; ')}`,
        `  samples: ${monitor.samples.length}, injection probes: ${monitor.probes.length} (${[...new Set(monitor.probes.map((p) => p.injected))].join(', ')})`,
      ].join('\n'),
    );
    expect([r.exitCode, r.exitCode === 0 ? '' : `${r.all}\n${logs}`]).toEqual([0, '']);

    // Adopt, then one canary per hop, each by its own istioctl.
    expect(await history(cluster)).toEqual([
      `adopt ${START} default succeeded`,
      'upgrade-canary 1.27.9 1-27 succeeded',
      'upgrade-canary 1.29.6 1-29 interrupted',
      'repair 1.29.6 1-29 succeeded',
      'upgrade-canary 1.31.0 1-31-0 succeeded',
    ]);
    expect(resumedLogs).toContain('interrupted');
    expect(planned).toEqual(HOPS.map((v) => `${v} for ${v}`));
    expect([...new Set(installed)]).toEqual(['1-27', '1-29', '1-31-0']);
    expect(logs).toMatch(
      /adopted Istio 1\.25\.0 \(revision default\) installed by Rancher's rancher-istio chart 107\.1\.0\+up1\.25\.0/,
    );

    // At every moment some istiod was Ready, a pod created at any moment got a proxy of a revision live then, no
    // proxy fell beyond the skew or lost its revision's istiod.
    expect(monitor.samples.length).toBeGreaterThan(30);
    expect(monitor.probes.length).toBeGreaterThan(5);
    expect(monitor.violations()).toEqual({
      noIstiodReady: [],
      injectedFromNoLiveRevision: [],
      skewed: [],
      stranded: [],
    });
    // Every hop's istiod was seen Ready, Rancher's image pins following each hop (the rig runs each tag's
    // pilot-discovery).
    for (const v of [START, ...HOPS])
      expect(seen.istiods.some((d) => d.endsWith(` rancher/mirrored-istio-pilot:${v}-distroless`))).toBe(
        true,
      );
    // Between hops the workloads were restarted (without updateWorkloads they would have stayed on 1.25).
    expect(seen.proxies).toEqual(expect.arrayContaining([START, '1.27.9', '1.29.6']));
    expect(await workloadsEndOn(cluster, '1.31.0', '1-31-0')).toHaveLength(2);

    expect(await userResources(cluster)).toEqual(created);
    expect(await releaseStatus(cluster)).toBe('deployed');
    const final = (await istiods(cluster)).filter((d) => d.ready).map((d) => d.version);
    expect(final).toContain('1.31.0');
  },
  45 * 60_000,
);
