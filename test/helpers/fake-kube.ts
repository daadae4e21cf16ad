// An in-memory fake of the installer's Kube interface, for unit tests of our own logic (the rig tests use a real API server).
import type {
  CoreV1Event,
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
import type { DryRunAnswer, Kube } from '../../src/installer/cluster/kube.js';
import type { AnyObject, ResourceRef } from '../../src/installer/model/objects.js';

/** Matches the simple `key=value` and `key in (a,b)` selectors the installer uses. */
function matches(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(/,(?![^(]*\))/).every((term) => {
    const inMatch = /^\s*([\w./-]+)\s+in\s+\(([^)]*)\)\s*$/.exec(term);
    if (inMatch)
      return (inMatch[2] ?? '')
        .split(',')
        .map((s) => s.trim())
        .includes(labels?.[inMatch[1] ?? ''] ?? '\u0000');
    if (!term.includes('=')) return term.trim() in (labels ?? {});
    const [key, value] = term.split('=');
    return labels?.[(key ?? '').trim()] === (value ?? '').trim();
  });
}

export class FakeKube implements Kube {
  server = 'https://fake-kube.invalid';
  deployments: V1Deployment[] = [];
  daemonSets: V1DaemonSet[] = [];
  services: V1Service[] = [];
  serviceAccounts: V1ServiceAccount[] = [];
  pods: V1Pod[] = [];
  namespaces: V1Namespace[] = [];
  mutating: V1MutatingWebhookConfiguration[] = [];
  validating: V1ValidatingWebhookConfiguration[] = [];
  configMaps = new Map<string, V1ConfigMap>();
  leases = new Map<string, V1Lease>();
  events: CoreV1Event[] = [];
  crds: V1CustomResourceDefinition[] = [];
  /** Objects of other kinds, by `plural`; a plural absent from the map is a kind the server does not serve. */
  objects = new Map<string, AnyObject[]>();
  /** Every mutating call, in order, so tests can assert that nothing was written. */
  writes: string[] = [];
  /** What a dry-run pod in a namespace is refused with (PodSecurity's message, say); admitted where none is set. */
  admissionRefusals = new Map<string, string>();
  /** Every pod dry-run, as `namespace/name`. */
  dryRuns: string[] = [];
  private version = 1;

  async listDeployments(namespace: string | undefined, labelSelector?: string) {
    return this.deployments.filter(
      (d) =>
        (!namespace || d.metadata?.namespace === namespace) && matches(d.metadata?.labels, labelSelector),
    );
  }
  async scaleDeployment(namespace: string, name: string, replicas: number) {
    this.writes.push(`scale Deployment ${namespace}/${name} to ${replicas}`);
    const deployment = this.deployments.find(
      (d) => d.metadata?.namespace === namespace && d.metadata?.name === name,
    );
    if (deployment?.spec) deployment.spec.replicas = replicas;
  }
  async listDaemonSets(labelSelector: string) {
    return this.daemonSets.filter((d) => matches(d.metadata?.labels, labelSelector));
  }
  async listServices(namespace: string) {
    return this.services.filter((s) => s.metadata?.namespace === namespace);
  }
  async listServiceAccounts(namespace: string) {
    return this.serviceAccounts.filter((s) => s.metadata?.namespace === namespace);
  }
  async listPods(labelSelector: string) {
    return this.pods.filter((p) => matches(p.metadata?.labels, labelSelector));
  }
  async podPhase(namespace: string, name: string) {
    return this.pods.find((p) => p.metadata?.namespace === namespace && p.metadata?.name === name)?.status
      ?.phase;
  }
  async listNamespaces(labelSelector?: string) {
    return this.namespaces.filter((n) => matches(n.metadata?.labels, labelSelector));
  }
  async namespaceExists(name: string) {
    return this.namespaces.some((n) => n.metadata?.name === name);
  }
  async createNamespace(name: string) {
    this.writes.push(`create Namespace ${name}`);
    this.namespaces.push({ metadata: { name } });
  }
  async dryRunPod(namespace: string, pod: AnyObject): Promise<DryRunAnswer> {
    this.dryRuns.push(`${namespace}/${pod.metadata?.name ?? ''}`);
    const message = this.admissionRefusals.get(namespace);
    return message === undefined ? { admitted: true } : { admitted: false, status: 403, message };
  }
  async listMutatingWebhooks() {
    return this.mutating;
  }
  async listValidatingWebhooks() {
    return this.validating;
  }
  async deleteMutatingWebhook(name: string) {
    this.writes.push(`delete MutatingWebhookConfiguration ${name}`);
    this.mutating = this.mutating.filter((w) => w.metadata?.name !== name);
  }
  async deleteValidatingWebhook(name: string) {
    this.writes.push(`delete ValidatingWebhookConfiguration ${name}`);
    this.validating = this.validating.filter((w) => w.metadata?.name !== name);
  }
  async getConfigMap(namespace: string, name: string) {
    return this.configMaps.get(`${namespace}/${name}`);
  }
  async applyConfigMap(configMap: V1ConfigMap) {
    this.writes.push(`apply ConfigMap ${configMap.metadata?.namespace}/${configMap.metadata?.name}`);
    const stored = {
      ...configMap,
      metadata: { ...configMap.metadata, uid: 'uid-1', resourceVersion: String(this.version++) },
    };
    this.configMaps.set(`${configMap.metadata?.namespace}/${configMap.metadata?.name}`, stored);
    return stored;
  }
  async listEvents(namespace: string) {
    return this.events.filter((e) => e.metadata?.namespace === namespace);
  }
  async createEvent(namespace: string, event: CoreV1Event) {
    this.writes.push(`create Event ${event.reason}`);
    this.events.push({ ...event, metadata: { ...event.metadata, namespace } });
  }
  async getLease(namespace: string, name: string) {
    return this.leases.get(`${namespace}/${name}`);
  }
  async createLease(namespace: string, lease: V1Lease) {
    const key = `${namespace}/${lease.metadata?.name}`;
    if (this.leases.has(key)) return false;
    this.writes.push(`create Lease ${key}`);
    this.leases.set(key, {
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: String(this.version++) },
    });
    return true;
  }
  async replaceLease(namespace: string, lease: V1Lease) {
    const key = `${namespace}/${lease.metadata?.name}`;
    const current = this.leases.get(key);
    if (!current || current.metadata?.resourceVersion !== lease.metadata?.resourceVersion) return false;
    this.writes.push(`replace Lease ${key}`);
    this.leases.set(key, {
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: String(this.version++) },
    });
    return true;
  }
  async deleteLease(namespace: string, name: string) {
    this.writes.push(`delete Lease ${namespace}/${name}`);
    this.leases.delete(`${namespace}/${name}`);
  }
  async listCustomResourceDefinitions() {
    return this.crds;
  }
  /** What `/version` reports: Rancher 2.12's Kubernetes, where every Istio from 1.25 to 1.31 is supported. */
  kubeVersion = 'v1.32.5';
  async serverVersion() {
    return this.kubeVersion;
  }
  /** Custom objects by `plural.group`, listed through listObjects like any other kind. */
  customObjects = new Map<string, AnyObject[]>();
  async listObjects(ref: ResourceRef, namespace: string | undefined, labelSelector?: string) {
    // ConfigMaps live in their own map (getConfigMap/applyConfigMap); the generic list sees them too.
    const stored = ref.plural === 'configmaps' ? [...this.configMaps.values()] : [];
    const custom = this.customObjects.get(`${ref.plural}.${ref.apiVersion.split('/')[0]}`) ?? [];
    return [...stored, ...custom, ...(this.objects.get(ref.plural) ?? [])].filter(
      (o) =>
        (!namespace || o.metadata?.namespace === namespace) && matches(o.metadata?.labels, labelSelector),
    );
  }
  async deleteObject(ref: ResourceRef, namespace: string | undefined, name: string) {
    this.writes.push(`delete ${ref.kind} ${namespace ? `${namespace}/` : ''}${name}`);
    const list = this.objects.get(ref.plural);
    if (list)
      this.objects.set(
        ref.plural,
        list.filter((o) => !(o.metadata?.name === name && o.metadata?.namespace === namespace)),
      );
    if (ref.kind === 'ConfigMap') this.configMaps.delete(`${namespace}/${name}`);
  }
  async mergePatchObject(ref: ResourceRef, namespace: string, name: string, patch: object) {
    this.writes.push(`patch ${ref.kind} ${namespace}/${name} ${JSON.stringify(patch)}`);
  }
}

/** An istiod Deployment as istioctl makes it. */
export function istiodDeployment(options: {
  revision?: string;
  version: string;
  ready?: boolean;
  namespace?: string;
}): V1Deployment {
  const revision = options.revision ?? 'default';
  const name = revision === 'default' ? 'istiod' : `istiod-${revision}`;
  const ready = options.ready ?? true;
  return {
    metadata: {
      name,
      namespace: options.namespace ?? 'istio-system',
      generation: 1,
      labels: { app: 'istiod', 'istio.io/rev': revision, 'operator.istio.io/component': 'Pilot' },
    },
    spec: {
      replicas: 1,
      selector: {},
      template: {
        spec: {
          containers: [{ name: 'discovery', image: `registry.istio.io/release/pilot:${options.version}` }],
        },
      },
    },
    status: { observedGeneration: 1, readyReplicas: ready ? 1 : 0, updatedReplicas: 1, replicas: 1 },
  };
}

/** The sidecar-injector webhook of a revision, calling its istiod Service. */
export function injectorWebhook(
  revision = 'default',
  namespace = 'istio-system',
): V1MutatingWebhookConfiguration {
  const suffix = revision === 'default' ? '' : `-${revision}`;
  return {
    metadata: { name: `istio-sidecar-injector${suffix}`, labels: { 'istio.io/rev': revision } },
    webhooks: [
      {
        name: 'sidecar-injector.istio.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        clientConfig: { service: { name: `istiod${suffix}`, namespace } },
      },
    ],
  };
}

/** A gateway Deployment as istioctl makes it, running as its own ServiceAccount. */
export function gatewayDeployment(options: {
  name: string;
  version: string;
  namespace?: string;
  replicas?: number;
  ready?: boolean;
}): V1Deployment {
  const replicas = options.replicas ?? 1;
  const ready = options.ready ?? true;
  return {
    metadata: {
      name: options.name,
      namespace: options.namespace ?? 'istio-system',
      generation: 1,
      labels: { 'operator.istio.io/component': 'IngressGateways', 'istio.io/rev': 'default' },
    },
    spec: {
      replicas,
      selector: {},
      template: {
        spec: {
          serviceAccountName: `${options.name}-service-account`,
          containers: [
            { name: 'istio-proxy', image: `registry.istio.io/release/proxyv2:${options.version}` },
          ],
        },
      },
    },
    status: {
      observedGeneration: 1,
      readyReplicas: ready ? replicas : 0,
      updatedReplicas: replicas,
      replicas,
    },
  };
}
