// What the installer knows about a cluster: control planes, tags, gateways, webhooks and its own record. Data only.
import type { IstioVersion } from './istio-version.js';
import type { InstallRecord } from './record.js';

/** One istiod Deployment. `revision` is `default` for the unrevisioned `istiod`. */
export interface ControlPlane {
  revision: string;
  deployment: string;
  namespace: string;
  version: IstioVersion | undefined;
  image: string;
  ready: boolean;
  replicas: number;
  readyReplicas: number;
}

export interface Gateway {
  name: string;
  namespace: string;
  revision: string;
  version: IstioVersion | undefined;
  ready: boolean;
}

/** A node agent DaemonSet of ambient mode (istio-cni-node, ztunnel). */
export interface NodeAgent {
  name: string;
  namespace: string;
  version: IstioVersion | undefined;
  /** Pods the DaemonSet should run (one per matching node). */
  desired: number;
  readyPods: number;
  updatedPods: number;
  ready: boolean;
  /** Its pods' `matchLabels`, as a label selector, to find the nodes where they are not ready. */
  selector: string;
}

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
  /** istio-cni-node and ztunnel, when installed. */
  nodeAgents: NodeAgent[];
  webhooks: IstioWebhook[];
  /** Revision tags: tag name -> revision. */
  tags: Record<string, string>;
  /** Services that exist in the Istio namespace, to tell live webhooks from stale ones. */
  services: string[];
  /** An Istio 1.5-or-older `istio-pilot` Deployment was found. */
  legacyPilot: boolean;
  record: InstallRecord | undefined;
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

/** Webhooks that call a Service that no longer exists: left behind by a failed or partial install or uninstall. */
export function staleWebhooks(state: ClusterState): IstioWebhook[] {
  // Only Services in the Istio namespace were listed, so only webhooks that call there can be judged.
  const judged = (service: string) => service.startsWith(`${state.namespace}/`);
  return state.webhooks.filter(
    (webhook) =>
      webhook.services.length > 0 &&
      webhook.services.every((service) => judged(service) && !state.services.includes(service)),
  );
}
