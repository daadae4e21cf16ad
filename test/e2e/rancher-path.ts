// What the Rancher 2.12 path tests share: the users' workloads and Istio resources they start with, the `helm upgrade`
// onto this chart, a monitor that samples istiod, the workloads' proxies and a dry-run pod's injection throughout, what
// those samples must never show, and readers of the installer's record, the Job's logs and the release.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import type { RigIstioVersion } from '../cluster/tools.js';
import { imageTag } from '../cluster/real-istiod.js';
import { eventually } from '../cluster/testkit.js';
import { CHART, NAMESPACE } from '../chart/render.js';
import { valuesFile } from './helpers.js';
import { helm3, installRancherShaped, type RancherStart } from './rancher-shaped.js';

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
export interface Pod {
  metadata: Meta;
  spec: { containers: Container[]; initContainers?: Container[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
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

export async function istiods(cluster: Cluster): Promise<Sample['istiods']> {
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

export async function workloadProxies(cluster: Cluster): Promise<Sample['proxies']> {
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

/** Both web pods once they run with a proxy: what the start's istiod injected. */
export function injectedAtStart(cluster: Cluster): Promise<Sample['proxies']> {
  return eventually('two web pods with a proxy', 120_000, async () => {
    const now = await workloadProxies(cluster);
    return now.length === 2 ? now : undefined;
  });
}

/** Both web pods on `version`'s proxy, injected by `revision` (the installer restarts them after the last hop). */
export function workloadsEndOn(cluster: Cluster, version: string, revision: string): Promise<string[]> {
  return eventually(`both web pods on ${version}`, 60_000, async () => {
    const now = (await workloadProxies(cluster)).map((p) => `${p.version} ${p.revision}`);
    return now.length === 2 && now.every((p) => p === `${version} ${revision}`) ? now : undefined;
  });
}

/** A pod created now (dry run: through every admission webhook, stored nowhere) and the proxy it was given. */
async function probeInjection(cluster: Cluster): Promise<string> {
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
export class Monitor {
  samples: Sample[] = [];
  probes: Probe[] = [];
  /** Runs once, on the first sample `when` accepts. */
  trigger: { when: (sample: Sample) => boolean; then: () => Promise<void> } | undefined;
  private running = true;
  private readonly done: Promise<void>;
  private readonly started = Date.now();

  constructor(private readonly cluster: Cluster) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const at = Date.now() - this.started;
      try {
        const before = await istiods(this.cluster);
        const sample = { at, istiods: before, proxies: await workloadProxies(this.cluster) };
        this.samples.push(sample);
        if (this.trigger?.when(sample)) {
          const { then } = this.trigger;
          this.trigger = undefined;
          await then();
        }
        if (i % 4 === 0) {
          const injected = await probeInjection(this.cluster);
          const after = await istiods(this.cluster);
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

  /** Each istiod seen Ready (`<name> <image>`) and each proxy version seen on the workloads. */
  seen(): { istiods: string[]; proxies: string[] } {
    const unique = (all: string[]) => [...new Set(all)];
    return {
      istiods: unique(
        this.samples.flatMap((s) => s.istiods.filter((d) => d.ready).map((d) => `${d.name} ${d.image}`)),
      ),
      proxies: unique(this.samples.flatMap((s) => s.proxies.map((p) => p.version))),
    };
  }

  /**
   * What must never have happened, each empty when all held: a moment with no istiod Ready; a pod created then given a
   * proxy of no live revision (or none); a workload proxy more than two minors behind the newest istiod (the hops
   * are at most two apart, and upgrade.updateWorkloads restarts the workloads between them), or without one; a proxy
   * whose injecting revision's istiod was gone (the installer restarts workloads before it removes their revision).
   */
  violations(): {
    noIstiodReady: number[];
    injectedFromNoLiveRevision: Probe[];
    skewed: Sample[];
    stranded: string[];
  } {
    return {
      noIstiodReady: this.samples.filter((s) => !s.istiods.some((d) => d.ready)).map((s) => s.at),
      injectedFromNoLiveRevision: this.probes.filter((p) => !p.live.includes(p.injected)),
      skewed: this.samples
        .filter((s) => {
          const newest = Math.max(...s.istiods.map((d) => minor(d.version)));
          return s.proxies.some((p) => p.version === 'none' || newest - minor(p.version) > 2);
        })
        .slice(0, 3),
      stranded: this.samples
        .flatMap((s) =>
          s.proxies
            .filter(
              (p) =>
                !s.istiods.some(
                  (d) => d.name === (p.revision === 'default' ? 'istiod' : `istiod-${p.revision}`),
                ),
            )
            .map((p) => `${s.at}ms ${p.pod} (revision ${p.revision}, proxy ${p.version})`),
        )
        .slice(0, 3),
    };
  }
}

/** The logs of the current installer Job's pods (a `helm upgrade` replaces the previous run's Job). */
export async function jobLogs(cluster: Cluster): Promise<string> {
  const pods = await cluster.kube.get<{ items: Pod[] }>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3Drancher-istio-install`,
  );
  return pods.items
    .map((p) => `--- ${p.metadata.name}\n${cluster.podLogs(NAMESPACE, p.metadata.name)}`)
    .join('\n');
}

/** Each hop's istioctl as the Job's plans named it (`1.27.9 for 1.27.9`), and the revisions its installs made. */
export function hopsInLogs(logs: string): { planned: string[]; installed: string[] } {
  return {
    planned: [
      ...new Set([...logs.matchAll(/^ {2}hop (\S+): istioctl ([\d.]+)/gm)].map((m) => `${m[2]} for ${m[1]}`)),
    ],
    installed: [
      ...logs.matchAll(/done: istioctl install \((?:upgrade-canary|repair), revision (\S+)\)/g),
    ].map((m) => m[1] ?? ''),
  };
}

/** The installer's history, oldest first: `<action> <istio> <revision> <outcome>`. */
export async function history(cluster: Cluster): Promise<string[]> {
  const map = await cluster.kube.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-state`,
  );
  const record = JSON.parse(map.data['record.json'] ?? '{}') as {
    history: { action: string; istioVersion: string; revision: string; outcome: string }[];
  };
  return [...record.history].reverse().map((e) => `${e.action} ${e.istioVersion} ${e.revision} ${e.outcome}`);
}

/** The users' resources and their resourceVersions. */
export async function userResources(cluster: Cluster): Promise<Record<string, string>> {
  const now: Record<string, string> = {};
  for (const [apiVersion, plural, kind] of USER_RESOURCES)
    now[kind] =
      (await cluster.kube.get<{ metadata: Meta }>(`/apis/${apiVersion}/namespaces/apps/${plural}/users-own`))
        .metadata.resourceVersion ?? '';
  return now;
}

/**
 * What users run in the mesh: namespace `apps` with sidecar injection, their Istio resources in it and a Deployment
 * of two pods. Returns the resources' resourceVersions as created.
 */
export async function seedWorkloads(cluster: Cluster): Promise<Record<string, string>> {
  const created: Record<string, string> = {};
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
  return created;
}

/**
 * `helm upgrade rancher-istio <this chart>` with the start's Rancher values and the user's changes: the Istio version
 * left to the chart (the newest its image bundles that Kubernetes 1.32 supports; Rancher's image pins, e.g.
 * rancher/mirrored-istio-*:1.25.0-distroless, stay in the values and follow each hop) and upgrade.updateWorkloads.
 */
export function upgradeOntoChart(
  cluster: Cluster,
  work: string,
  start: RancherStart,
  installer = 'installer: {timeouts: {readinessSeconds: 180}}',
) {
  return helm3(cluster, [
    'upgrade',
    'rancher-istio',
    CHART,
    '-n',
    NAMESPACE,
    ...(start.values ? ['-f', start.values] : []),
    '-f',
    valuesFile(
      work,
      'users-changes.yaml',
      ['tag: ""', 'upgrade: {updateWorkloads: true}', installer, ''].join('\n'),
    ),
    '--wait',
    '--timeout=40m',
  ]);
}

/** The release's status as `helm status` reports it (`deployed`, `failed`, ...). */
export async function releaseStatus(cluster: Cluster): Promise<string> {
  const status = await helm3(cluster, ['status', 'rancher-istio', '-n', NAMESPACE, '-o', 'json']);
  return (JSON.parse(String(status.stdout)) as { info: { status: string } }).info.status;
}

/** A Kubernetes 1.32 rig as a Rancher 2.12 cluster leaves it: `start`'s Rancher-shaped install and seeded workloads. */
export interface RancherRig {
  cluster: Cluster;
  work: string;
  /** The users' resources' resourceVersions when seeded (seedWorkloads). */
  created: Record<string, string>;
  stop(): Promise<void>;
}

export async function startRancherRig(
  name: string,
  start: RancherStart,
  istio: RigIstioVersion[],
  lifetimeMs: number,
): Promise<RancherRig> {
  const base = join(homedir(), '.cache', 'rancher-istio');
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, `${name}-`));
  const cluster = await startCluster({
    dir: join(work, 'cluster'),
    keepDir: false,
    lifetimeMs,
    nodes: 2,
    kube: '1.32',
    istio,
  });
  await installRancherShaped(cluster, work, start);
  const created = await seedWorkloads(cluster);
  return {
    cluster,
    work,
    created,
    stop: async () => {
      await cluster.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
