// A lean Kube on node:https for the common credentials (in-cluster token, kubeconfig certificates or tokens).
// @kubernetes/client-node takes ~0.3 s just to load, which is most of a no-op run; it remains the fallback for
// credentials this path does not handle (exec plugins, auth providers, proxies).
import type http from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import type { V1Pod } from '@kubernetes/client-node';
import type { RestCredentials } from './kubeconfig.js';
import { resourcePath, type AnyObject } from '../model/objects.js';
import type { AnyKindCalls, Kube, RecordCalls, WebhookCalls, WorkloadCalls } from './kube.js';
import {
  admissionAnswer,
  defaultRetry,
  falseOn409,
  undefinedOn404,
  withRetry,
  type RetryOptions,
} from './retry.js';

/** An answer of the API server with an error status; `code` is what isTransient and statusOf read. */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

type Request = <T>(method: string, apiPath: string, body?: unknown, contentType?: string) => Promise<T>;
type Call = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** The helpers every group of calls shares: one request, retried; list items; a query string; path segments. */
interface Rest {
  request: Request;
  call: Call;
  items: <T>(apiPath: string) => Promise<T[]>;
  q: (params: Record<string, string | undefined>) => string;
  ns: (namespace: string) => string;
  name: (value: string) => string;
}

/** The Kube interface as plain REST calls on one keep-alive connection pool. */
export function restKube(
  credentials: RestCredentials,
  retry: RetryOptions = defaultRetry,
): Kube & { close(): void } {
  const agent = new https.Agent({
    keepAlive: true,
    // A plan reads some 18 things at once; each further connection is a TLS handshake on both ends. Six (a browser's
    // number per host) made the no-op run 30-50 ms faster against the rig; a distant API server pays two round trips.
    maxSockets: 6,
    // One TLS context for every connection: given the PEMs instead, each of a plan's parallel reads parsed them anew.
    secureContext: createSecureContext({ ca: credentials.ca, cert: credentials.cert, key: credentials.key }),
    rejectUnauthorized: !credentials.insecure,
  });
  const server = credentials.server;
  const open = { closed: false, requests: new Set<http.ClientRequest>() };
  const request = restRequest(credentials, agent, open);
  const call: Call = (what, fn) => withRetry(what, server, fn, retry);
  const q = (params: Record<string, string | undefined>) => {
    const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
    return entries.length ? `?${new URLSearchParams(entries).toString()}` : '';
  };
  const items = async <T>(apiPath: string): Promise<T[]> =>
    (await request<{ items: T[] }>('GET', apiPath)).items ?? [];
  const ns = (namespace: string) => encodeURIComponent(namespace);
  const name = (value: string) => encodeURIComponent(value);

  const rest: Rest = { request, call, items, q, ns, name };
  return {
    server,
    // Also cuts requests still waiting on a server that does not answer (`status` over many clusters gives up on
    // one after its timeout), so that nothing keeps the process alive after the command is done.
    close: () => {
      open.closed = true;
      for (const req of open.requests) req.destroy();
      agent.destroy();
    },
    ...workloadCalls(rest),
    ...webhookCalls(rest),
    ...recordCalls(rest),
    ...anyKindCalls(rest),
  };
}

/** One HTTPS request to the API server: JSON in and out, the bearer token if any; an error status rejects with ApiStatusError. */
function restRequest(
  credentials: RestCredentials,
  agent: https.Agent,
  open: { closed: boolean; requests: Set<http.ClientRequest> },
): Request {
  const server = credentials.server;
  return <T>(method: string, apiPath: string, body?: unknown, contentType = 'application/json'): Promise<T> =>
    new Promise((resolve, reject) => {
      // Not a socket error: a closed client is not retried.
      if (open.closed) return reject(new Error(`the client of ${server} is closed`));
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
      open.requests.add(req);
      req.on('close', () => open.requests.delete(req));
      req.end(payload);
    });
}

/** Deployments, DaemonSets, Services, ServiceAccounts, Pods, Namespaces. */
function workloadCalls({ request, call, items, q, ns, name }: Rest): WorkloadCalls {
  return {
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
    dryRunPod: (namespace, pod) =>
      call('create Pod (dry run)', () =>
        admissionAnswer(
          'create Pod (dry run)',
          request('POST', `/api/v1/namespaces/${ns(namespace)}/pods?dryRun=All`, {
            apiVersion: 'v1',
            kind: 'Pod',
            ...pod,
          }),
        ),
      ),
  };
}

/** Istio's webhook configurations: listed, and deleted by name (one already gone is not an error). */
function webhookCalls({ request, call, items, name }: Rest): WebhookCalls {
  const path = (kind: 'Mutating' | 'Validating') =>
    `/apis/admissionregistration.k8s.io/v1/${kind.toLowerCase()}webhookconfigurations`;
  const remove = (kind: 'Mutating' | 'Validating') => (webhook: string) =>
    call(`delete ${kind}WebhookConfiguration`, async () => {
      await undefinedOn404(request('DELETE', `${path(kind)}/${name(webhook)}`));
    });
  return {
    listMutatingWebhooks: () => call('list MutatingWebhookConfigurations', () => items(path('Mutating'))),
    listValidatingWebhooks: () =>
      call('list ValidatingWebhookConfigurations', () => items(path('Validating'))),
    deleteMutatingWebhook: remove('Mutating'),
    deleteValidatingWebhook: remove('Validating'),
  };
}

/** The record (ConfigMap, Events) and the lock (Lease). */
function recordCalls({ request, call, items, q, ns, name }: Rest): RecordCalls {
  return {
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
  };
}

/** CRDs and objects of any kind. */
function anyKindCalls({ request, call, items, q }: Rest): AnyKindCalls {
  return {
    listCustomResourceDefinitions: () =>
      call('list CustomResourceDefinitions', () =>
        items('/apis/apiextensions.k8s.io/v1/customresourcedefinitions'),
      ),
    serverVersion: () =>
      call(
        'read the server version',
        async () => (await request<{ gitVersion?: string }>('GET', '/version')).gitVersion ?? '',
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
