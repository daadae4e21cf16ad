// Deletes what older istioctl versions applied for this installation and the manifest just applied no longer has
// (decide/prune.ts says which), after an istioctl install that succeeded.
import { ForbiddenError } from '../../errors.js';
import type { JsonObject } from '../../overlay/json.js';
import { leftoverName, olderLeftovers, ownerSelector, PRUNED_KINDS, type Leftover } from '../decide/prune.js';
import type { InstallerDeps } from '../deps.js';
import { formatIstioVersion, type IstioVersion } from '../model/istio-version.js';

/**
 * Lists every kind istioctl prunes by this installation's owner labels, and deletes the objects an older istioctl
 * made, workloads first. A kind this identity may not list or delete is named in a warning and left: the run's
 * health then names what is still there. Resolves with what was deleted.
 */
export async function pruneOlderLeftovers(
  deps: Pick<InstallerDeps, 'kube' | 'log'>,
  istioOperator: JsonObject,
  namespace: string,
  revision: string,
  version: IstioVersion,
): Promise<Leftover[]> {
  const selector = ownerSelector(istioOperator, namespace, revision);
  const found = await Promise.all(
    PRUNED_KINDS.map(async (ref) => {
      try {
        return olderLeftovers(ref, await deps.kube.listObjects(ref, undefined, selector), version);
      } catch (error) {
        if (!(error instanceof ForbiddenError)) throw error;
        deps.log.warn(`cannot look for ${ref.kind} objects older istioctl versions left: ${error.message}`);
        return [];
      }
    }),
  );
  const deleted: Leftover[] = [];
  for (const leftover of found.flat()) {
    const why = `applied by istioctl ${leftover.madeBy} for this installation, not in Istio ${formatIstioVersion(version)}'s manifest (istioctl prunes only what its own version applied)`;
    try {
      await deps.kube.deleteObject(leftover.ref, leftover.namespace, leftover.name);
      deps.log.warn(`deleted ${leftoverName(leftover)}: ${why}`);
      deleted.push(leftover);
    } catch (error) {
      if (!(error instanceof ForbiddenError)) throw error;
      deps.log.warn(`cannot delete ${leftoverName(leftover)} (${why}): ${error.message}; delete it by hand`);
    }
  }
  return deleted;
}
