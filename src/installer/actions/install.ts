// `install`: read and decide (plan.ts), check the spec offline, take the lock, then apply one revision per hop
// (apply-revision.ts) until the plan says nothing is left; a takeover first adopts, and between hops proxies are kept
// within the supported skew.
import { TimeoutError } from '../../errors.js';
import { renderDocument } from '../../overlay/output.js';
import { withLock } from '../cluster/lock.js';
import { readRecord } from '../cluster/read-state.js';
import { readProxyPods, removeLeftovers, restartOwner } from '../cluster/read-takeover.js';
import { writeRecord } from '../cluster/record-store.js';
import { pollUntil } from '../cluster/wait.js';
import { describePause, pauseBeforeHop } from '../decide/path.js';
import { controlPlaneFirstSpec, samePrecheckInput } from '../decide/plan.js';
import { beyondSkew, skewGate } from '../decide/skew.js';
import { describeFound, type Recognition } from '../decide/takeover.js';
import { phase, type InstallerDeps } from '../deps.js';
import { formatIstioVersion, parseIstioVersion, type IstioVersion } from '../model/istio-version.js';
import { specHash } from '../model/record.js';
import { refusalError } from '../model/refusal.js';
import { runPrechecks, type PrecheckRuns } from '../istioctl/precheck.js';
import { installArgs } from '../istioctl/args.js';
import { istioctl, type HeldRun } from '../istioctl/runner.js';
import type { ClusterState } from '../model/state.js';
import { applyRevision } from './apply-revision.js';
import { makePlan, planReport, type Decided } from './plan.js';
import { guessedOfflineInput, preflight, startOfflineCheck, type OfflineRun } from './preflight.js';
import {
  elapsed,
  istioctlTimeoutMs,
  waitOptions,
  type InstallRequest,
  type InstallResult,
} from './request.js';

export async function install(request: InstallRequest, deps: InstallerDeps): Promise<InstallResult> {
  const started = deps.now().getTime();
  // The offline check needs no cluster: it begins on the spec the user asked for while the cluster is read, and
  // preflight uses it if the plan applies exactly that (it was most of a fresh install's time before istioctl install).
  const offline = beginOfflineCheck(request, deps);
  try {
    const first = await phase(deps, 'read cluster state and plan', () => makePlan(request, deps));
    for (const line of planReport(first.plan, first.state, first.notes)) deps.log.info(line);
    if (first.plan.kind === 'nothing' && first.recognition.kind !== 'adopt')
      return { plan: first.plan, summary: `nothing to do: ${first.plan.reason} (${elapsed(deps, started)})` };
    // The prechecks only read the cluster, and so does istioctl install up to its prompt (its reading and
    // rendering), answered yes only under the lock: all run before the lock. No more than three istioctl processes
    // are alive at once (the Job's memory): where the offline check began while the cluster was read, the held
    // install starts now and the prechecks once that check is done; otherwise the prechecks start now and the held
    // install once they are done. A failure to start the held install (no istioctl of that version at hand) is the
    // install's own to report when it runs one.
    const order = startOrder(offline);
    const early = startPrechecks(first, request, deps, order.prechecks);
    let ended = false;
    const held = (early ? order.held(early.runs) : Promise.resolve())
      .then(() => (ended ? undefined : holdInstall(first, request, deps)))
      .catch(() => undefined);
    try {
      return await decideAndAct(first, { early, held }, await offline, request, deps, started);
    } finally {
      // Unused prechecks (a refused spec, a held lock, a changed decision) must not keep the run waiting for them,
      // and an install not answered yes is answered no: it changed nothing.
      ended = true;
      early?.stop();
      (await held)?.cancel();
    }
  } finally {
    (await offline)?.stop();
  }
}

/**
 * Begins the offline check of the spec the input names, unless the record says that spec was the last one applied,
 * and applied well: such a run is most likely a no-op, which runs no istioctl at all.
 */
async function beginOfflineCheck(
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<OfflineRun | undefined> {
  const guess = guessedOfflineInput(request);
  if (!guess) return undefined;
  // A failed read is the plan's to report (it reads the same object): here it only means no early check.
  const record = await readRecord(deps.kube, request.namespace).catch(() => undefined);
  const applied = record?.current;
  if (applied?.outcome === 'succeeded' && applied.specSha256 === specHash(guess.recordedSpec))
    return undefined;
  return startOfflineCheck(guess.input, request, deps);
}

/** What install started on the first decision, before the lock. */
interface Started {
  early: EarlyPrechecks | undefined;
  held: Promise<HeldRun | undefined>;
}

/** From the offline check on: the lock, the decision under it, and each hop applied. */
async function decideAndAct(
  first: Decided,
  { early, held }: Started,
  offline: OfflineRun | undefined,
  request: InstallRequest,
  deps: InstallerDeps,
  started: number,
): Promise<InstallResult> {
  await preflight(first, request, deps, offline);
  if (request.dryRun)
    return { plan: first.plan, summary: `dry run: would ${first.plan.kind} (${first.plan.reason})` };

  if (!(await deps.kube.namespaceExists(request.namespace)))
    await deps.kube.createNamespace(request.namespace);
  return withLock(deps, request.namespace, async () => {
    // Another run may have acted between the first read and the lock: decide again on fresh state.
    let decided = await makePlan(request, deps);
    const unchanged = samePrecheckInput(first, decided);
    let prechecked = early && unchanged ? early.runs : undefined;
    if (early && !prechecked) {
      early.stop();
      deps.log.info('the cluster changed between the first read and the lock: the prechecks run again');
    }
    let heldInstall =
      unchanged && decided.hops.length <= 1 && decided.recognition.kind !== 'adopt' ? await held : undefined;
    if (!heldInstall) (await held)?.cancel();
    if (decided.recognition.kind === 'adopt') {
      await adopt(decided.recognition, decided.state, request, deps);
      decided = await makePlan(request, deps);
    }
    // A run that continues a stepped upgrade (the last hop on record has hops ahead, or this run plans several)
    // passes the skew gate before its first hop too, as between hops: a run after a stop for workload restarts,
    // made without them (Fleet's agent retries a failed release by itself), must stop again rather than go further.
    const firstHop = decided.hops[0];
    const continuing = (decided.state.record?.current.pathAhead?.length ?? 0) > 0;
    if (firstHop && decided.from && (decided.hops.length > 1 || continuing))
      await gateSkew(decided.from, firstHop.version, request, deps);
    const done: string[] = [];
    // Each pass applies one hop; a path that does not get shorter would loop, which is a bug.
    let passes = decided.hops.length + 1;
    let longestHopMs = 0;
    for (;;) {
      const { plan, state, hash, hops } = decided;
      if (passes-- <= 0)
        throw new Error(
          `the stepped upgrade did not advance: still planning ${plan.kind} of ${plan.revision}`,
        );
      if (plan.kind === 'nothing') {
        const summary = done.length ? done.join('; ') : `nothing to do: ${plan.reason}`;
        return { plan, summary: `${summary} (${elapsed(deps, started)})` };
      }
      const hopStarted = deps.now().getTime();
      const ahead = hops.slice(1).map((hop) => hop.version);
      done.push(
        await applyRevision(plan, state, hash, request, deps, ahead, { prechecked, held: heldInstall }),
      );
      // Each later hop is checked with its own version's istioctl, under the lock.
      prechecked = undefined;
      heldInstall = undefined;
      if (hops.length <= 1) return { plan, summary: `${done.join('; ')} (${elapsed(deps, started)})` };
      // Between hops of a stepped upgrade: proxies must stay within the supported skew before going further.
      if (plan.toVersion) await gateSkew(plan.toVersion, hops[1]?.version ?? '', request, deps);
      longestHopMs = Math.max(longestHopMs, deps.now().getTime() - hopStarted);
      const budget = request.pathSeconds ?? 0;
      if (pauseBeforeHop(deps.now().getTime() - started, longestHopMs, budget)) {
        const pause = describePause(hops[0]?.version ?? '', hops.slice(1), budget);
        deps.log.info(pause);
        return { plan, summary: `${done.join('; ')}; ${pause} (${elapsed(deps, started)})` };
      }
      decided = await makePlan(request, deps);
      for (const line of planReport(decided.plan, decided.state, decided.notes)) deps.log.info(line);
    }
  });
}

/** Prechecks started before the lock: their results, and how to stop them when they are not used. */
interface EarlyPrechecks {
  runs: Promise<PrecheckRuns>;
  stop(): void;
}

/**
 * Starts the prechecks of the first plan where a run would make them: not for a dry run, not when forced, not for a
 * takeover (the adoption changes the cluster first), not when nothing is to be done. They start once `after` is done
 * (startOrder), unless stopped by then.
 */
function startPrechecks(
  first: Decided,
  request: InstallRequest,
  deps: InstallerDeps,
  after: Promise<void>,
): EarlyPrechecks | undefined {
  if (request.dryRun || request.force || first.recognition.kind === 'adopt' || first.plan.kind === 'nothing')
    return undefined;
  const controller = new AbortController();
  const runs = Promise.all([deps.istioctlFor(first.plan.toVersion), after]).then(([path]) => {
    controller.signal.throwIfAborted();
    return runPrechecks(
      first.plan,
      istioctl(path, deps.runner, deps.env, (line) => deps.log.info(line)),
      deps,
      controller.signal,
    );
  });
  // Judged later or never (a refused spec, a changed decision): never an unhandled rejection meanwhile.
  runs.catch(() => undefined);
  return { runs, stop: () => controller.abort() };
}

/**
 * When the prechecks and the held install start, so that no more than three istioctl processes are alive at once:
 * with an offline check begun while the cluster was read, the held install at once (beside it) and the prechecks once
 * it is done, since it is the shortest of them; without one (preflight starts it later), the prechecks at once and
 * the held install once they are done. The held install is the longest before the lock (its render is Istio's whole
 * manifest), so it goes first wherever it can.
 */
function startOrder(offline: Promise<OfflineRun | undefined>): {
  prechecks: Promise<void>;
  held: (prechecks: Promise<unknown>) => Promise<void>;
} {
  const done = (work: Promise<unknown>) =>
    work.then(
      () => undefined,
      () => undefined,
    );
  const early = offline.then(
    (run) => run,
    () => undefined,
  );
  return {
    prechecks: early.then((run) => (run ? done(run.manifest) : undefined)),
    held: (prechecks) => early.then((run) => (run ? undefined : done(prechecks))),
  };
}

/**
 * Starts istioctl install of the first plan's spec without `-y`, where the run would apply exactly that in one
 * istioctl install: it reads the cluster and renders, then waits at its prompt, so that this part of its time passes
 * beside the offline check and the prechecks. Not for a dry run, a takeover, a stepped path, nor an upgrade whose node
 * agents go after the control plane (two installs).
 */
async function holdInstall(
  first: Decided,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<HeldRun | undefined> {
  const { plan, state } = first;
  if (
    request.dryRun ||
    first.recognition.kind === 'adopt' ||
    plan.kind === 'nothing' ||
    first.hops.length > 1 ||
    controlPlaneFirstSpec(plan, state)
  )
    return undefined;
  const tool = istioctl(await deps.istioctlFor(plan.toVersion), deps.runner, deps.env, (line) =>
    deps.log.info(line),
  );
  const file = await deps.writeTempFile('istio-operator.yaml', renderDocument(plan.istioOperator, 'yaml'));
  return tool.hold(installArgs(file, request.readinessSeconds, true), istioctlTimeoutMs(request));
}

/** The takeover's first act: its leftovers go, and the record starts with `adopt` and what was found. */
async function adopt(
  recognition: Extract<Recognition, { kind: 'adopt' }>,
  state: ClusterState,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<void> {
  const found = describeFound(recognition.found);
  deps.log.info(found);
  await removeLeftovers(deps.kube, recognition.leftovers, (line) => deps.log.warn(line));
  await writeRecord(deps, request.namespace, state.record, {
    action: 'adopt',
    outcome: 'succeeded',
    specSha256: '',
    istioVersion: recognition.found.version,
    revision: recognition.found.revision,
    chartVersion: request.chartVersion,
    message: [
      found,
      ...recognition.leftovers.map((l) => `deleted ${l.kind} ${l.namespace}/${l.name} (${l.why})`),
    ].join('; '),
  });
}

/**
 * Stops (exit 3, naming every pod) when proxies are beyond Istio's supported skew of the revision just installed,
 * or with `updateWorkloads` restarts their workloads and waits until none is left behind.
 */
async function gateSkew(
  active: IstioVersion,
  next: string,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<void> {
  const nextVersion = parseIstioVersion(next) ?? active;
  const decision = skewGate(
    await readProxyPods(deps.kube),
    active,
    nextVersion,
    request.updateWorkloads === true,
  );
  if (decision.kind === 'go') return;
  if (decision.kind === 'stop') throw refusalError(decision);
  await phase(
    deps,
    `restart ${decision.owners.length} workload(s) onto Istio ${formatIstioVersion(active)}`,
    async () => {
      for (const owner of decision.owners) {
        deps.log.info(`restarting ${owner} (upgrade.updateWorkloads)`);
        await restartOwner(deps.kube, owner, deps.now());
      }
      await pollUntil(
        waitOptions(request, deps),
        async () => beyondSkew(await readProxyPods(deps.kube), active),
        (behind) => behind.length === 0,
        (behind) =>
          new TimeoutError(
            `${behind.length} pod(s) still run proxies beyond the supported skew of Istio ${formatIstioVersion(active)}: ${behind.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
          ),
      );
    },
  );
}
