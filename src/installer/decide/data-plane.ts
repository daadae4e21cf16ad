// Which data plane each namespace uses (sidecar, ambient or none) and the waypoints found, for `status`. Pure.
import type { V1Namespace } from '@kubernetes/client-node';
import { isObject } from '../../overlay/json.js';
import type { AnyObject } from '../model/objects.js';

export type DataPlaneMode = 'ambient' | 'sidecar' | 'none';

export interface NamespaceDataPlane {
  namespace: string;
  mode: DataPlaneMode;
  /** The revision or tag a sidecar namespace injects from (`istio.io/rev`), or `default` (`istio-injection`). */
  revision?: string;
  /** The waypoint an ambient namespace sends its traffic through (`istio.io/use-waypoint`). */
  useWaypoint?: string;
}

export interface Waypoint {
  namespace: string;
  name: string;
  /** `istio.io/waypoint-for`: service, workload, all or none (Istio's default: service). */
  for: string;
}

/** Istio's namespace labels decide the mode: ambient enrolment wins over injection, as istio-cni reads them. Pure. */
export function dataPlaneOf(namespace: V1Namespace): NamespaceDataPlane {
  const labels = namespace.metadata?.labels ?? {};
  const name = namespace.metadata?.name ?? '';
  const waypoint = labels['istio.io/use-waypoint'];
  if (labels['istio.io/dataplane-mode'] === 'ambient')
    return { namespace: name, mode: 'ambient', ...(waypoint ? { useWaypoint: waypoint } : {}) };
  if (labels['istio-injection'] === 'enabled')
    return { namespace: name, mode: 'sidecar', revision: 'default' };
  if (labels['istio.io/rev'] && labels['istio-injection'] !== 'disabled')
    return { namespace: name, mode: 'sidecar', revision: labels['istio.io/rev'] };
  return { namespace: name, mode: 'none' };
}

/** Gateway API Gateways of class `istio-waypoint` (what `istioctl waypoint apply` creates). Pure. */
export function waypointsOf(gateways: readonly AnyObject[]): Waypoint[] {
  return gateways
    .filter((g) => isObject(g.spec) && g.spec.gatewayClassName === 'istio-waypoint')
    .map((g) => ({
      namespace: g.metadata?.namespace ?? '',
      name: g.metadata?.name ?? '',
      for: g.metadata?.labels?.['istio.io/waypoint-for'] ?? 'service',
    }))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
