// The Kube interface on @kubernetes/client-node, for the credentials the lean REST client does not handle (exec
// plugins, auth providers, proxies): in-cluster credentials, else KUBECONFIG, else ~/.kube/config.
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { InputError } from '../../errors.js';
import type { AnyObject } from '../model/objects.js';
import type { AnyKindCalls, Kube, RecordCalls, WebhookCalls, WorkloadCalls } from './kube.js';
import {
  admissionAnswer,
  defaultRetry,
  falseOn409,
  undefinedOn404,
  withRetry,
  type RetryOptions,
} from './retry.js';

type ClientNode = typeof import('@kubernetes/client-node');
type Call = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

const ignore404 = async (promise: Promise<unknown>): Promise<void> => {
  await undefinedOn404(promise);
};

/** The real Kube, on @kubernetes/client-node: in-cluster credentials, else KUBECONFIG, else ~/.kube/config. */
export async function clientNodeKube(
  kubeconfig?: string,
  retry: RetryOptions = defaultRetry,
  /** A context to use instead of the current-context (`status --context`). */
  context?: string,
): Promise<Kube> {
  const k8s = await import('@kubernetes/client-node');
  const config: KubeConfig = new k8s.KubeConfig();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromDefault();
  if (context) {
    // client-node would take an unknown name and fail later without saying why: a typo is the user's input.
    if (!config.getContextObject(context))
      throw new InputError([
        { path: '--context', message: `no context named "${context}" in the kubeconfig` },
      ]);
    config.setCurrentContext(context);
  }
  const server = config.getCurrentCluster()?.server ?? 'unknown';
  const call: Call = (what, fn) => withRetry(what, server, fn, retry);
  return {
    server,
    ...workloadCalls(k8s, config, call),
    ...webhookCalls(k8s, config, call),
    ...recordCalls(k8s, config, call),
    ...anyKindCalls(k8s, config, call),
  };
}

/** Deployments, DaemonSets, Services, ServiceAccounts, Pods, Namespaces. */
function workloadCalls(k8s: ClientNode, config: KubeConfig, call: Call): WorkloadCalls {
  const apps = config.makeApiClient(k8s.AppsV1Api);
  const core = config.makeApiClient(k8s.CoreV1Api);
  return {
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
    dryRunPod: (namespace, pod) =>
      call('create Pod (dry run)', () =>
        admissionAnswer(
          'create Pod (dry run)',
          core.createNamespacedPod({ namespace, body: pod as V1Pod, dryRun: 'All' }),
        ),
      ),
  };
}

/** Istio's webhook configurations. */
function webhookCalls(k8s: ClientNode, config: KubeConfig, call: Call): WebhookCalls {
  const admission = config.makeApiClient(k8s.AdmissionregistrationV1Api);
  return {
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
  };
}

/** The record (ConfigMap, Events) and the lock (Lease). */
function recordCalls(k8s: ClientNode, config: KubeConfig, call: Call): RecordCalls {
  const core = config.makeApiClient(k8s.CoreV1Api);
  const coordination = config.makeApiClient(k8s.CoordinationV1Api);
  return {
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
  };
}

/** CRDs and objects of any kind. */
function anyKindCalls(k8s: ClientNode, config: KubeConfig, call: Call): AnyKindCalls {
  const extensions = config.makeApiClient(k8s.ApiextensionsV1Api);
  const objects = k8s.KubernetesObjectApi.makeApiClient(config);
  const version = config.makeApiClient(k8s.VersionApi);
  return {
    serverVersion: () => call('read the server version', async () => (await version.getCode()).gitVersion),
    listCustomResourceDefinitions: () =>
      call(
        'list CustomResourceDefinitions',
        async () => (await extensions.listCustomResourceDefinition()).items,
      ),
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
