// Which Istio version a run installs: the one the inputs name, checked against the cluster's Kubernetes, or (none
// named) the newest at hand that this Kubernetes supports, with the spec retargeted to it. Pure.
import type { JsonObject } from '../../overlay/json.js';
import { formatIstioVersion, type IstioVersion } from '../model/istio-version.js';
import { refused, type Refused } from '../model/refusal.js';
import { desiredOf } from '../model/spec.js';
import {
  autoTarget,
  formatKube,
  formatKubeRange,
  heldBackLine,
  kubeSupportOf,
  releases,
  supportOn,
  unsupportedLine,
  type KubeVersion,
} from './kube-support.js';
import { specForHop } from './path.js';

export interface TargetInput {
  istioOperator: JsonObject;
  /** No input named the version: spec.tag holds only what `render` shows. */
  autoVersion: boolean;
  /** Istio versions whose istioctl is at hand (bundled, on PATH, in the release mirror). */
  available: readonly string[];
  /** The cluster's Kubernetes; undefined where the server did not say. */
  kube: KubeVersion | undefined;
  allowUnsupportedKubernetes: boolean;
}

export interface Target {
  istioOperator: JsonObject;
  version: IstioVersion | undefined;
  /** Lines for `plan`, the log and the record: what was chosen and why, or what the matrix does not vouch for. */
  notes: string[];
}

const ALLOW = 'upgrade.allowUnsupportedKubernetes: true';

/** The version to install and its spec, or a refusal (exit 3) before anything changes. */
export function chooseTarget(input: TargetInput): Target | Refused {
  const { istioOperator, kube } = input;
  const named = desiredOf(istioOperator).version;
  if (!kube) return { istioOperator, version: named, notes: [] };
  const atHand = releases(input.available);
  if (input.autoVersion && atHand.length > 0) {
    const auto = autoTarget(input.available, kube);
    if (!auto.target)
      return refused(
        `no Istio at hand supports Kubernetes ${formatKube(kube)}: ${atHand.map(describeSupport).join(', ')}`,
        `add a version that supports it to the release mirror (istio-installer mirror add), or set tag and ${ALLOW} to install one anyway`,
      );
    const retargeted = named ? specForHop(istioOperator, named, auto.target) : istioOperator;
    const held = heldBackLine(auto, kube);
    return {
      istioOperator: retargeted,
      version: auto.target,
      notes: [
        `  version: Istio ${formatIstioVersion(auto.target)}, the newest at hand that Kubernetes ${formatKube(kube)} supports (tag is empty)`,
        ...(held ? [`  held back: ${held}`] : []),
      ],
    };
  }
  if (!named) return { istioOperator, version: named, notes: [] };
  const support = supportOn(named, kube);
  if (support === 'unsupported' && !input.allowUnsupportedKubernetes)
    return refused(
      unsupportedLine(named, kube),
      `choose a version this Kubernetes supports (or leave tag empty to let the installer choose), upgrade Kubernetes first, or set ${ALLOW} to install it anyway`,
    );
  const notes =
    support === 'unsupported'
      ? [`  warning: ${unsupportedLine(named, kube)}; installing anyway (${ALLOW})`]
      : support === 'unknown'
        ? [
            `  warning: no Kubernetes support range is known for Istio ${formatIstioVersion(named)}; check istio.io before relying on it`,
          ]
        : [];
  return { istioOperator, version: named, notes };
}

function describeSupport(version: IstioVersion): string {
  const range = kubeSupportOf(version);
  return `${formatIstioVersion(version)} (Kubernetes ${range ? formatKubeRange(range) : 'unknown'})`;
}
