// Which of Istio's webhook configurations belong to this installation, and which are left behind and go. Pure.
import type { ClusterState, IstioWebhook } from '../model/state.js';

/** Leftovers istioctl uninstall is known to leave behind (istio/istio issues); deleted when nothing serves them. */
export const KNOWN_LEFTOVER_WEBHOOKS = ['istio-revision-tag-default', 'istiod-default-validator'];

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

/** What an uninstall deletes: stale webhooks, and the known leftovers once no control plane is left to serve them. */
export function leftoverWebhooks(state: ClusterState): IstioWebhook[] {
  const stale = new Set(staleWebhooks(state));
  return state.webhooks.filter(
    (webhook) =>
      stale.has(webhook) ||
      (KNOWN_LEFTOVER_WEBHOOKS.includes(webhook.name) && state.controlPlanes.length === 0),
  );
}

/** Webhooks of this installation: every one they have calls a Service in the Istio namespace. */
export function ownWebhooks(state: ClusterState): IstioWebhook[] {
  return state.webhooks.filter(
    (webhook) =>
      webhook.services.length > 0 &&
      webhook.services.every((service) => service.startsWith(`${state.namespace}/`)),
  );
}
