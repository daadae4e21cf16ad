// Which of the Deployments a run waits for cannot make pods at all (their ReplicaSet reports FailedCreate: PodSecurity,
// a quota, a ServiceAccount that stays missing), so that the wait ends with the API server's reason instead of after
// the whole readiness timeout. Pure.
import type { AnyObject } from '../model/objects.js';
import type { ExpectedObject } from './health.js';

/**
 * How long a ReplicaSet's FailedCreate must have stood before the run gives up on it: long enough for what heals on
 * its own (the ServiceAccount istioctl applies a moment after the Deployment), short against a five-minute wait.
 */
export const FAILED_CREATE_STANDS_MS = 10_000;

export interface CreationFailure {
  /** `Deployment istio-system/istiod-1-31-0`. */
  workload: string;
  /** The ReplicaSet controller's message: `pods "…" is forbidden: violates PodSecurity "restricted:latest": …`. */
  message: string;
}

interface ReplicaSetStatus {
  conditions?: {
    type?: string;
    status?: string;
    reason?: string;
    message?: string;
    lastTransitionTime?: string;
  }[];
}

/**
 * The expected Deployments whose ReplicaSet has reported FailedCreate (condition ReplicaFailure) for at least
 * `standsMs`; a ReplicaSet that fails for a moment and then makes its pods is not one. A slow image pull never
 * appears here: its pods were created.
 */
export function creationFailures(
  replicaSets: readonly AnyObject[],
  expected: readonly ExpectedObject[],
  nowMs: number,
  standsMs = FAILED_CREATE_STANDS_MS,
): CreationFailure[] {
  const deployments = new Set(
    expected.filter((e) => e.kind === 'Deployment').map((e) => `${e.namespace}/${e.name}`),
  );
  return replicaSets.flatMap((rs) => {
    const owner = rs.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment');
    const key = `${rs.metadata?.namespace ?? ''}/${owner?.name ?? ''}`;
    if (!owner || !deployments.has(key)) return [];
    const failure = ((rs.status ?? {}) as ReplicaSetStatus).conditions?.find(
      (c) => c.type === 'ReplicaFailure' && c.status === 'True' && c.reason === 'FailedCreate',
    );
    const since = Date.parse(failure?.lastTransitionTime ?? '');
    if (!failure || Number.isNaN(since) || nowMs - since < standsMs) return [];
    return [{ workload: `Deployment ${key}`, message: failure.message ?? 'FailedCreate' }];
  });
}
