// The prune istioctl leaves undone after an in-place upgrade: which objects are an older istioctl's leftovers of this
// installation, and that they are deleted workloads first, with a denial warned about (against FakeKube; the real
// API server and istioctl 1.30.4 -> 1.31.0 show it in test/e2e/lifecycle.test.ts).
import { ForbiddenError } from '../../../src/errors.js';
import { pruneOlderLeftovers } from '../../../src/installer/cluster/prune.js';
import { olderLeftovers, ownerSelector, PRUNED_KINDS } from '../../../src/installer/decide/prune.js';
import { parseIstioVersion } from '../../../src/installer/model/istio-version.js';
import type { ResourceRef } from '../../../src/installer/model/objects.js';
import { FakeKube } from '../../helpers/fake-kube.js';

const V1_31_0 = parseIstioVersion('1.31.0')!;
const DEPLOYMENTS: ResourceRef = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' };
const SPEC = {
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  metadata: { name: 'rancher-istio' },
};

/** The labels istioctl `version` puts on what it applies for SPEC as revision default in istio-system. */
const owned = (version: string, extra: Record<string, string> = {}) => ({
  'operator.istio.io/managed': 'Reconcile',
  'install.operator.istio.io/owning-resource': 'rancher-istio',
  'install.operator.istio.io/owning-resource-namespace': 'istio-system',
  'istio.io/rev': 'default',
  'operator.istio.io/component': 'IngressGateways',
  'operator.istio.io/version': version,
  ...extra,
});

const object = (
  name: string,
  labels: Record<string, string>,
  namespace: string | undefined = 'istio-system',
) => ({
  metadata: { name, namespace, labels },
});

test("the owner selector is istioctl's owner labels less the version", () => {
  expect(ownerSelector(SPEC, 'istio-system', 'default')).toBe(
    'operator.istio.io/managed=Reconcile,install.operator.istio.io/owning-resource-namespace=istio-system,' +
      'install.operator.istio.io/owning-resource=rancher-istio,istio.io/rev=default,operator.istio.io/component',
  );
  // Without a name, istioctl sets no owning-resource label, and selects without one.
  expect(ownerSelector({ kind: 'IstioOperator' }, 'istio-system', '1-31-0')).toBe(
    'operator.istio.io/managed=Reconcile,install.operator.istio.io/owning-resource-namespace=istio-system,' +
      'istio.io/rev=1-31-0,operator.istio.io/component',
  );
});

test('only what an older istioctl applied is a leftover; the same or a newer version, no version, or not-pruned stay', () => {
  const found = [
    object('internal-gateway', owned('1.30.4')),
    object('old-gateway', owned('1.29.6')),
    object('istio-ingressgateway', owned('1.31.0')),
    object('from-the-future', owned('1.32.0')),
    object('no-version', { ...owned('x'), 'operator.istio.io/version': '' }),
    object('unparsable', owned('unknown')),
    object(
      'tag-webhook',
      owned('1.30.4', { 'install.operator.istio.io/owning-resource-not-pruned': 'true' }),
    ),
  ];
  expect(olderLeftovers(DEPLOYMENTS, found, V1_31_0)).toEqual([
    { ref: DEPLOYMENTS, namespace: 'istio-system', name: 'internal-gateway', madeBy: '1.30.4' },
    { ref: DEPLOYMENTS, namespace: 'istio-system', name: 'old-gateway', madeBy: '1.29.6' },
  ]);
});

test('never CustomResourceDefinitions, Pods or Secrets', () => {
  expect(PRUNED_KINDS.map((kind) => kind.kind)).not.toEqual(
    expect.arrayContaining([expect.stringMatching(/^(CustomResourceDefinition|Pod|Secret)$/)]),
  );
});

function clusterWithLeftovers(): FakeKube {
  const kube = new FakeKube();
  kube.objects.set('deployments', [
    object('internal-gateway', owned('1.30.4')),
    object('istio-ingressgateway', owned('1.31.0')),
    // Another installation's, in another namespace: its owner labels differ.
    object(
      'other-gateway',
      owned('1.30.4', { 'install.operator.istio.io/owning-resource-namespace': 'other' }),
      'other',
    ),
    // Another revision's (a canary's old control plane): not this run's to prune.
    object('istiod-1-30-4', owned('1.30.4', { 'istio.io/rev': '1-30-4' })),
  ]);
  kube.objects.set('services', [object('internal-gateway', owned('1.30.4'))]);
  kube.objects.set('clusterroles', [{ metadata: { name: 'old-clusterrole', labels: owned('1.30.4') } }]);
  return kube;
}

const quietLog = () => {
  const warnings: string[] = [];
  return { warnings, log: { info: () => undefined, warn: (line: string) => void warnings.push(line) } };
};

test('deletes the leftovers of this installation and revision, workloads first, and names each', async () => {
  const kube = clusterWithLeftovers();
  const { warnings, log } = quietLog();
  const deleted = await pruneOlderLeftovers({ kube, log } as never, SPEC, 'istio-system', 'default', V1_31_0);
  expect(kube.writes).toEqual([
    'delete Deployment istio-system/internal-gateway',
    'delete Service istio-system/internal-gateway',
    'delete ClusterRole old-clusterrole',
  ]);
  expect(deleted.map((d) => d.name)).toEqual(['internal-gateway', 'internal-gateway', 'old-clusterrole']);
  expect(warnings[0]).toBe(
    "deleted Deployment istio-system/internal-gateway: applied by istioctl 1.30.4 for this installation, not in Istio 1.31.0's manifest (istioctl prunes only what its own version applied)",
  );
});

test('a delete the identity may not make is warned about and the rest goes on', async () => {
  class DeniedServices extends FakeKube {
    override async deleteObject(ref: ResourceRef, namespace: string | undefined, name: string) {
      if (ref.kind === 'Service') throw new ForbiddenError('services "internal-gateway" is forbidden');
      return super.deleteObject(ref, namespace, name);
    }
  }
  const kube = new DeniedServices();
  for (const [plural, list] of clusterWithLeftovers().objects) kube.objects.set(plural, list);
  const { warnings, log } = quietLog();
  const deleted = await pruneOlderLeftovers({ kube, log } as never, SPEC, 'istio-system', 'default', V1_31_0);
  expect(deleted.map((d) => d.ref.kind)).toEqual(['Deployment', 'ClusterRole']);
  expect(warnings).toContainEqual(
    expect.stringMatching(
      /^cannot delete Service istio-system\/internal-gateway \(.*\): services "internal-gateway" is forbidden; delete it by hand$/,
    ),
  );
});
