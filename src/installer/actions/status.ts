// `status`: reads the cluster (state, data plane, whether the lock's holder still exists, its Kubernetes version) and
// the istioctl versions at hand, and reports; changes nothing.
import { holderGone } from '../cluster/holder.js';
import { readDataPlane } from '../cluster/read-data-plane.js';
import { readInjectionRefusals } from '../cluster/read-injection.js';
import { readClusterState } from '../cluster/read-state.js';
import { injectionWarning } from '../decide/pod-admission.js';
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
  const report = statusReport(state, deps.now(), gone !== undefined, dataPlane, { kubernetes, available });
  // Without istio-cni (or ambient, which runs it), injection makes istio-init, which PodSecurity may refuse.
  const cni = await deps.kube.listDaemonSets('k8s-app=istio-cni-node');
  const injection = cni.length > 0 ? [] : await readInjectionRefusals(deps.kube);
  return { ...report, warnings: [...report.warnings, ...injection.map(injectionWarning)] };
}
