// Every object the chart renders, for every ci/ scenario and both helm majors, is accepted by the rig's real
// kube-apiserver: server-side apply in dry-run mode runs the full validation (schemas, unknown fields, admission).
import { readFileSync } from 'node:fs';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { PROMETHEUS_OPERATOR_VERSION as PROMETHEUS_OPERATOR, toolPaths } from '../cluster/tools.js';
import { HELMS, NAMESPACE, SCENARIOS, renderChart } from './render.js';

/** ServiceMonitor and PodMonitor CRDs of that release, from its Go module (`npm run tools` fetched them). */
const monitorCrds = async (): Promise<string> => readFileSync(toolPaths().monitoringCrds, 'utf8');

describe('server-side dry run on the rig', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 1 });
    await cluster.kube.post('/api/v1/namespaces', { metadata: { name: NAMESPACE } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const dryRun = (text: string) =>
    cluster.kubectl(
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--field-manager=chart-dry-run',
        '--validate=strict',
        '-n',
        NAMESPACE,
        '-f',
        '-',
      ],
      text,
    );

  test('the check can fail: an unknown field in a Job is rejected', async () => {
    const { text } = await renderChart(HELMS[0][1], 'defaults');
    const r = await dryRun(text.replace(/^ {2}backoffLimit:/m, '  backoffLimits:'));
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/backoffLimits/);
  });

  test(`ServiceMonitor and PodMonitor pass prometheus-operator ${PROMETHEUS_OPERATOR}'s CRD schemas`, async () => {
    const crds = await cluster.kubectl(['apply', '--server-side', '-f', '-'], await monitorCrds());
    expect(crds.exitCode).toBe(0);
    const established = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/podmonitors.monitoring.coreos.com',
    ]);
    expect(established.exitCode).toBe(0);
    const { text, objects } = await renderChart(HELMS[0][1], 'everything', [
      '--api-versions',
      'monitoring.coreos.com/v1',
    ]);
    const monitors = objects.filter((o) => o.apiVersion === 'monitoring.coreos.com/v1');
    expect(monitors.map((o) => o.kind).sort()).toEqual(['PodMonitor', 'ServiceMonitor']);
    const r = await dryRun(text);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toMatch(
      /servicemonitor\.monitoring\.coreos\.com\/\S+ serverside-applied \(server dry run\)/,
    );
    expect(String(r.stdout)).toMatch(
      /podmonitor\.monitoring\.coreos\.com\/\S+ serverside-applied \(server dry run\)/,
    );
  });

  // The scenarios are rendered without the monitoring.coreos.com/v1 API, as on a cluster without rancher-monitoring.
  describe.each(HELMS)('helm %s', (_version, binary) => {
    test.each(SCENARIOS)('ci/%s-values.yaml: every object is accepted', async (scenario) => {
      const { text, objects } = await renderChart(binary, scenario);
      const r = await dryRun(text);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      // One "serverside-applied (server dry run)" line per object: nothing was skipped.
      const applied = String(r.stdout)
        .split('\n')
        .filter((l) => l.includes('(server dry run)'));
      expect(applied).toHaveLength(objects.length);
    });
  });
});
