// The cluster side of a takeover: reads what takeover.ts decides on, deletes Rancher's leftovers, restarts workloads.
import { gunzipSync } from 'node:zlib';
import { versionOfImage } from '../model/istio-version.js';
import type { ProxyPod } from '../decide/skew.js';
import { isIstioComponent } from '../model/labels.js';
import type { AnyObject, ResourceRef } from '../model/objects.js';
import type { Kube } from './kube.js';
import {
  RANCHER_CONFIGMAPS,
  RANCHER_HOOK_JOBS,
  type FoundJob,
  type FoundObject,
  type HelmRevision,
  type Leftover,
  type TakeoverFacts,
} from '../decide/takeover.js';

export const JOBS: ResourceRef = { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs' };
export const CONFIGMAPS: ResourceRef = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' };
const ISTIO_OPERATORS: ResourceRef = {
  apiVersion: 'install.istio.io/v1alpha1',
  kind: 'IstioOperator',
  plural: 'istiooperators',
};
const SECRETS: ResourceRef = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' };
const WORKLOADS: Record<string, ResourceRef> = {
  Deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  StatefulSet: { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' },
  DaemonSet: { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets' },
};

function found(kind: string, object: AnyObject): FoundObject {
  return {
    kind,
    namespace: object.metadata?.namespace,
    name: object.metadata?.name ?? '',
    labels: object.metadata?.labels ?? {},
    annotations: object.metadata?.annotations ?? {},
  };
}

/** A Job that has neither completed nor failed for good. */
function jobActive(job: AnyObject): boolean {
  const status = (job.status ?? {}) as { active?: number; conditions?: { type: string; status: string }[] };
  const finished = (status.conditions ?? []).some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  return !finished;
}

/** Reads the facts a takeover decides on. Changes nothing; kinds the cluster does not serve read as none. */
export async function readTakeoverFacts(
  kube: Kube,
  namespace: string,
  release: string | undefined,
): Promise<TakeoverFacts> {
  const [istiod, jobs, configMaps, istioOperators, operators, releases] = await Promise.all([
    kube.listDeployments(namespace, 'app=istiod'),
    kube.listObjects(JOBS, namespace),
    Promise.all(RANCHER_CONFIGMAPS.map((name) => kube.getConfigMap(namespace, name))),
    kube.listObjects(ISTIO_OPERATORS, undefined),
    kube.listDeployments(undefined, 'name=istio-operator'),
    kube.listObjects(SECRETS, namespace, 'owner=helm'),
  ]);
  return {
    istiod: istiod.map((d) => found('Deployment', d)),
    rancherJobs: jobs
      .filter((job) => (RANCHER_HOOK_JOBS as readonly string[]).includes(job.metadata?.name ?? ''))
      .map((job): FoundJob => ({ ...found('Job', job), active: jobActive(job) })),
    rancherConfigMaps: configMaps
      .filter((cm): cm is NonNullable<typeof cm> => cm !== undefined)
      .map((cm) => found('ConfigMap', cm)),
    istioOperators: istioOperators.map((o) => found('IstioOperator', o)),
    operatorDeployments: operators.map((d) => found('Deployment', d)),
    helmRevisions: releases.map(helmRevision).filter((r): r is HelmRevision => r !== undefined),
    release,
  };
}

/**
 * A Helm release Secret (`sh.helm.release.v1.<release>.v<n>`): its `release` key is Helm's gzipped JSON, base64
 * encoded by Helm and again by the Secret. Undefined for anything that does not decode.
 */
export function helmRevision(
  secret: AnyObject & { data?: Record<string, string> },
): HelmRevision | undefined {
  const labels = secret.metadata?.labels ?? {};
  const encoded = secret.data?.release;
  if (!encoded || !labels.name) return undefined;
  try {
    const inner = Buffer.from(Buffer.from(encoded, 'base64').toString('utf8'), 'base64');
    const release = JSON.parse(gunzipSync(inner).toString('utf8')) as {
      chart?: { metadata?: { name?: string; version?: string } };
    };
    return {
      release: labels.name,
      revision: Number(labels.version ?? 0),
      chart: release.chart?.metadata?.name ?? '',
      chartVersion: release.chart?.metadata?.version ?? '',
      status: labels.status ?? '',
    };
  } catch {
    return undefined;
  }
}

/** Deletes each leftover the takeover named; CRDs and users' resources are never among them. */
export async function removeLeftovers(
  kube: Kube,
  leftovers: readonly Leftover[],
  log: (line: string) => void,
): Promise<void> {
  for (const leftover of leftovers) {
    const ref = leftover.kind === 'Job' ? JOBS : CONFIGMAPS;
    log(`deleting ${leftover.kind} ${leftover.namespace}/${leftover.name}: ${leftover.why}`);
    await kube.deleteObject(ref, leftover.namespace, leftover.name);
  }
}

/** `Deployment ns/name` for a pod of a ReplicaSet (named `<deployment>-<hash>`), StatefulSet or DaemonSet. */
function ownerOf(
  namespace: string,
  owners: { kind: string; name: string }[] | undefined,
): string | undefined {
  const owner = owners?.[0];
  if (!owner) return undefined;
  if (owner.kind === 'ReplicaSet') {
    const dash = owner.name.lastIndexOf('-');
    return dash > 0 ? `Deployment ${namespace}/${owner.name.slice(0, dash)}` : undefined;
  }
  return owner.kind in WORKLOADS ? `${owner.kind} ${namespace}/${owner.name}` : undefined;
}

/** Every pod with an Istio sidecar (injected pods carry `security.istio.io/tlsMode`), with its proxy's version. */
export async function readProxyPods(kube: Kube): Promise<ProxyPod[]> {
  const pods = await kube.listPods('security.istio.io/tlsMode');
  return pods
    .filter((pod) => !isIstioComponent(pod.metadata?.labels) && pod.status?.phase !== 'Succeeded')
    .map((pod) => {
      const namespace = pod.metadata?.namespace ?? '';
      const proxy = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find(
        (c) => c.name === 'istio-proxy',
      );
      return {
        namespace,
        name: pod.metadata?.name ?? '',
        // Istio's injector records the revision that injected the pod in the annotation istio.io/rev (its label
        // is only there when the workload asked for a revision or tag itself).
        revision:
          pod.metadata?.annotations?.['istio.io/rev'] || pod.metadata?.labels?.['istio.io/rev'] || 'default',
        proxyVersion: proxy?.image ? versionOfImage(proxy.image) : undefined,
        owner: ownerOf(namespace, pod.metadata?.ownerReferences),
      };
    });
}

/** `kubectl rollout restart`: a new pod-template annotation, so the owner replaces its pods (re-injected). */
export async function restartOwner(kube: Kube, owner: string, at: Date): Promise<void> {
  const [kind = '', ref = ''] = owner.split(' ');
  const [namespace = '', name = ''] = ref.split('/');
  const workload = WORKLOADS[kind];
  if (!workload) return;
  await kube.mergePatchObject(workload, namespace, name, {
    spec: {
      template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at.toISOString() } } },
    },
  });
}
