// The install flow's decisions end to end with fakes: a no-op calls no istioctl and writes nothing; a refusal changes nothing.
import { ForbiddenError, InputError, PreconditionError } from '../../../src/errors.js';
import type { InstallerDeps } from '../../../src/installer/deps.js';
import { install } from '../../../src/installer/actions/install.js';
import type { InstallRequest } from '../../../src/installer/actions/request.js';
import type { ProcessRunner } from '../../../src/installer/istioctl/runner.js';
import { encodeRecord, nextRecord, RECORD_CONFIGMAP, specHash } from '../../../src/installer/model/record.js';
import { formatIstioVersion } from '../../../src/installer/model/istio-version.js';
import { FakeKube, injectorWebhook, istiodDeployment } from '../../helpers/fake-kube.js';
import { installRequest, OFFLINE_CHECK_ARGS, answering } from '../../helpers/install-request.js';

const istioOperator = {
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  spec: { tag: '1.31.0', components: { pilot: { enabled: true } } },
};

const request = (extra: Partial<InstallRequest> = {}): InstallRequest =>
  installRequest(istioOperator, { ...extra });

/** A logger that keeps every line, to check what a run told its user. */
function recordingLogger() {
  const lines: string[] = [];
  const keep = (message: string) => void lines.push(message);
  return { lines, info: keep, warn: keep, error: keep };
}

function deps(kube: FakeKube): InstallerDeps & { istioctlCalls: string[][] } {
  const istioctlCalls: string[][] = [];
  // A clock that moves a second per reading, so any wait with a deadline ends even against the fakes.
  let tick = 0;
  const runner: ProcessRunner = answering({
    async run(_file, args) {
      istioctlCalls.push([...args]);
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
    },
  });
  return {
    kube,
    runner,
    istioctlCalls,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    now: () => new Date(Date.UTC(2026, 10, 21) + tick++ * 1000),
    sleep: async () => undefined,
    env: {},
    istioctlFor: async () => '/fake/istioctl',
    writeTempFile: async (name) => `/tmp/fake/${name}`,
    holder: 'process:test-host/1',
    hostname: 'test-host',
    isProcessAlive: () => true,
    lockSeconds: 60,
  };
}

function installedCluster(hash: string): FakeKube {
  const kube = new FakeKube();
  kube.namespaces.push({ metadata: { name: 'istio-system' } });
  kube.deployments.push(istiodDeployment({ version: '1.31.0' }));
  kube.mutating.push(injectorWebhook());
  const entry = {
    action: 'install',
    outcome: 'succeeded' as const,
    specSha256: hash,
    istioVersion: '1.31.0',
    revision: 'default',
    chartVersion: '0.1.0',
    installerVersion: '0.1.0',
    time: '2026-11-20T00:00:00Z',
  };
  const encoded = encodeRecord(nextRecord(undefined, entry, 'spec: {}\n'));
  kube.configMaps.set(`istio-system/${RECORD_CONFIGMAP}`, {
    metadata: { name: RECORD_CONFIGMAP, namespace: 'istio-system' },
    ...encoded,
  });
  return kube;
}

test('same version, same spec, healthy: nothing to do, no istioctl, no writes', async () => {
  const kube = installedCluster(specHash(istioOperator));
  const d = deps(kube);
  const result = await install(request(), d);
  expect(result.plan.kind).toBe('nothing');
  expect(result.summary).toMatch(
    /^nothing to do: Istio 1.31.0 \(revision default\) is installed with this exact spec and healthy/,
  );
  expect(d.istioctlCalls).toEqual([]);
  expect(kube.writes).toEqual([]);
});

test('a refused plan throws PreconditionError and changes nothing', async () => {
  const kube = installedCluster('x');
  const d = deps(kube);
  const signals: (AbortSignal | undefined)[] = [];
  const runner = d.runner;
  d.runner = {
    run: (file, args, options) => (signals.push(options.signal), runner.run(file, args, options)),
  };
  const downgrade = { ...istioOperator, spec: { ...istioOperator.spec, tag: '1.30.4' } };
  await expect(install(request({ istioOperator: downgrade }), d)).rejects.toThrow(PreconditionError);
  // Only the offline check ran, begun while the cluster was read (it needs no cluster), and it was told to stop.
  expect(d.istioctlCalls).toEqual([OFFLINE_CHECK_ARGS]);
  expect(signals.map((signal) => signal?.aborted)).toEqual([true]);
  expect(kube.writes).toEqual([]);
});

test('a run whose spec was the last applied, and applied well, begins no offline check before its plan', async () => {
  const kube = installedCluster(specHash(istioOperator));
  const d = deps(kube);
  // The record says this spec was applied, but its istiod is gone: not a no-op, so the check runs after the plan.
  kube.deployments.length = 0;
  const order: string[] = [];
  const log = { ...d.log, info: (line: string) => void order.push(line) };
  const runner = d.runner;
  d.runner = { run: (file, args, options) => (order.push(args.join(' ')), runner.run(file, args, options)) };
  await install(request({ dryRun: true }), { ...d, log });
  const planned = order.findIndex((line) => line.startsWith('  done: read cluster state and plan'));
  const generated = order.findIndex((line) => line.startsWith('manifest generate'));
  expect(planned).toBeGreaterThanOrEqual(0);
  expect(generated).toBeGreaterThan(planned);
});

test('a fresh revision-based install uses the offline check begun before its plan: one check, no second', async () => {
  const kube = new FakeKube();
  const d = deps(kube);
  const log = recordingLogger();
  const result = await install(request({ dryRun: true, strategy: 'RevisionBased' }), { ...d, log });
  expect(result.plan.revision).toBe('1-31-0');
  expect(d.istioctlCalls).toEqual([OFFLINE_CHECK_ARGS]);
  expect(log.lines).toContainEqual(
    expect.stringMatching(
      /^ {2}done: istioctl manifest generate \(.*\), begun while the cluster was read \(/,
    ),
  );
});

test("an offline check begun on the asked-for version is stopped when the plan's first hop is another", async () => {
  const kube = new FakeKube();
  kube.namespaces.push({ metadata: { name: 'istio-system' } });
  kube.deployments.push(istiodDeployment({ version: '1.27.9' }));
  kube.mutating.push(injectorWebhook());
  const d = deps(kube);
  d.istioctlVersions = async () => ['1.27.9', '1.29.6', '1.31.0'];
  const checks: { version: string; signal: AbortSignal | undefined }[] = [];
  d.istioctlFor = async (version) => `/fake/istioctl-${version ? formatIstioVersion(version) : ''}`;
  const runner = d.runner;
  d.runner = {
    run: (file, args, options) => {
      if (args[0] === 'manifest')
        checks.push({ version: file.replace('/fake/istioctl-', ''), signal: options.signal });
      return runner.run(file, args, options);
    },
  };
  const result = await install(request({ dryRun: true, strategy: 'RevisionBased' }), d);
  expect(result.plan.toVersion && formatIstioVersion(result.plan.toVersion)).toBe('1.29.6');
  // The guess (1.31.0, as asked) was stopped; the first hop's own spec was checked with its own istioctl.
  expect(checks.map(({ version, signal }) => [version, signal?.aborted ?? false])).toEqual([
    ['1.31.0', true],
    ['1.29.6', false],
  ]);
});

test('dry run prints the plan and changes nothing', async () => {
  const kube = new FakeKube();
  const d = deps(kube);
  const result = await install(request({ dryRun: true }), d);
  expect(result.summary).toBe('dry run: would install (no Istio control plane is installed)');
  // Only the offline check: istioctl renders the spec without touching the cluster.
  expect(d.istioctlCalls).toEqual([OFFLINE_CHECK_ARGS]);
  expect(kube.writes).toEqual([]);
});

test('what the target istioctl refuses offline is bad input at its file and key, before the lock', async () => {
  const kube = new FakeKube();
  const d = deps(kube);
  const signals: (AbortSignal | undefined)[] = [];
  const answers: Promise<boolean>[] = [];
  d.runner = {
    async run(_file, args, options) {
      d.istioctlCalls.push([...args]);
      if (args[0] === 'x' || args[0] === 'analyze') signals.push(options.signal);
      if (options.answer) answers.push(options.answer);
      return {
        exitCode: 1,
        stdout: '',
        stderr: 'Error: generate config: unknown field "pilotz" in istio.operator.v1alpha1.Values\n',
        timedOut: false,
      };
    },
  };
  const spec = { ...istioOperator, spec: { ...istioOperator.spec, values: { pilotz: { x: 1 } } } };
  const error = (await install(
    request({
      istioOperator: spec,
      locateSpec: (path) => ({ file: 'values.yaml', line: 3, col: 3, path: path.join('.') }),
    }),
    d,
  ).catch((e: unknown) => e)) as InputError;
  expect(error).toBeInstanceOf(InputError);
  expect(error.issues).toEqual([
    {
      file: 'values.yaml',
      line: 3,
      col: 3,
      path: 'values.pilotz',
      message: expect.stringContaining('unknown field; istioctl /fake/istioctl refuses it'),
    },
  ]);
  // Beside the offline check, istioctl install started without -y; the prechecks start once that check is done,
  // and the refusal stops them at once, if they started at all. Nothing was installed: the held install was
  // answered no.
  const started = d.istioctlCalls.map((call) => call.slice(0, 2).join(' '));
  expect(started.filter((call) => call !== 'install -f').slice(0, 1)).toEqual(['manifest generate']);
  expect(started.filter((call) => call === 'install -f')).toEqual(['install -f']);
  expect(await Promise.all(answers)).toEqual([false]);
  expect([0, 2]).toContain(signals.length);
  expect(signals.filter((signal) => !signal?.aborted)).toEqual([]);
  expect(kube.writes).toEqual([]);
});

test('a spec change runs prechecks then one istioctl install with the merged spec, under the lock', async () => {
  const kube = installedCluster('old-hash');
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  const d = deps(kube);
  const result = await install(request(), d);
  expect(result.plan.kind).toBe('reconfigure');
  // The offline check begins while the cluster is read; the prechecks start beside it after the plan (all three
  // only read) and are judged under the lock.
  expect(d.istioctlCalls).toEqual([
    OFFLINE_CHECK_ARGS,
    ['x', 'precheck'],
    [
      'analyze',
      '--all-namespaces',
      '--meshConfigFile',
      '/tmp/fake/mesh-config.yaml',
      '--failure-threshold',
      'Error',
    ],
    // Started beside the checks without -y, and answered yes under the lock (answering in install-request.ts).
    ['install', '-f', '/tmp/fake/istio-operator.yaml', '--readiness-timeout', '300s'],
  ]);
  expect(kube.writes).toEqual([
    'create Lease istio-system/istio-installer-lock',
    'apply ConfigMap istio-system/istio-installer-state', // the attempt, before acting
    'apply ConfigMap istio-system/istio-installer-state', // its outcome
    'create Event ReconfigureSucceeded',
    'delete Lease istio-system/istio-installer-lock',
  ]);
});

test('another run acting between the first read and the lock: the prechecks run again, on the new decision', async () => {
  const kube = installedCluster('old-hash');
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  const d = deps(kube);
  const log = recordingLogger();
  const calls = d.istioctlCalls;
  // While the first prechecks run, another run records a newer attempt (as a run that got the lock first would).
  let acted = false;
  d.runner = answering({
    async run(_file, args) {
      calls.push([...args]);
      if (args[0] === 'x' && !acted) {
        acted = true;
        const newer = installedCluster('newer-hash').configMaps.get(`istio-system/${RECORD_CONFIGMAP}`);
        if (newer) kube.configMaps.set(`istio-system/${RECORD_CONFIGMAP}`, newer);
      }
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
    },
  });
  await install(request(), { ...d, log });
  expect(calls.map((call) => call[0])).toEqual(['manifest', 'x', 'analyze', 'x', 'analyze', 'install']);
  // The install held on the first decision was answered no; the one that ran was started on the new one.
  expect(calls.at(-1)).toContain('-y');
  expect(log.lines).toContain(
    'the cluster changed between the first read and the lock: the prechecks run again',
  );
});

test("Rancher's installer's dashboards (istio_dashboard=1) are replaced by this installer's, each named in the log", async () => {
  const kube = installedCluster('old-hash');
  kube.namespaces.push({ metadata: { name: 'cattle-dashboards' } });
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  for (const [name, labels] of [
    ['istio-dashboard-7639', { grafana_dashboard: '1', istio_dashboard: '1' }],
    ['users-own-dashboard', { grafana_dashboard: '1' }],
  ] as const)
    kube.configMaps.set(`cattle-dashboards/${name}`, {
      metadata: { name, namespace: 'cattle-dashboards', labels },
    });
  const log = recordingLogger();
  await install(request(), { ...deps(kube), log });
  const names = [...kube.configMaps.values()]
    .filter((c) => c.metadata?.namespace === 'cattle-dashboards')
    .map((c) => c.metadata?.name)
    .sort();
  expect(names).toEqual([
    'rancher-istio-istio-control-plane',
    'rancher-istio-istio-mesh',
    'rancher-istio-istio-workloads',
    'users-own-dashboard',
  ]);
  expect(log.lines).toContainEqual(
    expect.stringContaining(
      "deleting ConfigMap cattle-dashboards/istio-dashboard-7639: Rancher's installer's Istio dashboard",
    ),
  );
});

test('a denied dashboard write (no Role in cattle-dashboards) warns; the install still succeeds', async () => {
  const kube = installedCluster('old-hash');
  kube.namespaces.push({ metadata: { name: 'cattle-dashboards' } });
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  const apply = kube.applyConfigMap.bind(kube);
  kube.applyConfigMap = async (configMap) => {
    if (configMap.metadata?.namespace === 'cattle-dashboards')
      throw new ForbiddenError('the Kubernetes API server refused to write ConfigMap: HTTP 403: forbidden');
    return apply(configMap);
  };
  const log = recordingLogger();
  const result = await install(request(), { ...deps(kube), log });
  expect(result.summary).toMatch(/installed and ready/);
  expect(log.lines).toContainEqual(
    expect.stringMatching(/Grafana dashboards in cattle-dashboards left as they are: .*HTTP 403/),
  );
});

test('with rancher-monitoring present, the Grafana dashboards are written to cattle-dashboards', async () => {
  const kube = installedCluster('old-hash');
  kube.namespaces.push({ metadata: { name: 'cattle-dashboards' } });
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  await install(request(), deps(kube));
  const dashboards = [...kube.configMaps.values()].filter(
    (c) => c.metadata?.namespace === 'cattle-dashboards',
  );
  expect(dashboards.map((c) => c.metadata?.name).sort()).toEqual([
    'rancher-istio-istio-control-plane',
    'rancher-istio-istio-mesh',
    'rancher-istio-istio-workloads',
  ]);
  for (const configMap of dashboards) {
    expect(configMap.metadata?.labels?.grafana_dashboard).toBe('1');
    const [content] = Object.values(configMap.data ?? {});
    const parsed = JSON.parse(content ?? '') as { panels: { targets: { expr: string }[] }[] };
    expect(parsed.panels.length).toBeGreaterThanOrEqual(4);
    for (const panel of parsed.panels) expect(panel.targets[0]?.expr).toMatch(/istio|pilot|container_/);
  }
});

describe('what starts before the lock, three istioctl processes at most', () => {
  /**
   * A run whose istioctl processes each wait for the test to let them end: the early offline check (`manifest`) and
   * the precheck (`x`); the held install is answered when the run decides.
   */
  function gatedRun(kube: FakeKube) {
    const d = deps(kube);
    const events: string[] = [];
    const gates = new Map<string, () => void>();
    const gated = new Map<string, Promise<void>>();
    for (const name of ['manifest', 'x'])
      gated.set(name, new Promise<void>((resolve) => gates.set(name, resolve)));
    d.runner = {
      async run(_file, args, options) {
        const name = args[0] ?? '';
        events.push(`start ${name}${options.answer ? ' (held)' : ''}`);
        await gated.get(name);
        if (gated.has(name)) events.push(`${name} done`);
        const yes = options.answer ? await options.answer : false;
        if (options.answer) events.push(`answered ${yes ? 'yes' : 'no'}`);
        // What istioctl would make: the istiod the verify waits for.
        if (yes && !kube.deployments.length) kube.deployments.push(istiodDeployment({ version: '1.31.0' }));
        return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
      },
    };
    const finish = (name: string) => gates.get(name)?.();
    return { d, events, finish };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  test('with an offline check begun while the cluster was read: the held install beside it, the prechecks once it is done', async () => {
    const kube = installedCluster('old-hash');
    kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
    const { d, events, finish } = gatedRun(kube);
    const running = install(request(), d);
    await settle();
    expect(events).toEqual(['start manifest', 'start install (held)']);
    finish('manifest');
    await settle();
    expect(events).toEqual(expect.arrayContaining(['start x', 'start analyze']));
    expect(events.indexOf('start x')).toBeGreaterThan(events.indexOf('manifest done'));
    finish('x');
    await running;
    expect(events.at(-1)).toBe('answered yes');
    expect(events.filter((e) => e.startsWith('start install'))).toEqual(['start install (held)']);
  });

  test('without one (it starts after the plan): the prechecks at once, the held install once they are done', async () => {
    // The record says this spec was applied, but its istiod is gone: a repair, its offline check begun after the plan.
    const kube = installedCluster(specHash(istioOperator));
    kube.deployments.length = 0;
    kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
    const { d, events, finish } = gatedRun(kube);
    const running = install(request(), d);
    await settle();
    expect(events).toEqual(expect.arrayContaining(['start x', 'start analyze']));
    finish('manifest');
    await settle();
    expect(events).toContain('manifest done');
    expect(events).not.toContain('start install (held)');
    finish('x');
    await running;
    expect(events.indexOf('start install (held)')).toBeGreaterThan(events.indexOf('x done'));
    expect(events.at(-1)).toBe('answered yes');
  });
});
