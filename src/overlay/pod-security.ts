// What istiod, every gateway and the injected proxies get so that PodSecurity `restricted` admits them (the
// `podSecurity` values), written once for every component, and what an older istioctl cannot take of it. Pure.
import { isObject, type Json, type JsonObject } from './json.js';

/** `podSecurity.seccompProfile`: the seccomp profile type `restricted` requires, or '' for Istio's own (none). */
export type SeccompProfileType = 'RuntimeDefault' | '';

/**
 * The first Istio minor whose istioctl accepts `values.global.proxy.seccompProfile` (its charts had the key since
 * 1.23, but istioctl 1.23-1.28 refuse it as an unknown field of ProxyConfig; checked with each version's real
 * `istioctl manifest generate`).
 */
export const PROXY_SECCOMP_SINCE_MINOR = 29;

const GATEWAY_LISTS = ['ingressGateways', 'egressGateways'] as const;

/**
 * `spec` with `seccompProfile: {type}` filled in where the user set none: in the pod securityContext of istiod and of
 * every enabled gateway (those an overlay adds in other namespaces too), through `k8s.securityContext`, which every
 * istioctl from 1.23 on merges into the pod template; and, where `tag`'s istioctl takes it, in the injected proxies'
 * containers. The node agents (istio-cni, ztunnel) are left alone: they need privileges `restricted` forbids, and
 * run in namespaces PodSecurity exempts (Rancher's `rancher-restricted` exempts istio-system and kube-system).
 */
export function withPodSecurity(spec: JsonObject, type: SeccompProfileType, tag: string): JsonObject {
  // Anything of the wrong shape is left as it is, for the schema to report where it was written.
  if (type === '' || !objectOrAbsent(spec.components)) return spec;
  const components = isObject(spec.components) ? spec.components : {};
  const next: JsonObject = { ...components };
  const pilot = isObject(components.pilot)
    ? components.pilot
    : components.pilot === undefined
      ? {}
      : undefined;
  if (pilot && pilot.enabled !== false) next.pilot = withPodSeccomp(pilot, type);
  for (const list of GATEWAY_LISTS) {
    const gateways = components[list];
    if (Array.isArray(gateways))
      next[list] = gateways.map((gateway) =>
        isObject(gateway) && gateway.enabled !== false ? withPodSeccomp(gateway, type) : gateway,
      );
  }
  const withComponents = { ...spec, components: next };
  return proxySeccompSupported(tag) ? withProxySeccomp(withComponents, type) : withComponents;
}

/** Whether istioctl of `tag` (`1.29.6`, `1.31.0-distroless`) takes `values.global.proxy.seccompProfile`. */
export function proxySeccompSupported(tag: string): boolean {
  const match = /^(\d+)\.(\d+)/.exec(tag);
  if (!match) return false;
  const major = Number(match[1]);
  return major > 1 || (major === 1 && Number(match[2]) >= PROXY_SECCOMP_SINCE_MINOR);
}

/**
 * The spec an older istioctl can take: without `values.global.proxy.seccompProfile` where `tag`'s istioctl would
 * refuse it (a hop of a stepped upgrade, or a version the installer chose). Returns the spec itself when nothing goes.
 */
export function withoutUnsupportedPodSecurity(spec: JsonObject, tag: string): JsonObject {
  const proxy = proxyOf(spec);
  if (proxySeccompSupported(tag) || !proxy || !('seccompProfile' in proxy)) return spec;
  return setProxy(
    spec,
    Object.fromEntries(Object.entries(proxy).filter(([key]) => key !== 'seccompProfile')),
  );
}

const objectOrAbsent = (value: Json | undefined): boolean => value === undefined || isObject(value);

function withPodSeccomp(component: JsonObject, type: string): JsonObject {
  if (!objectOrAbsent(component.k8s)) return component;
  const k8s = isObject(component.k8s) ? component.k8s : {};
  if (!objectOrAbsent(k8s.securityContext)) return component;
  const securityContext = isObject(k8s.securityContext) ? k8s.securityContext : {};
  if (securityContext.seccompProfile !== undefined) return component;
  return {
    ...component,
    k8s: { ...k8s, securityContext: { ...securityContext, seccompProfile: { type } } },
  };
}

function withProxySeccomp(spec: JsonObject, type: string): JsonObject {
  const values = spec.values;
  const global = isObject(values) ? values.global : undefined;
  if (
    !objectOrAbsent(values) ||
    !objectOrAbsent(global) ||
    !objectOrAbsent(isObject(global) ? global.proxy : undefined)
  )
    return spec;
  const proxy = proxyOf(spec) ?? {};
  return proxy.seccompProfile !== undefined ? spec : setProxy(spec, { ...proxy, seccompProfile: { type } });
}

function proxyOf(spec: JsonObject): JsonObject | undefined {
  const values = spec.values;
  const global = isObject(values) ? values.global : undefined;
  const proxy = isObject(global) ? global.proxy : undefined;
  return isObject(proxy) ? proxy : undefined;
}

function setProxy(spec: JsonObject, proxy: JsonObject): JsonObject {
  const values: JsonObject = isObject(spec.values) ? spec.values : {};
  const global: JsonObject = isObject(values.global) ? values.global : {};
  return { ...spec, values: { ...values, global: { ...global, proxy: proxy as Json } } };
}
