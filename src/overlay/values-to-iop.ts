// Maps chart values to the base IstioOperator, reproducing Rancher's template and adding our keys.
import { isObject, pruneEmptyMaps, type Json, type JsonObject } from './json.js';
import { mergeDocuments, istioOperatorListKeys } from './merge.js';
import { AMBIENT_VARIANT, PROFILE_COMPONENTS } from './profiles.js';
import {
  DEFAULT_ISTIO_HUB,
  DEFAULT_ISTIO_TAG,
  RANCHER_CNI_EXCLUDE_NAMESPACES,
  RANCHER_CNI_LOG_LEVEL,
  type Profile,
  type Values,
} from './values-schema.js';

export const ISTIO_OPERATOR_API_VERSION = 'install.istio.io/v1alpha1';
export const ISTIO_OPERATOR_KIND = 'IstioOperator';
export const DEFAULT_NAMESPACE = 'istio-system';

/** Rancher pins every Istio pod to linux nodes and tolerates its own linux taint; users' settings are added to these. */
const LINUX_NODE_SELECTOR = { 'kubernetes.io/os': 'linux' };
const LINUX_TOLERATION: JsonObject = {
  key: 'cattle.io/os',
  operator: 'Equal',
  value: 'linux',
  effect: 'NoSchedule',
};

/**
 * `k8s.tolerations` replaces a chart's own list, so the charts' tolerations (Istio 1.30 and 1.31) are kept in front of
 * Rancher's and the user's; test/istioctl/profiles.test.ts checks them against what real istioctl renders.
 * istiod tolerates the taint istio-cni puts on a node whose CNI agent is not ready yet.
 */
const ISTIOD_TOLERATIONS: JsonObject[] = [{ key: 'cni.istio.io/not-ready', operator: 'Exists' }];
/** The node agents (istio-cni, ztunnel) must run on every node. */
const NODE_AGENT_TOLERATIONS: JsonObject[] = [
  { effect: 'NoSchedule', operator: 'Exists' },
  { key: 'CriticalAddonsOnly', operator: 'Exists' },
  { effect: 'NoExecute', operator: 'Exists' },
];

/** Rancher's fixed NodePorts for the default ingress gateway; existing firewalls and load balancers point at them. */
const DEFAULT_INGRESS_PORTS: JsonObject[] = [
  { name: 'status-port', port: 15021, targetPort: 15021 },
  { name: 'http2', port: 80, targetPort: 8080, nodePort: 31380 },
  { name: 'https', port: 443, targetPort: 8443, nodePort: 31390 },
  { name: 'tcp', port: 31400, targetPort: 31400, nodePort: 31400 },
  { name: 'tls', port: 15443, targetPort: 15443 },
];
/** Extra gateways get no fixed NodePorts, which would collide with the default gateway's. */
const EXTRA_GATEWAY_PORTS: JsonObject[] = [
  { name: 'status-port', port: 15021, targetPort: 15021 },
  { name: 'http2', port: 80, targetPort: 8080 },
  { name: 'https', port: 443, targetPort: 8443 },
];

/** CNI directories of Rancher's distributions, where the node's CNI plugins and configs really live. */
const CNI_PLATFORM_DIRS: Record<'rke2' | 'k3s', { cniBinDir: string; cniConfDir: string }> = {
  rke2: { cniBinDir: '/opt/cni/bin', cniConfDir: '/etc/cni/net.d' },
  k3s: {
    cniBinDir: '/var/lib/rancher/k3s/data/current/bin',
    cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d',
  },
};
/** On RKE2 and K3s (SELinux, CIS profile) install-cni can only write the host's CNI config when privileged. */
const PRIVILEGED_INSTALL_CNI: JsonObject = {
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  name: 'istio-cni-node',
  patches: [
    { path: 'spec.template.spec.containers.[name:install-cni].securityContext.privileged', value: true },
  ],
};

/** `<registry>/<repository>:<tag>`, Rancher's full image reference; the registry part only when one is set. */
export function imageReference(registry: string, repository: string, tag: string): string {
  const prefix = registry ? `${registry.replace(/\/+$/, '')}/` : '';
  return `${prefix}${repository}:${tag}`;
}

/**
 * `{image: <full reference>}` when the user chose a repository or tag of their own (Rancher's mirrored images),
 * else nothing: the image then follows `spec.hub` and `spec.tag`, so an overlay or `--set tag=` that changes the
 * version changes every image, as istioctl users expect.
 */
function pinnedImage(
  registry: string,
  repository: string,
  tag: string,
  defaultRepository: string,
  istioTag: string,
): JsonObject {
  if (repository === defaultRepository && tag === '') return {};
  return { image: imageReference(registry, repository, tag || istioTag) };
}

/** The profile these values select: `profile` (empty is `default`), or its ambient variant with `ambient.enabled`. */
export function valuesProfile(values: Values): Profile | undefined {
  const chosen: Profile = values.profile || 'default';
  return values.ambient.enabled ? AMBIENT_VARIANT[chosen] : chosen;
}

/**
 * The IstioOperator these values describe, before any overlay. Pure.
 *
 * One rule for what a profile also decides (a component's `enabled`, telemetry, PodDisruptionBudgets): those values
 * have no default, and each is written only when the user set it; otherwise the profile decides, as istioctl would.
 * What the `default` profile decides equals Rancher's old defaults, so a default rendering keeps their effect.
 * Placement, gateway Services and images are Rancher's own and always written.
 */
export function valuesToIstioOperator(values: Values, namespace: string = DEFAULT_NAMESPACE): JsonObject {
  const ifSet = (key: string, value: Json | undefined): JsonObject =>
    value === undefined ? {} : { [key]: value };
  const registry = values.global.cattle.systemDefaultRegistry;
  // Rancher's template wrote its top-level `systemDefaultRegistry` to spec.hub as it was; ours keeps that precedence.
  const hub =
    values.hub ||
    values.systemDefaultRegistry ||
    (registry ? `${registry.replace(/\/+$/, '')}/istio` : DEFAULT_ISTIO_HUB);
  const istioTag = values.tag || DEFAULT_ISTIO_TAG;
  const image = (repository: string, tag: string, defaultRepository: string): JsonObject =>
    pinnedImage(registry, repository, tag, defaultRepository, istioTag);
  const placement = {
    nodeSelector: { ...LINUX_NODE_SELECTOR, ...values.nodeSelector },
    tolerations: withLinuxToleration(values.tolerations as Json[]),
  };
  const istiodPlacement = {
    nodeSelector: placement.nodeSelector,
    tolerations: [...ISTIOD_TOLERATIONS, ...placement.tolerations],
  };
  const nodeAgentPlacement = {
    nodeSelector: placement.nodeSelector,
    tolerations: [...NODE_AGENT_TOLERATIONS, ...placement.tolerations],
  };

  const components: JsonObject = {
    base: ifSet('enabled', values.base.enabled),
    pilot: {
      ...ifSet('enabled', values.pilot.enabled),
      k8s: {
        ...istiodPlacement,
        hpaSpec: values.pilot.hpaSpec as Json,
        podDisruptionBudget: values.pilot.podDisruptionBudget as Json,
        resources: values.pilot.resources as Json,
        ...(values.pilot.replicaCount !== undefined ? { replicaCount: values.pilot.replicaCount } : {}),
      },
    },
    cni: {
      ...ifSet('enabled', values.cni.enabled),
      k8s: {
        ...nodeAgentPlacement,
        resources: values.cni.resources as Json,
        ...(values.cni.platform ? { overlays: [PRIVILEGED_INSTALL_CNI] } : {}),
      },
    },
    ztunnel: { k8s: { ...nodeAgentPlacement, resources: values.ambient.ztunnel.resources as Json } },
    istiodRemote: ifSet('enabled', values.istiodRemote.enabled),
    ingressGateways: [
      {
        name: 'istio-ingressgateway',
        ...ifSet('enabled', values.ingressGateways.enabled),
        k8s: defaultGatewayK8s(values.ingressGateways, placement, DEFAULT_INGRESS_PORTS),
      },
      ...values.ingressGateways.extra.map((gateway) => extraGateway(gateway, placement)),
    ],
    egressGateways: [
      {
        name: 'istio-egressgateway',
        ...ifSet('enabled', values.egressGateways.enabled),
        k8s: defaultGatewayK8s(values.egressGateways, placement, undefined),
      },
      ...values.egressGateways.extra.map((gateway) => extraGateway(gateway, placement)),
    ],
  };

  const meshConfig: JsonObject = {
    defaultConfig: {
      proxyMetadata: values.dns.enabled ? { ISTIO_META_DNS_CAPTURE: 'true' } : {},
      ...(values.tracing.enabled ? { tracing: { zipkin: { address: values.tracing.zipkinAddress } } } : {}),
    },
  };

  // Rancher's CNI settings apply where Rancher's chart applied them: when CNI is on. Its namespaces and log level
  // default to Rancher's only when the values switch CNI on themselves; under a profile that does, Istio's stay.
  const cniOn =
    values.cni.enabled ?? PROFILE_COMPONENTS[valuesProfile(values) ?? 'default'].enabled.cni ?? false;
  const rancherCni = values.cni.enabled === true;
  const cniValues: JsonObject = !cniOn
    ? {}
    : {
        ...image(values.cni.repository, values.cni.tag, 'istio/install-cni'),
        ...ifSet(
          'excludeNamespaces',
          values.cni.excludeNamespaces ?? (rancherCni ? RANCHER_CNI_EXCLUDE_NAMESPACES : undefined),
        ),
        ...ifSet('logLevel', values.cni.logLevel ?? (rancherCni ? RANCHER_CNI_LOG_LEVEL : undefined)),
        ...(values.cni.platform ? CNI_PLATFORM_DIRS[values.cni.platform] : {}),
      };
  const telemetryV2 = ifSet('enabled', values.telemetry.v2.enabled);
  const istioValues: JsonObject = {
    global: {
      ...(namespace !== DEFAULT_NAMESPACE ? { istioNamespace: namespace } : {}),
      proxy: image(values.global.proxy.repository, values.global.proxy.tag, 'istio/proxyv2'),
      proxy_init: image(values.global.proxy_init.repository, values.global.proxy_init.tag, 'istio/proxyv2'),
      defaultPodDisruptionBudget: ifSet('enabled', values.global.defaultPodDisruptionBudget.enabled),
      ...(values.global.logAsJson !== undefined ? { logAsJson: values.global.logAsJson } : {}),
      ...(values.global.logging.level !== undefined
        ? { logging: { level: values.global.logging.level } }
        : {}),
    },
    // Rancher's template set the Service types here, not on its gateways: istioctl then gives them to every gateway
    // of the kind that has no type of its own, so gateways that overlays add are NodePort as they were under Rancher.
    gateways: {
      'istio-egressgateway': { type: values.egressGateways.type },
      'istio-ingressgateway': { type: values.ingressGateways.type },
    },
    pilot: image(values.pilot.repository, values.pilot.tag, 'istio/pilot'),
    telemetry: {
      ...ifSet('enabled', values.telemetry.enabled),
      ...(Object.keys(telemetryV2).length > 0 ? { v2: telemetryV2 } : {}),
    },
    cni: cniValues,
    ztunnel: ztunnelImage(registry, values.ambient.ztunnel, istioTag),
  };

  const spec: JsonObject = {
    profile: valuesProfile(values) ?? (values.profile || 'default'),
    hub,
    tag: istioTag,
    ...(values.revision ? { revision: values.revision } : {}),
    components,
    meshConfig,
    values: istioValues,
  };
  const base = pruneEmptyMaps({
    apiVersion: ISTIO_OPERATOR_API_VERSION,
    kind: ISTIO_OPERATOR_KIND,
    metadata: { name: 'rancher-istio' },
    spec,
  }) as JsonObject;

  // The user's own meshConfig and values go on top, unpruned: an empty map they wrote may mean something (emptyDir: {}).
  const user: JsonObject = { spec: {} };
  if (Object.keys(values.meshConfig).length > 0)
    (user.spec as JsonObject).meshConfig = values.meshConfig as Json;
  if (Object.keys(values.values).length > 0) (user.spec as JsonObject).values = values.values as Json;
  return mergeDocuments(base, user, istioOperatorListKeys) as JsonObject;
}

/**
 * The ztunnel chart composes its image from `hub`, `image` and `tag` values; a pinned repository or tag becomes a
 * full reference in `image`.
 */
function ztunnelImage(registry: string, ztunnel: Values['ambient']['ztunnel'], istioTag: string): JsonObject {
  return pinnedImage(registry, ztunnel.repository, ztunnel.tag, 'istio/ztunnel', istioTag);
}

function withLinuxToleration(userTolerations: readonly Json[]): Json[] {
  const same = (t: Json) =>
    isObject(t) &&
    t.key === LINUX_TOLERATION.key &&
    t.value === LINUX_TOLERATION.value &&
    t.effect === LINUX_TOLERATION.effect;
  return userTolerations.some(same) ? [...userTolerations] : [LINUX_TOLERATION, ...userTolerations];
}

interface GatewayValues {
  type: string;
  hpaSpec: Record<string, unknown>;
  podDisruptionBudget: Record<string, unknown>;
  resources: Record<string, unknown>;
  serviceAnnotations: Record<string, string>;
}

function gatewayK8s(
  gateway: GatewayValues,
  placement: JsonObject,
  ports: JsonObject[] | undefined,
): JsonObject {
  return {
    ...placement,
    hpaSpec: gateway.hpaSpec as Json,
    podDisruptionBudget: gateway.podDisruptionBudget as Json,
    resources: gateway.resources as Json,
    serviceAnnotations: gateway.serviceAnnotations,
    service: { type: gateway.type, ...(ports ? { ports: forServiceType(ports, gateway.type) } : {}) },
  };
}

/** A ClusterIP Service may not name node ports (the API server rejects it), so Rancher's fixed ones are dropped. */
function forServiceType(ports: JsonObject[], type: string): JsonObject[] {
  if (type !== 'ClusterIP') return ports;
  return ports.map((port) => Object.fromEntries(Object.entries(port).filter(([key]) => key !== 'nodePort')));
}

/** The default gateways take their Service type from `values.gateways` (above), like every gateway an overlay adds. */
function defaultGatewayK8s(
  gateway: GatewayValues,
  placement: JsonObject,
  ports: JsonObject[] | undefined,
): JsonObject {
  const k8s = gatewayK8s(gateway, placement, ports);
  const service = Object.fromEntries(
    Object.entries(k8s.service as JsonObject).filter(([key]) => key !== 'type'),
  );
  return { ...k8s, service };
}

function extraGateway(
  gateway: Values['ingressGateways']['extra'][number],
  placement: JsonObject,
): JsonObject {
  const label =
    Object.keys(gateway.label).length > 0 ? gateway.label : { app: gateway.name, istio: gateway.name };
  return {
    name: gateway.name,
    enabled: gateway.enabled,
    ...(gateway.namespace ? { namespace: gateway.namespace } : {}),
    label,
    k8s: {
      ...gatewayK8s(gateway, placement, (gateway.ports as JsonObject[] | undefined) ?? EXTRA_GATEWAY_PORTS),
    },
  };
}
