// `status`: reads the cluster (state, data plane, whether the lock's holder still exists, its Kubernetes version) and
// the istioctl versions at hand, and reports; changes nothing.
import { holderGone } from '../cluster/holder.js';
import { readDataPlane } from '../cluster/read-data-plane.js';
import { readClusterState } from '../cluster/read-state.js';
import { statusReport, type StatusReport } from '../decide/status.js';
import type { InstallerDeps } from '../deps.js';

export async function readStatus(namespace: string, deps: InstallerDeps): Promise<StatusReport> {
  const [state, dataPlane, kubernetes, available] = await Promise.all([
    readClusterState(deps.kube, namespace),
    readDataPlane(deps.kube),
    deps.kube.serverVersion(),
    deps.istioctlVersions?.() ?? Promise.resolve([]),
  ]);
  const gone = await holderGone(state.lock?.holder, {
    kube: deps.kube,
    hostname: deps.hostname,
    isProcessAlive: deps.isProcessAlive,
  });
  return statusReport(state, deps.now(), gone !== undefined, dataPlane, { kubernetes, available });
}
