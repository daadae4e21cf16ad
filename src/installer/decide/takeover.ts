// Recognising an Istio this installer did not make (Rancher's rancher-istio chart, or plain istioctl): adopt it or
// refuse, and name the leftovers a takeover deletes. Pure.
import { formatIstioVersion } from '../model/istio-version.js';
import { COMPONENT_LABEL } from '../model/labels.js';
import type { Refusal } from '../model/refusal.js';
import type { ClusterState } from '../model/state.js';

/** Names Rancher's chart gave the objects of its installer (rancher/charts `rancher-istio` 1.x–107.x). */
export const RANCHER_CONFIGMAPS = ['istio-installer-base', 'istio-installer-overlay'] as const;
export const RANCHER_HOOK_JOBS = ['istioctl-installer', 'istioctl-uninstaller'] as const;
export const RANCHER_RELEASE = 'rancher-istio';

/** A Kubernetes object the takeover looks at, reduced to what it decides on. */
export interface FoundObject {
  kind: string;
  namespace: string | undefined;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface FoundJob extends FoundObject {
  /** Pods still running (or to be started): a Job that has not finished. */
  active: boolean;
}

/** What the cluster holds besides ClusterState, read at the edge (read-takeover.ts). */
export interface TakeoverFacts {
  /** Labels and annotations of each istiod Deployment, by name. */
  istiod: FoundObject[];
  /** Rancher's installer ConfigMaps that are there. */
  rancherConfigMaps: FoundObject[];
  /** Rancher's hook Jobs that are there. */
  rancherJobs: FoundJob[];
  /** IstioOperator custom resources (the in-cluster operator's input, or istioctl < 1.21's installed-state). */
  istioOperators: FoundObject[];
  /** Deployments of Istio's in-cluster operator (removed in 1.24). */
  operatorDeployments: FoundObject[];
  /** Every revision of every Helm release in the Istio namespace (Helm's release Secrets). */
  helmRevisions: HelmRevision[];
  /** The Helm release the installer runs for (the chart Job's RELEASE_NAME), if any. */
  release: string | undefined;
}

/** One revision of a Helm release, from the Secret Helm keeps for it. */
export interface HelmRevision {
  release: string;
  revision: number;
  chart: string;
  chartVersion: string;
  status: string;
}

/** Rancher's chart: named rancher-istio, versioned `<rancher>+up<istio>` (104.5.0+up1.23.2). */
export const isRancherChart = (r: Pick<HelmRevision, 'chart' | 'chartVersion'>): boolean =>
  r.chart === RANCHER_RELEASE && /\+up\d/.test(r.chartVersion);

/** Releases whose newest revision is Rancher's chart: Rancher's release, still installed. */
export function liveRancherReleases(revisions: readonly HelmRevision[]): HelmRevision[] {
  const newest = new Map<string, HelmRevision>();
  for (const r of revisions)
    if ((newest.get(r.release)?.revision ?? -1) < r.revision) newest.set(r.release, r);
  return [...newest.values()].filter(isRancherChart);
}

/** What an adopted install was, for the record's `adopt` entry and the log. */
export interface Found {
  installedBy: string;
  version: string;
  revision: string;
  gateways: string[];
}

export interface Leftover {
  kind: string;
  namespace: string | undefined;
  name: string;
  /** Why it goes (every leftover the takeover acts on is deleted). */
  why: string;
}

export type Recognition =
  | { kind: 'ours' }
  | { kind: 'fresh' }
  | { kind: 'adopt'; found: Found; leftovers: Leftover[] }
  | ({ kind: 'refuse' } & Refusal);

const HELM_RELEASE = 'meta.helm.sh/release-name';
const OWNING_RESOURCE = 'install.operator.istio.io/owning-resource';

const objectName = (o: FoundObject) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

/** Who made an istiod Deployment, from what istioctl, Helm and Rancher leave on it and around it. */
export function installedBy(istiod: FoundObject | undefined, facts: TakeoverFacts): string | undefined {
  const rancher = facts.rancherConfigMaps[0];
  const rancherRelease = rancher?.annotations[HELM_RELEASE];
  const rancherRevision = facts.helmRevisions
    .filter(isRancherChart)
    .sort((a, b) => b.revision - a.revision)[0];
  if (istiod?.annotations[HELM_RELEASE])
    return `Helm release ${istiod.annotations[HELM_RELEASE]} (Istio's own istiod chart)`;
  if (istiod?.labels[COMPONENT_LABEL] || istiod?.labels[OWNING_RESOURCE]) {
    if (rancherRevision)
      return `Rancher's rancher-istio chart ${rancherRevision.chartVersion} (Helm release ${rancherRevision.release}, revision ${rancherRevision.revision}), applied by istioctl`;
    if (rancher)
      return `Rancher's rancher-istio chart (release ${rancherRelease ?? RANCHER_RELEASE}, ConfigMap ${rancher.name}), applied by istioctl`;
    if (facts.rancherJobs.length > 0)
      return `Rancher's rancher-istio chart (its Job ${facts.rancherJobs[0]?.name} is left), applied by istioctl`;
    return 'istioctl (no installer record, no Helm release of Rancher left)';
  }
  return undefined;
}

/**
 * Decides whether the installer may take the cluster over. It adopts one control plane that istioctl applied (for
 * Rancher's chart, or by hand) and refuses what it cannot safely own: two control planes and no record, an
 * operator that reconciles IstioOperators, Istio's own Helm charts, a Rancher installer Job still running, or
 * Rancher's release still installed next to another one.
 */
export function recognise(state: ClusterState, facts: TakeoverFacts): Recognition {
  if (state.record) return { kind: 'ours' };
  if (state.controlPlanes.length === 0 && facts.operatorDeployments.length === 0) return { kind: 'fresh' };

  const operators = facts.operatorDeployments.map(objectName);
  if (operators.length > 0)
    return {
      kind: 'refuse',
      message: `Istio's in-cluster operator runs (${operators.join(', ')})${facts.istioOperators.length ? ` and reconciles ${facts.istioOperators.map(objectName).join(', ')}` : ''}: it would undo what this installer applies`,
      hint: 'remove the operator first (its IstioOperator resources stay as input for istioctl), or keep the operator and do not install this chart',
    };
  if (state.controlPlanes.length > 1)
    return {
      kind: 'refuse',
      message: `${state.controlPlanes.length} control planes of unknown origin (${state.controlPlanes.map((p) => `${p.namespace}/${p.deployment} ${p.version ? formatIstioVersion(p.version) : 'unknown version'}`).join(', ')}) and no record of this installer`,
      hint: 'uninstall all but one revision with the istioctl that installed it (istioctl uninstall --revision R), then run again',
    };

  const plane = state.controlPlanes[0];
  if (!plane) return { kind: 'fresh' };
  const istiod = facts.istiod.find((d) => d.name === plane.deployment);
  const who = installedBy(istiod, facts);
  if (!who)
    return {
      kind: 'refuse',
      message: `Deployment ${plane.namespace}/${plane.deployment} was not made by istioctl (no ${COMPONENT_LABEL} label) nor by Helm; this installer cannot tell what else owns it`,
      hint: 'uninstall it with the tool that made it, then install with this chart',
    };
  if (istiod?.annotations[HELM_RELEASE])
    return {
      kind: 'refuse',
      message: `Deployment ${plane.namespace}/${plane.deployment} belongs to ${who}; Helm would fight istioctl over it`,
      hint: "migrate from Istio's Helm charts by uninstalling that release's istiod after installing a revision with this chart, or keep using Istio's charts",
    };
  const running = facts.rancherJobs.filter((job) => job.active);
  if (running.length > 0)
    return {
      kind: 'refuse',
      message: `Rancher's installer is running (${running.map(objectName).join(', ')}); two installers at once would race`,
      hint: 'wait until it finishes (kubectl -n istio-system wait --for=condition=complete job/istioctl-installer), then run again',
    };
  const liveRelease =
    liveRancherReleases(facts.helmRevisions).find((r) => r.release !== facts.release)?.release ??
    facts.rancherConfigMaps
      .map((cm) => cm.annotations[HELM_RELEASE])
      .find((release) => release !== undefined && release !== facts.release);
  if (liveRelease)
    return {
      kind: 'refuse',
      message: `Rancher's release ${liveRelease} is still installed in ${plane.namespace}; its next upgrade would run Rancher's installer over this one`,
      hint: `take it over with "helm upgrade ${liveRelease} <this chart> -n ${plane.namespace} -f <its values>", or remove it with "helm uninstall ${liveRelease} -n ${plane.namespace} --no-hooks" first (never without --no-hooks: its pre-delete Job deletes Istio's CRDs)`,
    };

  return {
    kind: 'adopt',
    found: {
      installedBy: who,
      version: plane.version ? formatIstioVersion(plane.version) : 'unknown',
      revision: plane.revision,
      gateways: state.gateways.map((g) => `${g.namespace}/${g.name}`).sort(),
    },
    leftovers: leftovers(facts),
  };
}

/** Rancher's objects that would break or confuse later runs; none of them is a user's Istio resource or a CRD. */
export function leftovers(facts: TakeoverFacts): Leftover[] {
  return [
    ...facts.rancherJobs
      .filter((job) => !job.active)
      .map((job) => ({
        kind: 'Job',
        namespace: job.namespace,
        name: job.name,
        why:
          job.name === 'istioctl-uninstaller'
            ? "Rancher's pre-delete Job, which deletes Istio's CRDs when run"
            : "Rancher's installer hook Job, left behind (it ran Rancher's istioctl)",
      })),
    ...facts.rancherConfigMaps.map((cm) => ({
      kind: 'ConfigMap',
      namespace: cm.namespace,
      name: cm.name,
      why: "Rancher's installer input, which no release owns any more",
    })),
  ];
}

/** The line the log and the record's `adopt` entry carry. */
export function describeFound(found: Found): string {
  return `adopted Istio ${found.version} (revision ${found.revision}) installed by ${found.installedBy}; gateways: ${found.gateways.length ? found.gateways.join(', ') : 'none'}`;
}
