// The Kubernetes operations the installer uses, as one narrow interface (client-node-kube.ts and rest-kube.ts implement it).
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
import type { AnyObject, ResourceRef } from '../model/objects.js';

/** What a dry-run create answered: admitted, or refused by an admission with its message. */
export type DryRunAnswer = { admitted: true } | { admitted: false; status: number; message: string };

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
  /**
   * Creates the pod with `dryRun=All`: every admission (PodSecurity, quotas, webhooks) judges it and nothing is
   * stored. Resolves with the API server's refusal (a 4xx other than this client lacking the permission), if any.
   */
  dryRunPod(namespace: string, pod: AnyObject): Promise<DryRunAnswer>;
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
  /** The API server's Kubernetes version as `/version` reports it (`v1.32.3+rke2r1`): which Istio it supports. */
  serverVersion(): Promise<string>;
  /**
   * Objects of any kind (custom resources too), in one namespace or all; [] when the kind is not served (its CRD is
   * absent). The one way the installer lists what has no method of its own.
   */
  listObjects(ref: ResourceRef, namespace: string | undefined, labelSelector?: string): Promise<AnyObject[]>;
  /** Deletes an object and, in the background, what it owns (a Job's pods); a missing one is not an error. */
  deleteObject(ref: ResourceRef, namespace: string | undefined, name: string): Promise<void>;
  /** A JSON merge patch of one object (a restart annotation on a workload's pod template). */
  mergePatchObject(ref: ResourceRef, namespace: string, name: string, patch: object): Promise<void>;
}

/** The calls on workloads, Services, ServiceAccounts, Pods and Namespaces: one group of each client. */
export type WorkloadCalls = Pick<
  Kube,
  | 'listDeployments'
  | 'listDaemonSets'
  | 'scaleDeployment'
  | 'listServices'
  | 'listServiceAccounts'
  | 'listPods'
  | 'podPhase'
  | 'listNamespaces'
  | 'namespaceExists'
  | 'createNamespace'
  | 'dryRunPod'
>;

/** The calls on Istio's webhook configurations. */
export type WebhookCalls = Pick<
  Kube,
  'listMutatingWebhooks' | 'listValidatingWebhooks' | 'deleteMutatingWebhook' | 'deleteValidatingWebhook'
>;

/** The calls on the record (its ConfigMap and Events) and the lock (its Lease). */
export type RecordCalls = Pick<
  Kube,
  | 'getConfigMap'
  | 'applyConfigMap'
  | 'listEvents'
  | 'createEvent'
  | 'getLease'
  | 'createLease'
  | 'replaceLease'
  | 'deleteLease'
>;

/** The calls on CRDs and on objects of any kind, and the server's version. */
export type AnyKindCalls = Pick<
  Kube,
  'listCustomResourceDefinitions' | 'serverVersion' | 'listObjects' | 'deleteObject' | 'mergePatchObject'
>;
