// `status` over many clusters, our own logic only: which clusters the options name, the rows, the table and the JSON,
// the exit codes, and the bounded fan-out with its per-cluster deadline, against fake API servers and a fake timer
// (test/e2e/fleet-status.test.ts reads real API servers on the rig).
import { ExitCode, exitCodeOf, InputError, PreconditionError, TimeoutError } from '../../../src/errors.js';
import {
  mapBounded,
  readFleetStatus,
  type ClusterConnection,
  type FleetDeps,
} from '../../../src/installer/actions/fleet-status.js';
import {
  age,
  asksForMany,
  errorRow,
  fleetError,
  fleetJson,
  fleetTargets,
  FLEET_TABLE_WIDTH,
  formatFleet,
  type ClusterRow,
  type FleetTarget,
} from '../../../src/installer/decide/fleet-status.js';
import {
  encodeRecord,
  nextRecord,
  RECORD_CONFIGMAP,
  type RecordEntry,
} from '../../../src/installer/model/record.js';
import { FakeKube, gatewayDeployment, injectorWebhook, istiodDeployment } from '../../helpers/fake-kube.js';

const NS = 'istio-system';
const NOW = new Date('2026-12-05T08:00:00Z');
const SPEC = [
  'apiVersion: install.istio.io/v1alpha1',
  'kind: IstioOperator',
  'spec:',
  '  tag: 1.31.0',
  '  components:',
  '    pilot: {enabled: true}',
  '    ingressGateways: [{name: istio-ingressgateway, enabled: true}]',
  '',
].join('\n');

const entry = (outcome: RecordEntry['outcome'], time: string): RecordEntry => ({
  action: 'install',
  outcome,
  specSha256: 'ab'.repeat(32),
  istioVersion: '1.31.0',
  revision: 'default',
  chartVersion: '0.1.0',
  installerVersion: '0.1.0',
  time,
});

/** A fake API server with a 1.31.0 install of SPEC and its record; `ready: false` leaves istiod not ready. */
function fakeCluster(options: { ready?: boolean; proxies?: string[] } = {}): FakeKube {
  const kube = new FakeKube();
  kube.namespaces.push({ metadata: { name: NS } });
  kube.deployments.push(istiodDeployment({ version: '1.31.0', ready: options.ready ?? true }));
  kube.deployments.push(gatewayDeployment({ name: 'istio-ingressgateway', version: '1.31.0' }));
  kube.serviceAccounts.push({ metadata: { name: 'istio-ingressgateway-service-account', namespace: NS } });
  kube.services.push({ metadata: { name: 'istiod', namespace: NS } });
  kube.mutating.push(injectorWebhook());
  const record = nextRecord(undefined, entry('succeeded', '2026-12-05T07:57:00Z'), SPEC);
  kube.configMaps.set(`${NS}/${RECORD_CONFIGMAP}`, {
    metadata: { name: RECORD_CONFIGMAP, namespace: NS },
    ...encodeRecord(record),
  });
  (options.proxies ?? []).forEach((version, i) =>
    kube.pods.push({
      metadata: { name: `web-${i}`, namespace: 'apps', labels: { 'security.istio.io/tlsMode': 'istio' } },
      spec: { containers: [{ name: 'istio-proxy', image: `registry.istio.io/release/proxyv2:${version}` }] },
      status: { phase: 'Running' },
    }),
  );
  return kube;
}

const target = (name: string): FleetTarget => ({ name, context: name, kubeconfig: '/k/config' });

/** A timer the test fires by hand: no wall clock in these tests. */
class FakeDeadlines {
  private fires: (() => void)[] = [];
  cancelled = 0;
  make = (): { expired: Promise<void>; cancel(): void } => {
    let fire: () => void = () => undefined;
    const expired = new Promise<void>((resolve) => (fire = resolve));
    this.fires.push(fire);
    return { expired, cancel: () => this.cancelled++ };
  };
  fireAll(): void {
    for (const fire of this.fires) fire();
  }
}

function fakeFleetDeps(
  connect: (t: FleetTarget) => Promise<ClusterConnection>,
  deadlines = new FakeDeadlines(),
): FleetDeps {
  return { connect, deadline: deadlines.make, now: () => NOW, hostname: 'here', isProcessAlive: () => true };
}

const OPTIONS = { namespace: NS, concurrency: 8, timeoutMs: 10_000 };

describe('which clusters the options name', () => {
  const files = [
    { file: '/k/a.yaml', current: 'east', contexts: ['east', 'west', 'prod'] },
    { file: '/k/b.yaml', current: 'prod', contexts: ['prod', 'lab'] },
  ];

  test('one cluster keeps the single-cluster status; more ask for the view', () => {
    expect(asksForMany({ allContexts: false, contexts: ['east'], kubeconfigs: ['/k/a.yaml'] })).toBe(false);
    expect(asksForMany({ allContexts: false, contexts: [], kubeconfigs: [] })).toBe(false);
    expect(asksForMany({ allContexts: true, contexts: [], kubeconfigs: [] })).toBe(true);
    expect(asksForMany({ allContexts: false, contexts: ['a', 'b'], kubeconfigs: [] })).toBe(true);
    expect(asksForMany({ allContexts: false, contexts: [], kubeconfigs: ['a', 'b'] })).toBe(true);
  });

  test('--all-contexts: every context in the files order; a name in two files is told apart by its file', () => {
    expect(fleetTargets(files, { allContexts: true, contexts: [] }).map((t) => t.name)).toEqual([
      'east',
      'west',
      'a.yaml:prod',
      'b.yaml:prod',
      'lab',
    ]);
  });

  test('named contexts wherever they are defined; without any, each file names its current-context', () => {
    expect(fleetTargets(files, { allContexts: false, contexts: ['lab', 'west'] })).toEqual([
      { name: 'lab', kubeconfig: '/k/b.yaml', context: 'lab' },
      { name: 'west', kubeconfig: '/k/a.yaml', context: 'west' },
    ]);
    expect(fleetTargets(files, { allContexts: false, contexts: [] }).map((t) => t.name)).toEqual([
      'east',
      'prod',
    ]);
  });

  test('a context named nowhere, or both ways of naming them, is exit 2 naming the option', () => {
    const refused = (asked: { allContexts: boolean; contexts: string[] }) => {
      try {
        fleetTargets(files, asked);
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return (error as InputError).issues.map((i) => `${i.path}: ${i.message}`);
      }
      throw new Error('accepted');
    };
    expect(refused({ allContexts: false, contexts: ['east', 'nope'] })).toEqual([
      '--context: no context named "nope" in /k/a.yaml, /k/b.yaml',
    ]);
    expect(refused({ allContexts: true, contexts: ['east'] })[0]).toMatch(/^--all-contexts: /);
  });
});

describe('rows read from fake API servers', () => {
  test('a healthy cluster: versions, health, last run, no pending hop, proxies within the skew', async () => {
    const kube = fakeCluster({ proxies: ['1.31.0', '1.30.4'] });
    const [row] = await readFleetStatus(
      [target('east')],
      OPTIONS,
      fakeFleetDeps(async () => ({ kube, close: () => undefined })),
    );
    expect(row).toMatchObject({
      cluster: 'east',
      server: 'https://fake-kube.invalid',
      error: null,
      kubernetes: 'v1.32.5',
      installed: true,
      healthy: true,
      revision: 'default',
      istioVersion: '1.31.0',
      lastRun: { action: 'install', outcome: 'succeeded', time: '2026-12-05T07:57:00Z' },
      pending: null,
      dataPlane: { proxies: 2, beyondSkew: 0, oldestProxy: '1.30.4' },
    });
  });

  test('an unhealthy cluster lists its problems; proxies two minors behind are beyond the skew', async () => {
    const kube = fakeCluster({ ready: false, proxies: ['1.29.6', '1.31.0'] });
    const [row] = await readFleetStatus(
      [target('west')],
      OPTIONS,
      fakeFleetDeps(async () => ({ kube, close: () => undefined })),
    );
    expect(row?.healthy).toBe(false);
    expect(row?.problems.join('; ')).toMatch(/istiod/);
    expect(row?.dataPlane).toEqual({ proxies: 2, beyondSkew: 1, oldestProxy: '1.29.6' });
  });

  test('a stepped upgrade standing on a transit revision is pending there', async () => {
    const kube = new FakeKube();
    kube.deployments.push(istiodDeployment({ version: '1.27.9', revision: '1-27' }));
    const [row] = await readFleetStatus(
      [target('old')],
      OPTIONS,
      fakeFleetDeps(async () => ({ kube, close: () => undefined })),
    );
    expect(row?.pending?.transitRevision).toBe('1-27');
    // A record without the hops ahead (an older installer's) still says where the path stands.
    expect(row?.pending?.hopsAhead).toBeNull();
    expect(formatFleet(row ? [row] : [], new Date('2026-12-05T08:00:00Z'))).toMatch(/ at 1-27 /);
  });

  test('the hops still ahead, as the transit hop recorded them, are the PENDING count', async () => {
    const kube = new FakeKube();
    kube.deployments.push(istiodDeployment({ version: '1.27.9', revision: '1-27' }));
    const hop: RecordEntry = {
      ...entry('succeeded', '2026-12-05T07:57:00Z'),
      action: 'upgrade-canary',
      istioVersion: '1.27.9',
      revision: '1-27',
      pathAhead: ['1.29.6', '1.30.4'],
    };
    kube.configMaps.set(`${NS}/${RECORD_CONFIGMAP}`, {
      metadata: { name: RECORD_CONFIGMAP, namespace: NS },
      ...encodeRecord(nextRecord(undefined, hop, SPEC)),
    });
    const [row] = await readFleetStatus(
      [target('old')],
      OPTIONS,
      fakeFleetDeps(async () => ({ kube, close: () => undefined })),
    );
    expect(row?.pending?.hopsAhead).toEqual(['1.29.6', '1.30.4']);
    expect(row?.pending?.message).toMatch(/, 2 hops to go \(1\.29\.6 -> 1\.30\.4\): run helm upgrade/);
    expect(formatFleet(row ? [row] : [], new Date('2026-12-05T08:00:00Z'))).toMatch(/ 2 hops /);
  });

  test('a cluster that fails is a row saying why, with the exit code single status would give', async () => {
    const failing = (error: Error) => async (): Promise<ClusterConnection> => {
      throw error;
    };
    const rows = await Promise.all([
      readFleetStatus([target('gone')], OPTIONS, fakeFleetDeps(failing(new TimeoutError('no answer')))),
      readFleetStatus([target('rbac')], OPTIONS, fakeFleetDeps(failing(new PreconditionError('HTTP 403')))),
      readFleetStatus(
        [target('typo')],
        OPTIONS,
        fakeFleetDeps(failing(new InputError([{ file: '/k', path: 'contexts', message: 'no context' }]))),
      ),
    ]);
    expect(rows.map(([r]) => r?.error)).toEqual([
      { kind: 'unreachable', message: 'no answer' },
      { kind: 'refused', message: 'HTTP 403' },
      { kind: 'invalid', message: '/k  contexts: no context' },
    ]);
  });
});

describe('the bounded fan-out', () => {
  test('never more than `concurrency` clusters at once, and rows keep the targets order', async () => {
    const targets = Array.from({ length: 40 }, (_, i) => target(`c${i}`));
    let running = 0;
    let most = 0;
    const waiting: (() => void)[] = [];
    const kubes = new Map(targets.map((t) => [t.name, fakeCluster()]));
    const deps = fakeFleetDeps(async (t) => {
      running++;
      most = Math.max(most, running);
      // Held until the test lets it go, so that every worker is busy at once.
      await new Promise<void>((resolve) => waiting.push(resolve));
      running--;
      return { kube: kubes.get(t.name) as FakeKube, close: () => undefined };
    });
    const done = readFleetStatus(targets, { ...OPTIONS, concurrency: 8 }, deps);
    // Release the held connections in reverse order, a few at a time, until all are through.
    while (waiting.length > 0 || running > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      waiting
        .splice(0)
        .reverse()
        .forEach((release) => release());
    }
    const rows = await done;
    expect(most).toBe(8);
    expect(rows.map((r) => r.cluster)).toEqual(targets.map((t) => t.name));
  });

  test('mapBounded with a limit above the count runs each item once', async () => {
    const seen: number[] = [];
    const out = await mapBounded([1, 2, 3], 10, async (n) => {
      seen.push(n);
      return n * 2;
    });
    expect(out).toEqual([2, 4, 6]);
    expect(seen.sort()).toEqual([1, 2, 3]);
  });

  test('a cluster that never answers is cut at its deadline and closed; the others are rows', async () => {
    const deadlines = new FakeDeadlines();
    const closed: string[] = [];
    const healthy = fakeCluster();
    const hanging = new FakeKube();
    hanging.serverVersion = () => new Promise<string>(() => undefined);
    const deps = fakeFleetDeps(
      async (t) => ({
        kube: t.name === 'hangs' ? hanging : healthy,
        close: () => closed.push(t.name),
      }),
      deadlines,
    );
    const done = readFleetStatus([target('ok'), target('hangs')], OPTIONS, deps);
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    deadlines.fireAll();
    const rows = await done;
    expect(rows.map((r) => [r.cluster, r.error?.kind ?? 'read'])).toEqual([
      ['ok', 'read'],
      ['hangs', 'unreachable'],
    ]);
    expect(rows[1]?.error?.message).toBe('no answer within 10s');
    expect(closed.sort()).toEqual(['hangs', 'ok']);
    expect(deadlines.cancelled).toBe(2);
  });
});

test('a connection made only after its deadline is closed as soon as it is made', async () => {
  const deadlines = new FakeDeadlines();
  const closed: string[] = [];
  let connected: () => void = () => undefined;
  const slow = new Promise<void>((resolve) => (connected = resolve));
  const deps = fakeFleetDeps(async (t) => {
    await slow;
    return { kube: fakeCluster(), close: () => closed.push(t.name) };
  }, deadlines);
  const done = readFleetStatus([target('slow')], OPTIONS, deps);
  await new Promise((resolve) => setImmediate(resolve));
  deadlines.fireAll();
  const [row] = await done;
  expect(row?.error?.kind).toBe('unreachable');
  expect(closed).toEqual([]);
  connected();
  for (let i = 0; i < 5 && closed.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
  expect(closed).toEqual(['slow']);
});

describe('the table and the JSON', () => {
  async function rowsOf(): Promise<ClusterRow[]> {
    const kube = fakeCluster({ proxies: ['1.29.6'] });
    const [read] = await readFleetStatus(
      [target('east')],
      OPTIONS,
      fakeFleetDeps(async () => ({ kube, close: () => undefined })),
    );
    return [
      read as ClusterRow,
      errorRow(
        target('a-cluster-name-that-is-far-too-long-for-the-column'),
        'https://127.0.0.1:1',
        ExitCode.timeout,
        'the Kubernetes API server https://127.0.0.1:1 did not answer list Deployments after 3 attempts (ECONNREFUSED)',
      ),
    ];
  }

  test('one aligned line per cluster, a header and a count', async () => {
    const lines = formatFleet(await rowsOf(), NOW)
      .trimEnd()
      .split('\n');
    expect(lines).toHaveLength(4);
    const [header, east, dead, count] = lines as [string, string, string, string];
    expect(header).toMatch(
      /^CLUSTER +KUBERNETES +ISTIO +REVISION +HEALTH +LAST RUN +WHEN +PENDING +SKEW +NOTE$/,
    );
    expect(east.split(/ {2,}/)).toEqual([
      'east',
      'v1.32.5',
      '1.31.0',
      'default',
      'healthy',
      'install succeeded',
      '3m ago',
      '-',
      '1 beyond',
    ]);
    // Columns start where their headers do.
    expect(dead.indexOf('UNREACHABLE')).toBe(header.indexOf('HEALTH'));
    expect(dead.indexOf('ECONNREFUSED: https://')).toBe(header.indexOf('NOTE'));
    expect(east.indexOf('1 beyond')).toBe(header.indexOf('SKEW'));
    expect(dead.startsWith('a-cluster-name-that-is-far-…')).toBe(true);
    expect(dead).toContain('ECONNREFUSED: https://127.0.0.1:1 did no');
    expect(count).toBe('2 clusters: 1 healthy, 1 unreachable');
  });

  test('40 clusters with long notes: 42 lines, none wider than 160 columns', async () => {
    const [read, dead] = await rowsOf();
    const rows = Array.from({ length: 40 }, (_, i) => ({
      ...((i % 5 === 0 ? dead : read) as ClusterRow),
      cluster: `cluster-${String(i).padStart(2, '0')}-${'x'.repeat(i)}`,
      problems: i % 7 === 0 ? ['istiod-1-31-0 in istio-system: 0/1 ready '.repeat(8)] : [],
    }));
    const lines = formatFleet(rows, NOW).trimEnd().split('\n');
    expect(lines).toHaveLength(42);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(FLEET_TABLE_WIDTH);
  });

  test('the JSON is one entry per cluster, in order, with the error or the state', async () => {
    const parsed = JSON.parse(fleetJson(await rowsOf())) as ClusterRow[];
    expect(parsed.map((r) => [r.cluster.slice(0, 6), r.error?.kind ?? null, r.istioVersion])).toEqual([
      ['east', null, '1.31.0'],
      ['a-clus', 'unreachable', null],
    ]);
    expect(parsed[0]?.dataPlane).toEqual({ proxies: 1, beyondSkew: 1, oldestProxy: '1.29.6' });
  });

  test('ages', () => {
    expect(age('2026-12-05T07:59:30Z', NOW)).toBe('30s ago');
    expect(age('2026-12-05T05:00:00Z', NOW)).toBe('3h ago');
    expect(age('2026-11-20T08:00:00Z', NOW)).toBe('15d ago');
    expect(age('not a time', NOW)).toBe('-');
  });
});

describe('the exit code of the view', () => {
  const row = (kind: 'unreachable' | 'refused' | 'invalid' | 'error' | null): ClusterRow =>
    kind
      ? errorRow(target(kind), '', { unreachable: 5, refused: 3, invalid: 2, error: 1 }[kind], 'why')
      : { ...errorRow(target('fine'), '', 0, ''), error: null, installed: true, healthy: false };

  test('0 when every cluster was read, healthy or not, as single status', () => {
    expect(fleetError([row(null), row(null)], 10)).toBeUndefined();
  });

  test.each([
    [['unreachable', 'refused', 'invalid'], ExitCode.timeout],
    [['refused', 'invalid', 'error'], ExitCode.precondition],
    [['invalid', 'error'], ExitCode.input],
    [['error'], ExitCode.bug],
  ] as const)('rows %j: exit %i', (kinds, code) => {
    const error = fleetError([row(null), ...kinds.map(row)], 10);
    expect(exitCodeOf(error)).toBe(code);
    expect(error?.message).toContain(`${kinds.length} of ${kinds.length + 1} clusters could not be read`);
  });
});
