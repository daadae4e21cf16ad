// Reads what `status` shows of the data plane: every namespace's labels and the waypoints (Gateways of class istio-waypoint).
import { dataPlaneOf, waypointsOf, type NamespaceDataPlane, type Waypoint } from '../decide/data-plane.js';
import type { ResourceRef } from '../model/objects.js';
import type { Kube } from './kube.js';

const GATEWAYS: ResourceRef = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  plural: 'gateways',
};

/** Reads namespaces and waypoints; a cluster without the Gateway API CRDs simply has no waypoints. */
export async function readDataPlane(
  kube: Pick<Kube, 'listNamespaces' | 'listObjects'>,
): Promise<{ namespaces: NamespaceDataPlane[]; waypoints: Waypoint[] }> {
  const [namespaces, gateways] = await Promise.all([
    kube.listNamespaces(),
    kube.listObjects(GATEWAYS, undefined),
  ]);
  return {
    namespaces: namespaces.map(dataPlaneOf).sort((a, b) => a.namespace.localeCompare(b.namespace)),
    waypoints: waypointsOf(gateways),
  };
}
