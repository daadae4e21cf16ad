// Every object the chart renders, for every ci/ scenario and both helm majors, is accepted by the rig's real
// kube-apiserver: server-side apply in dry-run mode runs the full validation (schemas, unknown fields, admission).
import { startCluster, type Cluster } from '../cluster/rig.js';
import { HELMS, NAMESPACE, SCENARIOS, renderChart } from './render.js';

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

  // Without monitoring.coreos.com/v1 on the rig, the ServiceMonitor/PodMonitor have no schema to check against;
  // they are rendered here only where the API exists, which is what the helm tests assert.
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
