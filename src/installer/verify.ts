// After istioctl: waits until each control-plane and gateway Deployment and each ambient node agent DaemonSet is Ready
// at the expected version, and the revision's injection webhook calls its istiod; on timeout, names each object that
// is not, the nodes where a node agent is not ready, and the latest warnings.
import type { V1Pod } from '@kubernetes/client-node';
import { TimeoutError } from '../errors.js';
import { isObject, type Json, type JsonObject } from '../overlay/json.js';
import { componentEnabled, effectiveProfile } from '../overlay/profiles.js';
import { formatIstioVersion, compareVersions, type IstioVersion } from './istio-version.js';
import type { InstallerDeps } from './deps.js';
import type { Kube } from './kube.js';
import { readClusterState } from './read-state.js';
import type { ClusterState } from './state.js';

export interface ExpectedObject {
  kind: 'Deployment' | 'DaemonSet' | 'MutatingWebhookConfiguration';
  namespace: string;
  name: string;
}

/** The Deployments and webhook an applied spec must produce. Pure. */
export function expectedObjects(
  istioOperator: JsonObject,
  namespace: string,
  revision: string,
): ExpectedObject[] {
  const spec = isObject(istioOperator.spec) ? istioOperator.spec : {};
  const components = isObject(spec.components) ? spec.components : {};
  const suffix = revision === 'default' ? '' : `-${revision}`;
  const out: ExpectedObject[] = [];
  // The remote profile's pilot renders only the injector webhook, for an istiod in another cluster.
  if (componentEnabled(spec, 'pilot') && effectiveProfile(spec) !== 'remote') {
    out.push({ kind: 'Deployment', namespace, name: `istiod${suffix}` });
    out.push({ kind: 'MutatingWebhookConfiguration', namespace, name: `istio-sidecar-injector${suffix}` });
  }
  // The node agents are not revisioned: one per cluster, upgraded in place.
  if (componentEnabled(spec, 'cni')) out.push({ kind: 'DaemonSet', namespace, name: 'istio-cni-node' });
  if (componentEnabled(spec, 'ztunnel')) out.push({ kind: 'DaemonSet', namespace, name: 'ztunnel' });
  for (const list of ['ingressGateways', 'egressGateways'] as const) {
    const gateways: Json[] = Array.isArray(components[list]) ? components[list] : [];
    for (const gateway of gateways) {
      if (!isObject(gateway) || gateway.enabled !== true || typeof gateway.name !== 'string') continue;
      out.push({
        kind: 'Deployment',
        namespace: typeof gateway.namespace === 'string' ? gateway.namespace : namespace,
        name: gateway.name,
      });
    }
  }
  return out;
}

/** What is still wrong with each expected object, one line each; empty when all is well. Pure. */
export function problems(
  expected: readonly ExpectedObject[],
  state: ClusterState,
  version: IstioVersion | undefined,
  revision: string,
): string[] {
  const out: string[] = [];
  const atVersion = (found: IstioVersion | undefined) =>
    !version || (found !== undefined && compareVersions(found, version) === 0);
  for (const object of expected) {
    const id = `${object.kind} ${object.namespace}/${object.name}`;
    if (object.kind === 'MutatingWebhookConfiguration') {
      const webhook = state.webhooks.find((w) => w.name === object.name);
      const service = `${object.namespace}/istiod${revision === 'default' ? '' : `-${revision}`}`;
      if (!webhook) out.push(`${id}: missing`);
      else if (!webhook.services.includes(service))
        out.push(`${id}: calls ${webhook.services.join(', ') || 'no service'}, not ${service}`);
      continue;
    }
    if (object.kind === 'DaemonSet') {
      const agent = state.nodeAgents.find((a) => a.name === object.name && a.namespace === object.namespace);
      if (!agent) out.push(`${id}: missing`);
      else if (!agent.ready)
        out.push(
          `${id}: not ready (${agent.readyPods}/${agent.desired} pods ready, ${agent.updatedPods} updated)`,
        );
      else if (!atVersion(agent.version))
        out.push(
          `${id}: runs ${agent.version ? formatIstioVersion(agent.version) : 'an unknown version'}, expected ${formatIstioVersion(version as IstioVersion)}`,
        );
      continue;
    }
    const plane = state.controlPlanes.find(
      (p) => p.deployment === object.name && p.namespace === object.namespace,
    );
    const gateway = state.gateways.find((g) => g.name === object.name && g.namespace === object.namespace);
    const found = plane ?? gateway;
    if (!found) out.push(`${id}: missing`);
    else if (!found.ready)
      out.push(`${id}: not ready${plane ? ` (${plane.readyReplicas}/${plane.replicas} replicas)` : ''}`);
    else if (!atVersion(found.version))
      out.push(
        `${id}: runs ${found.version ? formatIstioVersion(found.version) : 'an unknown version'}, expected ${formatIstioVersion(version as IstioVersion)}`,
      );
  }
  return out;
}

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
    const wrong = problems(expected, state, version, revision);
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
  if (object?.kind === 'DaemonSet') {
    const agent = state.nodeAgents.find((a) => a.name === object.name && a.namespace === object.namespace);
    if (!agent?.selector) return [line];
    const pods = await kube.listPods(agent.selector).catch(() => []);
    const nodes = notReadyNodes(pods, object.namespace);
    return nodes.length > 0 ? [line, `    not ready on: ${nodes.join(', ')}`] : [line];
  }
  if (!object || object.kind !== 'Deployment') return [line];
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
  return [line, ...related];
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
      ...(revision === undefined ? state.nodeAgents.map((a) => `DaemonSet ${a.namespace}/${a.name}`) : []),
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
