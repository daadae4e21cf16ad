// While istioctl installs and the run waits for readiness, reads the ReplicaSets of the Deployments it waits for (and
// the DaemonSets with their controller's FailedCreate Events) and ends the wait (TimeoutError, exit 5) as soon as one
// of them cannot make pods, with the API server's reason.
import { TimeoutError } from '../../errors.js';
import { creationFailures, daemonSetCreationFailures } from '../decide/creation-failures.js';
import type { ExpectedObject } from '../decide/health.js';
import type { Kube } from './kube.js';

const REPLICA_SETS = { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets' };
const DAEMON_SETS = { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets' };
const DAEMON_SET_FAILURES = 'involvedObject.kind=DaemonSet,reason=FailedCreate';

export interface WatchOptions {
  intervalMs: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
}

/**
 * Rejects with a TimeoutError naming each Deployment that cannot create pods; resolves once `signal` aborts (the work
 * it guards finished). A read that fails is retried on the next round: this watch only ever shortens a wait.
 */
export async function failOnCreationFailure(
  kube: Pick<Kube, 'listObjects' | 'listEvents'>,
  expected: readonly ExpectedObject[],
  options: WatchOptions,
  signal: AbortSignal,
): Promise<void> {
  const namespacesOf = (kind: string) => [
    ...new Set(expected.filter((e) => e.kind === kind).map((e) => e.namespace)),
  ];
  const deploymentNamespaces = namespacesOf('Deployment');
  const daemonSetNamespaces = namespacesOf('DaemonSet');
  const since = options.now();
  const each = <T>(namespaces: string[], read: (ns: string) => Promise<T[]>) =>
    Promise.all(namespaces.map((ns) => read(ns).catch(() => [] as T[]))).then((lists) => lists.flat());
  while (!signal.aborted) {
    const [replicaSets, daemonSets, events] = await Promise.all([
      each(deploymentNamespaces, (ns) => kube.listObjects(REPLICA_SETS, ns)),
      each(daemonSetNamespaces, (ns) => kube.listObjects(DAEMON_SETS, ns)),
      each(daemonSetNamespaces, (ns) => kube.listEvents(ns, DAEMON_SET_FAILURES)),
    ]);
    const now = options.now();
    const failures = [
      ...creationFailures(replicaSets, expected, now),
      ...daemonSetCreationFailures(daemonSets, events, expected, since, now),
    ];
    if (failures.length > 0 && !signal.aborted)
      throw new TimeoutError(
        `stopped waiting: ${failures.map((f) => f.workload).join(', ')} cannot create pods (FailedCreate): ${failures[0]?.message ?? ''}`,
        failures.map((f) => `${f.workload}: ${f.message}`),
      );
    // Cut short when the guarded work ends: a sleeping timer would keep the process alive for up to an interval after
    // the run is done (2 s of every install, found in bench:install's timeline).
    await options.sleep(options.intervalMs, signal);
    // A sleep that resolves at once (unit tests' clocks) must not starve the work this watch guards.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
