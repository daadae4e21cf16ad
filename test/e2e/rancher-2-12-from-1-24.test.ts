// Rancher 2.12's older line moved onto this chart on Kubernetes 1.32: the Rancher-shaped release at chart 107.0.0
// with Rancher's values, its control plane installed by istioctl 1.24.1 with Rancher's pinned images, real istiod
// 1.24.1, workloads it injected and users' Istio resources; then `helm upgrade rancher-istio <this chart>` (Istio
// version left to the chart, upgrade.updateWorkloads), repeated while a run pauses within its budget, whose Job adopts
// and canaries through every hop it plans, each with its real istioctl and istiod. The kill -9 and its resumption
// are rancher-2-12.test.ts's; this one keeps to the path.
import type { Cluster } from '../cluster/rig.js';
import type { RigIstioVersion } from '../cluster/tools.js';
import { RANCHER_107_0 } from './rancher-shaped.js';
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
  upgradeOntoChart,
  userResources,
  workloadsEndOn,
} from './rancher-path.js';

const START = RANCHER_107_0.istio;
/**
 * The hops the installer plans from 1.24.1 on Kubernetes 1.32 through the image's istioctls (decide/path.ts): no
 * 1.26 is at hand, so 1.25.0 first, then two minors at a time.
 */
const HOPS = ['1.25.0', '1.27.9', '1.29.6', '1.31.0'];
/** Every Istio whose istioctl or istiod this test runs: the start, the hops, and the image's 1.30.4 (bundled, unused). */
const ISTIO: RigIstioVersion[] = ['1.24.1', '1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'];
/** A run that pauses (installer.timeouts.pathSeconds) is followed by another, as a user would; more is a bug. */
const MAX_RUNS = HOPS.length;

let cluster: Cluster;
let work: string;
let created: Record<string, string> = {};

let rig: RancherRig | undefined;

beforeAll(async () => {
  rig = await startRancherRig('rancher-107-0', RANCHER_107_0, ISTIO, 40 * 60_000);
  ({ cluster, work, created } = rig);
}, 20 * 60_000);

afterAll(async () => {
  await rig?.stop();
});

test("Rancher 107.0.0's start: istiod 1.24.1 (Rancher's pinned image, real pilot-discovery) Ready; it injected the workloads", async () => {
  expect(await istiods(cluster)).toEqual([
    { name: 'istiod', image: 'rancher/mirrored-istio-pilot:1.24.1-distroless', version: START, ready: true },
  ]);
  expect((await injectedAtStart(cluster)).map((p) => p.version)).toEqual([START, START]);
});

test(
  `helm upgrade rancher-istio onto this chart: adopt, then ${HOPS.join(' -> ')} through the Job, istiod always Ready`,
  async () => {
    const monitor = new Monitor(cluster);
    const runs: string[] = [];
    let logs = '';
    try {
      // Each run's Job replaces the last one, so its log is read before the next run.
      for (let run = 1; run <= MAX_RUNS; run++) {
        const started = Date.now();
        const r = await upgradeOntoChart(cluster, work, RANCHER_107_0);
        const runLogs = await jobLogs(cluster);
        logs += `\n${runLogs}`;
        runs.push(`run ${run}: exit ${r.exitCode} in ${Math.round((Date.now() - started) / 1000)}s`);
        if (r.exitCode !== 0) throw new Error(`helm upgrade failed (exit ${r.exitCode}): ${r.all}\n${logs}`);
        if (!/paused at Istio/.test(runLogs)) break;
      }
    } finally {
      await monitor.stop();
    }
    const { planned, installed } = hopsInLogs(logs);
    const seen = monitor.seen();
    console.error(
      [
        `rancher-2-12 from 1.24.1: ${runs.join('; ')}`,
        `  istioctl of each hop: ${planned.join(', ') || 'none'}; installed revisions ${installed.join(', ')}`,
        `  istiod seen Ready: ${seen.istiods.join(', ')}`,
        `  workload proxies seen: ${seen.proxies.join(', ')}`,
        `  record: ${(await history(cluster)).join('; ')}`,
        `  samples: ${monitor.samples.length}, injection probes: ${monitor.probes.length} (${[...new Set(monitor.probes.map((p) => p.injected))].join(', ')})`,
      ].join('\n'),
    );

    // Adopt, then one canary per hop, each by its own istioctl, over as many runs as the budget took.
    expect(await history(cluster)).toEqual([
      `adopt ${START} default succeeded`,
      'upgrade-canary 1.25.0 1-25 succeeded',
      'upgrade-canary 1.27.9 1-27 succeeded',
      'upgrade-canary 1.29.6 1-29 succeeded',
      'upgrade-canary 1.31.0 1-31-0 succeeded',
    ]);
    expect(planned).toEqual(HOPS.map((v) => `${v} for ${v}`));
    expect(installed).toEqual(['1-25', '1-27', '1-29', '1-31-0']);
    expect(logs).toMatch(
      /adopted Istio 1\.24\.1 \(revision default\) installed by Rancher's rancher-istio chart 107\.0\.0\+up1\.24\.1/,
    );

    expect(monitor.samples.length).toBeGreaterThan(30);
    expect(monitor.probes.length).toBeGreaterThan(5);
    expect(monitor.violations()).toEqual({
      noIstiodReady: [],
      injectedFromNoLiveRevision: [],
      skewed: [],
      stranded: [],
    });
    for (const v of [START, ...HOPS])
      expect(seen.istiods.some((d) => d.endsWith(` rancher/mirrored-istio-pilot:${v}-distroless`))).toBe(
        true,
      );
    expect(await workloadsEndOn(cluster, '1.31.0', '1-31-0')).toHaveLength(2);

    expect(await userResources(cluster)).toEqual(created);
    expect(await releaseStatus(cluster)).toBe('deployed');
  },
  40 * 60_000,
);
