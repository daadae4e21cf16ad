// The Kubernetes operations the installer uses, as one narrow interface, and its implementation on @kubernetes/client-node.
import type {
  CoreV1Event,
  KubeConfig,
  V1ConfigMap,
  V1DaemonSet,
  V1Deployment,
  V1Lease,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1Pod,
  V1Service,
  V1ServiceAccount,
  V1ValidatingWebhookConfiguration,
  V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { ForbiddenError, PreconditionError, TimeoutError } from '../../errors.js';

/** Any kind by its API coordinates, for the few objects that have no method of their own (takeover, restarts). */
export interface ResourceRef {
  apiVersion: string;
  kind: string;
  /** The lower-case plural in the URL: `jobs`, `istiooperators`. */
  plural: string;
}

/** The parts of any object the installer reads. */
export interface AnyObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: unknown;
  status?: unknown;
}

/** Everything the installer reads or writes through the API server; injected, so unit tests pass a recording fake. */
export interface Kube {
  /** The API server URL, for messages. */
  server: string;
  listDeployments(namespace: string | undefined, labelSelector?: string): Promise<V1Deployment[]>;
  /** Sets a Deployment's replicas (a JSON patch of spec.replicas). */
  scaleDeployment(namespace: string, name: string, replicas: number): Promise<void>;
  /** Cluster-wide: Istio's node agents (CNI, ztunnel). */
  listDaemonSets(labelSelector: string): Promise<V1DaemonSet[]>;
  listServices(namespace: string): Promise<V1Service[]>;
  listServiceAccounts(namespace: string): Promise<V1ServiceAccount[]>;
  listPods(labelSelector: string): Promise<V1Pod[]>;
  /** The pod's phase, undefined when it does not exist (a list by name: the installer may list pods, not get them). */
  podPhase(namespace: string, name: string): Promise<string | undefined>;
  listNamespaces(labelSelector?: string): Promise<V1Namespace[]>;
  namespaceExists(name: string): Promise<boolean>;
  createNamespace(name: string): Promise<void>;
  listMutatingWebhooks(): Promise<V1MutatingWebhookConfiguration[]>;
  listValidatingWebhooks(): Promise<V1ValidatingWebhookConfiguration[]>;
  deleteMutatingWebhook(name: string): Promise<void>;
  deleteValidatingWebhook(name: string): Promise<void>;
  getConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  /** Creates or replaces the ConfigMap (replace is unconditional: the lock serialises writers). */
  applyConfigMap(configMap: V1ConfigMap): Promise<V1ConfigMap>;
  listEvents(namespace: string, fieldSelector?: string): Promise<CoreV1Event[]>;
  createEvent(namespace: string, event: CoreV1Event): Promise<void>;
  getLease(namespace: string, name: string): Promise<V1Lease | undefined>;
  /** Creates the Lease; resolves false when one already exists (409). */
  createLease(namespace: string, lease: V1Lease): Promise<boolean>;
  /** Replaces the Lease at its resourceVersion; resolves false when someone else changed it first (409). */
  replaceLease(namespace: string, lease: V1Lease): Promise<boolean>;
  deleteLease(namespace: string, name: string): Promise<void>;
  listCustomResourceDefinitions(): Promise<V1CustomResourceDefinition[]>;
  /** How many objects of one custom resource kind exist, cluster-wide. */
  countCustomObjects(group: string, version: string, plural: string): Promise<number>;
  /** Every object of one custom resource kind, cluster-wide; empty when the kind is not installed (404). */
  listCustomObjects(group: string, version: string, plural: string): Promise<CustomObject[]>;
  /** Objects of any kind, in one namespace or all; [] when the kind is not served (its CRD is absent). */
  listObjects(ref: ResourceRef, namespace: string | undefined, labelSelector?: string): Promise<AnyObject[]>;
  /** Deletes an object and, in the background, what it owns (a Job's pods); a missing one is not an error. */
  deleteObject(ref: ResourceRef, namespace: string | undefined, name: string): Promise<void>;
  /** A JSON merge patch of one object (a restart annotation on a workload's pod template). */
  mergePatchObject(ref: ResourceRef, namespace: string, name: string, patch: object): Promise<void>;
}

/** The parts of a custom object the installer reads. */
export interface CustomObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
}

/** The URL path of a kind's collection, or of one object when `name` is given. */
export function resourcePath(ref: ResourceRef, namespace: string | undefined, name?: string): string {
  const prefix = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${prefix}${scope}/${ref.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** HTTP statuses and socket errors worth another try: conflicts on read-modify-write aside, the server was busy or away. */
export function isTransient(error: unknown): boolean {
  const code = statusOf(error);
  if (code !== undefined) return code === 429 || code >= 500;
  const text = String((error as { code?: string })?.code ?? (error as Error)?.message ?? error);
  return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|fetch failed/i.test(text);
}

/** A read whose 404 means "not there". */
export async function undefinedOn404<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

/** A create or compare-and-swap whose 409 means "someone else was first". */
export async function falseOn409(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return true;
  } catch (error) {
    if (statusOf(error) === 409) return false;
    throw error;
  }
}

export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const defaultRetry: RetryOptions = {
  attempts: 5,
  baseDelayMs: 500,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Retries a call on transient failures with exponential backoff. When the API server stays unreachable, the
 * failure becomes a TimeoutError naming it (exit 5), not a stack trace.
 */
export async function withRetry<T>(
  what: string,
  server: string,
  call: () => Promise<T>,
  options: RetryOptions = defaultRetry,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw refusal(what, error);
      lastError = error;
      if (attempt < options.attempts) await options.sleep(options.baseDelayMs * 2 ** (attempt - 1));
    }
  }
  const reason = statusOf(lastError) ? `HTTP ${statusOf(lastError)}` : describeNetworkError(lastError);
  throw new TimeoutError(
    `the Kubernetes API server ${server} did not answer ${what} after ${options.attempts} attempts (${reason})`,
  );
}

/** A 4xx answer (forbidden, invalid) is the API server refusing: exit 3 with its own words, not a stack trace. */
function refusal(what: string, error: unknown): unknown {
  const code = statusOf(error);
  if (code === undefined || code < 400 || code >= 500) return error;
  const message = `the Kubernetes API server refused to ${what}: HTTP ${code}: ${statusMessage(error)}`;
  return code === 403
    ? new ForbiddenError(
        message,
        "the installer's ServiceAccount lacks this permission; check the chart's ClusterRole",
      )
    : new PreconditionError(message);
}

function statusMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && 'message' in body)
    return String((body as { message: unknown }).message);
  return (error as Error).message?.split('\n')[0] ?? String(error);
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string } })?.cause?.code;
  const code = (error as { code?: string })?.code;
  return String(cause ?? code ?? (error as Error)?.message ?? error);
}

/** The real Kube, on @kubernetes/client-node: in-cluster credentials, else KUBECONFIG, else ~/.kube/config. */
export async function clientNodeKube(kubeconfig?: string, retry: RetryOptions = defaultRetry): Promise<Kube> {
  const k8s = await import('@kubernetes/client-node');
  const config: KubeConfig = new k8s.KubeConfig();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromDefault();
  const server = config.getCurrentCluster()?.server ?? 'unknown';
  const core = config.makeApiClient(k8s.CoreV1Api);
  const apps = config.makeApiClient(k8s.AppsV1Api);
  const admission = config.makeApiClient(k8s.AdmissionregistrationV1Api);
  const coordination = config.makeApiClient(k8s.CoordinationV1Api);
  const extensions = config.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = config.makeApiClient(k8s.CustomObjectsApi);
  const objects = k8s.KubernetesObjectApi.makeApiClient(config);
  const call = <T>(what: string, fn: () => Promise<T>) => withRetry(what, server, fn, retry);
  const ignore404 = async (promise: Promise<unknown>): Promise<void> => {
    await undefinedOn404(promise);
  };

  return {
    server,
    listDeployments: (namespace, labelSelector) =>
      call('list Deployments', async () =>
        namespace
          ? (await apps.listNamespacedDeployment({ namespace, labelSelector })).items
          : (await apps.listDeploymentForAllNamespaces({ labelSelector })).items,
      ),
    listDaemonSets: (labelSelector) =>
      call(
        'list DaemonSets',
        async () => (await apps.listDaemonSetForAllNamespaces({ labelSelector })).items,
      ),
    scaleDeployment: (namespace, name, replicas) =>
      call('scale Deployment', async () => {
        // client-node sends a PATCH body as a JSON patch by default.
        await apps.patchNamespacedDeployment({
          namespace,
          name,
          body: [{ op: 'replace', path: '/spec/replicas', value: replicas }],
        });
      }),
    listServices: (namespace) =>
      call('list Services', async () => (await core.listNamespacedService({ namespace })).items),
    listServiceAccounts: (namespace) =>
      call(
        'list ServiceAccounts',
        async () => (await core.listNamespacedServiceAccount({ namespace })).items,
      ),
    listPods: (labelSelector) =>
      call('list Pods', async () => (await core.listPodForAllNamespaces({ labelSelector })).items),
    podPhase: (namespace, name) =>
      call('list Pods', async () => {
        const pods = await core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${name}` });
        return pods.items[0]?.status?.phase;
      }),
    listNamespaces: (labelSelector) =>
      call('list Namespaces', async () => (await core.listNamespace({ labelSelector })).items),
    namespaceExists: (name) =>
      call('read Namespace', async () => (await undefinedOn404(core.readNamespace({ name }))) !== undefined),
    createNamespace: (name) =>
      call('create Namespace', async () => {
        await falseOn409(core.createNamespace({ body: { metadata: { name } } }));
      }),
    listMutatingWebhooks: () =>
      call(
        'list MutatingWebhookConfigurations',
        async () => (await admission.listMutatingWebhookConfiguration()).items,
      ),
    listValidatingWebhooks: () =>
      call(
        'list ValidatingWebhookConfigurations',
        async () => (await admission.listValidatingWebhookConfiguration()).items,
      ),
    deleteMutatingWebhook: (name) =>
      call('delete MutatingWebhookConfiguration', () =>
        ignore404(admission.deleteMutatingWebhookConfiguration({ name })),
      ),
    deleteValidatingWebhook: (name) =>
      call('delete ValidatingWebhookConfiguration', () =>
        ignore404(admission.deleteValidatingWebhookConfiguration({ name })),
      ),
    getConfigMap: (namespace, name) =>
      call('read ConfigMap', () => undefinedOn404(core.readNamespacedConfigMap({ namespace, name }))),
    applyConfigMap: (configMap) =>
      call('write ConfigMap', async () => {
        const namespace = configMap.metadata?.namespace ?? '';
        const name = configMap.metadata?.name ?? '';
        const existing = await undefinedOn404(core.readNamespacedConfigMap({ namespace, name }));
        if (!existing) return core.createNamespacedConfigMap({ namespace, body: configMap });
        return core.replaceNamespacedConfigMap({
          namespace,
          name,
          body: {
            ...configMap,
            metadata: { ...configMap.metadata, resourceVersion: existing.metadata?.resourceVersion },
          },
        });
      }),
    listEvents: (namespace, fieldSelector) =>
      call('list Events', async () => (await core.listNamespacedEvent({ namespace, fieldSelector })).items),
    createEvent: (namespace, event) =>
      call('create Event', async () => {
        await core.createNamespacedEvent({ namespace, body: event });
      }),
    getLease: (namespace, name) =>
      call('read Lease', () => undefinedOn404(coordination.readNamespacedLease({ namespace, name }))),
    createLease: (namespace, lease) =>
      call('create Lease', () => falseOn409(coordination.createNamespacedLease({ namespace, body: lease }))),
    replaceLease: (namespace, lease) =>
      call('replace Lease', () =>
        falseOn409(
          coordination.replaceNamespacedLease({ namespace, name: lease.metadata?.name ?? '', body: lease }),
        ),
      ),
    deleteLease: (namespace, name) =>
      call('delete Lease', () => ignore404(coordination.deleteNamespacedLease({ namespace, name }))),
    listCustomResourceDefinitions: () =>
      call(
        'list CustomResourceDefinitions',
        async () => (await extensions.listCustomResourceDefinition()).items,
      ),
    countCustomObjects: (group, version, plural) =>
      call(`list ${plural}.${group}`, async () => {
        const list = (await custom.listClusterCustomObject({ group, version, plural })) as {
          items?: unknown[];
        };
        return list.items?.length ?? 0;
      }),
    listCustomObjects: (group, version, plural) =>
      call(`list ${plural}.${group}`, async () => {
        const list = (await undefinedOn404(custom.listClusterCustomObject({ group, version, plural }))) as
          { items?: CustomObject[] } | undefined;
        return list?.items ?? [];
      }),
    listObjects: (ref, namespace, labelSelector) =>
      call(`list ${ref.plural}`, async () => {
        const list = await undefinedOn404(
          objects.list(
            ref.apiVersion,
            ref.kind,
            namespace,
            undefined,
            undefined,
            undefined,
            undefined,
            labelSelector,
          ),
        );
        return (list?.items ?? []) as AnyObject[];
      }),
    deleteObject: (ref, namespace, name) =>
      call(`delete ${ref.kind}`, () =>
        ignore404(
          objects.delete(
            { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name, namespace } },
            undefined,
            undefined,
            undefined,
            undefined,
            'Background',
          ),
        ),
      ),
    mergePatchObject: (ref, namespace, name, patch) =>
      call(`patch ${ref.kind}`, async () => {
        await objects.patch(
          { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name, namespace }, ...patch },
          undefined,
          undefined,
          undefined,
          undefined,
          k8s.PatchStrategy.MergePatch,
        );
      }),
  };
}
