// Health, written once for every component: what a spec says should exist (istiod and its injection webhook, every
// enabled gateway, CNI and ztunnel) against what does, with the same rules for each. Pure.
import { isObject, type Json, type JsonObject } from '../../overlay/json.js';
import { componentEnabled, effectiveProfile } from '../../overlay/profiles.js';
import { parseYamlSource } from '../../overlay/yaml-source.js';
import { compareVersions, formatIstioVersion, type IstioVersion } from '../model/istio-version.js';
import type { InstallRecord } from '../model/record.js';
import { workloads, type ClusterState } from '../model/state.js';

export interface ExpectedObject {
  kind: 'Deployment' | 'DaemonSet' | 'MutatingWebhookConfiguration';
  namespace: string;
  name: string;
  /** Fewer desired replicas than this is a fault: someone scaled it down. 0 only when the spec asks for 0. */
  minReplicas: number;
}

const suffixOf = (revision: string) => (revision === 'default' ? '' : `-${revision}`);
const injectorName = (revision: string) => `istio-sidecar-injector${suffixOf(revision)}`;

/** What applying `istioOperator` as `revision` must produce, profile defaults included. */
export function expectedObjects(
  istioOperator: JsonObject,
  namespace: string,
  revision: string,
): ExpectedObject[] {
  const spec = isObject(istioOperator.spec) ? istioOperator.spec : {};
  const components = isObject(spec.components) ? spec.components : {};
  const component = (name: string) => (isObject(components[name]) ? components[name] : {});
  const minReplicas = (settings: JsonObject) =>
    isObject(settings.k8s) && settings.k8s.replicaCount === 0 ? 0 : 1;
  const placed = (settings: JsonObject) =>
    typeof settings.namespace === 'string' && settings.namespace !== '' ? settings.namespace : namespace;

  const out: ExpectedObject[] = [];
  // istioctl's profile rules (profiles.ts) decide what an unset `enabled` means. The remote profile's pilot renders
  // only the injector webhook, for an istiod in another cluster: nothing here to wait for.
  if (componentEnabled(spec, 'pilot') && effectiveProfile(spec) !== 'remote') {
    const pilot = component('pilot');
    out.push({
      kind: 'Deployment',
      namespace,
      name: `istiod${suffixOf(revision)}`,
      minReplicas: minReplicas(pilot),
    });
    out.push({
      kind: 'MutatingWebhookConfiguration',
      namespace,
      name: injectorName(revision),
      minReplicas: 1,
    });
  }
  for (const list of ['ingressGateways', 'egressGateways'] as const) {
    const gateways: Json[] = Array.isArray(components[list]) ? components[list] : [];
    for (const gateway of gateways) {
      if (!isObject(gateway) || gateway.enabled !== true || typeof gateway.name !== 'string') continue;
      out.push({
        kind: 'Deployment',
        namespace: placed(gateway),
        name: gateway.name,
        minReplicas: minReplicas(gateway),
      });
    }
  }
  // The node agents are not revisioned: one per cluster, upgraded in place.
  if (componentEnabled(spec, 'cni'))
    out.push({
      kind: 'DaemonSet',
      namespace: placed(component('cni')),
      name: 'istio-cni-node',
      minReplicas: 1,
    });
  if (componentEnabled(spec, 'ztunnel'))
    out.push({ kind: 'DaemonSet', namespace: placed(component('ztunnel')), name: 'ztunnel', minReplicas: 1 });
  return out;
}

/**
 * What is there must be healthy too: every Istio workload found (of `revision`, when given) and the injection
 * webhook of every control plane. This is what health rests on when no spec is on record.
 */
export function expectedFromCluster(state: ClusterState, revision?: string): ExpectedObject[] {
  const ofRevision = (r: string) => revision === undefined || r === revision;
  return [
    ...workloads(state)
      .filter((w) => ofRevision(w.revision))
      .map((w) => ({ kind: w.kind, namespace: w.namespace, name: w.name, minReplicas: 1 })),
    ...state.controlPlanes
      .filter((p) => ofRevision(p.revision))
      .map((p) => ({
        kind: 'MutatingWebhookConfiguration' as const,
        namespace: p.namespace,
        name: injectorName(p.revision),
        minReplicas: 1,
      })),
  ];
}

/** The union of expectations; for an object in both, the spec's (first) replica floor wins. */
export function combineExpected(...lists: ExpectedObject[][]): ExpectedObject[] {
  const seen = new Map<string, ExpectedObject>();
  for (const object of lists.flat()) {
    const key = `${object.kind} ${object.namespace}/${object.name}`;
    if (!seen.has(key)) seen.set(key, object);
  }
  return [...seen.values()];
}

/**
 * What is wrong with each expected object, one line each; empty when all is well. The same rules for every
 * component: it exists, it is not scaled below its floor, its ServiceAccount exists, it is ready, and (when a
 * version is given) it runs that version; a webhook exists and calls its istiod.
 */
export function healthProblems(
  expected: readonly ExpectedObject[],
  state: ClusterState,
  version?: IstioVersion,
): string[] {
  const out: string[] = [];
  const found = workloads(state);
  for (const object of expected) {
    const id = `${object.kind} ${object.namespace}/${object.name}`;
    if (object.kind === 'MutatingWebhookConfiguration') {
      const webhook = state.webhooks.find((w) => w.name === object.name);
      const revision = webhook?.revision ?? 'default';
      const service = `${object.namespace}/istiod${suffixOf(revision)}`;
      if (!webhook) out.push(`${id}: missing`);
      else if (!webhook.services.includes(service))
        out.push(`${id}: calls ${webhook.services.join(', ') || 'no service'}, not ${service}`);
      continue;
    }
    const workload = found.find(
      (w) => w.kind === object.kind && w.name === object.name && w.namespace === object.namespace,
    );
    if (!workload) out.push(`${id}: missing`);
    else if (workload.replicas < object.minReplicas)
      out.push(
        workload.kind === 'DaemonSet'
          ? `${id}: scheduled on no node`
          : `${id}: scaled to ${workload.replicas} replicas`,
      );
    else if (
      workload.serviceAccount &&
      !state.serviceAccounts.includes(`${workload.namespace}/${workload.serviceAccount}`)
    )
      out.push(`${id}: its ServiceAccount ${workload.namespace}/${workload.serviceAccount} is missing`);
    else if (!workload.ready)
      out.push(
        workload.kind === 'DaemonSet'
          ? `${id}: not ready (${workload.readyReplicas}/${workload.replicas} pods ready, ${workload.updatedReplicas} updated)`
          : `${id}: not ready (${workload.readyReplicas}/${workload.replicas} ready)`,
      );
    else if (version && (!workload.version || compareVersions(workload.version, version) !== 0))
      out.push(
        `${id}: runs ${workload.version ? formatIstioVersion(workload.version) : 'an unknown version'}, expected ${formatIstioVersion(version)}`,
      );
  }
  return out;
}

/**
 * Deployments scaled below their floor. istioctl cannot undo that: with autoscaling on (Istio's default) its
 * manifests leave `replicas` unset, so an apply keeps the 0 someone set, and a HorizontalPodAutoscaler does not
 * scale up from 0 either.
 */
export function scaledDown(
  expected: readonly ExpectedObject[],
  state: ClusterState,
): { namespace: string; name: string; replicas: number; floor: number }[] {
  return expected.flatMap((object) => {
    const workload = workloads(state).find(
      (w) => w.kind === 'Deployment' && w.name === object.name && w.namespace === object.namespace,
    );
    return object.kind === 'Deployment' && workload && workload.replicas < object.minReplicas
      ? [
          {
            namespace: object.namespace,
            name: object.name,
            replicas: workload.replicas,
            floor: object.minReplicas,
          },
        ]
      : [];
  });
}

/** The spec the installer last applied (or attempted) for `revision`, if the record has it. */
export function lastAppliedSpec(record: InstallRecord | undefined, revision: string): JsonObject | undefined {
  const parse = (text: string | undefined) => {
    if (text === undefined) return undefined;
    const parsed = parseYamlSource(text, 'recorded spec');
    return parsed.ok && isObject(parsed.source.value) ? parsed.source.value : undefined;
  };
  if (record?.current.outcome === 'uninstalled') return undefined;
  if (record?.current.revision === revision) return parse(record.spec);
  if (record?.lastGood?.revision === revision) return parse(record.lastGoodSpec);
  return undefined;
}

/** Health of one revision: what its last applied spec (else `fallback`) and the cluster say should be there. */
export function revisionProblems(
  state: ClusterState,
  revision: string,
  fallback: JsonObject,
  version?: IstioVersion,
): string[] {
  const spec = lastAppliedSpec(state.record, revision) ?? fallback;
  const expected = combineExpected(
    expectedObjects(spec, state.namespace, revision),
    expectedFromCluster(state, revision),
  );
  return healthProblems(expected, state, version);
}

/** Health of the whole installation, for `status`: the last applied spec and everything found. */
export function meshProblems(state: ClusterState): string[] {
  const revision = state.record?.current.revision;
  const spec = revision ? lastAppliedSpec(state.record, revision) : undefined;
  const expected = combineExpected(
    spec && revision ? expectedObjects(spec, state.namespace, revision) : [],
    expectedFromCluster(state),
  );
  return healthProblems(expected, state);
}
