// Which Istio version a run installs: the one the inputs name, checked against the cluster's Kubernetes, or (none
// named) the newest at hand that this Kubernetes supports, with the spec retargeted to it. Pure.
import type { JsonObject } from '../../overlay/json.js';
import {
  compareVersions,
  formatIstioVersion,
  versionOfImage,
  type IstioVersion,
} from '../model/istio-version.js';
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
import { hopImages, specForHop } from './path.js';

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
        `add the istioctl of a version that supports it to the release mirror ("istio-installer mirror add --dir DIR istioctl-<version>-linux-<arch>.tar.gz"; for a stepped path from the Istio the cluster runs, "istio-installer prepare-site --dir DIR --chart CHART -f VALUES --kube ${formatKube(kube)} --from <running version> --istio-version <each hop>" fetches them all), or set tag and ${ALLOW} to install one anyway`,
      );
    // Images pinned to another release (Rancher's values pin `rancher/mirrored-istio-pilot:1.25.0-distroless`, and
    // a user who empties `tag` keeps them) would run that release's istiod and proxies under the chosen revision.
    const target = auto.target;
    const stale = pinnedReleases(istioOperator).filter((v) => !named || compareVersions(v, named) !== 0);
    const retargeted = [...stale, ...(named ? [named] : [])].reduce(
      (spec, from) => specForHop(spec, from, target),
      istioOperator,
    );
    const held = heldBackLine(auto, kube);
    return {
      istioOperator: retargeted,
      version: auto.target,
      notes: [
        `  version: Istio ${formatIstioVersion(auto.target)}, the newest at hand that Kubernetes ${formatKube(kube)} supports (tag is empty)`,
        ...(stale.length > 0
          ? [
              `  images: pinned to Istio ${stale.map(formatIstioVersion).join(', ')}; they follow the chosen version, as every hop's do (tag is empty)`,
            ]
          : []),
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

/** The Istio releases the spec's images name in their tags (pilot, proxy, CNI, ztunnel), each once. */
function pinnedReleases(istioOperator: JsonObject): IstioVersion[] {
  const versions = hopImages(istioOperator)
    .map(versionOfImage)
    .filter((v): v is IstioVersion => v !== undefined);
  return versions.filter((v, i) => versions.findIndex((w) => compareVersions(v, w) === 0) === i);
}

function describeSupport(version: IstioVersion): string {
  const range = kubeSupportOf(version);
  return `${formatIstioVersion(version)} (Kubernetes ${range ? formatKubeRange(range) : 'unknown'})`;
}
