// `status`: what is installed, whether it is healthy, and what the installer last applied. Pure formatting of the state.
import type { NamespaceDataPlane, Waypoint } from './data-plane.js';
import { meshProblems } from './health.js';
import {
  compareVersions,
  formatIstioVersion,
  isTransitRevision,
  type IstioVersion,
} from '../model/istio-version.js';
import { autoTarget, heldBackLine, parseKubeVersion } from './kube-support.js';
import type { RecordEntry } from '../model/record.js';
import { controlPlaneOf, defaultRevision, type ClusterState } from '../model/state.js';
import { staleWebhooks } from './webhooks.js';

export interface StatusReport {
  namespace: string;
  healthy: boolean;
  /** What is missing, scaled down or not ready against the last applied spec and what is installed. */
  problems: string[];
  /** Findings of the last run's istioctl analyze that did not stop it (users' own configuration). */
  warnings: string[];
  revisions: { revision: string; version: string; ready: string; tags: string[] }[];
  gateways: { name: string; namespace: string; revision: string; version: string; ready: boolean }[];
  /** istio-cni-node and ztunnel: `ready` as `ready pods/desired pods`. */
  nodeAgents: { name: string; namespace: string; version: string; ready: string; healthy: boolean }[];
  /** Each namespace's data plane (sidecar, ambient, none). */
  dataPlane: NamespaceDataPlane[];
  waypoints: Waypoint[];
  staleWebhooks: string[];
  lastApplied: RecordEntry | null;
  lastGood: RecordEntry | null;
  history: RecordEntry[];
  lastAppliedSpec: string | null;
  /** The cluster's Kubernetes version as its API server reports it; empty where it was not read. */
  kubernetes: string;
  /** A newer Istio at hand that this Kubernetes is too old for (`Istio 1.31.0 needs Kubernetes >= 1.32; ...`). */
  heldBack: string | null;
  /** A stepped upgrade that stopped on a transit revision (paused, refused at the skew gate, or killed). */
  unfinishedPath: string | null;
  /**
   * The versions still ahead of that transit revision, as its hop recorded them; null where the record does not say
   * (written by an installer before 0.1.0's pathAhead) or no path is unfinished.
   */
  pathAhead: string[] | null;
}

/**
 * An attempt still `in-progress` whose run no longer holds the lock, or whose holder is provably gone (a killed
 * pod or process whose lease has not run out yet), was interrupted: the record cannot say so itself, since the
 * run that would have written it is gone.
 */
function asSeen(entry: RecordEntry, state: ClusterState, now: Date, holderGone: boolean): RecordEntry {
  if (entry.outcome !== 'in-progress') return entry;
  const lock = state.lock;
  const running =
    !holderGone &&
    lock !== undefined &&
    lock.holder === entry.holder &&
    (lock.expires === undefined || lock.expires.getTime() > now.getTime());
  return running ? entry : { ...entry, outcome: 'interrupted' };
}

/**
 * `lockHolderGone`: the lock's holder is provably gone (see holder.ts), found by the caller. `dataPlane`: each
 * namespace's data-plane mode and the waypoints (data-plane.ts), read by the caller.
 */
export function statusReport(
  state: ClusterState,
  now: Date,
  lockHolderGone = false,
  dataPlane: { namespaces: NamespaceDataPlane[]; waypoints: Waypoint[] } = { namespaces: [], waypoints: [] },
  support: { kubernetes: string; available: readonly string[] } = { kubernetes: '', available: [] },
): StatusReport {
  const version = (v: { version: IstioVersion | undefined }) =>
    v.version ? formatIstioVersion(v.version) : 'unknown';
  const revisions = state.controlPlanes.map((plane) => ({
    revision: plane.revision,
    version: version(plane),
    ready: `${plane.readyReplicas}/${plane.replicas}`,
    tags: Object.entries(state.tags)
      .filter(([, revision]) => revision === plane.revision)
      .map(([tag]) => tag),
  }));
  const gateways = state.gateways.map((g) => ({
    name: g.name,
    namespace: g.namespace,
    revision: g.revision,
    version: version(g),
    ready: g.ready,
  }));
  const nodeAgents = state.agents.map((a) => ({
    name: a.name,
    namespace: a.namespace,
    version: version(a),
    ready: `${a.readyReplicas}/${a.replicas}`,
    healthy: a.ready,
  }));
  const problems = meshProblems(state);
  const current = state.record ? asSeen(state.record.current, state, now, lockHolderGone) : null;
  return {
    namespace: state.namespace,
    healthy: state.controlPlanes.length > 0 && problems.length === 0,
    problems,
    warnings: current?.warnings ?? [],
    revisions,
    gateways,
    nodeAgents,
    dataPlane: dataPlane.namespaces,
    waypoints: dataPlane.waypoints,
    staleWebhooks: staleWebhooks(state).map((w) => `${w.kind}/${w.name}`),
    lastApplied: current,
    lastGood: state.record?.lastGood ?? null,
    history: (state.record?.history ?? []).map((entry, i) => (i === 0 && current ? current : entry)),
    lastAppliedSpec: state.record?.spec ?? null,
    kubernetes: support.kubernetes,
    heldBack: heldBackNow(state, support),
    unfinishedPath: unfinishedPath(state),
    pathAhead: pathAhead(state),
  };
}

/** The line for a default revision that is a transit revision: the path stopped there and a run goes on from it. */
function unfinishedPath(state: ClusterState): string | null {
  const active = defaultRevision(state);
  if (!active || !isTransitRevision(active)) return null;
  const version = controlPlaneOf(state, active)?.version;
  const ahead = pathAhead(state);
  const left = ahead
    ? `, ${ahead.length} hop${ahead.length === 1 ? '' : 's'} to go (${ahead.join(' -> ')})`
    : '';
  return `a stepped upgrade stands at transit revision ${active} (Istio ${version ? formatIstioVersion(version) : 'unknown'})${left}: run helm upgrade (or istio-installer install) again to go on`;
}

/** What the newest successful hop onto the active transit revision recorded as still ahead of it. */
function pathAhead(state: ClusterState): string[] | null {
  const active = defaultRevision(state);
  if (!active || !isTransitRevision(active) || !state.record) return null;
  const { current, history } = state.record;
  const hop = [current, ...history].find((e) => e.revision === active && e.outcome === 'succeeded');
  return hop?.pathAhead?.length ? hop.pathAhead : null;
}

/**
 * The held-back line for what runs now: the newest Istio at hand needs a newer Kubernetes than the cluster's, and
 * the active revision is older than it. Null when nothing is held back (or the server version is unknown).
 */
function heldBackNow(
  state: ClusterState,
  support: { kubernetes: string; available: readonly string[] },
): string | null {
  const kube = parseKubeVersion(support.kubernetes);
  const active = defaultRevision(state);
  const running = active ? controlPlaneOf(state, active)?.version : undefined;
  if (!kube || !running) return null;
  const auto = autoTarget(support.available, kube);
  const passedOver = auto.passedOver.filter((v) => compareVersions(v, running) > 0);
  return heldBackLine({ target: running, passedOver }, kube) ?? null;
}

/** The human form of the report. */
export function formatStatus(report: StatusReport): string {
  const lines = [
    `Istio in ${report.namespace}: ${report.revisions.length === 0 ? 'not installed' : report.healthy ? 'healthy' : 'NOT healthy'}${report.kubernetes ? ` (Kubernetes ${report.kubernetes})` : ''}`,
  ];
  if (report.unfinishedPath) lines.push(`  unfinished: ${report.unfinishedPath}`);
  if (report.heldBack) lines.push(`  held back: ${report.heldBack}`);
  for (const r of report.revisions)
    lines.push(
      `  revision ${r.revision}: Istio ${r.version}, istiod ${r.ready} ready${r.tags.length ? `, tags ${r.tags.join(', ')}` : ''}`,
    );
  for (const g of report.gateways)
    lines.push(
      `  gateway ${g.namespace}/${g.name}: Istio ${g.version}, revision ${g.revision}, ${g.ready ? 'ready' : 'NOT ready'}`,
    );
  for (const a of report.nodeAgents)
    lines.push(
      `  node agent ${a.namespace}/${a.name}: Istio ${a.version}, ${a.ready} pods ready${a.healthy ? '' : ' (NOT ready)'}`,
    );
  lines.push(...formatDataPlane(report.dataPlane, report.waypoints));
  for (const problem of report.problems) lines.push(`  problem: ${problem}`);
  for (const w of report.staleWebhooks)
    lines.push(`  stale webhook ${w} (calls a Service that does not exist)`);
  const last = report.lastApplied;
  if (last)
    lines.push(
      `last run: ${last.action} ${last.outcome} at ${last.time}: Istio ${last.istioVersion}, revision ${last.revision}, spec sha256 ${last.specSha256.slice(0, 12)}, chart ${last.chartVersion || '-'}${last.message ? ` (${last.message})` : ''}`,
    );
  else lines.push('last run: none on record');
  for (const warning of report.warnings) lines.push(`  warning: ${warning}`);
  if (report.lastGood && report.lastGood.time !== last?.time)
    lines.push(`last good: Istio ${report.lastGood.istioVersion} at ${report.lastGood.time}`);
  if (report.history.length > 1)
    lines.push(`history: ${report.history.map((h) => `${h.time} ${h.action} ${h.outcome}`).join('; ')}`);
  return lines.join('\n') + '\n';
}

/** One line per mode: the ambient and sidecar namespaces by name, the others counted; then the waypoints. */
function formatDataPlane(
  namespaces: readonly NamespaceDataPlane[],
  waypoints: readonly Waypoint[],
): string[] {
  if (namespaces.length === 0) return [];
  const ambient = namespaces.filter((n) => n.mode === 'ambient');
  const sidecar = namespaces.filter((n) => n.mode === 'sidecar');
  const none = namespaces.filter((n) => n.mode === 'none');
  const lines = ['  data plane by namespace:'];
  if (ambient.length > 0)
    lines.push(
      `    ambient: ${ambient.map((n) => `${n.namespace}${n.useWaypoint ? ` (waypoint ${n.useWaypoint})` : ''}`).join(', ')}`,
    );
  if (sidecar.length > 0)
    lines.push(`    sidecar: ${sidecar.map((n) => `${n.namespace} (revision ${n.revision})`).join(', ')}`);
  lines.push(`    none: ${none.length} namespace${none.length === 1 ? '' : 's'}`);
  lines.push(
    waypoints.length > 0
      ? `  waypoints: ${waypoints.map((w) => `${w.namespace}/${w.name} (for ${w.for})`).join(', ')}`
      : '  waypoints: none',
  );
  return lines;
}
