// Waits on the cluster, each through one pollUntil: until everything the spec asks for is healthy at the expected
// version (verifyInstalled, by health.ts's rules; on timeout it names each object that is not, its latest warnings and
// the nodes where a node agent's pods are not ready), and until what an uninstall removed is gone (waitUntilGone).
import type { V1Pod } from '@kubernetes/client-node';
import { TimeoutError } from '../../errors.js';
import type { JsonObject } from '../../overlay/json.js';
import type { IstioVersion } from '../model/istio-version.js';
import type { InstallerDeps } from '../deps.js';
import { expectedObjects, healthProblems, type ExpectedObject } from '../decide/health.js';
import type { Kube } from './kube.js';
import { readClusterState } from './read-state.js';
import type { ClusterState } from '../model/state.js';

export interface PollOptions {
  timeoutMs: number;
  intervalMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/** How verifyInstalled polls; the same options for every wait of a run. */
export type VerifyOptions = PollOptions;

/**
 * Reads until `done` says so, sleeping `intervalMs` between reads; once the deadline has passed, throws what
 * `timedOut` makes of the last read (it names what is still not there or not ready).
 */
export async function pollUntil<T>(
  options: PollOptions,
  read: () => Promise<T>,
  done: (seen: T) => boolean,
  timedOut: (seen: T) => Error | Promise<Error>,
): Promise<T> {
  const deadline = options.now() + options.timeoutMs;
  for (;;) {
    const seen = await read();
    if (done(seen)) return seen;
    if (options.now() >= deadline) throw await timedOut(seen);
    await options.sleep(options.intervalMs);
  }
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
  const seen = await pollUntil(
    options,
    async () => {
      const state = await readClusterState(kube, namespace);
      return { state, wrong: healthProblems(expected, state, version) };
    },
    ({ wrong }) => wrong.length === 0,
    async ({ state, wrong }) => {
      const details = await Promise.all(wrong.map((line) => withWarnings(kube, line, expected, state)));
      return new TimeoutError(
        `Istio is not ready after ${Math.round(options.timeoutMs / 1000)}s`,
        details.flat(),
      );
    },
  );
  return seen.state;
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
  const ofRevision = (r: string) => revision === undefined || r === revision;
  const left = (state: ClusterState) => [
    ...(revision === undefined ? state.agents.map((a) => `DaemonSet ${a.namespace}/${a.name}`) : []),
    ...state.controlPlanes
      .filter((p) => ofRevision(p.revision))
      .map((p) => `Deployment ${p.namespace}/${p.deployment}`),
    ...state.gateways.filter((g) => ofRevision(g.revision)).map((g) => `Deployment ${g.namespace}/${g.name}`),
  ];
  return pollUntil(
    { timeoutMs, intervalMs: 2000, sleep: deps.sleep, now: () => deps.now().getTime() },
    () => readClusterState(deps.kube, namespace),
    (state) => left(state).length === 0,
    (state) =>
      new TimeoutError(
        `Istio components${revision ? ` of revision ${revision}` : ''} are still there after uninstall`,
        left(state),
      ),
  );
}
