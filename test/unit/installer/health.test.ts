// What "installed" means for a spec, and how what is missing is reported.
import { parseIstioVersion } from '../../../src/installer/istio-version.js';
import { readClusterState } from '../../../src/installer/read-state.js';
import { expectedObjects, healthProblems } from '../../../src/installer/health.js';
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
