// A lean Kube on node:https for the common credentials (in-cluster token, kubeconfig certificates or tokens).
// @kubernetes/client-node takes ~0.3 s just to load, which is most of a no-op run; it remains the fallback for
// credentials this path does not handle (exec plugins, auth providers, proxies).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import type { V1Pod } from '@kubernetes/client-node';
import type { CustomObject, Kube } from './kube.js';
import {
  defaultRetry,
  falseOn409,
  resourcePath,
  undefinedOn404,
  withRetry,
  type AnyObject,
  type RetryOptions,
} from './kube.js';

export interface RestCredentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  insecure?: boolean;
}

/** An answer of the API server with an error status; `code` is what isTransient and statusOf read. */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

/**
 * Credentials in client-node's order: the given kubeconfig, $KUBECONFIG, ~/.kube/config, then the pod's
 * ServiceAccount. Undefined when the credentials need what only client-node does (exec, auth-provider, proxy-url).
 */
export function loadRestCredentials(
  kubeconfig: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  read = (file: string) => readFileSync(file),
): RestCredentials | undefined {
  const candidates = kubeconfig
    ? [kubeconfig]
    : [
        ...(env.KUBECONFIG ? env.KUBECONFIG.split(path.delimiter).filter(Boolean).slice(0, 1) : []),
        path.join(env.HOME || homedir(), '.kube', 'config'),
      ];
  for (const file of candidates) {
    let text: string;
    try {
      text = read(file).toString('utf8');
    } catch {
      if (kubeconfig || file !== candidates.at(-1)) return undefined;
      continue;
    }
    return fromKubeconfig(load(text) as KubeconfigFile, path.dirname(file), read);
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  try {
    return {
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      ca: read(path.join(SERVICE_ACCOUNT_DIR, 'ca.crt')),
      token: read(path.join(SERVICE_ACCOUNT_DIR, 'token')).toString('utf8').trim(),
    };
  } catch {
    return undefined;
  }
}

function fromKubeconfig(
  config: KubeconfigFile,
  base: string,
  read: (file: string) => Buffer,
): RestCredentials | undefined {
  const contextName = config['current-context'];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === context?.user)?.user ?? {};
  if (!cluster || typeof cluster.server !== 'string') return undefined;
  if ('exec' in user || 'auth-provider' in user || 'username' in user || 'proxy-url' in cluster)
    return undefined;
  const bytes = (data: unknown, file: unknown): Buffer | undefined => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    if (typeof file === 'string') return read(path.resolve(base, file));
    return undefined;
  };
  const tokenFile =
    typeof user.tokenFile === 'string'
      ? read(path.resolve(base, user.tokenFile)).toString('utf8').trim()
      : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ca: bytes(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: bytes(user['client-certificate-data'], user['client-certificate']),
    key: bytes(user['client-key-data'], user['client-key']),
    token: typeof user.token === 'string' ? user.token : tokenFile,
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
}

/** The Kube interface as plain REST calls on one keep-alive connection pool. */
export function restKube(
  credentials: RestCredentials,
  retry: RetryOptions = defaultRetry,
): Kube & { close(): void } {
  const agent = new https.Agent({
    keepAlive: true,
    ca: credentials.ca,
    cert: credentials.cert,
    key: credentials.key,
    rejectUnauthorized: !credentials.insecure,
  });
  const server = credentials.server;

  const request = <T>(
    method: string,
    apiPath: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        `${server}${apiPath}`,
        {
          method,
          agent,
          timeout: 30_000,
          headers: {
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}),
            ...(credentials.token ? { Authorization: `Bearer ${credentials.token}` } : {}),
            'User-Agent': 'istio-installer',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 400) reject(new ApiStatusError(res.statusCode ?? 0, text));
            else resolve((text ? JSON.parse(text) : undefined) as T);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end(payload);
    });

  const call = <T>(what: string, fn: () => Promise<T>) => withRetry(what, server, fn, retry);
  const q = (params: Record<string, string | undefined>) => {
    const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
    return entries.length ? `?${new URLSearchParams(entries).toString()}` : '';
  };
  const items = async <T>(apiPath: string): Promise<T[]> =>
    (await request<{ items: T[] }>('GET', apiPath)).items ?? [];
  const ns = (namespace: string) => encodeURIComponent(namespace);
  const name = (value: string) => encodeURIComponent(value);

  return {
    server,
    close: () => agent.destroy(),
    listDeployments: (namespace, labelSelector) =>
      call('list Deployments', () =>
        items(
          `/apis/apps/v1${namespace ? `/namespaces/${ns(namespace)}` : ''}/deployments${q({ labelSelector })}`,
        ),
      ),
    listDaemonSets: (labelSelector) =>
      call('list DaemonSets', () => items(`/apis/apps/v1/daemonsets${q({ labelSelector })}`)),
    scaleDeployment: (namespace, deployment, replicas) =>
      call('scale Deployment', async () => {
        await request(
          'PATCH',
          `/apis/apps/v1/namespaces/${ns(namespace)}/deployments/${name(deployment)}`,
          [{ op: 'replace', path: '/spec/replicas', value: replicas }],
          'application/json-patch+json',
        );
      }),
    listServices: (namespace) =>
      call('list Services', () => items(`/api/v1/namespaces/${ns(namespace)}/services`)),
    listServiceAccounts: (namespace) =>
      call('list ServiceAccounts', () => items(`/api/v1/namespaces/${ns(namespace)}/serviceaccounts`)),
    listPods: (labelSelector) => call('list Pods', () => items(`/api/v1/pods${q({ labelSelector })}`)),
    podPhase: (namespace, pod) =>
      call('list Pods', async () => {
        const pods = await items<V1Pod>(
          `/api/v1/namespaces/${ns(namespace)}/pods${q({ fieldSelector: `metadata.name=${pod}` })}`,
        );
        return pods[0]?.status?.phase;
      }),
    listNamespaces: (labelSelector) =>
      call('list Namespaces', () => items(`/api/v1/namespaces${q({ labelSelector })}`)),
    namespaceExists: (namespace) =>
      call(
        'read Namespace',
        async () =>
          (await undefinedOn404(request('GET', `/api/v1/namespaces/${ns(namespace)}`))) !== undefined,
      ),
    createNamespace: (namespace) =>
      call('create Namespace', async () => {
        await falseOn409(
          request('POST', '/api/v1/namespaces', {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: namespace },
          }),
        );
      }),
    listMutatingWebhooks: () =>
      call('list MutatingWebhookConfigurations', () =>
        items('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations'),
      ),
    listValidatingWebhooks: () =>
      call('list ValidatingWebhookConfigurations', () =>
        items('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations'),
      ),
    deleteMutatingWebhook: (webhook) =>
      call('delete MutatingWebhookConfiguration', async () => {
        await undefinedOn404(
          request(
            'DELETE',
            `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name(webhook)}`,
          ),
        );
      }),
    deleteValidatingWebhook: (webhook) =>
      call('delete ValidatingWebhookConfiguration', async () => {
        await undefinedOn404(
          request(
            'DELETE',
            `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${name(webhook)}`,
          ),
        );
      }),
    getConfigMap: (namespace, configMap) =>
      call('read ConfigMap', () =>
        undefinedOn404(request('GET', `/api/v1/namespaces/${ns(namespace)}/configmaps/${name(configMap)}`)),
      ),
    applyConfigMap: (configMap) =>
      call('write ConfigMap', async () => {
        const namespace = configMap.metadata?.namespace ?? '';
        const configMapName = configMap.metadata?.name ?? '';
        const body = { apiVersion: 'v1', kind: 'ConfigMap', ...configMap };
        const existing = await undefinedOn404(
          request<{ metadata?: { resourceVersion?: string } }>(
            'GET',
            `/api/v1/namespaces/${ns(namespace)}/configmaps/${name(configMapName)}`,
          ),
        );
        if (!existing) return request('POST', `/api/v1/namespaces/${ns(namespace)}/configmaps`, body);
        return request('PUT', `/api/v1/namespaces/${ns(namespace)}/configmaps/${name(configMapName)}`, {
          ...body,
          metadata: { ...configMap.metadata, resourceVersion: existing.metadata?.resourceVersion },
        });
      }),
    listEvents: (namespace, fieldSelector) =>
      call('list Events', () => items(`/api/v1/namespaces/${ns(namespace)}/events${q({ fieldSelector })}`)),
    createEvent: (namespace, event) =>
      call('create Event', async () => {
        await request('POST', `/api/v1/namespaces/${ns(namespace)}/events`, {
          apiVersion: 'v1',
          kind: 'Event',
          ...event,
        });
      }),
    getLease: (namespace, lease) =>
      call('read Lease', () =>
        undefinedOn404(
          request('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns(namespace)}/leases/${name(lease)}`),
        ),
      ),
    createLease: (namespace, lease) =>
      call('create Lease', () =>
        falseOn409(request('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns(namespace)}/leases`, lease)),
      ),
    replaceLease: (namespace, lease) =>
      call('replace Lease', () =>
        falseOn409(
          request(
            'PUT',
            `/apis/coordination.k8s.io/v1/namespaces/${ns(namespace)}/leases/${name(lease.metadata?.name ?? '')}`,
            lease,
          ),
        ),
      ),
    deleteLease: (namespace, lease) =>
      call('delete Lease', async () => {
        await undefinedOn404(
          request('DELETE', `/apis/coordination.k8s.io/v1/namespaces/${ns(namespace)}/leases/${name(lease)}`),
        );
      }),
    listCustomResourceDefinitions: () =>
      call('list CustomResourceDefinitions', () =>
        items('/apis/apiextensions.k8s.io/v1/customresourcedefinitions'),
      ),
    countCustomObjects: (group, version, plural) =>
      call(
        `list ${plural}.${group}`,
        async () => (await items(`/apis/${group}/${version}/${plural}`)).length,
      ),
    listCustomObjects: (group, version, plural) =>
      call(
        `list ${plural}.${group}`,
        async () => (await undefinedOn404(items<CustomObject>(`/apis/${group}/${version}/${plural}`))) ?? [],
      ),
    listObjects: (ref, namespace, labelSelector) =>
      call(
        `list ${ref.plural}`,
        async () =>
          (await undefinedOn404(
            items<AnyObject>(`${resourcePath(ref, namespace)}${q({ labelSelector })}`),
          )) ?? [],
      ),
    deleteObject: (ref, namespace, objectName) =>
      call(`delete ${ref.kind}`, async () => {
        await undefinedOn404(
          request('DELETE', resourcePath(ref, namespace, objectName), {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            propagationPolicy: 'Background',
          }),
        );
      }),
    mergePatchObject: (ref, namespace, objectName, patch) =>
      call(`patch ${ref.kind}`, async () => {
        await request(
          'PATCH',
          resourcePath(ref, namespace, objectName),
          patch,
          'application/merge-patch+json',
        );
      }),
  };
}
