// What the installer knows about a cluster: control planes, tags, gateways, webhooks and its own record. Data only.
import type { IstioVersion } from './istio-version.js';
import type { InstallRecord } from './record.js';

/** A Deployment or DaemonSet of Istio's, with what health needs to know about it. */
export interface Workload {
  kind: 'Deployment' | 'DaemonSet';
  name: string;
  namespace: string;
  /** The `istio.io/rev` label; `default` when unset. */
  revision: string;
  version: IstioVersion | undefined;
  image: string;
  ready: boolean;
  /** Desired replicas (for a DaemonSet: the nodes it should run on). */
  replicas: number;
  readyReplicas: number;
  /** Pods at the current template (a DaemonSet's updatedNumberScheduled, a Deployment's updatedReplicas). */
  updatedReplicas: number;
  /** Its pods' `matchLabels`, as a label selector: to find the nodes where a node agent's pods are not ready. */
  selector: string;
  /** The ServiceAccount its pods run as, if it names one. */
  serviceAccount: string | undefined;
  /** The version of the istioctl that last applied it (its `operator.istio.io/version` label), if any. */
  appliedBy?: string;
}

/** One istiod Deployment. `revision` is `default` for the unrevisioned `istiod`. */
export interface ControlPlane extends Workload {
  deployment: string;
}

export type Gateway = Workload;

/** A sidecar-injector or validation webhook configuration that Istio made. */
export interface IstioWebhook {
  kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';
  name: string;
  /** The `istio.io/rev` label: the revision it serves. */
  revision: string | undefined;
  /** The `istio.io/tag` label, for revision tags. */
  tag: string | undefined;
  /** The Services its webhooks call, as `namespace/name`. */
  services: string[];
}

export interface ClusterState {
  namespace: string;
  controlPlanes: ControlPlane[];
  gateways: Gateway[];
  /** Node agents: the CNI and ztunnel DaemonSets. */
  agents: Workload[];
  webhooks: IstioWebhook[];
  /** Revision tags: tag name -> revision. */
  tags: Record<string, string>;
  /** Services that exist in the Istio namespace, to tell live webhooks from stale ones. */
  services: string[];
  /** ServiceAccounts (`namespace/name`) in the namespaces where Istio's workloads run. */
  serviceAccounts: string[];
  /** The installer's lock as last written, if one is there. */
  lock: LockState | undefined;
  /** An Istio 1.5-or-older `istio-pilot` Deployment was found. */
  legacyPilot: boolean;
  record: InstallRecord | undefined;
}

export interface LockState {
  holder: string;
  /** When it stops counting unless renewed. */
  expires: Date | undefined;
}

/** Every Istio workload found: control planes, gateways and node agents. */
export function workloads(state: ClusterState): Workload[] {
  return [...state.controlPlanes, ...state.gateways, ...state.agents];
}

/** The control plane an in-place change applies to: the one of the requested revision. */
export function controlPlaneOf(state: ClusterState, revision: string): ControlPlane | undefined {
  return state.controlPlanes.find((plane) => plane.revision === (revision || 'default'));
}

/** The revision the `default` tag (or, without tags, the unrevisioned istiod) points at. */
export function defaultRevision(state: ClusterState): string | undefined {
  if (state.tags.default) return state.tags.default;
  if (state.controlPlanes.some((plane) => plane.revision === 'default')) return 'default';
  return state.controlPlanes[0]?.revision;
}
