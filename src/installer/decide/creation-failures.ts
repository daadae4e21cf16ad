// Which of the Deployments and DaemonSets a run waits for cannot make pods at all (a ReplicaSet reports FailedCreate, a
// DaemonSet's controller records FailedCreate Events: PodSecurity, a quota, a ServiceAccount that stays missing), so
// that the wait ends with the API server's reason instead of after the whole readiness timeout. Pure.
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

/** What a DaemonSet-creation Event says, as the API returns it (times as Dates or RFC 3339 text). */
export interface CreationEvent {
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  reason?: string;
  message?: string;
  firstTimestamp?: Date | string;
  lastTimestamp?: Date | string;
  eventTime?: Date | string;
}

interface DaemonSetStatus {
  desiredNumberScheduled?: number;
  currentNumberScheduled?: number;
}

/** Events carry the controller's clock, the run its own: an Event this much older than the wait still counts. */
const CLOCK_SLACK_MS = 30_000;

const timeOf = (t: Date | string | undefined): number => (t === undefined ? NaN : new Date(t).getTime());

/**
 * The expected DaemonSets that still have nodes without their pod and whose controller has reported FailedCreate
 * during this wait (since `sinceMs`, give or take the clocks' slack: an Event of an earlier run may linger for an hour)
 * for at least `standsMs` of the wait.
 * A DaemonSet has no failure condition, so its controller's Events are the only place the API server's reason is.
 */
export function daemonSetCreationFailures(
  daemonSets: readonly AnyObject[],
  events: readonly CreationEvent[],
  expected: readonly ExpectedObject[],
  sinceMs: number,
  nowMs: number,
  standsMs = FAILED_CREATE_STANDS_MS,
): CreationFailure[] {
  const wanted = new Set(
    expected.filter((e) => e.kind === 'DaemonSet').map((e) => `${e.namespace}/${e.name}`),
  );
  return daemonSets.flatMap((ds) => {
    const key = `${ds.metadata?.namespace ?? ''}/${ds.metadata?.name ?? ''}`;
    const status = (ds.status ?? {}) as DaemonSetStatus;
    if (!wanted.has(key) || (status.currentNumberScheduled ?? 0) >= (status.desiredNumberScheduled ?? 0))
      return [];
    const failures = events.filter(
      (e) =>
        e.reason === 'FailedCreate' &&
        e.involvedObject?.kind === 'DaemonSet' &&
        `${e.involvedObject.namespace ?? ''}/${e.involvedObject.name ?? ''}` === key &&
        timeOf(e.lastTimestamp ?? e.eventTime) >= sinceMs - CLOCK_SLACK_MS,
    );
    if (failures.length === 0) return [];
    const first = Math.max(
      sinceMs,
      Math.min(...failures.map((e) => timeOf(e.firstTimestamp ?? e.eventTime))),
    );
    if (Number.isNaN(first) || nowMs - first < standsMs) return [];
    const latest = failures.reduce((a, b) =>
      timeOf(b.lastTimestamp ?? b.eventTime) > timeOf(a.lastTimestamp ?? a.eventTime) ? b : a,
    );
    return [{ workload: `DaemonSet ${key}`, message: latest.message ?? 'FailedCreate' }];
  });
}
