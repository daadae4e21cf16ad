// The admission check's pure parts: the pods a manifest makes, the dry-run pod built from each, the refusal's wording,
// and which FailedCreate ends a wait (the real PodSecurity admission judges them in test/e2e/hardened.test.ts).
import { admissionPod, admissionRefusal, podWorkloads } from '../../../src/installer/decide/pod-admission.js';
import {
  creationFailures,
  daemonSetCreationFailures,
} from '../../../src/installer/decide/creation-failures.js';
import { failOnCreationFailure } from '../../../src/installer/cluster/watch-creation.js';
import type { ExpectedObject } from '../../../src/installer/decide/health.js';
import type { AnyObject } from '../../../src/installer/model/objects.js';
import { admissionObjects } from '../../../src/installer/actions/preflight.js';
import { loadAll } from 'js-yaml';

const gateway: AnyObject = {
  kind: 'Deployment',
  metadata: { name: 'apps-gateway', namespace: 'apps' },
  spec: {
    template: {
      metadata: { labels: { app: 'apps-gateway' }, annotations: { a: 'b' } },
      spec: { serviceAccountName: 'apps-gateway-service-account', containers: [{ name: 'istio-proxy' }] },
    },
  },
};

test('the workloads that make pods, in their namespaces (the installer’s where none is named)', () => {
  const cni: AnyObject = { kind: 'DaemonSet', metadata: { name: 'istio-cni-node' }, spec: { template: {} } };
  const service: AnyObject = { kind: 'Service', metadata: { name: 'istiod' }, spec: {} };
  expect(
    podWorkloads([gateway, cni, service], 'istio-system').map((w) => `${w.kind} ${w.namespace}/${w.name}`),
  ).toEqual(['Deployment apps/apps-gateway', 'DaemonSet istio-system/istio-cni-node']);
});

test('the dry-run pod is the template without its ServiceAccount and never injected', () => {
  const [workload] = podWorkloads([gateway], 'istio-system');
  const pod = admissionPod(workload!);
  expect(pod.metadata?.name).toBe('apps-gateway-admission-check');
  expect(pod.metadata?.labels).toEqual({ app: 'apps-gateway', 'sidecar.istio.io/inject': 'false' });
  expect(pod.spec).toEqual({ containers: [{ name: 'istio-proxy' }], automountServiceAccountToken: false });
});

test('a refusal names each workload, the rule, and the ways out; a missing namespace is named too', () => {
  const [workload] = podWorkloads([gateway], 'istio-system');
  const message =
    'pods "apps-gateway-admission-check" is forbidden: violates PodSecurity "restricted:latest": seccompProfile (pod or container "istio-proxy" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';
  const refusal = admissionRefusal(
    [{ workload: workload!, refusal: message }],
    [{ namespace: 'nowhere', workloads: ['Deployment x-gateway'] }],
    'istio-system',
  );
  expect(refusal?.message).toBe(
    `namespace nowhere does not exist (Deployment x-gateway would run there); Deployment apps/apps-gateway would not be admitted: ${message}`,
  );
  expect(refusal?.hint).toMatch(/^create the namespace first/);
  expect(refusal?.hint).toMatch(/exempt the namespace from PodSecurity enforcement/);
  expect(refusal?.hint).toMatch(/podSecurity.seccompProfile: RuntimeDefault/);
  expect(admissionRefusal([{ workload: workload! }], [], 'istio-system')).toBeUndefined();
});

test('a quota refusal points at the quota', () => {
  const [workload] = podWorkloads([gateway], 'istio-system');
  const refusal = admissionRefusal(
    [
      {
        workload: workload!,
        refusal: 'exceeded quota: apps, requested: pods=1, used: pods=2, limited: pods=2',
      },
    ],
    [],
    'istio-system',
  );
  expect(refusal?.hint).toMatch(/ResourceQuota/);
});

describe('creationFailures', () => {
  const expected = [{ kind: 'Deployment' as const, namespace: 'apps', name: 'apps-gateway', minReplicas: 1 }];
  const replicaSet = (since: string, owner = 'apps-gateway'): AnyObject => ({
    metadata: {
      namespace: 'apps',
      name: `${owner}-abc`,
      ownerReferences: [{ kind: 'Deployment', name: owner }],
    },
    status: {
      conditions: [
        {
          type: 'ReplicaFailure',
          status: 'True',
          reason: 'FailedCreate',
          message: 'pods "x" is forbidden: violates PodSecurity',
          lastTransitionTime: since,
        },
      ],
    },
  });
  const now = Date.parse('2026-12-05T08:00:20Z');

  test('a FailedCreate that has stood 10 s ends the wait, with its message', () => {
    expect(creationFailures([replicaSet('2026-12-05T08:00:05Z')], expected, now)).toEqual([
      { workload: 'Deployment apps/apps-gateway', message: 'pods "x" is forbidden: violates PodSecurity' },
    ]);
  });
  test('one that just appeared (a ServiceAccount a moment late) does not yet', () => {
    expect(creationFailures([replicaSet('2026-12-05T08:00:15Z')], expected, now)).toEqual([]);
  });
  test('a Deployment the run does not wait for is not its business', () => {
    expect(creationFailures([replicaSet('2026-12-05T08:00:00Z', 'users-own')], expected, now)).toEqual([]);
  });
});

describe('daemonSetCreationFailures', () => {
  const expected = [
    { kind: 'DaemonSet' as const, namespace: 'kube-system', name: 'istio-cni-node', minReplicas: 0 },
  ];
  const daemonSet = (current: number, desired = 2): AnyObject => ({
    metadata: { namespace: 'kube-system', name: 'istio-cni-node' },
    status: { desiredNumberScheduled: desired, currentNumberScheduled: current },
  });
  const event = (
    first: string,
    last: string,
    message = 'pods "istio-cni-node-x" is forbidden: exceeded quota',
  ) => ({
    involvedObject: { kind: 'DaemonSet', namespace: 'kube-system', name: 'istio-cni-node' },
    reason: 'FailedCreate',
    message,
    firstTimestamp: new Date(first),
    lastTimestamp: new Date(last),
  });
  const since = Date.parse('2026-12-05T08:00:00Z');
  const now = Date.parse('2026-12-05T08:00:20Z');

  test('FailedCreate Events for 10 s of this wait, pods still missing: the wait ends with the latest message', () => {
    const events = [
      event('2026-12-05T08:00:02Z', '2026-12-05T08:00:08Z', 'older'),
      event('2026-12-05T08:00:03Z', '2026-12-05T08:00:18Z'),
    ];
    expect(daemonSetCreationFailures([daemonSet(0)], events, expected, since, now)).toEqual([
      {
        workload: 'DaemonSet kube-system/istio-cni-node',
        message: 'pods "istio-cni-node-x" is forbidden: exceeded quota',
      },
    ]);
  });
  test('not yet: the first failure of this wait is under 10 s old', () => {
    const events = [event('2026-12-05T08:00:15Z', '2026-12-05T08:00:19Z')];
    expect(daemonSetCreationFailures([daemonSet(0)], events, expected, since, now)).toEqual([]);
  });
  test('an Event an earlier run left (last seen long before this wait) says nothing about this one', () => {
    const events = [event('2026-12-05T07:10:00Z', '2026-12-05T07:20:00Z')];
    expect(daemonSetCreationFailures([daemonSet(0)], events, expected, since, now)).toEqual([]);
  });
  test('every node has its pod (the failure healed): nothing to stop for', () => {
    const events = [event('2026-12-05T08:00:01Z', '2026-12-05T08:00:05Z')];
    expect(daemonSetCreationFailures([daemonSet(2)], events, expected, since, now)).toEqual([]);
  });
  test('a DaemonSet the run does not wait for is not its business', () => {
    const other = { ...daemonSet(0), metadata: { namespace: 'kube-system', name: 'users-own' } };
    const events = [
      {
        ...event('2026-12-05T08:00:01Z', '2026-12-05T08:00:15Z'),
        involvedObject: { kind: 'DaemonSet', ...other.metadata },
      },
    ];
    expect(daemonSetCreationFailures([other], events, expected, since, now)).toEqual([]);
  });
});

describe('failOnCreationFailure (the watch beside a wait), with a fake API that finds nothing wrong', () => {
  test('the work ending aborts the watch’s sleep: nothing of it outlives the run', async () => {
    const seen: (AbortSignal | undefined)[] = [];
    const fakeKube = { listObjects: async () => [], listEvents: async () => [] };
    const done = new AbortController();
    // A sleep that only ends on abort: the watch resolves only if it hands its signal to the sleep.
    const sleep = (_ms: number, signal?: AbortSignal) => {
      seen.push(signal);
      return new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()));
    };
    const watching = failOnCreationFailure(
      fakeKube,
      [
        {
          kind: 'Deployment',
          namespace: 'istio-system',
          name: 'istiod',
          minReplicas: 1,
        } satisfies ExpectedObject,
      ],
      { intervalMs: 2000, sleep, now: () => 0 },
      done.signal,
    );
    await new Promise((resolve) => setImmediate(resolve));
    done.abort();
    await expect(watching).resolves.toBeUndefined();
    expect(seen).toEqual([done.signal]);
  });
});

describe('admissionObjects: the documents of a manifest the admission check reads', () => {
  const manifest = [
    'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.istio.io\nspec:\n  names:\n    kind: Deployment\n',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: istiod\n',
    "apiVersion: apps/v1\nkind: 'DaemonSet' # quoted, with a comment\nmetadata:\n  name: istio-cni-node\n",
    '{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "flow"}}\n',
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n--- {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "after-marker"}}\n',
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: istiod\n',
    '',
  ].join('---\n');

  test('keeps Namespaces and pod-making workloads, in order, whatever their form; skips the rest', () => {
    expect(admissionObjects(manifest).map((o) => `${o.kind} ${o.metadata?.name}`)).toEqual([
      'Namespace istio-system',
      'Deployment istiod',
      'DaemonSet istio-cni-node',
      'StatefulSet flow',
      'Deployment after-marker',
    ]);
  });

  test('finds what parsing the whole manifest finds', () => {
    const all = (loadAll(manifest) as AnyObject[]).filter(
      (o) => o && ['Namespace', 'Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind ?? ''),
    );
    expect(admissionObjects(manifest)).toEqual(all);
  });
});
