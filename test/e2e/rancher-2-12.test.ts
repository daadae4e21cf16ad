// A cluster as Rancher 2.12 leaves it, moved onto this chart and stepped up for real, on the Kubernetes Rancher 2.12
// runs (1.32): the Rancher-shaped release at chart 107.1.0 with Rancher's values, its control plane installed by
// istioctl 1.25.0 with Rancher's pinned images, real istiod 1.25.0, workloads it injected and users' Istio resources;
// then `helm upgrade rancher-istio <this chart>` with the Istio version left to the chart and upgrade.updateWorkloads,
// whose Job adopts and canaries 1.27.9 -> 1.29.6 -> 1.31.0, each hop with its real istioctl and istiod. The Job's pod
// is killed (-9) in the hop to 1.29.6 and the next `helm upgrade` resumes. A monitor samples istiod, the workloads'
// proxies and a dry-run pod's injection from the first upgrade to the end of the second.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { imageTag } from '../cluster/real-istiod.js';
import type { RigIstioVersion } from '../cluster/tools.js';
import { eventually } from '../cluster/testkit.js';
import { NAMESPACE, CHART } from '../chart/render.js';
import { valuesFile } from './helpers.js';
import { RANCHER_2_12, RANCHER_VALUES, helm3, installRancherShaped } from './rancher-shaped.js';

const START = RANCHER_2_12.istio;
/** The hops the installer plans from 1.25.0 on Kubernetes 1.32 through the image's istioctls (decide/path.ts). */
const HOPS = ['1.27.9', '1.29.6', '1.31.0'];
/** Every Istio whose istioctl or istiod this test runs: the start, the hops, and the image's 1.30.4 (bundled, unused). */
const ISTIO: RigIstioVersion[] = ['1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'];

interface Meta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}
interface Container {
  name: string;
  image: string;
}
interface Pod {
  metadata: Meta;
  spec: { containers: Container[]; initContainers?: Container[] };
  status?: { conditions?: { type: string; status: string }[] };
}
interface Deployment {
  metadata: Meta;
  spec: { template: { spec: { containers: Container[] } } };
  status?: { readyReplicas?: number };
}

/** Users' Istio resources in the workloads' namespace, which the whole path must leave as they are. */
const USER_RESOURCES = [
  [
    'networking.istio.io/v1',
    'virtualservices',
    'VirtualService',
    { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }] }] },
  ],
  ['networking.istio.io/v1', 'destinationrules', 'DestinationRule', { host: 'web' }],
  ['security.istio.io/v1', 'peerauthentications', 'PeerAuthentication', { mtls: { mode: 'PERMISSIVE' } }],
] as const;

/** `1.27.9-distroless` -> `1.27.9`; undefined for a tag naming no release. */
const versionOf = (image: string) => /^(\d+\.\d+\.\d+)/.exec(imageTag(image) ?? '')?.[1];
const minor = (version: string) => Number(version.split('.')[1]);
/** The proxy images of a pod: sidecar containers and the native-sidecar init container. */
const proxyImages = (pod: Pod) =>
  [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]
    .filter((c) => c.name === 'istio-proxy')
    .map((c) => c.image);

interface Sample {
  at: number;
  /** Every istiod Deployment: its revision's name, the Istio of its discovery image, whether a replica is Ready. */
  istiods: { name: string; image: string; version: string; ready: boolean }[];
  /** Each live (not terminating) workload pod in `apps`: its proxy's version and the revision that injected it. */
  proxies: { pod: string; version: string; revision: string }[];
}
interface Probe {
  at: number;
  /** The proxy version injected into a dry-run pod, or why none was. */
  injected: string;
  /** Versions of the Ready istiods just before and just after the dry run. */
  live: string[];
}

let cluster: Cluster;
let work: string;
const created: Record<string, string> = {};

async function istiods(): Promise<Sample['istiods']> {
  const list = await cluster.kube.get<{ items: Deployment[] }>(
    `/apis/apps/v1/namespaces/${NAMESPACE}/deployments?labelSelector=app%3Distiod`,
  );
  return list.items.map((d) => ({
    name: d.metadata.name,
    image: d.spec.template.spec.containers[0]?.image ?? '',
    version: versionOf(d.spec.template.spec.containers[0]?.image ?? '') ?? '?',
    ready: (d.status?.readyReplicas ?? 0) >= 1,
  }));
}

async function workloadProxies(): Promise<Sample['proxies']> {
  const list = await cluster.kube.get<{ items: Pod[] }>(
    '/api/v1/namespaces/apps/pods?labelSelector=app%3Dweb',
  );
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      pod: p.metadata.name,
      version: versionOf(proxyImages(p)[0] ?? '') ?? 'none',
      revision: p.metadata.annotations?.['istio.io/rev'] ?? '?',
    }));
}

/** A pod created now (dry run: through every admission webhook, stored nowhere) and the proxy it was given. */
async function probeInjection(): Promise<string> {
  try {
    const pod = await cluster.kube.post<Pod>('/api/v1/namespaces/apps/pods?dryRun=All', {
      metadata: { generateName: 'probe-', labels: { app: 'probe' } },
      spec: { containers: [{ name: 'app', image: 'example.com/shop/web:1' }] },
    });
    return versionOf(proxyImages(pod)[0] ?? '') ?? 'no proxy';
  } catch (error) {
    return `refused: ${String(error).slice(0, 300)}`;
  }
}

/** Samples istiod and the workloads every second and probes injection every few, until stopped. */
class Monitor {
  samples: Sample[] = [];
  probes: Probe[] = [];
  /** Runs once, on the first sample `when` accepts. */
  trigger: { when: (sample: Sample) => boolean; then: () => Promise<void> } | undefined;
  private running = true;
  private readonly done: Promise<void>;
  private readonly started = Date.now();

  constructor() {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const at = Date.now() - this.started;
      try {
        const before = await istiods();
        const sample = { at, istiods: before, proxies: await workloadProxies() };
        this.samples.push(sample);
        if (this.trigger?.when(sample)) {
          const { then } = this.trigger;
          this.trigger = undefined;
          await then();
        }
        if (i % 4 === 0) {
          const injected = await probeInjection();
          const after = await istiods();
          const live = [...before, ...after].filter((d) => d.ready).map((d) => d.version);
          this.probes.push({ at, injected, live: [...new Set(live)] });
        }
      } catch {
        // The apiserver is busy on two shared cores; a missed sample is not a finding.
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

async function jobLogs(): Promise<string> {
  const pods = await cluster.kube.get<{ items: Pod[] }>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3Drancher-istio-install`,
  );
  return pods.items
    .map((p) => `--- ${p.metadata.name}\n${cluster.podLogs(NAMESPACE, p.metadata.name)}`)
    .join('\n');
}

/**
 * `kill -9` of the running installer Job pod, as a node's kernel kills a container: every process whose environment
 * names the pod as HOSTNAME (the process kubelet sets it; Podman sets it from the pod's hostname), its istioctl too.
 */
async function killJobPod(): Promise<string[]> {
  const pods = await cluster.kube.get<{ items: (Pod & { status?: { phase?: string } })[] }>(
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

async function history(): Promise<string[]> {
  const map = await cluster.kube.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-state`,
  );
  const record = JSON.parse(map.data['record.json'] ?? '{}') as {
    history: { action: string; istioVersion: string; revision: string; outcome: string }[];
  };
  return [...record.history].reverse().map((e) => `${e.action} ${e.istioVersion} ${e.revision} ${e.outcome}`);
}

async function userResources(): Promise<Record<string, string>> {
  const now: Record<string, string> = {};
  for (const [apiVersion, plural, kind] of USER_RESOURCES)
    now[kind] =
      (await cluster.kube.get<{ metadata: Meta }>(`/apis/${apiVersion}/namespaces/apps/${plural}/users-own`))
        .metadata.resourceVersion ?? '';
  return now;
}

beforeAll(async () => {
  const base = join(homedir(), '.cache', 'rancher-istio');
  mkdirSync(base, { recursive: true });
  work = mkdtempSync(join(base, 'rancher-2-12-'));
  cluster = await startCluster({
    dir: join(work, 'cluster'),
    keepDir: false,
    lifetimeMs: 50 * 60_000,
    nodes: 2,
    kube: '1.32',
    istio: ISTIO,
  });
  await installRancherShaped(cluster, work, RANCHER_2_12);

  await cluster.kube.post('/api/v1/namespaces', {
    metadata: { name: 'apps', labels: { 'istio-injection': 'enabled' } },
  });
  for (const [apiVersion, plural, kind, spec] of USER_RESOURCES) {
    const made = await cluster.kube.post<{ metadata: Meta }>(
      `/apis/${apiVersion}/namespaces/apps/${plural}`,
      {
        apiVersion,
        kind,
        metadata: { name: 'users-own' },
        spec,
      },
    );
    created[kind] = made.metadata.resourceVersion ?? '';
  }
  await cluster.kube.post('/apis/apps/v1/namespaces/apps/deployments', {
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'example.com/shop/web:1' }] },
      },
    },
  });
}, 20 * 60_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("Rancher 2.12's start: istiod 1.25.0 (Rancher's pinned image, real pilot-discovery) Ready; it injected the workloads", async () => {
  const [istiod] = await istiods();
  expect(istiod).toEqual({
    name: 'istiod',
    image: 'rancher/mirrored-istio-pilot:1.25.0-distroless',
    version: START,
    ready: true,
  });
  const proxies = await eventually('two web pods with a proxy', 120_000, async () => {
    const now = await workloadProxies();
    return now.length === 2 ? now : undefined;
  });
  expect(proxies.map((p) => p.version)).toEqual([START, START]);
});

let monitor: Monitor;
let firstLogs = '';
const upgradeOntoChart = () =>
  helm3(cluster, [
    'upgrade',
    'rancher-istio',
    CHART,
    '-n',
    NAMESPACE,
    '-f',
    RANCHER_VALUES,
    '-f',
    valuesFile(
      work,
      'users-changes.yaml',
      [
        // The version is left to the chart (the newest its image bundles that Kubernetes 1.32 supports); Rancher's
        // image pins (rancher/mirrored-istio-*:1.25.0-distroless) stay in the values and follow each hop.
        'tag: ""',
        'upgrade: {updateWorkloads: true}',
        // No retry of the Job by Kubernetes: the kill below is resumed by the next helm upgrade.
        'installer: {backoffLimit: 0, timeouts: {readinessSeconds: 180}}',
        '',
      ].join('\n'),
    ),
    '--wait',
    '--timeout=40m',
  ]);

test(
  `helm upgrade rancher-istio onto this chart, its Job pod killed (-9) in the hop to 1.29.6: helm fails, istiod served on`,
  async () => {
    monitor = new Monitor();
    let killed: string[] = [];
    monitor.trigger = {
      when: (sample) => sample.istiods.some((d) => d.name === 'istiod-1-29'),
      then: async () => {
        killed = await killJobPod();
      },
    };
    const r = await upgradeOntoChart();
    firstLogs = await jobLogs();
    console.error(`rancher-2-12: killed ${killed.join(', ') || 'nothing'}; helm upgrade exit ${r.exitCode}`);
    expect(killed.length).toBeGreaterThan(0);
    expect([r.exitCode, String(r.all)]).toEqual([1, expect.stringMatching(/rancher-istio-install/)]);
    expect(await history()).toEqual([
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
    const resumedLogs = await jobLogs();
    const logs = `${firstLogs}\n${resumedLogs}`;
    // Each hop's istioctl as the Job's plan named it, and the revisions its istioctl installs made.
    const planned = [
      ...new Set([...logs.matchAll(/^ {2}hop (\S+): istioctl ([\d.]+)/gm)].map((m) => `${m[2]} for ${m[1]}`)),
    ];
    const installed = [
      ...logs.matchAll(/done: istioctl install \((?:upgrade-canary|repair), revision (\S+)\)/g),
    ].map((m) => m[1]);
    const istiodsSeen = [
      ...new Set(
        monitor.samples.flatMap((s) => s.istiods.filter((d) => d.ready).map((d) => `${d.name} ${d.image}`)),
      ),
    ];
    const proxiesSeen = [...new Set(monitor.samples.flatMap((s) => s.proxies.map((p) => p.version)))];
    console.error(
      [
        `rancher-2-12: helm upgrade took ${seconds}s (exit ${r.exitCode})`,
        `  istioctl of each hop: ${planned.join(', ') || 'none'}; installed revisions ${installed.join(', ')}`,
        `  istiod seen Ready: ${istiodsSeen.join(', ')}`,
        `  workload proxies seen: ${proxiesSeen.join(', ')}`,
        `  record: ${(await history()).join('; ')}`,
        `  samples: ${monitor.samples.length}, injection probes: ${monitor.probes.length} (${[...new Set(monitor.probes.map((p) => p.injected))].join(', ')})`,
      ].join('\n'),
    );
    expect([r.exitCode, r.exitCode === 0 ? '' : `${r.all}\n${logs}`]).toEqual([0, '']);

    // Adopt, then one canary per hop, each by its own istioctl.
    expect(await history()).toEqual([
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

    // At every moment some istiod was Ready, and every hop's istiod was seen Ready (as its real pilot-discovery).
    expect(monitor.samples.length).toBeGreaterThan(30);
    expect(monitor.samples.filter((s) => !s.istiods.some((d) => d.ready)).map((s) => s.at)).toEqual([]);
    // Rancher's image pins followed each hop (the rig runs each tag's pilot-discovery).
    for (const v of [START, ...HOPS])
      expect(istiodsSeen.some((d) => d.endsWith(` rancher/mirrored-istio-pilot:${v}-distroless`))).toBe(true);

    // A pod created at any moment got a proxy of a revision that was live then.
    expect(monitor.probes.length).toBeGreaterThan(5);
    expect(monitor.probes.filter((p) => !p.live.includes(p.injected))).toEqual([]);

    // Between hops the workloads were restarted: no proxy ever more than one minor behind the hop before the newest
    // istiod (the hops are two minors apart; without updateWorkloads they would have stayed on 1.25).
    const skewed = monitor.samples.filter((s) => {
      const newest = Math.max(...s.istiods.map((d) => minor(d.version)));
      return s.proxies.some((p) => p.version === 'none' || newest - minor(p.version) > 2);
    });
    expect(skewed.slice(0, 3)).toEqual([]);
    // No proxy was ever left without the istiod of the revision that injected it (the installer restarts the
    // workloads before it removes their revision).
    const stranded = monitor.samples.flatMap((s) =>
      s.proxies
        .filter(
          (p) =>
            !s.istiods.some((d) => d.name === (p.revision === 'default' ? 'istiod' : `istiod-${p.revision}`)),
        )
        .map((p) => `${s.at}ms ${p.pod} (revision ${p.revision}, proxy ${p.version})`),
    );
    expect(stranded.slice(0, 3)).toEqual([]);
    expect(proxiesSeen).toEqual(expect.arrayContaining([START, '1.27.9', '1.29.6']));
    expect(
      await eventually('both web pods on 1.31.0', 60_000, async () => {
        const now = (await workloadProxies()).map((p) => `${p.version} ${p.revision}`);
        return now.length === 2 && now.every((p) => p === '1.31.0 1-31-0') ? now : undefined;
      }),
    ).toHaveLength(2);

    expect(await userResources()).toEqual(created);
    const status = await helm3(cluster, ['status', 'rancher-istio', '-n', NAMESPACE, '-o', 'json']);
    expect((JSON.parse(String(status.stdout)) as { info: { status: string } }).info.status).toBe('deployed');
    const final = (await istiods()).filter((d) => d.ready).map((d) => d.version);
    expect(final).toContain('1.31.0');
  },
  45 * 60_000,
);
