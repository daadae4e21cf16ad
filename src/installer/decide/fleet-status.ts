// `status` over many clusters: which clusters the options name, one row per cluster, the table and the JSON. Pure.
import path from 'node:path';
import { InputError, PreconditionError, TimeoutError, ExitCode, type Issue } from '../../errors.js';
import {
  compareVersions,
  formatIstioVersion,
  minorDistance,
  type IstioVersion,
} from '../model/istio-version.js';
import { controlPlaneOf, defaultRevision, type ClusterState } from '../model/state.js';
import { SUPPORTED_PROXY_SKEW, type ProxyPod } from './skew.js';
import type { StatusReport } from './status.js';

/** One cluster of the view: a context of a kubeconfig, and the name its row shows. */
export interface FleetTarget {
  name: string;
  kubeconfig: string;
  context: string;
}

/** What the view needs of a kubeconfig: its contexts in the file's order, and its current-context. */
export interface KubeconfigContextList {
  file: string;
  current: string | undefined;
  contexts: readonly string[];
}

/** Whether the options ask for more than one cluster; one cluster keeps the single-cluster `status` output. */
export function asksForMany(asked: {
  allContexts: boolean;
  contexts: readonly string[];
  kubeconfigs: readonly string[];
}): boolean {
  return asked.allContexts || asked.contexts.length > 1 || asked.kubeconfigs.length > 1;
}

/**
 * The clusters the options name, in the order given: every context of every kubeconfig (`--all-contexts`), the named
 * contexts wherever they are defined, or each kubeconfig's current-context. A context named nowhere, or a kubeconfig
 * without a current-context when none is named, is exit 2. Rows are named by context; a context name found in two
 * kubeconfigs is told apart by its file's name (`b.yaml:prod`).
 */
export function fleetTargets(
  files: readonly KubeconfigContextList[],
  asked: { allContexts: boolean; contexts: readonly string[] },
): FleetTarget[] {
  const issues: Issue[] = [];
  if (asked.allContexts && asked.contexts.length > 0)
    issues.push({ path: '--all-contexts', message: 'names every context: give it or --context, not both' });
  const found: { kubeconfig: string; context: string }[] = [];
  if (asked.allContexts)
    for (const f of files) found.push(...f.contexts.map((context) => ({ kubeconfig: f.file, context })));
  else if (asked.contexts.length > 0)
    for (const context of asked.contexts) {
      const holders = files.filter((f) => f.contexts.includes(context));
      if (holders.length === 0)
        issues.push({
          path: '--context',
          message: `no context named "${context}" in ${files.map((f) => f.file).join(', ')}`,
        });
      found.push(...holders.map((f) => ({ kubeconfig: f.file, context })));
    }
  else
    for (const f of files) {
      if (f.current && f.contexts.includes(f.current)) found.push({ kubeconfig: f.file, context: f.current });
      else issues.push({ file: f.file, path: 'current-context', message: 'names no context of this file' });
    }
  if (issues.length > 0) throw new InputError(issues);
  const unique = new Map<string, { kubeconfig: string; context: string }>();
  for (const t of found) unique.set(`${t.kubeconfig}\u0000${t.context}`, t);
  const targets = [...unique.values()];
  const count = (context: string) => targets.filter((t) => t.context === context).length;
  return targets.map((t) => ({
    ...t,
    name: count(t.context) > 1 ? `${path.basename(t.kubeconfig)}:${t.context}` : t.context,
  }));
}

/** Why a cluster has no state in the view, by the exit code a single-cluster `status` would have given it. */
export type RowErrorKind = 'unreachable' | 'refused' | 'invalid' | 'error';

export interface ClusterRow {
  cluster: string;
  context: string;
  kubeconfig: string;
  /** The API server's URL; empty where the kubeconfig could not be read. */
  server: string;
  /** Null when the cluster was read; otherwise why not, in one line. */
  error: { kind: RowErrorKind; message: string } | null;
  /** The API server's version (`v1.36.3`); empty when not read. */
  kubernetes: string;
  installed: boolean;
  healthy: boolean;
  problems: string[];
  /** The active revision (the `default` tag's) and its Istio version. */
  revision: string | null;
  istioVersion: string | null;
  revisions: StatusReport['revisions'];
  lastRun: {
    action: string;
    outcome: string;
    time: string;
    istioVersion: string;
    revision: string;
    message?: string;
  } | null;
  /**
   * A stepped upgrade that has not reached its target: the transit revision it stands at and the versions still
   * ahead, as that hop recorded them (null from a record that predates them).
   */
  pending: { transitRevision: string; hopsAhead: string[] | null; message: string } | null;
  /** Sidecar proxies against the active revision: how many, how many beyond Istio's supported skew, the oldest. */
  dataPlane: { proxies: number; beyondSkew: number; oldestProxy: string | null };
}

const EMPTY_DATA_PLANE = { proxies: 0, beyondSkew: 0, oldestProxy: null };

/** The row of a cluster that was read: its status report, its state (the active revision) and its proxies. */
export function clusterRow(
  target: FleetTarget,
  server: string,
  state: ClusterState,
  report: StatusReport,
  proxies: readonly ProxyPod[],
): ClusterRow {
  const active = defaultRevision(state);
  const version = active ? controlPlaneOf(state, active)?.version : undefined;
  const last = report.lastApplied;
  const withVersion = proxies.flatMap((p) => (p.proxyVersion ? [p.proxyVersion] : []));
  const oldest = [...withVersion].sort(compareVersions)[0];
  return {
    cluster: target.name,
    context: target.context,
    kubeconfig: target.kubeconfig,
    server,
    error: null,
    kubernetes: report.kubernetes,
    installed: report.revisions.length > 0,
    healthy: report.healthy,
    problems: report.problems,
    revision: active ?? null,
    istioVersion: version ? formatIstioVersion(version) : null,
    revisions: report.revisions,
    lastRun: last
      ? {
          action: last.action,
          outcome: last.outcome,
          time: last.time,
          istioVersion: last.istioVersion,
          revision: last.revision,
          ...(last.message ? { message: last.message } : {}),
        }
      : null,
    pending:
      report.unfinishedPath && active
        ? { transitRevision: active, hopsAhead: report.pathAhead, message: report.unfinishedPath }
        : null,
    dataPlane: {
      proxies: proxies.length,
      beyondSkew: proxies.filter((p) => beyondOwnSkew(state, p, version)).length,
      oldestProxy: oldest ? formatIstioVersion(oldest) : null,
    },
  };
}

/**
 * Istio's policy: a control plane may be one minor ahead of its proxies, never behind them. A proxy is held to the
 * control plane of its own revision (through a tag), or to the active one where that revision is gone: during a
 * canary, proxies of the new revision are ahead of the active one and rightly so.
 */
function beyondOwnSkew(state: ClusterState, pod: ProxyPod, active: IstioVersion | undefined): boolean {
  const own = controlPlaneOf(state, state.tags[pod.revision] ?? pod.revision)?.version ?? active;
  if (!own || !pod.proxyVersion) return false;
  const distance = minorDistance(pod.proxyVersion, own);
  return distance > SUPPORTED_PROXY_SKEW || distance < 0;
}

/** The row of a cluster that could not be read, with the exit code a single-cluster `status` would have given. */
export function errorRow(target: FleetTarget, server: string, exitCode: number, message: string): ClusterRow {
  const kind: RowErrorKind =
    exitCode === ExitCode.timeout
      ? 'unreachable'
      : exitCode === ExitCode.precondition
        ? 'refused'
        : exitCode === ExitCode.input
          ? 'invalid'
          : 'error';
  return {
    cluster: target.name,
    context: target.context,
    kubeconfig: target.kubeconfig,
    server,
    error: { kind, message },
    kubernetes: '',
    installed: false,
    healthy: false,
    problems: [],
    revision: null,
    istioVersion: null,
    revisions: [],
    lastRun: null,
    pending: null,
    dataPlane: EMPTY_DATA_PLANE,
  };
}

/** The HEALTH column: the one word a glance down 40 rows looks for. */
function health(row: ClusterRow): string {
  if (row.error) return row.error.kind === 'unreachable' ? 'UNREACHABLE' : row.error.kind.toUpperCase();
  if (!row.installed) return 'not installed';
  return row.healthy ? 'healthy' : 'NOT healthy';
}

/** `3m ago`, `5h ago`, `12d ago`: the age of a record entry at `now`; `-` where the time does not parse. */
export function age(time: string, now: Date): string {
  const ms = now.getTime() - Date.parse(time);
  if (Number.isNaN(ms)) return '-';
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** The SKEW column: no sidecars, all within Istio's skew policy, or how many are beyond it. */
function skew(row: ClusterRow): string {
  if (row.error || row.dataPlane.proxies === 0) return '-';
  return row.dataPlane.beyondSkew === 0 ? 'ok' : `${row.dataPlane.beyondSkew} beyond`;
}

/** The NOTE column: the one thing worth reading on this row, if any. */
function note(row: ClusterRow): string {
  if (row.error) {
    // The retry's own words, reordered so that the cause survives the cut at the end of the line.
    const retried =
      /^the Kubernetes API server (\S+) did not answer (.+) after (\d+) attempts \((.+)\)$/.exec(
        row.error.message,
      );
    return retried
      ? `${retried[4]}: ${retried[1]} did not answer ${retried[2]} (${retried[3]} attempts)`
      : row.error.message;
  }
  const [first, ...more] = row.problems;
  if (first) return more.length > 0 ? `${first} (+${more.length} more)` : first;
  if (row.lastRun && !['succeeded', 'uninstalled'].includes(row.lastRun.outcome) && row.lastRun.message)
    return row.lastRun.message;
  const others = row.revisions.filter((r) => r.revision !== row.revision);
  if (others.length > 0)
    return `also ${others.map((r) => `revision ${r.revision} (Istio ${r.version})`).join(', ')}`;
  return '';
}

/** The widest a column grows; longer values are cut with `…` so that one cluster stays one line. */
const COLUMNS = [
  { header: 'CLUSTER', max: 28 },
  { header: 'KUBERNETES', max: 16 },
  { header: 'ISTIO', max: 10 },
  { header: 'REVISION', max: 12 },
  { header: 'HEALTH', max: 13 },
  { header: 'LAST RUN', max: 22 },
  { header: 'WHEN', max: 8 },
  { header: 'PENDING', max: 10 },
  { header: 'SKEW', max: 10 },
] as const;

/** The line width the table keeps within (a 160-column terminal does not wrap it). */
export const FLEET_TABLE_WIDTH = 160;
const GAP = '  ';

function cut(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** The PENDING column: the hops still to go, or (from an older record) the transit revision the path stands at. */
function pendingCell(pending: ClusterRow['pending']): string {
  if (!pending) return '-';
  const ahead = pending.hopsAhead;
  return ahead ? `${ahead.length} hop${ahead.length === 1 ? '' : 's'}` : `at ${pending.transitRevision}`;
}

function cells(row: ClusterRow, now: Date): string[] {
  return [
    row.cluster,
    row.kubernetes || '-',
    row.istioVersion ?? '-',
    row.revision ?? '-',
    health(row),
    row.lastRun ? `${row.lastRun.action} ${row.lastRun.outcome}` : '-',
    row.lastRun ? age(row.lastRun.time, now) : '-',
    pendingCell(row.pending),
    skew(row),
  ];
}

/**
 * The human view: a header, one line per cluster in aligned columns, the NOTE column cut to what is left of
 * `width`, and a count line. Rows keep the order of the targets (the kubeconfig's order of contexts).
 */
export function formatFleet(rows: readonly ClusterRow[], now: Date, width = FLEET_TABLE_WIDTH): string {
  const body = rows.map((row) => ({ cells: cells(row, now), note: note(row) }));
  const widths = COLUMNS.map((column, i) =>
    Math.min(column.max, Math.max(column.header.length, ...body.map((b) => [...(b.cells[i] ?? '')].length))),
  );
  const fixed = widths.reduce((sum, w) => sum + w + GAP.length, 0);
  const noteWidth = Math.max(0, width - fixed);
  const line = (values: readonly string[], last: string) =>
    [
      ...values.map((v, i) => {
        const w = widths[i] ?? 0;
        const text = cut(v, w);
        return text + ' '.repeat(w - [...text].length);
      }),
      cut(last, noteWidth),
    ]
      .join(GAP)
      .trimEnd();
  const lines = [
    line(
      COLUMNS.map((c) => c.header),
      'NOTE',
    ),
    ...body.map((b) => line(b.cells, b.note)),
    summary(rows),
  ];
  return lines.join('\n') + '\n';
}

/** `40 clusters: 35 healthy, 2 NOT healthy, 1 not installed, 2 unreachable`. */
export function summary(rows: readonly ClusterRow[]): string {
  const counts = new Map<string, number>();
  for (const row of rows) {
    const key = row.error ? row.error.kind : health(row);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const parts = [...counts.entries()].map(([key, n]) => `${n} ${key}`);
  return `${rows.length} cluster${rows.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/** The JSON view: one entry per cluster, in the targets' order. */
export function fleetJson(rows: readonly ClusterRow[]): string {
  return JSON.stringify(rows, null, 2) + '\n';
}

/**
 * The error the command ends with once the view is printed, or undefined when every cluster was read (healthy or
 * not, as a single-cluster `status` exits 0 for an unhealthy mesh). Its exit code is the one a single-cluster
 * `status` would have given the worst of them: 5 when any cluster did not answer, else 3 when any refused, else 2
 * for an unusable context, else 1.
 */
export function fleetError(rows: readonly ClusterRow[], timeoutSeconds: number): Error | undefined {
  const failed = rows.filter((r) => r.error);
  if (failed.length === 0) return undefined;
  const message = `${failed.length} of ${rows.length} clusters could not be read: ${failed.map((r) => `${r.cluster} (${r.error?.kind})`).join(', ')}`;
  const kinds = new Set(failed.map((r) => r.error?.kind));
  if (kinds.has('unreachable'))
    return new TimeoutError(`${message}; each had ${timeoutSeconds}s (--timeout)`);
  if (kinds.has('refused')) return new PreconditionError(message);
  if (kinds.has('invalid')) return new InputError([{ path: '--context', message }]);
  return new Error(message);
}
