// After istioctl: waits until each control-plane and gateway Deployment is Ready at the expected version, and the
// revision's injection webhook calls its istiod; on timeout, names each object that is not and its latest warnings.
import { TimeoutError } from '../errors.js';
import { isObject, type Json, type JsonObject } from '../overlay/json.js';
import { formatIstioVersion, compareVersions, type IstioVersion } from './istio-version.js';
import type { InstallerDeps } from './deps.js';
import type { Kube } from './kube.js';
import { readClusterState } from './read-state.js';
import type { ClusterState } from './state.js';

export interface ExpectedObject {
  kind: 'Deployment' | 'MutatingWebhookConfiguration';
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
  const pilot = isObject(components.pilot) ? components.pilot : {};
  const profile = typeof spec.profile === 'string' ? spec.profile : 'default';
  const pilotEnabled = pilot.enabled ?? !['empty', 'remote'].includes(profile);
  if (pilotEnabled === true) {
    out.push({ kind: 'Deployment', namespace, name: `istiod${suffix}` });
    out.push({ kind: 'MutatingWebhookConfiguration', namespace, name: `istio-sidecar-injector${suffix}` });
  }
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
      const details = await Promise.all(wrong.map((line) => withWarnings(kube, line, expected)));
      throw new TimeoutError(
        `Istio is not ready after ${Math.round(options.timeoutMs / 1000)}s`,
        details.flat(),
      );
    }
    await options.sleep(options.intervalMs);
  }
}

async function withWarnings(
  kube: Kube,
  line: string,
  expected: readonly ExpectedObject[],
): Promise<string[]> {
  const object = expected.find((o) => line.startsWith(`${o.kind} ${o.namespace}/${o.name}:`));
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
 * Waits until no istiod or gateway Deployment of `revision` (of any revision when undefined) is left:
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
