// Health against the last applied spec, and re-runs converging after faults, with a fake API server and a fake
// istioctl (our own logic only; test/e2e/converge.test.ts does the same with real istioctl on the rig).
import { IstioctlError, PreconditionError } from '../../../src/errors.js';
import type { InstallerDeps } from '../../../src/installer/deps.js';
import { install } from '../../../src/installer/actions/install.js';
import { makePlan } from '../../../src/installer/actions/plan.js';
import type { InstallRequest } from '../../../src/installer/actions/request.js';
import type { ProcessRunner, RunResult } from '../../../src/installer/istioctl/runner.js';
import { readClusterState } from '../../../src/installer/cluster/read-state.js';
import {
  decodeRecord,
  encodeRecord,
  nextRecord,
  RECORD_CONFIGMAP,
  specHash,
  type RecordEntry,
} from '../../../src/installer/model/record.js';
import { statusReport } from '../../../src/installer/decide/status.js';
import { renderDocument } from '../../../src/overlay/output.js';
import { FakeKube, gatewayDeployment, injectorWebhook, istiodDeployment } from '../../helpers/fake-kube.js';
import { installRequest, OFFLINE_CHECK_ARGS, answering } from '../../helpers/install-request.js';

const NS = 'istio-system';
const istioOperator = {
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  spec: {
    tag: '1.31.0',
    components: {
      pilot: { enabled: true },
      ingressGateways: [{ name: 'istio-ingressgateway', enabled: true }],
    },
  },
};

const request = (extra: Partial<InstallRequest> = {}): InstallRequest =>
  installRequest(istioOperator, { ...extra });

type Answer = Partial<RunResult> | ((args: readonly string[]) => Partial<RunResult>);

/** Deps whose istioctl answers per subcommand (`install`, `analyze`, `x`) and whose log is kept. */
function deps(kube: FakeKube, answers: Record<string, Answer> = {}) {
  const calls: string[][] = [];
  const log: string[] = [];
  let tick = 0;
  const runner: ProcessRunner = answering({
    async run(_file, args) {
      calls.push([...args]);
      const answer = answers[args[0] ?? ''];
      const result = typeof answer === 'function' ? answer(args) : (answer ?? {});
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, ...result };
    },
  });
  const d: InstallerDeps = {
    kube,
    runner,
    log: {
      info: (m) => log.push(m),
      warn: (m) => log.push(`warn: ${m}`),
      error: (m) => log.push(`error: ${m}`),
    },
    now: () => new Date(Date.UTC(2026, 11, 3) + tick++ * 1000),
    sleep: async () => undefined,
    env: {},
    istioctlFor: async () => '/fake/istioctl',
    writeTempFile: async (name) => `/tmp/fake/${name}`,
    holder: 'process:this-host/2',
    hostname: 'this-host',
    isProcessAlive: () => false,
    lockSeconds: 60,
  };
  return { deps: d, calls, log };
}

const entry = (outcome: RecordEntry['outcome'], extra: Partial<RecordEntry> = {}): RecordEntry => ({
  action: 'install',
  outcome,
  specSha256: specHash(istioOperator),
  istioVersion: '1.31.0',
  revision: 'default',
  chartVersion: '0.1.0',
  installerVersion: '0.1.0',
  time: '2026-12-02T00:00:00Z',
  ...extra,
});

/** A healthy 1.31.0 install of `istioOperator` with the record of it; `outcome` of the last run. */
function cluster(outcome: RecordEntry['outcome'] = 'succeeded', holder?: string): FakeKube {
  const kube = new FakeKube();
  kube.namespaces.push({ metadata: { name: NS } });
  kube.deployments.push(istiodDeployment({ version: '1.31.0' }));
  kube.deployments.push(gatewayDeployment({ name: 'istio-ingressgateway', version: '1.31.0' }));
  kube.serviceAccounts.push({ metadata: { name: 'istio-ingressgateway-service-account', namespace: NS } });
  kube.services.push({ metadata: { name: 'istiod', namespace: NS } });
  kube.mutating.push(injectorWebhook());
  const record = nextRecord(
    undefined,
    entry(outcome, holder ? { holder } : {}),
    renderDocument(istioOperator, 'yaml'),
  );
  kube.configMaps.set(`${NS}/${RECORD_CONFIGMAP}`, {
    metadata: { name: RECORD_CONFIGMAP, namespace: NS },
    ...encodeRecord(record),
  });
  return kube;
}

const recordOf = (kube: FakeKube) => {
  const map = kube.configMaps.get(`${NS}/${RECORD_CONFIGMAP}`);
  return decodeRecord(map?.data, map?.binaryData);
};
const status = async (kube: FakeKube) => statusReport(await readClusterState(kube, NS), new Date());

describe('health against the last applied spec', () => {
  test('the healthy install is healthy, and a re-run does nothing', async () => {
    const kube = cluster();
    expect(await status(kube)).toMatchObject({ healthy: true, problems: [] });
    expect((await makePlan(request(), deps(kube).deps)).plan.kind).toBe('nothing');
  });

  test('istiod scaled to zero is not healthy; install repairs it with istioctl', async () => {
    const kube = cluster();
    const istiod = kube.deployments[0]!;
    istiod.spec!.replicas = 0;
    istiod.status = { observedGeneration: 1, replicas: 0, readyReplicas: 0, updatedReplicas: 0 };
    expect(await status(kube)).toMatchObject({
      healthy: false,
      problems: ['Deployment istio-system/istiod: scaled to 0 replicas'],
    });
    // As istioctl does with autoscaling on: the apply leaves replicas alone.
    const { deps: d, calls } = deps(kube, { install: {} });
    const ready = () => {
      istiod.status = { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1 };
    };
    kube.scaleDeployment = async (namespace, name, replicas) => {
      kube.writes.push(`scale Deployment ${namespace}/${name} to ${replicas}`);
      istiod.spec!.replicas = replicas;
      ready();
    };
    const result = await install(request(), d);
    expect(kube.writes).toContain('scale Deployment istio-system/istiod to 1');
    expect(result.plan.kind).toBe('repair');
    expect(result.plan.reason).toBe(
      'revision default is not healthy: Deployment istio-system/istiod: scaled to 0 replicas; re-applying',
    );
    expect(calls.map((c) => c[0])).toContain('install');
    expect(recordOf(kube)?.current).toMatchObject({ action: 'repair', outcome: 'succeeded' });
  });

  test('a deleted gateway Deployment is missing, even with forceInstall; install recreates it', async () => {
    const kube = cluster();
    kube.deployments = kube.deployments.filter((d) => d.metadata?.name !== 'istio-ingressgateway');
    expect((await status(kube)).problems).toEqual(['Deployment istio-system/istio-ingressgateway: missing']);
    const {
      deps: d,
      calls,
      log,
    } = deps(kube, {
      install: () => {
        kube.deployments.push(gatewayDeployment({ name: 'istio-ingressgateway', version: '1.31.0' }));
        return {};
      },
    });
    const result = await install(request({ force: true }), d);
    expect(result.plan.kind).toBe('repair');
    // The offline manifest generate check of the merged spec runs first, forceInstall or not.
    expect(calls).toEqual([
      OFFLINE_CHECK_ARGS,
      ['install', '-f', '/tmp/fake/istio-operator.yaml', '--readiness-timeout', '300s'],
    ]);
    expect(log).toContain(
      'warn: forceInstall: skipping istioctl x precheck and istioctl analyze; nothing checks the cluster before this install',
    );
  });

  test('a gateway whose ServiceAccount is gone (an apply cut off half-way) is repaired', async () => {
    const kube = cluster();
    kube.serviceAccounts = [];
    const { plan } = await makePlan(request(), deps(kube).deps);
    expect(plan.kind).toBe('repair');
    expect(plan.problems).toEqual([
      'Deployment istio-system/istio-ingressgateway: its ServiceAccount istio-system/istio-ingressgateway-service-account is missing',
    ]);
  });

  test('right after a killed first install (istiod there, the gateway never made), status is not healthy', async () => {
    const kube = cluster('in-progress', 'process:this-host/1');
    kube.deployments = kube.deployments.filter((d) => d.metadata?.name !== 'istio-ingressgateway');
    const report = await status(kube);
    expect(report).toMatchObject({
      healthy: false,
      problems: ['Deployment istio-system/istio-ingressgateway: missing'],
      lastApplied: { outcome: 'interrupted', holder: 'process:this-host/1' },
    });
  });

  test('an attempt whose holder still holds an unexpired lock is in progress, unless that holder is provably gone', async () => {
    const kube = cluster('in-progress', 'process:this-host/1');
    const now = new Date();
    const state = {
      ...(await readClusterState(kube, NS)),
      lock: { holder: 'process:this-host/1', expires: new Date(now.getTime() + 60_000) },
    };
    expect(statusReport(state, now).lastApplied?.outcome).toBe('in-progress');
    expect(statusReport(state, now, true).lastApplied?.outcome).toBe('interrupted');
    expect(statusReport(state, now, true).history[0]?.outcome).toBe('interrupted');
  });
});

describe('a re-run after an interruption converges', () => {
  test('the attempt is on record before istioctl runs; an attempt left by a killed run becomes interrupted', async () => {
    const kube = cluster('in-progress', 'process:this-host/1');
    const seen: (string | undefined)[] = [];
    const { deps: d, log } = deps(kube, {
      install: () => {
        seen.push(recordOf(kube)?.current.outcome);
        return {};
      },
    });
    const result = await install(request(), d);
    expect(result.plan.kind).toBe('reconfigure');
    expect(seen).toEqual(['in-progress']);
    expect(log).toContain(
      'warn: the last run (install by process:this-host/1, started 2026-12-02T00:00:00Z) was interrupted; recorded as such, and this run applies the spec again',
    );
    expect(recordOf(kube)?.history.map((h) => `${h.holder} ${h.outcome}`)).toEqual([
      'process:this-host/2 succeeded',
      'process:this-host/1 interrupted',
    ]);
  });

  test('an overlap of our own webhooks left by our interrupted run does not refuse the re-run', async () => {
    const kube = cluster('interrupted');
    kube.mutating.push({
      metadata: {
        name: 'istio-revision-tag-default',
        labels: { 'istio.io/rev': 'default', 'istio.io/tag': 'default' },
      },
      webhooks: [
        {
          name: 'rev.namespace.sidecar-injector.istio.io',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          clientConfig: { service: { name: 'istiod', namespace: NS } },
        },
      ],
    });
    const overlap =
      'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector) Webhook overlaps with others: [istio-revision-tag-default/rev.namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.\n';
    const { deps: d, calls, log } = deps(kube, { analyze: { exitCode: 79, stdout: overlap } });
    const result = await install(request(), d);
    expect(result.summary).toMatch(/^reconfigure: Istio 1\.31\.0 \(revision default\) installed and ready/);
    // The offline check begins while the cluster is read, the prechecks beside it after the plan (all only read),
    // and istioctl install comes last.
    expect(calls.map((c) => c[0])).toEqual(['manifest', 'x', 'analyze', 'install']);
    expect(
      log.some((l) => l.startsWith('warn: Error [IST0139]') && l.includes('left by the unfinished last run')),
    ).toBe(true);
  });

  test('the same overlap after a run that succeeded, or with a webhook not ours, refuses', async () => {
    for (const [outcome, service] of [
      ['succeeded', NS],
      ['interrupted', 'other-mesh'],
    ] as const) {
      const kube = cluster(outcome);
      kube.mutating.push({
        metadata: { name: 'istio-revision-tag-default', labels: { 'istio.io/rev': 'default' } },
        webhooks: [
          {
            name: 'x.istio.io',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            clientConfig: { service: { name: 'istiod', namespace: service } },
          },
        ],
      });
      const overlap =
        'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector) Webhook overlaps with others: [istio-revision-tag-default/x.istio.io]. This may cause injection to occur twice.\n';
      const { deps: d, calls } = deps(kube, {
        analyze: { exitCode: 79, stdout: overlap },
        install: () => ({}),
      });
      await expect(
        install(request({ istioOperator: { ...istioOperator, metadata: { name: 'x' } } }), d),
      ).rejects.toThrow(
        /istioctl analyze found 1 finding\(s\) that make installing unsafe: Error \[IST0139\]/,
      );
      expect(calls.map((c) => c[0])).not.toContain('install');
      // the attempt is resolved, not left looking interrupted, and the spec on record is still the applied one
      expect(recordOf(kube)?.current.outcome).toBe('refused');
      expect(recordOf(kube)?.spec).toBe(renderDocument(istioOperator, 'yaml'));
    }
  });
});

test("a stale webhook the run deletes does not refuse it when analyze, reading the API server's cache, still names it", async () => {
  const kube = cluster();
  kube.mutating.push({
    metadata: { name: 'istio-sidecar-injector-gone', labels: { 'istio.io/rev': 'gone' } },
    webhooks: [
      {
        name: 'rev.namespace.sidecar-injector.istio.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        clientConfig: { service: { name: 'istiod-gone', namespace: NS } },
      },
    ],
  });
  const stale =
    'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector-gone) Injector refers to a control plane service that does not exist: istio-system/istiod-gone.\n';
  const {
    deps: d,
    calls,
    log,
  } = deps(kube, { analyze: { exitCode: 79, stdout: stale }, install: () => ({}) });
  await install(request({ istioOperator: { ...istioOperator, metadata: { name: 'x' } } }), d);
  expect(kube.mutating.map((w) => w.metadata?.name)).not.toContain('istio-sidecar-injector-gone');
  // istioctl install, held at its prompt since before the deletion, read the webhooks then (for the default tag's):
  // it is answered no, and the install that runs is a new one.
  expect(calls.filter((c) => c[0] === 'install')).toEqual([
    ['install', '-y', '-f', '/tmp/fake/istio-operator.yaml', '--readiness-timeout', '300s'],
  ]);
  expect(log).toContain(
    "Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector-gone) Injector refers to a control plane service that does not exist: istio-system/istiod-gone. (about a webhook configuration this run deleted as stale; istioctl read it from the API server's cache)",
  );
});

describe("users' own configuration findings", () => {
  const findings = [
    'Error [IST0101] (VirtualService default/broken-vs) Referenced host not found: "no-such-service.default.svc.cluster.local"',
    'Error [IST0173] (DestinationRule default/reviews) The Subset v3 defined in the DestinationRule does not select any pods.',
  ].join('\n');

  test('warn in the log, the record and status; the install goes on', async () => {
    const kube = cluster('succeeded');
    const changed = { ...istioOperator, metadata: { name: 'changed' } };
    const { deps: d, calls, log } = deps(kube, { analyze: { exitCode: 79, stdout: `${findings}\n` } });
    const result = await install(request({ istioOperator: changed }), d);
    expect(result.summary).toMatch(/; 2 warning\(s\) from istioctl analyze/);
    // The offline check begins while the cluster is read, the prechecks beside it after the plan (all only read),
    // and istioctl install comes last.
    expect(calls.map((c) => c[0])).toEqual(['manifest', 'x', 'analyze', 'install']);
    expect(log.filter((l) => l.startsWith('warn: Error [IST01'))).toHaveLength(2);
    expect(recordOf(kube)?.current.warnings).toEqual(findings.split('\n'));
    expect((await status(kube)).warnings).toEqual(findings.split('\n'));
  });

  test('install-unsafe findings still refuse: an unsupported Kubernetes version', async () => {
    const kube = cluster('succeeded');
    const { deps: d } = deps(kube, {
      analyze: {
        exitCode: 79,
        stdout: `${findings}\nError [IST0142] The Kubernetes Version "1.20.0" is lower than the minimum version: 1.32\n`,
      },
    });
    const refused = install(request({ istioOperator: { ...istioOperator, metadata: { name: 'x' } } }), d);
    await expect(refused).rejects.toThrow(PreconditionError);
    await expect(refused).rejects.toThrow(/: Error \[IST0142\] The Kubernetes Version/);
  });

  test('every x precheck finding refuses', async () => {
    const kube = cluster('succeeded');
    const { deps: d } = deps(kube, {
      x: {
        exitCode: 1,
        stdout: 'Error [IST0141] (ClusterRole x) Missing required permission to create resource x\n',
      },
    });
    await expect(
      install(request({ istioOperator: { ...istioOperator, metadata: { name: 'x' } } }), d),
    ).rejects.toThrow(/istioctl x precheck found problems: Error \[IST0141\]/);
  });
});

test('a failed istioctl install records its cause and its last output lines', async () => {
  const kube = cluster('succeeded');
  const output = [
    ...Array.from({ length: 30 }, (_, i) => `line ${i}`),
    'error forwarding port 15014 to pod istiod-abc, uid : unable to do port forwarding',
    '✘ Ingress gateways encountered an error: failed to update resource: unexpected EOF',
  ].join('\n');
  const { deps: d } = deps(kube, { install: { exitCode: 1, stderr: `${output}\n` } });
  const failed = install(request({ istioOperator: { ...istioOperator, metadata: { name: 'x' } } }), d);
  await expect(failed).rejects.toThrow(IstioctlError);
  const current = recordOf(kube)?.current;
  expect(current?.outcome).toBe('failed');
  expect(current?.message).toBe(
    '✘ Ingress gateways encountered an error: failed to update resource: unexpected EOF',
  );
  expect(current?.output).toHaveLength(20);
  expect(current?.output?.at(-1)).toBe(current?.message);
});

describe("an in-place upgrade of the node agents in Sail Operator's order", () => {
  const ambient = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: { profile: 'ambient', tag: '1.31.0' },
  };
  const agent = (name: string, version: string) => ({
    metadata: {
      name,
      namespace: NS,
      generation: 1,
      labels: {
        'operator.istio.io/component': name === 'ztunnel' ? 'Ztunnel' : 'Cni',
        'operator.istio.io/version': version,
      },
    },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        spec: {
          containers: [
            {
              name: name === 'ztunnel' ? 'istio-proxy' : 'install-cni',
              image: `registry.istio.io/release/${name}:${version}`,
            },
          ],
        },
      },
    },
    status: {
      observedGeneration: 1,
      desiredNumberScheduled: 2,
      currentNumberScheduled: 2,
      numberMisscheduled: 0,
      numberReady: 2,
      updatedNumberScheduled: 2,
    },
  });
  /** A healthy ambient 1.30.4 install; the fake istioctl makes what each of its runs applies run 1.31.0. */
  function ambient1304(pruneAgents = false) {
    const kube = new FakeKube();
    kube.namespaces.push({ metadata: { name: NS } });
    kube.deployments.push(istiodDeployment({ version: '1.30.4' }));
    kube.daemonSets.push(agent('istio-cni-node', '1.30.4'), agent('ztunnel', '1.30.4'));
    kube.services.push({ metadata: { name: 'istiod', namespace: NS } });
    kube.mutating.push(injectorWebhook());
    // This installer made it (else it would be a takeover, which upgrades by canary).
    const applied = { ...ambient, spec: { ...ambient.spec, tag: '1.30.4' } };
    const record = nextRecord(
      undefined,
      entry('succeeded', { istioVersion: '1.30.4', specSha256: specHash(applied) }),
      renderDocument(applied, 'yaml'),
    );
    kube.configMaps.set(`${NS}/${RECORD_CONFIGMAP}`, {
      metadata: { name: RECORD_CONFIGMAP, namespace: NS },
      ...encodeRecord(record),
    });
    const {
      deps: d,
      calls,
      log,
    } = deps(kube, {
      install: (args) => {
        kube.deployments = [istiodDeployment({ version: '1.31.0' })];
        if (args.includes('/tmp/fake/istio-operator-control-plane.yaml'))
          kube.daemonSets = pruneAgents ? [] : kube.daemonSets;
        else kube.daemonSets = [agent('istio-cni-node', '1.31.0'), agent('ztunnel', '1.31.0')];
        return {};
      },
    });
    return { kube, deps: d, calls, log };
  }

  test('istioctl runs twice: the control plane alone, verified, then the whole spec', async () => {
    const { deps: d, calls, log } = ambient1304();
    const result = await install(request({ istioOperator: ambient }), d);
    expect(result.plan.kind).toBe('upgrade-in-place');
    expect(calls.filter((c) => c[0] === 'install')).toEqual([
      ['install', '-y', '-f', '/tmp/fake/istio-operator-control-plane.yaml', '--readiness-timeout', '300s'],
      ['install', '-y', '-f', '/tmp/fake/istio-operator.yaml', '--readiness-timeout', '300s'],
    ]);
    const phases = log.filter((l) => l.startsWith('- '));
    expect(phases.indexOf('- verify the control plane')).toBeGreaterThan(
      phases.indexOf(
        '- istioctl install (control plane first, revision default, without istio-cni and ztunnel)',
      ),
    );
    expect(log).toContain(
      'control plane ready; node agents still running: istio-cni-node 1.30.4, ztunnel 1.30.4; next istio-cni, then ztunnel',
    );
    expect(result.summary).toMatch(
      /^upgrade-in-place: Istio 1\.31\.0 \(revision default\) installed and ready/,
    );
  });

  test('node agents the first run removed anyway are named, and the second run brings them back', async () => {
    const { deps: d, log } = ambient1304(true);
    const result = await install(request({ istioOperator: ambient }), d);
    expect(log).toContain(
      'warn: the control-plane run removed istio-cni-node and ztunnel; the next run installs them again, and ambient pods on their nodes have no data plane until then',
    );
    expect(result.summary).toMatch(/installed and ready/);
  });
});
