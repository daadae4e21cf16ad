// What an air-gapped site needs for the stepped path from its Istio to the target: the hops, the istioctl archive of
// each hop and every image the path and the chart pull. Pure: `prepare-site` fetches and writes what this decides.
import type { JsonObject } from '../../overlay/json.js';
import { isObject } from '../../overlay/json.js';
import { compareVersions, formatIstioVersion, type IstioVersion } from '../model/istio-version.js';
import { refused, type Refused } from '../model/refusal.js';
import { formatKube, type KubeVersion } from './kube-support.js';
import { hopImages, specForHop, upgradePath, type Hop } from './path.js';
import { chooseTarget } from './target.js';

export interface SiteInput {
  /** The Istio the site runs now (its active istiod). */
  from: IstioVersion;
  kube: KubeVersion;
  /** The IstioOperator the user's values make, as `plan` builds it. */
  istioOperator: JsonObject;
  autoVersion: boolean;
  /** Istio versions whose istioctl may be fetched for the hops (by default the ones the installer image bundles). */
  candidates: readonly string[];
  allowUnsupportedKubernetes: boolean;
  /** Architectures of the site's nodes (`amd64`, `arm64`). */
  arches: readonly string[];
}

/** One istioctl release archive the site's mirror must hold. */
export interface SiteArchive {
  version: string;
  file: string;
}

export interface SitePlan {
  from: IstioVersion;
  target: IstioVersion;
  hops: Hop[];
  archives: SiteArchive[];
  /** The Istio images each hop's spec pulls, in hop order. */
  hopImages: { version: string; images: string[] }[];
  /** What chooseTarget said about the version (chosen by Kubernetes, held back). */
  notes: string[];
}

/** The hops, archives and Istio images for `input`, or why there is no path (exit 3) before anything is fetched. */
export function planSite(input: SiteInput): SitePlan | Refused {
  const target = chooseTarget({
    istioOperator: input.istioOperator,
    autoVersion: input.autoVersion,
    available: input.candidates,
    kube: input.kube,
    allowUnsupportedKubernetes: input.allowUnsupportedKubernetes,
  });
  if ('refused' in target) return target;
  const version = target.version;
  if (!version)
    return refused(
      'the values name no Istio version and none of the candidate versions is an Istio release',
      'pass --istio-version for each istioctl the path may use',
    );
  const from = formatIstioVersion(input.from);
  const to = formatIstioVersion(version);
  if (compareVersions(version, input.from) <= 0)
    return refused(
      `nothing to prepare: the site runs Istio ${from} and the values target Istio ${to}`,
      'set tag in the values to the version to go to, or check --from',
    );
  const hops = upgradePath(
    input.from,
    version,
    input.candidates,
    input.allowUnsupportedKubernetes ? undefined : input.kube,
  );
  if (!hops)
    return refused(
      `no path from Istio ${from} to ${to} whose every hop supports Kubernetes ${formatKube(input.kube)}`,
      'upgrade Kubernetes or choose a target it supports (tag), then run prepare-site again',
    );
  const missing = hops.filter((hop) => hop.istioctl === 'missing');
  if (missing.length > 0)
    return refused(
      `no istioctl for Istio ${missing.map((hop) => hop.version).join(', ')} among the versions to fetch (${input.candidates.join(', ')}), and the path from ${from} to ${to} needs it`,
      `add --istio-version ${missing.map((hop) => `${hop.version}${hop.version.split('.').length === 2 ? '.<patch>' : ''}`).join(' --istio-version ')} to prepare-site`,
    );
  return {
    from: input.from,
    target: version,
    hops,
    archives: hops.flatMap((hop) =>
      input.arches.map((arch) => ({
        version: hop.version,
        file: `istioctl-${hop.version}-linux-${arch}.tar.gz`,
      })),
    ),
    hopImages: hops.map((hop) => ({
      version: hop.version,
      images: hopImages(specForHop(target.istioOperator, version, hop.version)),
    })),
    notes: target.notes,
  };
}

/** Every image the pods of rendered chart objects run (containers and init containers), each once, in order. */
export function chartImages(objects: readonly unknown[]): string[] {
  const images: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isObject(node)) return;
    for (const key of ['initContainers', 'containers']) {
      const list = node[key];
      if (Array.isArray(list))
        for (const container of list)
          if (isObject(container) && typeof container.image === 'string') images.push(container.image);
    }
    for (const value of Object.values(node)) if (isObject(value) || Array.isArray(value)) visit(value);
  };
  objects.forEach(visit);
  return images.filter((image, i) => images.indexOf(image) === i);
}

/** The image list a site's registry needs: per hop, then the chart's; `#` lines say what each block is for. */
export function imageList(site: SitePlan, kube: KubeVersion, chart: readonly string[]): string {
  const path = [formatIstioVersion(site.from), ...site.hops.map((hop) => hop.version)].join(' -> ');
  const lines = [
    `# Images for the stepped path ${path} on Kubernetes ${formatKube(kube)} (istio-installer prepare-site).`,
    '# Lines starting with # are comments; every other line is one image to copy into the private registry.',
    ...site.hopImages.flatMap((hop) => [`# hop ${hop.version}`, ...hop.images]),
    '# the chart (installer Jobs and release mirror, Kiali, Jaeger where enabled)',
    ...chart,
  ];
  return lines.join('\n') + '\n';
}
