// What "installed" means for a spec, and how what is missing is reported.
import { parseIstioVersion } from '../../../src/installer/model/istio-version.js';
import { readClusterState } from '../../../src/installer/cluster/read-state.js';
import { TimeoutError } from '../../../src/errors.js';
import { expectedObjects, healthProblems } from '../../../src/installer/decide/health.js';
import { verifyInstalled } from '../../../src/installer/cluster/wait.js';
import type { JsonObject } from '../../../src/overlay/json.js';
import { FakeKube, injectorWebhook, istiodDeployment } from '../../helpers/fake-kube.js';

const spec: JsonObject = {
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  spec: {
    components: {
      pilot: { enabled: true },
      ingressGateways: [
        { name: 'istio-ingressgateway', enabled: true },
        { name: 'off', enabled: false },
        { name: 'team-gw', enabled: true, namespace: 'team' },
      ],
    },
  },
};

test('expects istiod, its injector webhook and every enabled gateway', () => {
  expect(
    expectedObjects(spec, 'istio-system', '1-31-0').map((o) => `${o.kind} ${o.namespace}/${o.name}`),
  ).toEqual([
    'Deployment istio-system/istiod-1-31-0',
    'MutatingWebhookConfiguration istio-system/istio-sidecar-injector-1-31-0',
    'Deployment istio-system/istio-ingressgateway',
    'Deployment team/team-gw',
  ]);
});

test('names what is missing, not ready, or at the wrong version', async () => {
  const kube = new FakeKube();
  kube.deployments.push(istiodDeployment({ version: '1.30.4' }));
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  kube.mutating.push(injectorWebhook());
  const state = await readClusterState(kube, 'istio-system');
  expect(
    healthProblems(expectedObjects(spec, 'istio-system', 'default'), state, parseIstioVersion('1.31.0')),
  ).toEqual([
    'Deployment istio-system/istiod: runs 1.30.4, expected 1.31.0',
    'Deployment istio-system/istio-ingressgateway: missing',
    'Deployment team/team-gw: missing',
  ]);
});

test('CNI and ztunnel are expected by the ambient profile, and a DaemonSet on no node is a fault', async () => {
  const ambient: JsonObject = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: { profile: 'ambient', components: { cni: { namespace: 'kube-system' } } },
  };
  expect(
    expectedObjects(ambient, 'istio-system', 'default').map((o) => `${o.kind} ${o.namespace}/${o.name}`),
  ).toEqual([
    'Deployment istio-system/istiod',
    'MutatingWebhookConfiguration istio-system/istio-sidecar-injector',
    'DaemonSet kube-system/istio-cni-node',
    'DaemonSet istio-system/ztunnel',
  ]);
  const kube = new FakeKube();
  kube.daemonSets.push({
    metadata: {
      name: 'ztunnel',
      namespace: 'istio-system',
      generation: 1,
      labels: { 'operator.istio.io/component': 'Ztunnel' },
    },
    spec: {
      selector: {},
      template: { spec: { containers: [{ name: 'istio-proxy', image: 'x/ztunnel:1.31.0' }] } },
    },
    status: {
      observedGeneration: 1,
      desiredNumberScheduled: 0,
      numberReady: 0,
      currentNumberScheduled: 0,
      numberMisscheduled: 0,
    },
  });
  const state = await readClusterState(kube, 'istio-system');
  expect(healthProblems(expectedObjects(ambient, 'istio-system', 'default').slice(2), state)).toEqual([
    'DaemonSet kube-system/istio-cni-node: missing',
    'DaemonSet istio-system/ztunnel: scheduled on no node',
  ]);
});

const ambientSpec: JsonObject = {
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  spec: { profile: 'ambient', components: { ingressGateways: [{ name: 'istio-ingressgateway' }] } },
};

function daemonSet(name: string, app: string, ready: number, desired: number, version = '1.31.0') {
  return {
    metadata: {
      name,
      namespace: 'istio-system',
      generation: 1,
      labels: { 'operator.istio.io/component': app === 'ztunnel' ? 'Ztunnel' : 'Cni' },
    },
    spec: {
      selector: { matchLabels: { app } },
      template: {
        spec: { containers: [{ name: app, image: `registry.istio.io/release/${app}:${version}` }] },
      },
    },
    status: {
      observedGeneration: 1,
      desiredNumberScheduled: desired,
      numberReady: ready,
      updatedNumberScheduled: desired,
      currentNumberScheduled: desired,
      numberMisscheduled: 0,
    },
  };
}

test('the ambient profile expects the istio-cni and ztunnel DaemonSets, decided by the profile', () => {
  expect(
    expectedObjects(ambientSpec, 'istio-system', 'default').map((o) => `${o.kind} ${o.namespace}/${o.name}`),
  ).toEqual([
    'Deployment istio-system/istiod',
    'MutatingWebhookConfiguration istio-system/istio-sidecar-injector',
    'DaemonSet istio-system/istio-cni-node',
    'DaemonSet istio-system/ztunnel',
  ]);
});

test('a node agent that is not ready everywhere is named, with the nodes where its pods are not ready', async () => {
  const kube = new FakeKube();
  kube.deployments.push(istiodDeployment({ version: '1.31.0' }));
  kube.services.push({ metadata: { name: 'istiod', namespace: 'istio-system' } });
  kube.mutating.push(injectorWebhook());
  kube.daemonSets.push(daemonSet('istio-cni-node', 'istio-cni-node', 3, 3, '1.30.4'));
  kube.daemonSets.push(daemonSet('ztunnel', 'ztunnel', 1, 3));
  const pod = (name: string, node: string, ready: boolean, reason?: string) => ({
    metadata: { name, namespace: 'istio-system', labels: { app: 'ztunnel' } },
    spec: { nodeName: node, containers: [] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: reason
        ? [
            {
              name: 'istio-proxy',
              image: '',
              imageID: '',
              ready,
              restartCount: 3,
              state: { waiting: { reason } },
            },
          ]
        : [],
    },
  });
  kube.pods.push(pod('ztunnel-a', 'node-1', true), pod('ztunnel-b', 'node-2', false, 'CrashLoopBackOff'));
  kube.pods.push(pod('ztunnel-c', 'node-3', false));
  let clock = 0;
  const error = (await verifyInstalled(
    kube,
    'istio-system',
    ambientSpec,
    'default',
    parseIstioVersion('1.31.0'),
    { timeoutMs: 1000, intervalMs: 1, sleep: async () => undefined, now: () => (clock += 600) },
  ).catch((e: unknown) => e)) as TimeoutError;
  expect(error).toBeInstanceOf(TimeoutError);
  expect(error.waitingFor).toEqual([
    'DaemonSet istio-system/istio-cni-node: runs 1.30.4, expected 1.31.0',
    'DaemonSet istio-system/ztunnel: not ready (1/3 pods ready, 3 updated)',
    '    not ready on: node-2 (ztunnel-b: CrashLoopBackOff), node-3 (ztunnel-c: Running)',
  ]);
});
