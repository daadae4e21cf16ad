// Reads what `status` shows of the data plane: every namespace's labels and the waypoints (Gateways of class istio-waypoint).
import { dataPlaneOf, waypointsOf, type NamespaceDataPlane, type Waypoint } from '../decide/data-plane.js';
import type { Kube } from './kube.js';

/** Reads namespaces and waypoints; a cluster without the Gateway API CRDs simply has no waypoints. */
export async function readDataPlane(
  kube: Pick<Kube, 'listNamespaces' | 'listCustomObjects'>,
): Promise<{ namespaces: NamespaceDataPlane[]; waypoints: Waypoint[] }> {
  const [namespaces, gateways] = await Promise.all([
    kube.listNamespaces(),
    kube.listCustomObjects('gateway.networking.k8s.io', 'v1', 'gateways'),
  ]);
  return {
    namespaces: namespaces.map(dataPlaneOf).sort((a, b) => a.namespace.localeCompare(b.namespace)),
    waypoints: waypointsOf(gateways),
  };
}
