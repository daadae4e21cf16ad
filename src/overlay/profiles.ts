// What each istioctl profile decides about components, so that a rendering leaves those decisions to the profile.
//
// istioctl merges our one file over the chosen profile key by key, except that a list replaces the profile's list
// (1.24+). Components that are maps (base, pilot, cni, ztunnel, istiodRemote) therefore need nothing from us: we
// leave their `enabled` out unless the user set it. The gateway lists are different: Rancher's gateways always carry
// its placement and ports, so our list replaces the profile's, and each gateway the profile also lists must start
// from the profile's own entry. That entry is the data below, checked against `istioctl profile dump` of every
// pinned istioctl by test/istioctl/profiles.test.ts.
import { isObject, type Json, type JsonObject } from './json.js';
import { istioOperatorListKeys, mergeDocuments } from './merge.js';
import type { Profile } from './values-schema.js';

export type MapComponent = 'base' | 'pilot' | 'cni' | 'ztunnel' | 'istiodRemote';
export type GatewayList = 'ingressGateways' | 'egressGateways';

export interface ProfileComponents {
  /**
   * What the profile file says of each component's `enabled`; undefined where it does not mention the component.
   * istioctl then installs the component only if the user's file has an entry for it, and then unless that entry
   * says `enabled: false` (an entry without `enabled` counts as on).
   */
  enabled: Readonly<Record<MapComponent, boolean | undefined>>;
  ingressGateways: readonly JsonObject[];
  egressGateways: readonly JsonObject[];
}

const DEFAULT_COMPONENTS: ProfileComponents = {
  enabled: { base: true, pilot: true, cni: undefined, ztunnel: undefined, istiodRemote: undefined },
  ingressGateways: [{ name: 'istio-ingressgateway', enabled: true }],
  egressGateways: [{ name: 'istio-egressgateway', enabled: false }],
};

const GATEWAY_OFF: readonly JsonObject[] = [{ name: 'istio-ingressgateway', enabled: false }];

/** `istioctl profile dump <name>`'s `spec.components`, in the shape above, for Istio 1.30 and 1.31. */
export const PROFILE_COMPONENTS: Readonly<Record<Profile, ProfileComponents>> = {
  default: DEFAULT_COMPONENTS,
  stable: DEFAULT_COMPONENTS,
  preview: DEFAULT_COMPONENTS,
  demo: { ...DEFAULT_COMPONENTS, egressGateways: [{ name: 'istio-egressgateway', enabled: true }] },
  minimal: { ...DEFAULT_COMPONENTS, ingressGateways: GATEWAY_OFF },
  // The remote profile keeps pilot on: with `values.profile: remote` its chart renders only the injector.
  remote: { ...DEFAULT_COMPONENTS, ingressGateways: GATEWAY_OFF },
  empty: {
    ...DEFAULT_COMPONENTS,
    enabled: { ...DEFAULT_COMPONENTS.enabled, base: false, pilot: false },
    ingressGateways: GATEWAY_OFF,
  },
  openshift: { ...DEFAULT_COMPONENTS, enabled: { ...DEFAULT_COMPONENTS.enabled, cni: true } },
  ambient: {
    ...DEFAULT_COMPONENTS,
    enabled: { ...DEFAULT_COMPONENTS.enabled, cni: true, ztunnel: true },
    ingressGateways: GATEWAY_OFF,
  },
  'openshift-ambient': {
    ...DEFAULT_COMPONENTS,
    enabled: { ...DEFAULT_COMPONENTS.enabled, cni: true, ztunnel: true },
    ingressGateways: GATEWAY_OFF,
  },
};

/** The profile's ambient counterpart, for `ambient.enabled`; undefined when it has none. */
export const AMBIENT_VARIANT: Readonly<Partial<Record<Profile, Profile>>> = {
  default: 'ambient',
  ambient: 'ambient',
  openshift: 'openshift-ambient',
  'openshift-ambient': 'openshift-ambient',
};

/** The profile a spec selects: an absent or empty `profile` is istioctl's `default`. */
export function effectiveProfile(spec: JsonObject): Profile {
  const profile = spec.profile;
  return typeof profile === 'string' && profile in PROFILE_COMPONENTS ? (profile as Profile) : 'default';
}

/**
 * Whether istioctl installs a map component from this spec: the spec's own `enabled`, else the profile's, else
 * (a component the profile does not mention) whether the spec has an entry for it at all.
 */
export function componentEnabled(spec: JsonObject, name: MapComponent): boolean {
  const components = isObject(spec.components) ? spec.components : {};
  const component = components[name];
  if (isObject(component) && typeof component.enabled === 'boolean') return component.enabled;
  return PROFILE_COMPONENTS[effectiveProfile(spec)].enabled[name] ?? isObject(component);
}

const MAP_COMPONENTS: readonly MapComponent[] = ['base', 'pilot', 'cni', 'ztunnel', 'istiodRemote'];

/**
 * Drops the entries of components that only our values wrote (Rancher's placement) and that the final profile
 * does not mention: istioctl would count such an entry as "on" and install a component nobody asked for.
 * `userWrote` says whether an overlay or `--set` wrote anything under `components.<name>`. Returns the spec
 * unchanged when there is nothing to drop.
 */
export function withoutUnaskedComponents(
  spec: JsonObject,
  userWrote: (name: MapComponent) => boolean,
): JsonObject {
  const components = spec.components;
  if (!isObject(components)) return spec;
  const profile = PROFILE_COMPONENTS[effectiveProfile(spec)];
  const drop = MAP_COMPONENTS.filter((name) => {
    const entry = components[name];
    return (
      isObject(entry) &&
      entry.enabled === undefined &&
      profile.enabled[name] === undefined &&
      !userWrote(name)
    );
  });
  if (drop.length === 0) return spec;
  return {
    ...spec,
    components: Object.fromEntries(
      Object.entries(components).filter(([name]) => !(drop as readonly string[]).includes(name)),
    ),
  };
}

/**
 * Puts the final profile's own gateway entry under each gateway of the spec that the profile also lists, so a
 * gateway whose `enabled` (or resources, ports) nobody set gets the profile's. Runs after every overlay and `--set`,
 * because they may change the profile. Returns the spec unchanged when there is nothing to fill.
 */
export function withProfileGateways(spec: JsonObject): JsonObject {
  const components = spec.components;
  if (!isObject(components)) return spec;
  const profile = PROFILE_COMPONENTS[effectiveProfile(spec)];
  let changed: JsonObject | undefined;
  for (const list of ['ingressGateways', 'egressGateways'] as const) {
    const gateways = components[list];
    if (!Array.isArray(gateways) || profile[list].length === 0) continue;
    const filled = gateways.map((gateway): Json => {
      if (!isObject(gateway)) return gateway;
      const own = profile[list].find((entry) => entry.name === gateway.name);
      return own ? ((mergeDocuments(own, gateway, istioOperatorListKeys) as JsonObject) ?? gateway) : gateway;
    });
    changed = { ...(changed ?? components), [list]: filled };
  }
  return changed ? { ...spec, components: changed } : spec;
}
