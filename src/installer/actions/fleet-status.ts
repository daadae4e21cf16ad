// `status` over many clusters: reads each cluster (state, proxies, Kubernetes version), at most `concurrency` at a
// time and each within `timeoutMs`, into one row per cluster; a cluster that fails is a row saying why. Changes nothing.
import { describeError, exitCodeOf, InputError, TimeoutError } from '../../errors.js';
import { holderGone } from '../cluster/holder.js';
import type { Kube } from '../cluster/kube.js';
import { readClusterState } from '../cluster/read-state.js';
import { readProxyPods } from '../cluster/read-takeover.js';
import { clusterRow, errorRow, type ClusterRow, type FleetTarget } from '../decide/fleet-status.js';
import { statusReport } from '../decide/status.js';

/** A connection to one cluster; `close` also cuts its requests still in flight. */
export interface ClusterConnection {
  kube: Kube;
  close(): void;
}

/** A timer the fan-out waits on; `cancel` lets the process end as soon as the work is done. */
export interface Deadline {
  expired: Promise<void>;
  cancel(): void;
}

/** What the view reads with; tests pass fakes, the CLI the real clients and timers. */
export interface FleetDeps {
  connect(target: FleetTarget): Promise<ClusterConnection>;
  deadline(ms: number): Deadline;
  now(): Date;
  hostname: string;
  isProcessAlive(pid: number): boolean;
}

export interface FleetOptions {
  namespace: string;
  /** How many clusters are read at once. */
  concurrency: number;
  /** How long one cluster may take, connecting included, before its row says it did not answer. */
  timeoutMs: number;
}

/** One row per target, in the targets' order; never rejects for a cluster's sake. */
export async function readFleetStatus(
  targets: readonly FleetTarget[],
  options: FleetOptions,
  deps: FleetDeps,
): Promise<ClusterRow[]> {
  return mapBounded(targets, options.concurrency, (target) => readRow(target, options, deps));
}

async function readRow(target: FleetTarget, options: FleetOptions, deps: FleetDeps): Promise<ClusterRow> {
  let connection: ClusterConnection | undefined;
  let over = false;
  const deadline = deps.deadline(options.timeoutMs);
  const work = (async () => {
    connection = await deps.connect(target);
    // Connected only after the deadline (a slow exec plugin): the row is made, so the connection goes at once.
    if (over) connection.close();
    return readCluster(target, connection.kube, options.namespace, deps);
  })();
  const timedOut = deadline.expired.then(() => {
    throw new TimeoutError(`no answer within ${options.timeoutMs / 1000}s`);
  });
  try {
    return await Promise.race([work, timedOut]);
  } catch (error) {
    return errorRow(target, connection?.kube.server ?? '', exitCodeOf(error), oneLine(error));
  } finally {
    over = true;
    deadline.cancel();
    // A timed-out read may still be waiting on the server: cutting it lets the command end with the view.
    connection?.close();
    void work.catch(() => undefined);
    void timedOut.catch(() => undefined);
  }
}

/** The error's own words on one line (a row has no room for `timed out:` or a hint). */
function oneLine(error: unknown): string {
  if (error instanceof InputError) return describeError(error).join('; ');
  if (exitCodeOf(error) === 1) return describeError(error)[0] ?? '';
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/** The reads of a single-cluster `status` that a row shows, without the per-namespace data plane. */
async function readCluster(
  target: FleetTarget,
  kube: Kube,
  namespace: string,
  deps: FleetDeps,
): Promise<ClusterRow> {
  const [state, proxies, kubernetes] = await Promise.all([
    readClusterState(kube, namespace),
    readProxyPods(kube),
    kube.serverVersion(),
  ]);
  const gone = await holderGone(state.lock?.holder, {
    kube,
    hostname: deps.hostname,
    isProcessAlive: deps.isProcessAlive,
  });
  const report = statusReport(state, deps.now(), gone !== undefined, undefined, {
    kubernetes,
    available: [],
  });
  return clusterRow(target, kube.server, state, report, proxies);
}

/**
 * `work` over every item with at most `limit` running at once, results in the items' order. `work` must not reject
 * (a row is made of any failure); a rejection would reject the whole map.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
