// Taking over a running Rancher install on the rig, both ways, with real helm, real istioctl and real istiod:
// (a) `helm upgrade rancher-istio <this chart>` over Rancher's release with Rancher's values; (b) `helm uninstall
// rancher-istio --no-hooks`, then `helm install` under another name, then the hop to 1.31.0 by the CLI, killed (-9)
// after the canary's istioctl install and resumed. The start is Rancher-SHAPED (test/fixtures/rancher-shaped-chart,
// control plane by real istioctl 1.30.4 from that chart's IstioOperator), not Rancher's 1.23-1.25: their istioctl
// and istiod cannot be built here (the Go module proxy serves istio.io/istio only at 1.30.x and 1.31.0).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { ensureLocalImage } from '../container/local-image.js';
import { eventually } from '../cluster/testkit.js';
import { HELMS, NAMESPACE, helm } from '../chart/render.js';
import { cli, startCli, valuesFile, whenStderrHas } from './helpers.js';
import {
  RANCHER_DASHBOARD,
  RANCHER_ISTIO,
  RANCHER_VALUES,
  chartArgs,
  helm3,
  installRancherShaped,
  takeoverValuesText,
} from './rancher-shaped.js';

const OLD = RANCHER_ISTIO;
const NEW = '1.31.0';

interface Named {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
}
interface List<T> {
  items: T[];
}
interface DeploymentStatus extends Named {
  spec: { selector: { matchLabels: Record<string, string> } };
  status?: { readyReplicas?: number };
}
interface Pod extends Named {
  status?: { phase?: string };
}

/** Users' Istio resources, which neither path may touch. */
const USER_RESOURCES = [
  [
    'networking.istio.io/v1',
    'virtualservices',
    'VirtualService',
    { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }] }] },
  ],
  ['networking.istio.io/v1', 'destinationrules', 'DestinationRule', { host: 'web' }],
  ['security.istio.io/v1', 'authorizationpolicies', 'AuthorizationPolicy', { action: 'ALLOW', rules: [{}] }],
  ['security.istio.io/v1', 'peerauthentications', 'PeerAuthentication', { mtls: { mode: 'PERMISSIVE' } }],
] as const;

/** A Rancher-shaped install on a new rig, a user's Istio resources, and a poller of istiod's readiness. */
class RancherShaped {
  cluster!: Cluster;
  work!: string;
  /** Times (ms since start) at which no istiod Deployment had a Ready replica. */
  gaps: number[] = [];
  /** Per sample, in order, the istiod Deployments with a Ready replica. */
  readyIstiods: string[][] = [];
  private polling = false;
  private poller: Promise<void> | undefined;
  private resourceVersions: Record<string, string> = {};

  async start(name: string): Promise<void> {
    const base = join(homedir(), '.cache', 'rancher-istio');
    mkdirSync(base, { recursive: true });
    this.work = mkdtempSync(join(base, `${name}-`));
    this.cluster = await startCluster({
      dir: join(this.work, 'cluster'),
      keepDir: false,
      lifetimeMs: 30 * 60_000,
      nodes: 2,
    });
    // The pod runtime is the rig's (podman mode where CI requires it); then the chart's Jobs must run this
    // checkout's image (the machine-wide one may have been built from another): rebuilt here if its inputs changed.
    const say = (line: string) => process.stderr.write(`takeover: ${line}\n`);
    say(this.cluster.podRuntime.reason);
    if (this.cluster.podRuntime.mode === 'podman') await ensureLocalImage(say);
    await installRancherShaped(this.cluster, this.work);

    await this.cluster.kube.post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'apps' },
    });
    for (const [apiVersion, plural, kind, spec] of USER_RESOURCES) {
      const created = await this.cluster.kube.post<Named>(`/apis/${apiVersion}/namespaces/apps/${plural}`, {
        apiVersion,
        kind,
        metadata: { name: 'users-own' },
        spec,
      });
      this.resourceVersions[kind] = created.metadata.resourceVersion ?? '';
    }
    this.startPolling();
  }

  /** Helm 3 by default, as Rancher's release was made; `helm4` for a user whose helm CLI is 4. */
  helm(args: string[], binary: 'helm3' | 'helm4' = 'helm3') {
    return binary === 'helm3'
      ? helm3(this.cluster, args)
      : helm(HELMS[1][1], [...args, `--kubeconfig=${this.cluster.kubeconfigPath}`]);
  }

  private startPolling(): void {
    const started = Date.now();
    this.polling = true;
    this.poller = (async () => {
      while (this.polling) {
        const list = await this.cluster.kube
          .get<List<DeploymentStatus>>(
            `/apis/apps/v1/namespaces/${NAMESPACE}/deployments?labelSelector=app%3Distiod`,
          )
          .catch(() => undefined);
        if (list) {
          const ready = list.items
            .filter((d) => (d.status?.readyReplicas ?? 0) >= 1)
            .map((d) => d.metadata.name);
          this.readyIstiods.push(ready.sort());
          if (ready.length === 0) this.gaps.push(Date.now() - started);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  }

  async stopPolling(): Promise<void> {
    this.polling = false;
    await this.poller;
  }

  /**
   * Whether the samples span the switch, however long it took: the first saw only Rancher's istiod Ready, the last
   * saw `next` Ready; and the times of the samples that saw none.
   */
  spanned(next: string): { first: string[]; lastHasNext: boolean; gaps: number[] } {
    return {
      first: this.readyIstiods[0] ?? [],
      lastHasNext: this.readyIstiods.at(-1)?.includes(next) ?? false,
      gaps: this.gaps,
    };
  }

  /** The users' resources, each with its resourceVersion now: must equal the ones at creation. */
  async userResources(): Promise<Record<string, string>> {
    const now: Record<string, string> = {};
    for (const [apiVersion, plural, kind] of USER_RESOURCES)
      now[kind] =
        (await this.cluster.kube.get<Named>(`/apis/${apiVersion}/namespaces/apps/${plural}/users-own`))
          .metadata.resourceVersion ?? '';
    return now;
  }

  created(): Record<string, string> {
    return this.resourceVersions;
  }

  async status(): Promise<{ revisions: { revision: string; version: string }[]; healthy: boolean }> {
    const result = await cli(['status', '-o', 'json'], this.cluster.kubeconfigPath);
    return JSON.parse(result.stdout) as {
      revisions: { revision: string; version: string }[];
      healthy: boolean;
    };
  }

  /** The record's history, oldest first, as `action version revision outcome`, and the adopt entry's message. */
  async history(): Promise<{ entries: string[]; adopt: string }> {
    const map = await this.cluster.kube.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-state`,
    );
    const record = JSON.parse(map.data['record.json'] ?? '{}') as {
      history: {
        action: string;
        istioVersion: string;
        revision: string;
        outcome: string;
        message?: string;
      }[];
    };
    const entries = [...record.history].reverse();
    return {
      entries: entries.map((e) => `${e.action} ${e.istioVersion} ${e.revision} ${e.outcome}`),
      adopt: entries[0]?.action === 'adopt' ? (entries[0].message ?? '') : '',
    };
  }

  async jobLogs(release: string): Promise<string> {
    const pods = await this.cluster.kube.get<List<Pod>>(
      `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${release}-install`,
    );
    return pods.items
      .map((p) => `--- ${p.metadata.name}\n${this.cluster.podLogs(NAMESPACE, p.metadata.name)}`)
      .join('\n');
  }

  async exists(path: string): Promise<boolean> {
    return this.cluster.kube.get<unknown>(path).then(
      () => true,
      () => false,
    );
  }

  async stop(): Promise<void> {
    await this.stopPolling();
    await this.cluster?.stop();
    if (this.work) rmSync(this.work, { recursive: true, force: true });
  }
}

/** Rancher's 107.1.0 values unchanged, plus the version (the rig's Istio) and short timeouts for the rig. */
const takeoverValues = (dir: string, version: string) =>
  valuesFile(dir, `takeover-${version}.yaml`, takeoverValuesText(version));

describe("(a) helm upgrade (Helm 4) of Rancher's release (made with Helm 3, as Rancher did) onto this chart", () => {
  const rig = new RancherShaped();
  beforeAll(() => rig.start('takeover-upgrade'));
  afterAll(() => rig.stop());
  /** What the user runs: `helm upgrade rancher-istio <this chart> -f <Rancher's values>` plus the version change. */
  const upgradeOntoChart = (timeout: string) =>
    rig.helm(chartArgs('upgrade', 'rancher-istio', takeoverValues(rig.work, NEW), timeout), 'helm4');

  test("istio-installer install next to Rancher's live release: exit 3 naming it, nothing written", async () => {
    const values = takeoverValues(rig.work, NEW);
    const plan = await cli(['install', '-f', RANCHER_VALUES, '-f', values], rig.cluster.kubeconfigPath);
    expect([plan.exitCode, plan.stderr]).toEqual([
      3,
      expect.stringContaining(
        "Rancher's release rancher-istio is still installed in istio-system; its next upgrade would run Rancher's installer over this one",
      ),
    ]);
    expect(await rig.exists(`/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-state`)).toBe(false);
    expect(await rig.exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod-1-31-0`)).toBe(false);
  });

  test(`helm upgrade rancher-istio: adopted, Istio ${NEW} as a canary, Rancher's istiod served until then`, async () => {
    const r = await upgradeOntoChart('8m');
    const logs = await rig.jobLogs('rancher-istio');
    expect([r.exitCode, r.exitCode === 0 ? '' : `${r.all}\n${logs}`]).toEqual([0, '']);
    expect(r.all).not.toMatch(/invalid ownership metadata|field is immutable/);
    await rig.stopPolling();

    expect(logs).toContain(
      `adopted Istio ${OLD} (revision default) installed by Rancher's rancher-istio chart 107.1.0+up1.30.4 (Helm release rancher-istio, revision 1), applied by istioctl; gateways: istio-system/istio-ingressgateway`,
    );
    const { entries, adopt } = await rig.history();
    expect(entries).toEqual([`adopt ${OLD} default succeeded`, `upgrade-canary ${NEW} 1-31-0 succeeded`]);
    expect(adopt).toMatch(
      /^adopted Istio 1\.30\.4 \(revision default\) installed by Rancher's rancher-istio chart/,
    );
    expect(await rig.status()).toMatchObject({ revisions: [{ revision: '1-31-0', version: NEW }] });

    // At every moment some istiod was Ready; users' resources and the CRDs are untouched.
    expect(rig.spanned('istiod-1-31-0')).toEqual({ first: ['istiod'], lastHasNext: true, gaps: [] });
    expect(await rig.userResources()).toEqual(rig.created());
    expect(
      await rig.exists(
        '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io',
      ),
    ).toBe(true);

    // Rancher's release objects were replaced (Helm removed those this chart does not have); Kiali kept its selector.
    expect(await rig.exists(`/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-base`)).toBe(false);
    expect(
      await rig.exists(
        `/apis/monitoring.coreos.com/v1/namespaces/${NAMESPACE}/servicemonitors/istiod-monitor`,
      ),
    ).toBe(false);
    expect(
      await rig.exists(
        `/apis/monitoring.coreos.com/v1/namespaces/${NAMESPACE}/servicemonitors/rancher-istio-istiod`,
      ),
    ).toBe(true);
    const kiali = await rig.cluster.kube.get<DeploymentStatus>(
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/kiali`,
    );
    expect(kiali.spec.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'kiali',
      'app.kubernetes.io/instance': 'kiali',
    });
    expect(r.stdout).toContain("Kiali's Deployment keeps the selector app.kubernetes.io/instance: kiali");
    // Rancher's Grafana dashboard was replaced by this installer's (the Job may write in cattle-dashboards).
    expect(await rig.exists(`/api/v1/namespaces/cattle-dashboards/configmaps/${RANCHER_DASHBOARD}`)).toBe(
      false,
    );
    expect(logs).toContain(`deleting ConfigMap cattle-dashboards/${RANCHER_DASHBOARD}`);
    const dashboards = await rig.cluster.kube.get<List<Named>>(
      '/api/v1/namespaces/cattle-dashboards/configmaps?labelSelector=grafana_dashboard%3D1',
    );
    expect(dashboards.items.map((d) => d.metadata.name).sort()).toEqual([
      'rancher-istio-istio-control-plane',
      'rancher-istio-istio-mesh',
      'rancher-istio-istio-workloads',
    ]);
    // Rancher's Jaeger (Deployment rancher-istio-tracing) gave way to this chart's; its Services now select ours.
    expect(await rig.exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/rancher-istio-tracing`)).toBe(
      false,
    );
    const jaeger = await rig.cluster.kube.get<DeploymentStatus>(
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/jaeger`,
    );
    for (const name of ['tracing', 'zipkin', 'jaeger-collector']) {
      const service = await rig.cluster.kube.get<{ spec: { selector: Record<string, string> } }>(
        `/api/v1/namespaces/${NAMESPACE}/services/${name}`,
      );
      expect([name, service.spec.selector]).toEqual([name, jaeger.spec.selector.matchLabels]);
    }

    // A second helm upgrade with the same values: nothing to do.
    const again = await upgradeOntoChart('5m');
    expect([again.exitCode, again.exitCode === 0 ? '' : again.all]).toEqual([0, '']);
    expect(await rig.jobLogs('rancher-istio')).toMatch(/nothing to do/);
  });
});

describe("(b) helm uninstall --no-hooks of Rancher's release, helm install of this chart, then the hop killed and resumed", () => {
  const rig = new RancherShaped();
  beforeAll(() => rig.start('takeover-reinstall'));
  afterAll(() => rig.stop());

  test("uninstall --no-hooks keeps Rancher's control plane; an operator beside it is refused; helm install under another name adopts it", async () => {
    const removed = await rig.helm(['uninstall', 'rancher-istio', '-n', NAMESPACE, '--no-hooks', '--wait']);
    expect([removed.exitCode, removed.all]).toEqual([0, expect.anything()]);
    expect(await rig.exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod`)).toBe(true);

    // An operator next to it (a Deployment as Istio's operator named it) is refused, and nothing is written.
    await rig.cluster.kube.post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'istio-operator' },
    });
    await rig.cluster.kube.post('/apis/apps/v1/namespaces/istio-operator/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'istio-operator', labels: { name: 'istio-operator' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { name: 'istio-operator' } },
        template: {
          metadata: { labels: { name: 'istio-operator' } },
          spec: { containers: [{ name: 'istio-operator', image: 'docker.io/istio/operator:1.23.2' }] },
        },
      },
    });
    const refused = await cli(
      ['install', '-f', RANCHER_VALUES, '-f', takeoverValues(rig.work, OLD)],
      rig.cluster.kubeconfigPath,
    );
    expect([refused.exitCode, refused.stderr]).toEqual([
      3,
      expect.stringContaining("Istio's in-cluster operator runs (Deployment istio-operator/istio-operator)"),
    ]);
    expect(await rig.exists(`/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-state`)).toBe(false);
    await rig.cluster.kube.delete('/apis/apps/v1/namespaces/istio-operator/deployments/istio-operator');

    const r = await rig.helm(chartArgs('install', 'istio', takeoverValues(rig.work, OLD), '8m'));
    const logs = await rig.jobLogs('istio');
    expect([r.exitCode, r.exitCode === 0 ? '' : `${r.all}\n${logs}`]).toEqual([0, '']);
    expect(r.all).not.toMatch(/invalid ownership metadata|field is immutable/);
    expect(logs).toContain(
      `adopted Istio ${OLD} (revision default) installed by istioctl (no installer record, no Helm release of Rancher left); gateways: istio-system/istio-ingressgateway`,
    );
    expect((await rig.history()).entries).toEqual([
      `adopt ${OLD} default succeeded`,
      `reconfigure ${OLD} default succeeded`,
    ]);
  });

  test(`the hop to ${NEW}, killed (-9) after the canary's istioctl install, resumes and finishes`, async () => {
    const values = takeoverValues(rig.work, NEW);
    const killed = startCli(['install', '-f', RANCHER_VALUES, '-f', values], rig.cluster.kubeconfigPath);
    await whenStderrHas(killed, 'done: istioctl install');
    process.kill(-(killed.pid ?? 0), 'SIGKILL');
    await killed;
    expect(await rig.exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod-1-31-0`)).toBe(true);

    const resumed = await cli(['install', '-f', RANCHER_VALUES, '-f', values], rig.cluster.kubeconfigPath);
    expect(`${resumed.exitCode} ${resumed.stderr}`).toMatch(/^0 /);
    expect(resumed.stderr).toContain('was interrupted');
    expect(resumed.stdout).toMatch(/revision default removed/);
    await rig.stopPolling();

    const { entries } = await rig.history();
    expect(entries.slice(0, 2)).toEqual([
      `adopt ${OLD} default succeeded`,
      `reconfigure ${OLD} default succeeded`,
    ]);
    expect(entries.slice(2).join('\n')).toMatch(/interrupted[\s\S]*1\.31\.0 1-31-0 succeeded$/);
    expect(await rig.status()).toMatchObject({ revisions: [{ revision: '1-31-0', version: NEW }] });
    await eventually('no istiod of revision default', 60_000, async () =>
      (await rig.exists(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/istiod`)) ? undefined : true,
    );
    expect(rig.spanned('istiod-1-31-0')).toEqual({ first: ['istiod'], lastHasNext: true, gaps: [] });
    expect(await rig.userResources()).toEqual(rig.created());

    // The chart agrees: helm upgrade to the same version has nothing to do.
    const r = await rig.helm(chartArgs('upgrade', 'istio', values, '5m'));
    expect([r.exitCode, r.exitCode === 0 ? '' : `${r.all}\n${await rig.jobLogs('istio')}`]).toEqual([0, '']);
  });
});
