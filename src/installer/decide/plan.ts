// Decides what a run does (install, upgrade in place or by canary, reconfigure, repair, nothing, or refuse) and why. Pure.
import { createPatch } from 'diff';
import type { JsonObject } from '../../overlay/json.js';
import { componentEnabled } from '../../overlay/profiles.js';
import {
  compareVersions,
  formatIstioVersion,
  minorDistance,
  revisionName,
  type IstioVersion,
} from '../model/istio-version.js';
import { revisionProblems } from './health.js';
import { neverReported } from '../model/record.js';
import { refused, type Refused } from '../model/refusal.js';
import { objectAt, specOf } from '../model/spec.js';
import { controlPlaneOf, defaultRevision, type ClusterState, type ControlPlane } from '../model/state.js';

export type PlanKind =
  'install' | 'upgrade-in-place' | 'upgrade-canary' | 'reconfigure' | 'repair' | 'nothing';

export interface Desired {
  /** The merged IstioOperator from render. */
  istioOperator: JsonObject;
  version: IstioVersion | undefined;
  /** `spec.revision`, empty for the default revision. */
  revision: string;
  strategy: 'InPlace' | 'RevisionBased';
  revisionTags: readonly string[];
  force: boolean;
}

export interface Plan {
  kind: PlanKind;
  /** One sentence a person reads in the plan and the logs. */
  reason: string;
  /** The IstioOperator to apply (for a canary, with its new revision set). */
  istioOperator: JsonObject;
  /** The revision the spec installs (`default` for none). */
  revision: string;
  fromVersion: IstioVersion | undefined;
  toVersion: IstioVersion | undefined;
  /** For a canary: the revision that served until now. */
  previousRevision: string | undefined;
  /** Revision tags to point at `revision` once it is ready. */
  moveTags: string[];
  /** Guards that forceInstall overrode, for the log. */
  overridden: string[];
  /** For a repair: what is missing or not ready, one line each. */
  problems: string[];
}

const versionText = (version: IstioVersion | undefined) =>
  version ? formatIstioVersion(version) : 'unknown';

/** Decides what to do; every guard can be overridden by `force` (Rancher's forceInstall), which the plan then lists. */
export function planAction(state: ClusterState, desired: Desired, desiredHash: string): Plan | Refused {
  const overridden: string[] = [];
  const guard = (message: string, hint: string): Refused | undefined => {
    if (desired.force) {
      overridden.push(message);
      return undefined;
    }
    return refused(message, hint);
  };

  if (state.legacyPilot) {
    const refusal = guard(
      'an Istio 1.5 or older control plane (Deployment istio-pilot) is installed; istioctl cannot upgrade it',
      'uninstall the old Istio first (istioctl x uninstall --purge of that version), or set forceInstall: true',
    );
    if (refusal) return refusal;
  }

  const plan = (kind: PlanKind, reason: string, extra: Partial<Plan> = {}): Plan => ({
    kind,
    reason,
    istioOperator: desired.istioOperator,
    revision: desired.revision || 'default',
    fromVersion: undefined,
    toVersion: desired.version,
    previousRevision: undefined,
    moveTags: [],
    overridden,
    problems: [],
    ...extra,
  });

  if (desired.strategy === 'RevisionBased') return planCanary(state, desired, desiredHash, guard, plan);

  const current = controlPlaneOf(state, desired.revision);
  if (!current) {
    const others = state.controlPlanes.map((p) => `${p.revision} (${versionText(p.version)})`).join(', ');
    return plan(
      'install',
      others
        ? `no control plane of revision ${desired.revision || 'default'}; installed: ${others}`
        : 'no Istio control plane is installed',
    );
  }
  return planAgainst(current, state, desired, desiredHash, guard, plan, 1);
}

type Guard = (message: string, hint: string) => Refused | undefined;
/** Builds a Plan of `desired` with the given kind and reason (what planAction's helpers return). */
type PlanBuilder = (kind: PlanKind, reason: string, extra?: Partial<Plan>) => Plan;

/** Same revision: compare versions, then specs. `maxMinors` is how far one step may go. */
function planAgainst(
  current: ControlPlane,
  state: ClusterState,
  desired: Desired,
  desiredHash: string,
  guard: Guard,
  plan: PlanBuilder,
  maxMinors: number,
): Plan | Refused {
  const from = current.version;
  const to = desired.version;
  const extra = { fromVersion: from, revision: current.revision };
  if (from && to) {
    const order = compareVersions(to, from);
    if (order < 0) {
      const refusal = guard(
        `downgrade from ${formatIstioVersion(from)} to ${formatIstioVersion(to)} of revision ${current.revision}: istioctl does not support downgrades`,
        `keep tag ${formatIstioVersion(from)}, or install ${formatIstioVersion(to)} as a separate revision and move the tags back; forceInstall: true applies it anyway`,
      );
      if (refusal) return refusal;
    }
    const distance = minorDistance(from, to);
    if (distance > maxMinors) {
      const next = `${from.major}.${from.minor + 1}`;
      const refusal = guard(
        `upgrade from ${formatIstioVersion(from)} to ${formatIstioVersion(to)} skips ${distance - 1} minor release(s); in-place upgrades go one minor at a time`,
        `upgrade to the latest ${next}.x first, or set upgrade.strategy: RevisionBased (a canary may skip one minor)`,
      );
      if (refusal) return refusal;
    }
    if (order !== 0)
      return plan(
        'upgrade-in-place',
        `upgrade ${current.revision} in place from ${formatIstioVersion(from)} to ${formatIstioVersion(to)}`,
        extra,
      );
  } else if (!from) {
    const refusal = guard(
      `cannot tell the Istio version of Deployment ${current.namespace}/${current.deployment} from its image ${current.image}`,
      'set forceInstall: true to apply the spec without the version checks',
    );
    if (refusal) return refusal;
  }

  const wrong = revisionProblems(state, current.revision, desired.istioOperator, to);
  const record = state.record?.current;
  if (wrong.length > 0)
    return plan(
      'repair',
      `revision ${current.revision} is not healthy: ${wrong[0]}${wrong.length > 1 ? ` (and ${wrong.length - 1} more)` : ''}; re-applying`,
      { ...extra, problems: wrong },
    );
  if (record && record.revision === current.revision && neverReported(record.outcome))
    return plan(
      'reconfigure',
      `the last run (${record.action} at ${record.time}) did not finish; applying the spec again`,
      extra,
    );
  if (!record || record.outcome !== 'succeeded' || record.revision !== current.revision)
    return plan(
      'reconfigure',
      'no successful install of this revision is on record; applying the spec',
      extra,
    );
  if (record.specSha256 !== desiredHash)
    return plan(
      'reconfigure',
      `the spec changed since ${record.time} (sha256 ${record.specSha256.slice(0, 12)} -> ${desiredHash.slice(0, 12)})`,
      extra,
    );
  return plan(
    'nothing',
    `Istio ${versionText(from)} (revision ${current.revision}) is installed with this exact spec and healthy`,
    extra,
  );
}

/**
 * The revision a revision-based change installs: the spec's own, else one named after the version (empty: none can
 * be).
 */
export function canaryRevision(revision: string, version: IstioVersion | undefined): string {
  return revision || (version ? revisionName(version) : '');
}

/** The spec with `spec.revision` set: what a revision-based change applies. */
export function withRevision(istioOperator: JsonObject, revision: string): JsonObject {
  return { ...istioOperator, spec: { ...specOf(istioOperator), revision } };
}

/** A revision-based change: a new revision next to the active one, or tags moved onto one already installed. */
function planCanary(
  state: ClusterState,
  desired: Desired,
  desiredHash: string,
  guard: Guard,
  plan: PlanBuilder,
): Plan | Refused {
  const target = canaryRevision(desired.revision, desired.version);
  if (!target)
    return refused(
      `tag ${String(specOf(desired.istioOperator).tag)} is not a version, so no revision name can be made from it`,
      'set `revision` explicitly',
    );
  const tags = ['default', ...desired.revisionTags.filter((tag) => tag !== 'default')];
  const istioOperator = withRevision(desired.istioOperator, target);
  const activeRevision = defaultRevision(state);
  const existing = controlPlaneOf(state, target);
  if (existing) {
    const result = planAgainst(
      existing,
      state,
      { ...desired, istioOperator, revision: target },
      desiredHash,
      guard,
      plan,
      0,
    );
    return 'refused' in result
      ? result
      : withTagsMoved(result, state, istioOperator, target, tags, activeRevision);
  }
  const active = activeRevision ? controlPlaneOf(state, activeRevision) : undefined;
  if (!active)
    return plan('install', `no Istio control plane is installed; installing revision ${target}`, {
      istioOperator,
      revision: target,
      moveTags: tags,
    });
  const refusal = canaryGuards(active, desired.version, guard);
  if (refusal) return refusal;
  return plan(
    'upgrade-canary',
    `install ${versionText(desired.version)} as revision ${target} next to ${active.revision} (${versionText(active.version)}), then move tags ${tags.join(', ')}`,
    {
      istioOperator,
      revision: target,
      fromVersion: active.version,
      previousRevision: active.revision,
      moveTags: tags,
    },
  );
}

/** The target revision is installed: its own plan, plus the tags that do not point at it yet. */
function withTagsMoved(
  result: Plan,
  state: ClusterState,
  istioOperator: JsonObject,
  target: string,
  tags: readonly string[],
  activeRevision: string | undefined,
): Plan {
  const tagsToMove = tags.filter((tag) => state.tags[tag] !== target);
  // Only another revision is retired afterwards: moving a user tag onto the active one removes nothing.
  const previousRevision = activeRevision !== target ? activeRevision : undefined;
  if (result.kind === 'nothing' && tagsToMove.length > 0)
    return {
      ...result,
      kind: 'reconfigure',
      istioOperator,
      reason: `revision ${target} is installed; moving tags ${tagsToMove.join(', ')} to it`,
      moveTags: tagsToMove,
      previousRevision,
    };
  return { ...result, istioOperator, moveTags: tagsToMove, previousRevision };
}

/** A canary goes up, at most two minors past the active revision. */
function canaryGuards(active: ControlPlane, to: IstioVersion | undefined, guard: Guard): Refused | undefined {
  const from = active.version;
  if (!from || !to) return undefined;
  if (compareVersions(to, from) < 0) {
    const refusal = guard(
      `canary of ${formatIstioVersion(to)} is older than the active revision ${active.revision} (${formatIstioVersion(from)})`,
      'a downgrade is done by moving the tags back to an older revision that is still installed; forceInstall: true installs it anyway',
    );
    if (refusal) return refusal;
  }
  const distance = minorDistance(from, to);
  if (distance > 2)
    return guard(
      `canary upgrade from ${formatIstioVersion(from)} to ${formatIstioVersion(to)} spans ${distance} minor releases; revision-based upgrades may go at most two`,
      `install ${from.major}.${from.minor + 2}.x first`,
    );
  return undefined;
}

/** A unified diff of the spec to apply against the last one applied (or against nothing). */
export function specDiff(lastApplied: string | undefined, next: string): string {
  if (lastApplied === next) return '';
  return createPatch('IstioOperator', lastApplied ?? '', next, 'last applied', 'to apply', { context: 3 })
    .split('\n')
    .slice(2)
    .join('\n');
}

/** The lines `plan` prints. */
export function describePlan(plan: Plan): string[] {
  const lines = [`plan: ${plan.kind}`, `  why: ${plan.reason}`];
  if (plan.kind !== 'nothing')
    lines.push(
      `  revision: ${plan.revision}, Istio ${plan.fromVersion ? `${versionText(plan.fromVersion)} -> ` : ''}${versionText(plan.toVersion)}`,
    );
  if (plan.moveTags.length > 0)
    lines.push(`  then: point revision tags ${plan.moveTags.join(', ')} at ${plan.revision}`);
  for (const problem of plan.problems) lines.push(`  unhealthy: ${problem}`);
  for (const guard of plan.overridden) lines.push(`  forced past: ${guard}`);
  lines.push(...ambientNotes(plan));
  return lines;
}

/**
 * What an ambient data plane means for this plan. The order is istioctl's own (its installer's component
 * dependencies in 1.30 and 1.31): istio-cni waits only for the base component, so it rolls out alongside the control
 * plane, and ztunnel waits until istio-cni is ready. An in-place upgrade of node agents that run an older version
 * gets Sail Operator's order instead (control plane, then istio-cni, then ztunnel; see controlPlaneFirstSpec). Pure.
 */
export function ambientNotes(plan: Plan): string[] {
  if (plan.kind === 'nothing') return [];
  const spec = specOf(plan.istioOperator);
  const ztunnel = componentEnabled(spec, 'ztunnel');
  const cni = componentEnabled(spec, 'cni');
  if (!ztunnel && !cni) return [];
  const lines = [
    cni && ztunnel
      ? "  order (istioctl's): base, then the control plane and istio-cni side by side, then ztunnel once istio-cni is ready"
      : "  order (istioctl's): base, then the control plane and istio-cni side by side",
  ];
  if (plan.kind === 'upgrade-in-place')
    lines[0] = `  order (Sail Operator's, when the node agents run an older version): the control plane first (an istioctl run without istio-cni and ztunnel), then ${
      cni && ztunnel ? 'istio-cni, then ztunnel once istio-cni is ready' : cni ? 'istio-cni' : 'ztunnel'
    }`;
  if (plan.kind === 'upgrade-canary')
    lines.push(
      `  note: istio-cni and ztunnel are not revisioned: they move to revision ${plan.revision} in place when it installs, before any tag moves (Istio's ztunnel upgrade)`,
    );
  if (ztunnel && plan.kind !== 'install')
    lines.push(
      '  warning: a ztunnel restart cuts the existing connections of every ambient pod on its node (ztunnel is updated in place, node by node); cordon and drain a node first where long-lived connections matter',
    );
  return lines;
}

/**
 * The spec of the first of two istioctl runs that give an in-place upgrade of the ambient node agents Sail Operator's
 * order: control plane, then istio-cni, then ztunnel. One run applies istio-cni next to the control plane; so the
 * first run applies the spec without istio-cni and ztunnel, and the second the whole spec (istioctl applies ztunnel
 * once istio-cni is ready). The first run deletes nothing of theirs: istioctl 1.30/1.31 prune only objects labelled
 * with their own version (`operator.istio.io/version`), and every node agent found was applied by another version
 * and runs an older one. Otherwise (a re-run after a failed upgrade, a node agent without that label, none at all)
 * it is undefined: one run, which deletes nothing either. Pure.
 */
export function controlPlaneFirstSpec(plan: Plan, state: ClusterState): JsonObject | undefined {
  const target = plan.toVersion;
  if (plan.kind !== 'upgrade-in-place' || !target || state.agents.length === 0) return undefined;
  const targetText = formatIstioVersion(target);
  const safe = (agent: ClusterState['agents'][number]) =>
    agent.appliedBy !== undefined &&
    agent.appliedBy !== targetText &&
    agent.version !== undefined &&
    compareVersions(agent.version, target) < 0;
  if (!state.agents.every(safe)) return undefined;
  const spec = specOf(plan.istioOperator);
  if (!componentEnabled(spec, 'cni') && !componentEnabled(spec, 'ztunnel')) return undefined;
  const components = objectAt(spec, 'components');
  const off = (name: 'cni' | 'ztunnel') => ({ ...objectAt(components, name), enabled: false });
  return {
    ...plan.istioOperator,
    spec: { ...spec, components: { ...components, cni: off('cni'), ztunnel: off('ztunnel') } },
  };
}

/** What a plan's prechecks depend on: the decision, and the cluster facts they are judged by. */
export interface PrecheckInput {
  plan: Pick<Plan, 'kind' | 'revision' | 'toVersion'>;
  hash: string;
  state: Pick<ClusterState, 'webhooks' | 'controlPlanes' | 'record'>;
}

/**
 * Whether prechecks run on the decision before the lock still hold for the decision under it: the same action, spec
 * and version, and no other run in between (the record, our webhooks and control planes as they were). Otherwise
 * they run again.
 */
export function samePrecheckInput(before: PrecheckInput, now: PrecheckInput): boolean {
  const facts = ({ plan, hash, state }: PrecheckInput) =>
    JSON.stringify([
      plan.kind,
      plan.revision,
      plan.toVersion ? formatIstioVersion(plan.toVersion) : '',
      hash,
      state.webhooks,
      state.controlPlanes.map((c) => [c.name, c.revision, c.image]),
      state.record?.current ?? null,
    ]);
  return facts(before) === facts(now);
}
