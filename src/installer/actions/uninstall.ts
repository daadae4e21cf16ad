// `uninstall`: removes every control plane, gateway and Istio webhook; keeps the CRDs and users' Istio resources unless purging.
import { phase, type InstallerDeps } from '../deps.js';
import { writeRecord } from '../cluster/record-store.js';
import { removeDashboards } from '../cluster/write-dashboards.js';
import { formatIstioVersion, compareVersions } from '../model/istio-version.js';
import { IstioctlError } from '../../errors.js';
import { uninstallArgs, uninstallByOwnerArgs } from '../istioctl/args.js';
import { istioctl, type Istioctl } from '../istioctl/runner.js';
import { leftoverWebhooks } from '../decide/webhooks.js';
import { withLock } from '../cluster/lock.js';
import { waitUntilGone } from '../cluster/wait.js';
import { readClusterState } from '../cluster/read-state.js';

export interface UninstallRequest {
  namespace: string;
  purge: boolean;
  chartVersion: string;
  timeoutSeconds: number;
}

/** How many objects of each Istio CRD exist: what a purge deletes. */
export async function countIstioResources(
  deps: Pick<InstallerDeps, 'kube'>,
): Promise<{ kinds: number; objects: number; byKind: string[] }> {
  const crds = (await deps.kube.listCustomResourceDefinitions()).filter((crd) =>
    crd.spec.group.endsWith('istio.io'),
  );
  const counts = await Promise.all(
    crds.map(async (crd) => {
      const version = crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0]?.name ?? 'v1';
      const ref = {
        apiVersion: `${crd.spec.group}/${version}`,
        kind: crd.spec.names.kind,
        plural: crd.spec.names.plural,
      };
      const count = (await deps.kube.listObjects(ref, undefined)).length;
      return { name: `${crd.spec.names.plural}.${crd.spec.group}`, count };
    }),
  );
  const used = counts.filter((c) => c.count > 0);
  return {
    kinds: crds.length,
    objects: used.reduce((sum, c) => sum + c.count, 0),
    byKind: used.map((c) => `${c.count} ${c.name}`),
  };
}

export async function uninstall(request: UninstallRequest, deps: InstallerDeps): Promise<string> {
  const started = deps.now().getTime();
  if (!(await deps.kube.namespaceExists(request.namespace)))
    return `nothing to uninstall: namespace ${request.namespace} does not exist`;
  return withLock(deps, request.namespace, async () => {
    const state = await phase(deps, 'read cluster state', () =>
      readClusterState(deps.kube, request.namespace),
    );
    const revisions = [
      ...new Set([...state.controlPlanes.map((p) => p.revision), ...state.gateways.map((g) => g.revision)]),
    ];
    // The newest installed version's istioctl knows every component that may be there.
    const newest = state.controlPlanes
      .map((p) => p.version)
      .filter((v) => v !== undefined)
      .sort(compareVersions)
      .at(-1);
    const needIstioctl = request.purge || revisions.length > 0;
    const tool = needIstioctl
      ? istioctl(await deps.istioctlFor(newest), deps.runner, deps.env, (line) => deps.log.info(line))
      : undefined;
    const timeoutMs = request.timeoutSeconds * 1000;

    if (request.purge && tool) {
      const { kinds, objects, byKind } = await countIstioResources(deps);
      deps.log.warn(
        `purge: deleting ${kinds} Istio CRDs and with them ${objects} Istio resource(s) users made${byKind.length ? `: ${byKind.join(', ')}` : ''}`,
      );
      await phase(deps, 'istioctl uninstall --purge', () => tool.run(uninstallArgs('', true), timeoutMs));
    } else if (tool) {
      for (const revision of revisions)
        await phase(deps, `istioctl uninstall --revision ${revision}`, () =>
          uninstallRevision(revision, tool, timeoutMs, deps),
        );
    }
    const agents = state.agents.map((a) => a.name);
    if (agents.length > 0 && tool && !request.purge) {
      // ztunnel and istio-cni belong to no revision; whatever the revision uninstall left goes by owner.
      const after = await readClusterState(deps.kube, request.namespace);
      if (after.agents.length > 0 && after.controlPlanes.length === 0)
        await phase(deps, `remove ${after.agents.map((a) => a.name).join(' and ')}`, () =>
          uninstallByOwner(tool, timeoutMs, deps),
        );
    }
    const removed = await phase(deps, 'remove leftover webhooks', () =>
      removeLeftoverWebhooks(request.namespace, deps),
    );
    await removeDashboards(deps);
    await phase(deps, 'verify', () =>
      waitUntilGone(deps, request.namespace, undefined, request.timeoutSeconds * 1000),
    );
    await writeRecord(deps, request.namespace, state.record, {
      action: request.purge ? 'purge' : 'uninstall',
      outcome: 'uninstalled',
      specSha256: state.record?.current.specSha256 ?? '',
      istioVersion: newest ? formatIstioVersion(newest) : '',
      revision: revisions.join(',') || 'none',
      chartVersion: request.chartVersion,
      message: `removed revisions ${revisions.join(', ') || 'none'}; ${removed.length} leftover webhook(s) deleted${request.purge ? '; CRDs purged' : '; CRDs and Istio resources kept'}`,
    });
    if (agents.length > 0) deps.log.warn(NODE_LEFTOVERS);
    const seconds = ((deps.now().getTime() - started) / 1000).toFixed(1);
    return revisions.length === 0 && removed.length === 0
      ? `nothing to uninstall: no Istio control plane found (${seconds}s)`
      : `uninstalled Istio revisions ${revisions.join(', ') || 'none'}${agents.length > 0 ? ` and ${agents.join(', ')}` : ''}${request.purge ? ' and its CRDs' : ' (CRDs and Istio resources kept)'} (${seconds}s)`;
  });
}

/** Deletes Istio webhooks whose Services are gone, and the known leftovers (see leftoverWebhooks); returns their names. */
async function removeLeftoverWebhooks(namespace: string, deps: InstallerDeps): Promise<string[]> {
  const state = await readClusterState(deps.kube, namespace);
  const removed: string[] = [];
  for (const webhook of leftoverWebhooks(state)) {
    if (webhook.kind === 'MutatingWebhookConfiguration') await deps.kube.deleteMutatingWebhook(webhook.name);
    else await deps.kube.deleteValidatingWebhook(webhook.name);
    removed.push(webhook.name);
    deps.log.info(`deleted leftover ${webhook.kind} ${webhook.name}`);
  }
  return removed;
}

/** What istioctl labels as the owner of everything it installs from our specs (their `metadata.name`). */
const OWNER_SPEC =
  'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  name: rancher-istio\n';

/**
 * `istioctl uninstall --revision` finds a revision through its injection webhook; after an interrupted uninstall
 * that webhook may be gone while the Deployments remain. Then everything istioctl installed from our specs is
 * removed by owner instead (`-f` with only the owner's name: no revision lookup, CRDs kept).
 */
async function uninstallRevision(
  revision: string,
  tool: Istioctl,
  timeoutMs: number,
  deps: InstallerDeps,
): Promise<void> {
  try {
    await tool.run(uninstallArgs(revision, false), timeoutMs);
  } catch (error) {
    if (!(error instanceof IstioctlError) || !/could not find target revision/.test(error.message))
      throw error;
    deps.log.warn(
      `revision ${revision} has no injection webhook left (an interrupted uninstall?); removing what rancher-istio installed by owner`,
    );
    await uninstallByOwner(tool, timeoutMs, deps);
  }
}

/** Removes everything istioctl installed from our specs, by owner (`-f` with only the owner's name; CRDs kept). */
async function uninstallByOwner(tool: Istioctl, timeoutMs: number, deps: InstallerDeps): Promise<void> {
  const ownerFile = await deps.writeTempFile('owner.yaml', OWNER_SPEC);
  await tool.run(uninstallByOwnerArgs(ownerFile), timeoutMs);
}

/** What removing ztunnel and istio-cni does not undo on the nodes (Istio's ambient clean-up guide). */
export const NODE_LEFTOVERS =
  'ztunnel and istio-cni are removed. What stays: the namespace labels istio.io/dataplane-mode and ' +
  'istio.io/use-waypoint, and in pods enrolled in ambient mode the traffic redirection istio-cni set up in their ' +
  'network namespace, until they restart; istio-cni takes its entry out of the node CNI configuration when its pod ' +
  'stops. Remove the labels and restart those pods (Istio asks to take workloads out of ambient mode before ' +
  'uninstalling); waypoints (Gateways of class istio-waypoint) are yours and are kept.';
