// Reads the cluster's Istio state through the Kube interface: control planes, gateways, webhooks, tags, our record.
import type {
  V1DaemonSet,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { versionOfImage } from '../model/istio-version.js';
import { COMPONENT_LABEL, OPERATOR_VERSION_LABEL, REVISION_LABEL, TAG_LABEL } from '../model/labels.js';
import type { Kube } from './kube.js';
import { leaseExpiry, LOCK_NAME } from './lock.js';
import { decodeRecord, RECORD_CONFIGMAP, type InstallRecord } from '../model/record.js';
import type { ClusterState, ControlPlane, IstioWebhook, Workload } from '../model/state.js';

/** Reads everything a plan needs, in parallel. Changes nothing. */
export async function readClusterState(kube: Kube, namespace: string): Promise<ClusterState> {
  const [pilots, legacy, gateways, agents, mutating, validating, services, record, lease] = await Promise.all(
    [
      kube.listDeployments(namespace, 'app=istiod'),
      kube.listDeployments(namespace, 'istio=pilot'),
      kube.listDeployments(undefined, `${COMPONENT_LABEL} in (IngressGateways,EgressGateways)`),
      kube.listDaemonSets(`${COMPONENT_LABEL} in (Cni,Ztunnel)`),
      kube.listMutatingWebhooks(),
      kube.listValidatingWebhooks(),
      kube.listServices(namespace),
      readRecord(kube, namespace),
      kube.getLease(namespace, LOCK_NAME),
    ],
  );
  const webhooks = [
    ...mutating.map((w) => toWebhook('MutatingWebhookConfiguration', w)),
    ...validating.map((w) => toWebhook('ValidatingWebhookConfiguration', w)),
  ].filter((w): w is IstioWebhook => w !== undefined);
  const tags: Record<string, string> = {};
  for (const webhook of webhooks) if (webhook.tag && webhook.revision) tags[webhook.tag] = webhook.revision;

  const controlPlanes = pilots.map(toControlPlane).sort((a, b) => a.revision.localeCompare(b.revision));
  const gatewayWorkloads = gateways.map(toGateway);
  const agentWorkloads = agents.map(toAgent);
  const found = [...controlPlanes, ...gatewayWorkloads, ...agentWorkloads];
  // A workload whose ServiceAccount is gone cannot start new pods (an apply cut off half-way leaves that).
  const accountNamespaces = [...new Set([namespace, ...found.map((w) => w.namespace)])];
  const serviceAccounts = (
    await Promise.all(accountNamespaces.map((ns) => kube.listServiceAccounts(ns)))
  ).flatMap((list) => list.map((a) => `${a.metadata?.namespace ?? ''}/${a.metadata?.name ?? ''}`));

  return {
    namespace,
    controlPlanes,
    gateways: gatewayWorkloads,
    agents: agentWorkloads,
    webhooks,
    tags,
    services: services.map((s) => `${s.metadata?.namespace ?? namespace}/${s.metadata?.name ?? ''}`),
    serviceAccounts,
    lock: lease
      ? { holder: lease.spec?.holderIdentity ?? 'unknown', expires: leaseExpiry(lease) }
      : undefined,
    legacyPilot: legacy.some((d) => d.metadata?.name === 'istio-pilot'),
    record,
  };
}

/** Our record alone, one read: what a run can know of the last apply before it reads everything else. */
export async function readRecord(kube: Kube, namespace: string): Promise<InstallRecord | undefined> {
  const recordMap = await kube.getConfigMap(namespace, RECORD_CONFIGMAP);
  return decodeRecord(recordMap?.data, recordMap?.binaryData);
}

type PodOwner = V1Deployment | V1DaemonSet;

function containerImage(owner: PodOwner, preferred: string): string {
  const containers = owner.spec?.template.spec?.containers ?? [];
  return (containers.find((c) => c.name === preferred) ?? containers[0])?.image ?? '';
}

function deploymentReadiness(deployment: V1Deployment) {
  const replicas = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const readyReplicas = status.readyReplicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const current = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  return {
    ready: current && readyReplicas >= replicas && updated >= replicas,
    replicas,
    readyReplicas,
    updatedReplicas: updated,
  };
}

function daemonSetReadiness(daemonSet: V1DaemonSet) {
  const status = daemonSet.status;
  const replicas = status?.desiredNumberScheduled ?? 0;
  const readyReplicas = status?.numberReady ?? 0;
  const updated = status?.updatedNumberScheduled ?? 0;
  const current = (status?.observedGeneration ?? 0) >= (daemonSet.metadata?.generation ?? 0);
  return {
    ready: current && readyReplicas >= replicas && updated >= replicas,
    replicas,
    readyReplicas,
    updatedReplicas: updated,
  };
}

function toWorkload(
  kind: Workload['kind'],
  owner: PodOwner,
  container: string,
  readiness: { ready: boolean; replicas: number; readyReplicas: number; updatedReplicas: number },
): Workload {
  const image = containerImage(owner, container);
  return {
    kind,
    name: owner.metadata?.name ?? '',
    namespace: owner.metadata?.namespace ?? '',
    revision: owner.metadata?.labels?.[REVISION_LABEL] || 'default',
    version: versionOfImage(image),
    image,
    serviceAccount: owner.spec?.template.spec?.serviceAccountName || undefined,
    appliedBy: owner.metadata?.labels?.[OPERATOR_VERSION_LABEL] || undefined,
    selector: Object.entries(owner.spec?.selector.matchLabels ?? {})
      .map(([key, value]) => `${key}=${value}`)
      .join(','),
    ...readiness,
  };
}

function toControlPlane(deployment: V1Deployment): ControlPlane {
  const workload = toWorkload('Deployment', deployment, 'discovery', deploymentReadiness(deployment));
  return { ...workload, deployment: workload.name };
}

function toGateway(deployment: V1Deployment): Workload {
  return toWorkload('Deployment', deployment, 'istio-proxy', deploymentReadiness(deployment));
}

function toAgent(daemonSet: V1DaemonSet): Workload {
  const component = daemonSet.metadata?.labels?.[COMPONENT_LABEL];
  return toWorkload(
    'DaemonSet',
    daemonSet,
    component === 'Cni' ? 'install-cni' : 'istio-proxy',
    daemonSetReadiness(daemonSet),
  );
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
