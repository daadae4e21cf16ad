// What istioctl's own prune leaves after an in-place upgrade: objects of this installation that an older istioctl
// applied and the new manifest no longer has (a gateway dropped in the same run as the upgrade). Pure.
//
// istioctl prunes only objects labelled with its own version (getOwnerLabels in istio's
// operator/pkg/install/install.go, the same from 1.24 to 1.31). Every object of the new manifest has just been applied
// with that version's label, so an object of this installation still labelled with an older version is one the new
// manifest does not have: exactly what istioctl would have pruned, had an older istioctl not made it.
import { isObject, type JsonObject } from '../../overlay/json.js';
import { compareVersions, parseIstioVersion, type IstioVersion } from '../model/istio-version.js';
import { COMPONENT_LABEL, OPERATOR_VERSION_LABEL, REVISION_LABEL } from '../model/labels.js';
import type { AnyObject, ResourceRef } from '../model/objects.js';

const MANAGED_LABEL = 'operator.istio.io/managed';
const OWNING_RESOURCE_LABEL = 'install.operator.istio.io/owning-resource';
const OWNING_NAMESPACE_LABEL = 'install.operator.istio.io/owning-resource-namespace';
/** istioctl never prunes what carries this (the revision tags' webhooks); neither do we. */
const NOT_PRUNED_LABEL = 'install.operator.istio.io/owning-resource-not-pruned';

const ref = (apiVersion: string, kind: string, plural: string): ResourceRef => ({ apiVersion, kind, plural });

/**
 * The kinds istioctl prunes (its uninstall.PrunedResourcesSchemas), workloads first, less three: Pods (their
 * workload owns them), Secrets and EnvoyFilters (no Istio chart from 1.23 on makes one with owner labels, and the
 * installer's role may not delete them). CustomResourceDefinitions are never pruned: that would delete users' config.
 */
export const PRUNED_KINDS: readonly ResourceRef[] = [
  ref('apps/v1', 'Deployment', 'deployments'),
  ref('apps/v1', 'DaemonSet', 'daemonsets'),
  ref('autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers'),
  ref('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  ref('v1', 'Service', 'services'),
  ref('v1', 'ConfigMap', 'configmaps'),
  ref('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'),
  ref('rbac.authorization.k8s.io/v1', 'Role', 'roles'),
  ref('v1', 'ServiceAccount', 'serviceaccounts'),
  ref('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations'),
  ref('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations'),
  ref('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings'),
  ref('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles'),
];

/**
 * The label selector of what istioctl applied for `istioOperator` as `revision` in `namespace`: its owner labels
 * (the IstioOperator's name, the control plane's namespace, the revision), less the version.
 */
export function ownerSelector(istioOperator: JsonObject, namespace: string, revision: string): string {
  const metadata = isObject(istioOperator.metadata) ? istioOperator.metadata : {};
  const terms = [`${MANAGED_LABEL}=Reconcile`, `${OWNING_NAMESPACE_LABEL}=${namespace}`];
  if (typeof metadata.name === 'string' && metadata.name !== '')
    terms.push(`${OWNING_RESOURCE_LABEL}=${metadata.name}`);
  terms.push(`${REVISION_LABEL}=${revision}`, COMPONENT_LABEL);
  return terms.join(',');
}

/** An object to delete, and the version of the istioctl that made it. */
export interface Leftover {
  ref: ResourceRef;
  namespace?: string;
  name: string;
  madeBy: string;
}

/**
 * Of `found` (objects of one kind that ownerSelector selected), those an istioctl older than `version` applied.
 * A label that names no version, or a newer one, is left alone: this installer never guesses what it did not make.
 */
export function olderLeftovers(
  ref: ResourceRef,
  found: readonly AnyObject[],
  version: IstioVersion,
): Leftover[] {
  return found.flatMap((object) => {
    const labels = object.metadata?.labels ?? {};
    const madeBy = labels[OPERATOR_VERSION_LABEL];
    const parsed = madeBy ? parseIstioVersion(madeBy) : undefined;
    const name = object.metadata?.name;
    if (!name || !madeBy || !parsed || labels[NOT_PRUNED_LABEL] === 'true') return [];
    if (compareVersions(parsed, version) >= 0) return [];
    return [{ ref, namespace: object.metadata?.namespace, name, madeBy }];
  });
}

/** `Deployment istio-system/internal-gateway`, for messages. */
export function leftoverName(leftover: Leftover): string {
  return `${leftover.ref.kind} ${leftover.namespace ? `${leftover.namespace}/` : ''}${leftover.name}`;
}
