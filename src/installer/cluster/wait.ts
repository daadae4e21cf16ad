// After istioctl: waits until everything the spec asks for is healthy at the expected version (the rules of
// health.ts, for every component: control plane, gateways and the ambient node agents); on timeout, names each object
// that is not, its latest warnings, and the nodes where a node agent's pods are not ready.
import type { V1Pod } from '@kubernetes/client-node';
import { TimeoutError } from '../../errors.js';
import type { JsonObject } from '../../overlay/json.js';
import type { IstioVersion } from '../model/istio-version.js';
import type { InstallerDeps } from '../deps.js';
import { expectedObjects, healthProblems, type ExpectedObject } from '../decide/health.js';
import type { Kube } from './kube.js';
import { readClusterState } from './read-state.js';
import type { ClusterState } from '../model/state.js';

export interface VerifyOptions {
  timeoutMs: number;
  intervalMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/** Polls until nothing is wrong, else throws TimeoutError with each problem and the latest Warning events of its object. */
export async function verifyInstalled(
  kube: Kube,
  namespace: string,
  istioOperator: JsonObject,
  revision: string,
  version: IstioVersion | undefined,
  options: VerifyOptions,
): Promise<ClusterState> {
  const expected = expectedObjects(istioOperator, namespace, revision);
  const deadline = options.now() + options.timeoutMs;
  for (;;) {
    const state = await readClusterState(kube, namespace);
    const wrong = healthProblems(expected, state, version);
    if (wrong.length === 0) return state;
    if (options.now() >= deadline) {
      const details = await Promise.all(wrong.map((line) => withWarnings(kube, line, expected, state)));
      throw new TimeoutError(
        `Istio is not ready after ${Math.round(options.timeoutMs / 1000)}s`,
        details.flat(),
      );
    }
    await options.sleep(options.intervalMs);
  }
}

/** The nodes where a node agent's pod is missing its readiness, as `node (pod: reason)`. Pure. */
export function notReadyNodes(pods: readonly V1Pod[], namespace: string): string[] {
  return pods
    .filter((pod) => pod.metadata?.namespace === namespace)
    .filter((pod) => !(pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((pod) => {
      const waiting = (pod.status?.containerStatuses ?? []).find((c) => c.state?.waiting)?.state?.waiting;
      const reason = waiting?.reason ?? pod.status?.phase ?? 'not ready';
      return `${pod.spec?.nodeName ?? '(not scheduled)'} (${pod.metadata?.name ?? ''}: ${reason})`;
    })
    .sort();
}

async function withWarnings(
  kube: Kube,
  line: string,
  expected: readonly ExpectedObject[],
  state: ClusterState,
): Promise<string[]> {
  const object = expected.find((o) => line.startsWith(`${o.kind} ${o.namespace}/${o.name}:`));
  if (!object || object.kind === 'MutatingWebhookConfiguration') return [line];
  const nodes = object.kind === 'DaemonSet' ? await nodesNotReady(kube, object, state) : [];
  const events = await kube.listEvents(object.namespace, 'type=Warning').catch(() => []);
  const related = events
    .filter((e) => (e.involvedObject.name ?? '').startsWith(object.name))
    .sort((a, b) =>
      String(b.lastTimestamp ?? b.eventTime ?? '').localeCompare(
        String(a.lastTimestamp ?? a.eventTime ?? ''),
      ),
    )
    .slice(0, 3)
    .map((e) => `    warning ${e.involvedObject.kind}/${e.involvedObject.name}: ${e.reason}: ${e.message}`);
  return [line, ...(nodes.length > 0 ? [`    not ready on: ${nodes.join(', ')}`] : []), ...related];
}

/** For a node agent: the nodes where its pods are not ready, with each pod's reason. */
async function nodesNotReady(kube: Kube, object: ExpectedObject, state: ClusterState): Promise<string[]> {
  const agent = state.agents.find(
    (a) => a.kind === 'DaemonSet' && a.name === object.name && a.namespace === object.namespace,
  );
  if (!agent?.selector) return [];
  const pods = await kube.listPods(agent.selector).catch(() => []);
  return notReadyNodes(pods, object.namespace);
}

/**
 * Waits until no istiod or gateway Deployment of `revision` is left (of any revision, and no node agent DaemonSet,
 * when undefined):
 * istioctl uninstall returns before the API server has finished deleting.
 */
export async function waitUntilGone(
  deps: Pick<InstallerDeps, 'kube' | 'now' | 'sleep'>,
  namespace: string,
  revision: string | undefined,
  timeoutMs: number,
): Promise<ClusterState> {
  const deadline = deps.now().getTime() + timeoutMs;
  const ofRevision = (r: string) => revision === undefined || r === revision;
  for (;;) {
    const state = await readClusterState(deps.kube, namespace);
    const left = [
      ...(revision === undefined ? state.agents.map((a) => `DaemonSet ${a.namespace}/${a.name}`) : []),
      ...state.controlPlanes
        .filter((p) => ofRevision(p.revision))
        .map((p) => `Deployment ${p.namespace}/${p.deployment}`),
      ...state.gateways
        .filter((g) => ofRevision(g.revision))
        .map((g) => `Deployment ${g.namespace}/${g.name}`),
    ];
    if (left.length === 0) return state;
    if (deps.now().getTime() >= deadline)
      throw new TimeoutError(
        `Istio components${revision ? ` of revision ${revision}` : ''} are still there after uninstall`,
        left,
      );
    await deps.sleep(2000);
  }
}
