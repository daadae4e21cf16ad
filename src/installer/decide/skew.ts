// The gate between two hops of a stepped upgrade: every proxy within Istio's supported skew of the active revision,
// or its workloads restarted, or the path stops naming them. Pure.
import { formatIstioVersion, minorDistance, type IstioVersion } from '../model/istio-version.js';
import type { Refusal } from '../model/refusal.js';

/**
 * Istio's published skew policy (istio.io, "Supported releases", Control Plane/Data Plane Skew): the control plane
 * may be one minor ahead of the data plane, never behind it.
 */
export const SUPPORTED_PROXY_SKEW = 1;

/** A workload pod with a sidecar or gateway proxy, reduced to what the skew gate needs. */
export interface ProxyPod {
  namespace: string;
  name: string;
  /** The pod's revision (`istio.io/rev`), `default` when unset. */
  revision: string;
  /** The version of its proxy image, when it names one. */
  proxyVersion: IstioVersion | undefined;
  /** `Deployment ns/name`, `StatefulSet ns/name`, ... : what a restart goes through; undefined for a bare pod. */
  owner: string | undefined;
}

/** Pods whose proxy is beyond the supported skew from the control plane at `active`. */
export function beyondSkew(pods: readonly ProxyPod[], active: IstioVersion): ProxyPod[] {
  return pods.filter(
    (pod) => pod.proxyVersion !== undefined && minorDistance(pod.proxyVersion, active) > SUPPORTED_PROXY_SKEW,
  );
}

/** What the gate between two hops says: nothing, restart these owners, or stop naming them. */
export type SkewDecision =
  { kind: 'go' } | { kind: 'restart'; owners: string[]; pods: ProxyPod[] } | ({ kind: 'stop' } & Refusal);

/**
 * Between two hops: every proxy must be within the supported skew of the revision the last hop made active before
 * the next hop goes two minors further (their own old revision stays while they use it, but the path would leave
 * them further behind at every hop).
 */
export function skewGate(
  pods: readonly ProxyPod[],
  active: IstioVersion,
  next: IstioVersion,
  updateWorkloads: boolean,
): SkewDecision {
  const behind = beyondSkew(pods, active);
  if (behind.length === 0) return { kind: 'go' };
  const owners = [...new Set(behind.map((p) => p.owner).filter((o): o is string => o !== undefined))].sort();
  const bare = behind.filter((p) => p.owner === undefined);
  if (updateWorkloads && bare.length === 0) return { kind: 'restart', owners, pods: behind };
  const namespaces = [...new Set(behind.map((p) => p.namespace))].sort();
  const listed = behind
    .slice(0, 20)
    .map(
      (p) =>
        `${p.namespace}/${p.name} (revision ${p.revision}, proxy ${p.proxyVersion ? formatIstioVersion(p.proxyVersion) : '?'})`,
    );
  return {
    kind: 'stop',
    message: `${behind.length} pod(s) in namespace(s) ${namespaces.join(', ')} run proxies more than ${SUPPORTED_PROXY_SKEW} minor behind Istio ${formatIstioVersion(active)}, the active revision, before the hop to ${formatIstioVersion(next)}: ${listed.join(', ')}${behind.length > 20 ? ', ...' : ''}`,
    hint: `${bare.length > 0 ? `delete the bare pods (${bare.map((p) => `${p.namespace}/${p.name}`).join(', ')}) and ` : ''}restart the workloads (${owners.length ? owners.map(restartCommand).join('; ') : 'none with an owner'}), then run again; or set upgrade.updateWorkloads: true and the installer restarts them between hops`,
  };
}

/** `Deployment apps/web` -> `kubectl -n apps rollout restart deployment/web`. */
export function restartCommand(owner: string): string {
  const [kind = '', ref = ''] = owner.split(' ');
  const [namespace = '', name = ''] = ref.split('/');
  return `kubectl -n ${namespace} rollout restart ${kind.toLowerCase()}/${name}`;
}
