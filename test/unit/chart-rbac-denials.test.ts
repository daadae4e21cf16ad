// The RBAC measurement reads each kind of denial the apiserver and istioctl print into the grant that was missing.
import { deniedGrants } from '../chart/rbac-denials.js';

const user = 'system:serviceaccount:istio-system:rbac-measure';

test('a plain RBAC denial, cluster-wide or in the Istio namespace', () => {
  expect(
    deniedGrants(
      `failed to list *v1.Secret: secrets is forbidden: User "${user}" cannot list resource "secrets" in API group "" at the cluster scope`,
      'istio-system',
    ),
  ).toEqual([{ scope: 'cluster', verb: 'list', resource: 'secrets', group: '' }]);
  expect(
    deniedGrants(
      `leases.coordination.k8s.io "l" is forbidden: User \\"${user}\\" cannot get resource \\"leases\\" in API group \\"coordination.k8s.io\\" in the namespace \\"istio-system\\"`,
      'istio-system',
    ),
  ).toEqual([{ scope: 'namespace', verb: 'get', resource: 'leases', group: 'coordination.k8s.io' }]);
});

test('escalation on a role and binding of a role name the role', () => {
  const held = `is forbidden: user "${user}" (groups=["system:serviceaccounts"]) is attempting to grant RBAC permissions not currently held:`;
  expect(deniedGrants(`clusterroles.rbac.authorization.k8s.io "istio-cni" ${held}`, 'istio-system')).toEqual([
    {
      scope: 'cluster',
      group: 'rbac.authorization.k8s.io',
      resource: 'clusterroles',
      verb: 'escalate',
      name: 'istio-cni',
    },
  ]);
  expect(
    deniedGrants(
      `clusterrolebindings.rbac.authorization.k8s.io "istio-cni-repair-rolebinding" ${held}`,
      'istio-system',
    ),
  ).toEqual([
    {
      scope: 'cluster',
      group: 'rbac.authorization.k8s.io',
      resource: 'clusterroles',
      verb: 'bind',
      name: 'istio-cni-repair-role',
    },
  ]);
  expect(deniedGrants(`rolebindings.rbac.authorization.k8s.io "istiod" ${held}`, 'istio-system')).toEqual([
    {
      scope: 'namespace',
      group: 'rbac.authorization.k8s.io',
      resource: 'roles',
      verb: 'bind',
      name: 'istiod',
    },
  ]);
});

test("precheck's missing permissions get their API group and scope", () => {
  const line =
    'Error [IST0141] (Cluster) Missing required permission to create resource mutatingwebhookconfigurations';
  expect(deniedGrants(line, 'istio-system')).toEqual([
    {
      scope: 'cluster',
      verb: 'create',
      resource: 'mutatingwebhookconfigurations',
      group: 'admissionregistration.k8s.io',
    },
  ]);
  expect(deniedGrants('Missing required permission to create resource deployments', 'istio-system')).toEqual([
    { scope: 'namespace', verb: 'create', resource: 'deployments', group: 'apps' },
  ]);
});

test('ordinary output has no grants', () => {
  expect(deniedGrants('istioctl: ✔ Installation complete', 'istio-system')).toEqual([]);
});
