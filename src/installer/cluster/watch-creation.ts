// While istioctl installs and the run waits for readiness, reads the ReplicaSets of the Deployments it waits for and
// ends the wait (TimeoutError, exit 5) as soon as one of them cannot make pods, with the API server's reason.
import { TimeoutError } from '../../errors.js';
import { creationFailures } from '../decide/creation-failures.js';
import type { ExpectedObject } from '../decide/health.js';
import type { Kube } from './kube.js';

const REPLICA_SETS = { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets' };

export interface WatchOptions {
  intervalMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/**
 * Rejects with a TimeoutError naming each Deployment that cannot create pods; resolves once `signal` aborts (the work
 * it guards finished). A read that fails is retried on the next round: this watch only ever shortens a wait.
 */
export async function failOnCreationFailure(
  kube: Pick<Kube, 'listObjects'>,
  expected: readonly ExpectedObject[],
  options: WatchOptions,
  signal: AbortSignal,
): Promise<void> {
  const namespaces = [...new Set(expected.filter((e) => e.kind === 'Deployment').map((e) => e.namespace))];
  while (!signal.aborted) {
    const replicaSets = (
      await Promise.all(namespaces.map((ns) => kube.listObjects(REPLICA_SETS, ns).catch(() => [])))
    ).flat();
    const failures = creationFailures(replicaSets, expected, options.now());
    if (failures.length > 0 && !signal.aborted)
      throw new TimeoutError(
        `stopped waiting: ${failures.map((f) => f.workload).join(', ')} cannot create pods (FailedCreate): ${failures[0]?.message ?? ''}`,
        failures.map((f) => `${f.workload}: ${f.message}`),
      );
    await options.sleep(options.intervalMs);
    // A sleep that resolves at once (unit tests' clocks) must not starve the work this watch guards.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
