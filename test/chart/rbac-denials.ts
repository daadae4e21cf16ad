// Reads the permissions a request lacked from installer and istioctl output: the apiserver's RBAC denials, role
// escalation refusals and `istioctl x precheck` findings. Pure; used by measure-rbac.ts.

export interface Grant {
  scope: 'cluster' | 'namespace';
  group: string;
  resource: string;
  verb: string;
  name?: string;
}

/** Resource -> API group, for precheck's messages, which name the resource only. */
const GROUPS: Record<string, string> = {
  clusterroles: 'rbac.authorization.k8s.io',
  clusterrolebindings: 'rbac.authorization.k8s.io',
  roles: 'rbac.authorization.k8s.io',
  rolebindings: 'rbac.authorization.k8s.io',
  customresourcedefinitions: 'apiextensions.k8s.io',
  deployments: 'apps',
  mutatingwebhookconfigurations: 'admissionregistration.k8s.io',
  validatingwebhookconfigurations: 'admissionregistration.k8s.io',
};
const NAMESPACED = new Set([
  'configmaps',
  'services',
  'serviceaccounts',
  'deployments',
  'roles',
  'rolebindings',
]);

/** The grants a line of installer or istioctl output shows to be missing. Pure. */
export function deniedGrants(line: string, namespace: string): Grant[] {
  const text = line.replace(/\\"/g, '"');
  const out: Grant[] = [];
  for (const m of text.matchAll(
    /cannot (\w+) resource "([^"]+)" in API group "([^"]*)" (?:at the cluster scope|in the namespace "([^"]+)")/g,
  )) {
    out.push({
      scope: m[4] === namespace ? 'namespace' : 'cluster',
      verb: m[1] ?? '',
      resource: m[2] ?? '',
      group: m[3] ?? '',
    });
  }
  // Creating a role that grants what the caller lacks needs `escalate` on that role's name.
  for (const m of text.matchAll(
    /(clusterroles|roles)\.rbac\.authorization\.k8s\.io "([^"]+)" is forbidden: user "[^"]+" .*?is attempting to grant RBAC permissions not currently held/g,
  )) {
    const resource = m[1] ?? '';
    out.push({
      scope: resource === 'roles' ? 'namespace' : 'cluster',
      group: 'rbac.authorization.k8s.io',
      resource,
      verb: 'escalate',
      name: m[2],
    });
  }
  // Binding one needs `bind` on the role it refers to; Istio mostly names a binding after its role.
  for (const m of text.matchAll(
    /(clusterrolebindings|rolebindings)\.rbac\.authorization\.k8s\.io "([^"]+)" is forbidden: user "[^"]+" .*?is attempting to grant RBAC permissions not currently held/g,
  )) {
    const resource = m[1] === 'rolebindings' ? 'roles' : 'clusterroles';
    const name = (m[2] ?? '').replace(/-rolebinding$/, '-role');
    out.push({
      scope: resource === 'roles' ? 'namespace' : 'cluster',
      group: 'rbac.authorization.k8s.io',
      resource,
      verb: 'bind',
      name,
    });
  }
  for (const m of text.matchAll(/Missing required permission to (\w+) resource (\S+)/g)) {
    const resource = m[2] ?? '';
    out.push({
      scope: NAMESPACED.has(resource) ? 'namespace' : 'cluster',
      verb: m[1] ?? '',
      resource,
      group: GROUPS[resource] ?? '',
    });
  }
  return out;
}
