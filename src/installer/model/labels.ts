// The labels Istio puts on what it installs, and what they tell about a pod. Pure.

export const REVISION_LABEL = 'istio.io/rev';
export const TAG_LABEL = 'istio.io/tag';
export const COMPONENT_LABEL = 'operator.istio.io/component';
export const OPERATOR_VERSION_LABEL = 'operator.istio.io/version';

/** Istio's own pods (istiod, gateways) carry their revision label too; they are not its users nor its workloads. */
export function isIstioComponent(labels: Record<string, string> | undefined): boolean {
  return labels?.app === 'istiod' || labels?.[COMPONENT_LABEL] !== undefined || labels?.istio === 'pilot';
}
