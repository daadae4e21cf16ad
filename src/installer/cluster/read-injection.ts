// Which namespaces with sidecar injection on would refuse the pods injection makes without istio-cni: a dry-run of a
// pod with istio-init's privileges in each, judged by the API server's own PodSecurity (whatever configures it:
// namespace labels or a cluster-wide default such as Rancher's rancher-restricted).
import { ForbiddenError } from '../../errors.js';
import { enforcedLevel, initProbePod, type InjectionRefusal } from '../decide/pod-admission.js';
import type { Kube } from './kube.js';

const ENFORCE = 'pod-security.kubernetes.io/enforce';

/**
 * The injected namespaces (`istio-injection=enabled` or an `istio.io/rev` label) that refuse istio-init. Where the
 * installer may not create pods (the chart's Job may do so only in its own namespaces), the namespace's enforce label
 * stands in: a cluster-wide default is then not seen.
 */
export async function readInjectionRefusals(
  kube: Pick<Kube, 'listNamespaces' | 'dryRunPod'>,
): Promise<InjectionRefusal[]> {
  const [labelled, revisioned] = await Promise.all([
    kube.listNamespaces('istio-injection=enabled'),
    kube.listNamespaces('istio.io/rev'),
  ]);
  const namespaces = [...labelled, ...revisioned].filter(
    (ns, i, all) => all.findIndex((other) => other.metadata?.name === ns.metadata?.name) === i,
  );
  const refusals = await Promise.all(
    namespaces.map(async (ns): Promise<InjectionRefusal | undefined> => {
      const namespace = ns.metadata?.name ?? '';
      try {
        const answer = await kube.dryRunPod(namespace, initProbePod());
        const level = answer.admitted ? undefined : enforcedLevel(answer.message);
        return level ? { namespace, why: `enforces ${level}` } : undefined;
      } catch (error) {
        if (!(error instanceof ForbiddenError)) throw error;
        const label = ns.metadata?.labels?.[ENFORCE];
        return label === 'baseline' || label === 'restricted'
          ? { namespace, why: `labelled ${ENFORCE}=${label}` }
          : undefined;
      }
    }),
  );
  return refusals.filter((r): r is InjectionRefusal => r !== undefined);
}
