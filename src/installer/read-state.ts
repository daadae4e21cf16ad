// Reads the cluster's Istio state through the Kube interface: control planes, gateways, webhooks, tags, our record.
import type {
  V1DaemonSet,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { versionOfImage } from './istio-version.js';
import type { Kube } from './kube.js';
import { decodeRecord, RECORD_CONFIGMAP } from './record.js';
import type { ClusterState, ControlPlane, Gateway, IstioWebhook, NodeAgent } from './state.js';

/** The node agents' DaemonSet names, which istioctl's charts fix. */
export const NODE_AGENTS = ['istio-cni-node', 'ztunnel'] as const;

const REVISION_LABEL = 'istio.io/rev';
const TAG_LABEL = 'istio.io/tag';
const COMPONENT_LABEL = 'operator.istio.io/component';

/** Reads everything a plan needs, in parallel. Changes nothing. */
export async function readClusterState(kube: Kube, namespace: string): Promise<ClusterState> {
  const [pilots, legacy, gateways, mutating, validating, services, recordMap, daemonSets] = await Promise.all(
    [
      kube.listDeployments(namespace, 'app=istiod'),
      kube.listDeployments(namespace, 'istio=pilot'),
      kube.listDeployments(undefined, `${COMPONENT_LABEL} in (IngressGateways,EgressGateways)`),
      kube.listMutatingWebhooks(),
      kube.listValidatingWebhooks(),
      kube.listServices(namespace),
      kube.getConfigMap(namespace, RECORD_CONFIGMAP),
      kube.listDaemonSets(namespace),
    ],
  );
  const webhooks = [
    ...mutating.map((w) => toWebhook('MutatingWebhookConfiguration', w)),
    ...validating.map((w) => toWebhook('ValidatingWebhookConfiguration', w)),
  ].filter((w): w is IstioWebhook => w !== undefined);
  const tags: Record<string, string> = {};
  for (const webhook of webhooks) if (webhook.tag && webhook.revision) tags[webhook.tag] = webhook.revision;

  return {
    namespace,
    controlPlanes: pilots.map(toControlPlane).sort((a, b) => a.revision.localeCompare(b.revision)),
    gateways: gateways.map(toGateway),
    nodeAgents: daemonSets
      .filter((d) => (NODE_AGENTS as readonly string[]).includes(d.metadata?.name ?? ''))
      .map(toNodeAgent),
    webhooks,
    tags,
    services: services.map((s) => `${s.metadata?.namespace ?? namespace}/${s.metadata?.name ?? ''}`),
    legacyPilot: legacy.some((d) => d.metadata?.name === 'istio-pilot'),
    record: decodeRecord(recordMap?.data, recordMap?.binaryData),
  };
}

function containerImage(deployment: V1Deployment, preferred: string): string {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  return (containers.find((c) => c.name === preferred) ?? containers[0])?.image ?? '';
}

function readiness(deployment: V1Deployment): { ready: boolean; replicas: number; readyReplicas: number } {
  const replicas = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const readyReplicas = status.readyReplicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const current = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  return { ready: current && readyReplicas >= replicas && updated >= replicas, replicas, readyReplicas };
}

function toControlPlane(deployment: V1Deployment): ControlPlane {
  const image = containerImage(deployment, 'discovery');
  return {
    revision: deployment.metadata?.labels?.[REVISION_LABEL] || 'default',
    deployment: deployment.metadata?.name ?? '',
    namespace: deployment.metadata?.namespace ?? '',
    version: versionOfImage(image),
    image,
    ...readiness(deployment),
  };
}

function toGateway(deployment: V1Deployment): Gateway {
  return {
    name: deployment.metadata?.name ?? '',
    namespace: deployment.metadata?.namespace ?? '',
    revision: deployment.metadata?.labels?.[REVISION_LABEL] || 'default',
    version: versionOfImage(containerImage(deployment, 'istio-proxy')),
    ready: readiness(deployment).ready,
  };
}

function toNodeAgent(daemonSet: V1DaemonSet): NodeAgent {
  const status = daemonSet.status;
  const desired = status?.desiredNumberScheduled ?? 0;
  const readyPods = status?.numberReady ?? 0;
  const updatedPods = status?.updatedNumberScheduled ?? 0;
  const current = (status?.observedGeneration ?? 0) >= (daemonSet.metadata?.generation ?? 0);
  const containers = daemonSet.spec?.template.spec?.containers ?? [];
  const labels = daemonSet.spec?.selector.matchLabels ?? {};
  return {
    name: daemonSet.metadata?.name ?? '',
    namespace: daemonSet.metadata?.namespace ?? '',
    version: versionOfImage(containers[0]?.image ?? ''),
    desired,
    readyPods,
    updatedPods,
    ready: current && readyPods >= desired && updatedPods >= desired,
    selector: Object.entries(labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(','),
  };
}

/** Istio's webhooks carry `istio.io/rev` (injection, tags) or are named after istiod (validation); others are not ours. */
function toWebhook(
  kind: IstioWebhook['kind'],
  config: V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration,
): IstioWebhook | undefined {
  const labels = config.metadata?.labels ?? {};
  const name = config.metadata?.name ?? '';
  const isIstio = REVISION_LABEL in labels || name.startsWith('istio-') || name.startsWith('istiod-');
  if (!isIstio) return undefined;
  const services = (config.webhooks ?? [])
    .map((hook) => hook.clientConfig.service)
    .filter((service): service is NonNullable<typeof service> => service !== undefined)
    .map((service) => `${service.namespace}/${service.name}`);
  return {
    kind,
    name,
    revision: labels[REVISION_LABEL],
    tag: labels[TAG_LABEL],
    services: [...new Set(services)],
  };
}
