// A Rancher-shaped install on a rig: the fixture chart's release `rancher-istio` (test/fixtures/rancher-shaped-chart)
// plus its control plane applied by real istioctl from the chart's ConfigMap, as Rancher's installer Job did, at the
// rig's 1.30.4 or as one of Rancher's chart versions left it (RANCHER_2_12: 107.1.0, Istio 1.25.0; RANCHER_107_0:
// 107.0.0, Istio 1.24.1). Shared by the takeover tests and `npm run bench:migrate`; throws with the tools' output when
// a step fails.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Cluster } from '../cluster/rig.js';
import { toolPaths, type RigIstioVersion } from '../cluster/tools.js';
import { CHART, HELMS, NAMESPACE, helm } from '../chart/render.js';

export const FIXTURE_CHART = 'test/fixtures/rancher-shaped-chart';
/** Rancher's 107.1.0 values file (as written from Rancher's, see its header). */
export const RANCHER_VALUES = 'test/fixtures/rancher/107.1.0-values.yaml';
export const RANCHER_ISTIO = '1.30.4';

/** Which Rancher chart the Rancher-shaped install stands for, and the Istio its istioctl installs. */
export interface RancherStart {
  /** The Istio version: istioctl of it installs the control plane; its pilot-discovery runs as istiod. */
  istio: RigIstioVersion;
  /** The fixture chart's version (`107.1.0+up1.25.0`), which the adopt message names. */
  chartVersion: string;
  /** Rancher's values file of that chart, given to `helm install`; none: the fixture's own values (1.30.4). */
  values?: string;
}

/** The fixture as the takeover test has always run it: Rancher's names and shape, the rig's Istio 1.30.4. */
export const RANCHER_SHAPED: RancherStart = { istio: RANCHER_ISTIO, chartVersion: '107.1.0+up1.30.4' };
/** What Rancher 2.12 leaves: chart 107.1.0 with its values (tag 1.25.0, `rancher/mirrored-istio-*:1.25.0-distroless`). */
export const RANCHER_2_12: RancherStart = {
  istio: '1.25.0',
  chartVersion: '107.1.0+up1.25.0',
  values: RANCHER_VALUES,
};
/** Rancher 2.12's other line: chart 107.0.0 with its values (tag 1.24.1, `rancher/mirrored-istio-*:1.24.1-distroless`). */
export const RANCHER_107_0: RancherStart = {
  istio: '1.24.1',
  chartVersion: '107.0.0+up1.24.1',
  values: 'test/fixtures/rancher/107.0.0-values.yaml',
};
const HELM3 = HELMS[0][1];

export function helm3(cluster: Cluster, args: string[]) {
  return helm(HELM3, [...args, `--kubeconfig=${cluster.kubeconfigPath}`]);
}

function check(what: string, result: { exitCode?: number; all?: unknown; stderr?: unknown }): void {
  if (result.exitCode !== 0)
    throw new Error(`${what} failed (exit ${result.exitCode}): ${String(result.all ?? result.stderr ?? '')}`);
}

/**
 * rancher-monitoring's CRDs and dashboards namespace, Rancher's release, then istioctl of Rancher's (here: the rig's)
 * version, and the Grafana dashboard ConfigMap Rancher's installer Job then copied (`istio-dashboard-<grafana.com id>`,
 * labels grafana_dashboard=1 and istio_dashboard=1; read in rancher/istio-installer's create_istio_system.sh).
 */
export async function installRancherShaped(
  cluster: Cluster,
  work: string,
  start: RancherStart = RANCHER_SHAPED,
): Promise<void> {
  check(
    'kubectl apply of the monitoring CRDs',
    await cluster.kubectl(['apply', '--server-side', '-f', toolPaths().monitoringCrds]),
  );
  check(
    'kubectl create namespace cattle-dashboards',
    await cluster.kubectl(['create', 'namespace', 'cattle-dashboards']),
  );
  check(
    'helm install of the Rancher-shaped release',
    await helm3(cluster, [
      'install',
      'rancher-istio',
      fixtureChartAt(start, work),
      ...(start.values ? ['-f', start.values] : []),
      '-n',
      NAMESPACE,
      '--create-namespace',
      '--wait',
      '--timeout=5m',
    ]),
  );
  const configMap = await cluster.kube.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-base`,
  );
  const spec = join(work, 'istio-base.yaml');
  writeFileSync(spec, configMap.data['istio-base.yaml'] ?? '');
  check(
    `istioctl ${start.istio} install`,
    await execa(
      cluster.tools.istioctl[start.istio],
      ['install', '-y', '-f', spec, '--readiness-timeout', '180s'],
      {
        reject: false,
        all: true,
        env: { KUBECONFIG: cluster.kubeconfigPath },
      },
    ),
  );
  await cluster.kube.post('/api/v1/namespaces/cattle-dashboards/configmaps', {
    metadata: {
      name: RANCHER_DASHBOARD,
      labels: { grafana_dashboard: '1', istio_dashboard: '1' },
    },
    data: { '7639.json': '{"title": "Istio Mesh Dashboard"}' },
  });
}

/** The fixture chart as `start`'s version: a copy under `work` with Chart.yaml's version and appVersion changed. */
function fixtureChartAt(start: RancherStart, work: string): string {
  if (start.chartVersion === RANCHER_SHAPED.chartVersion) return FIXTURE_CHART;
  const copy = join(work, 'rancher-shaped-chart');
  cpSync(FIXTURE_CHART, copy, { recursive: true });
  const chartYaml = join(copy, 'Chart.yaml');
  writeFileSync(
    chartYaml,
    readFileSync(chartYaml, 'utf8')
      .replace(/^version: .*$/m, `version: ${start.chartVersion}`)
      .replace(/^appVersion: .*$/m, `appVersion: ${start.istio}`),
  );
  return copy;
}

/** The dashboard ConfigMap the Rancher-shaped install has in cattle-dashboards. */
export const RANCHER_DASHBOARD = 'istio-dashboard-7639';

/** Values for this chart over Rancher's file: the version and every image Rancher pins, short rig timeouts, tracing on. */
export function takeoverValuesText(version: string): string {
  const pinned = `${version}-distroless`;
  return [
    `tag: "${version}"`,
    `pilot: {tag: "${pinned}"}`,
    `cni: {tag: "${pinned}"}`,
    `global: {proxy: {tag: "${pinned}"}, proxy_init: {tag: "${pinned}"}}`,
    'installer: {timeouts: {readinessSeconds: 120}}',
    // Jaeger stays on, as the Rancher-shaped install had it.
    'tracing: {enabled: true}',
    '',
  ].join('\n');
}

/**
 * What a user runs to move onto this chart: `helm install|upgrade <release> <this chart> -f <Rancher's values> -f
 * <their changes>`, waiting for the installer Job.
 */
export function chartArgs(
  action: 'install' | 'upgrade',
  release: string,
  values: string,
  timeout: string,
): string[] {
  return [
    action,
    release,
    CHART,
    '-n',
    NAMESPACE,
    '-f',
    RANCHER_VALUES,
    '-f',
    values,
    '--wait',
    `--timeout=${timeout}`,
  ];
}
