// Keeps the Grafana dashboards in `cattle-dashboards` (rancher-monitoring's): writes this installer's, replaces
// Rancher's installer's (label istio_dashboard=1), removes this installer's on uninstall. Optional: a denial warns.
import { ForbiddenError } from '../../errors.js';
import { DASHBOARD_NAMESPACE, dashboardConfigMaps } from '../model/dashboard-content.js';
import { phase, type InstallerDeps } from '../deps.js';
import { CONFIGMAPS } from './read-takeover.js';

/** The label Rancher's installer put on the dashboards it copied, and removed them by on its own runs. */
const RANCHER_DASHBOARDS = 'istio_dashboard=1';
/** The labels this installer's dashboards carry. */
const OWN_DASHBOARDS = 'app.kubernetes.io/managed-by=istio-installer,app.kubernetes.io/part-of=rancher-istio';

/**
 * Dashboards are an extra next to the mesh: where the installer may not write there (the chart's Role in that
 * namespace is rendered only when Helm could see the namespace), the run warns and goes on.
 */
async function optional(deps: InstallerDeps, name: string, work: () => Promise<void>): Promise<void> {
  if (!(await deps.kube.namespaceExists(DASHBOARD_NAMESPACE))) return;
  try {
    await phase(deps, name, work);
  } catch (error) {
    if (!(error instanceof ForbiddenError)) throw error;
    deps.log.warn(
      `Grafana dashboards in ${DASHBOARD_NAMESPACE} left as they are: ${error.message} (the chart grants this only when ${DASHBOARD_NAMESPACE} existed at helm install/upgrade; run helm upgrade again)`,
    );
  }
}

async function deleteMatching(deps: InstallerDeps, selector: string, why: string): Promise<void> {
  for (const configMap of await deps.kube.listObjects(CONFIGMAPS, DASHBOARD_NAMESPACE, selector)) {
    const name = configMap.metadata?.name ?? '';
    deps.log.warn(`deleting ConfigMap ${DASHBOARD_NAMESPACE}/${name}: ${why}`);
    await deps.kube.deleteObject(CONFIGMAPS, DASHBOARD_NAMESPACE, name);
  }
}

/** Writes this installer's dashboards, in place of any Rancher's installer left (as its own runs replaced them). */
export function writeDashboards(deps: InstallerDeps): Promise<void> {
  return optional(deps, `Grafana dashboards into ${DASHBOARD_NAMESPACE}`, async () => {
    await deleteMatching(
      deps,
      RANCHER_DASHBOARDS,
      `Rancher's installer's Istio dashboard (label ${RANCHER_DASHBOARDS}), replaced by this installer's`,
    );
    for (const configMap of dashboardConfigMaps()) await deps.kube.applyConfigMap(configMap);
  });
}

/** Removes this installer's dashboards: the mesh they showed is gone. */
export function removeDashboards(deps: InstallerDeps): Promise<void> {
  return optional(deps, `remove Grafana dashboards from ${DASHBOARD_NAMESPACE}`, () =>
    deleteMatching(deps, OWN_DASHBOARDS, "this installer's dashboard of the mesh just uninstalled"),
  );
}
