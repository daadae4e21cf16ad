// Before the lock and before anything changes: the target istioctl renders the merged spec (what it refuses is bad
// input, exit 2), and every pod that manifest would make is dry-run in its namespace, so that PodSecurity, a quota or a
// policy webhook refuses now (exit 3, naming the namespace, the component and the rule) rather than after istioctl's
// readiness wait.
import { loadAll } from 'js-yaml';
import { renderDocument } from '../../overlay/output.js';
import { admissionPod, admissionRefusal, podWorkloads, POD_KINDS } from '../decide/pod-admission.js';
import { phase, type InstallerDeps } from '../deps.js';
import { checkWithIstioctl } from '../istioctl/offline-check.js';
import { istioctl } from '../istioctl/runner.js';
import type { AnyObject } from '../model/objects.js';
import { refusalError } from '../model/refusal.js';
import { desiredOf, specOf } from '../model/spec.js';
import { formatIstioVersion, type IstioVersion } from '../model/istio-version.js';
import { specHash } from '../model/record.js';
import { canaryRevision, withRevision } from '../decide/plan.js';
import type { JsonObject } from '../../overlay/json.js';
import { specForVersion, type Decided } from './plan.js';
import type { InstallRequest } from './request.js';

/**
 * The offline check, then the admission check of its manifest; throws InputError or the refusal's error. `early` is a
 * check begun before the plan was made: its result is used when it checked exactly what the plan applies.
 */
export async function preflight(
  decided: Decided,
  request: InstallRequest,
  deps: InstallerDeps,
  early?: OfflineRun,
): Promise<void> {
  const input = offlineInput(decided.plan.istioOperator, decided.plan.toVersion);
  const reuse = early !== undefined && sameOfflineInput(early.input, input);
  if (early && !reuse) early.stop();
  // The generated manifest is thousands of lines: not logged; a refusal's cause is in the error.
  const manifest = await phase(
    deps,
    reuse ? `${OFFLINE_PHASE}, begun while the cluster was read` : OFFLINE_PHASE,
    () => (reuse ? early.manifest : startOfflineCheck(input, request, deps).manifest),
  );
  // forceInstall skips the checks of the cluster (as it skips istioctl's prechecks), not the check of the input.
  if (request.force) return;
  await phase(deps, 'admission dry run of every pod the manifest makes', () =>
    checkAdmission(manifest, request.namespace, deps),
  );
}

const OFFLINE_PHASE = 'istioctl manifest generate (offline check of the merged spec)';

/** What the offline check renders: a spec's exact text, with the istioctl of one version. */
export interface OfflineInput {
  istioOperator: JsonObject;
  version: IstioVersion | undefined;
  text: string;
}

export function offlineInput(istioOperator: JsonObject, version: IstioVersion | undefined): OfflineInput {
  return { istioOperator, version, text: renderDocument(istioOperator, 'yaml') };
}

export function sameOfflineInput(a: OfflineInput, b: OfflineInput): boolean {
  const version = (v: IstioVersion | undefined) => (v ? formatIstioVersion(v) : '');
  return a.text === b.text && version(a.version) === version(b.version);
}

/**
 * The input a run can name before it reads the cluster: the spec and version the user asked for, as a fresh install
 * or a change of that version would apply them. None when the cluster picks the version (no tag, or autoVersion); a
 * plan that differs (a stepped upgrade's first hop, a takeover) checks its own.
 */
export function guessedOfflineInput(
  request: InstallRequest,
): { input: OfflineInput; recordedSpec: JsonObject } | undefined {
  const { version, revision } = desiredOf(request.istioOperator);
  if (!version || request.autoVersion) return undefined;
  // The record's hash is of the spec before a revision-based change names its revision.
  const recordedSpec = specForVersion(request.istioOperator, version);
  const applied =
    request.strategy === 'RevisionBased'
      ? withRevision(recordedSpec, canaryRevision(revision, version))
      : recordedSpec;
  return { input: offlineInput(applied, version), recordedSpec };
}

/** An offline check under way: what it checks, its manifest once istioctl accepts the spec, and a way to stop it. */
export interface OfflineRun {
  input: OfflineInput;
  manifest: Promise<string>;
  stop(): void;
}

/**
 * Starts the target version's own `istioctl manifest generate` on the spec; the manifest resolves when it accepts it.
 */
export function startOfflineCheck(
  input: OfflineInput,
  request: InstallRequest,
  deps: InstallerDeps,
): OfflineRun {
  const controller = new AbortController();
  const manifest = (async () => {
    const tool = istioctl(await deps.istioctlFor(input.version), deps.runner, deps.env, () => undefined);
    // A file of its own: a stopped check must not overwrite the spec another check (or the install) reads.
    const specFile = await deps.writeTempFile(
      `istio-operator-${specHash(input.istioOperator).slice(0, 12)}.yaml`,
      input.text,
    );
    controller.signal.throwIfAborted();
    return checkWithIstioctl(
      tool,
      specFile,
      specOf(input.istioOperator),
      request.locateSpec,
      controller.signal,
    );
  })();
  // Awaited later or never (a stopped guess): never an unhandled rejection meanwhile.
  manifest.catch(() => undefined);
  return { input, manifest, stop: () => controller.abort() };
}

/**
 * Dry-runs each Deployment's and DaemonSet's pod in its namespace. The installer's own namespace, when it does not
 * exist yet, is created by this run, so its pods are judged on the next; any other namespace must exist already.
 */
export async function checkAdmission(
  manifest: string,
  namespace: string,
  deps: InstallerDeps,
): Promise<void> {
  const objects = admissionObjects(manifest);
  const declared = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata?.name));
  const workloads = podWorkloads(objects, namespace);
  const namespaces = [...new Set(workloads.map((w) => w.namespace))];
  const exists = new Map(
    await Promise.all(namespaces.map(async (ns) => [ns, await deps.kube.namespaceExists(ns)] as const)),
  );
  const missing = namespaces
    .filter((ns) => !exists.get(ns) && ns !== namespace && !declared.has(ns))
    .map((ns) => ({
      namespace: ns,
      workloads: workloads.filter((w) => w.namespace === ns).map((w) => `${w.kind} ${w.name}`),
    }));
  const results = await Promise.all(
    workloads
      .filter((w) => exists.get(w.namespace))
      .map(async (workload) => {
        const answer = await deps.kube.dryRunPod(workload.namespace, admissionPod(workload));
        return { workload, refusal: answer.admitted ? undefined : answer.message };
      }),
  );
  const refusal = admissionRefusal(results, missing, namespace);
  if (refusal) throw refusalError(refusal);
}

/** What the admission check reads of a manifest: the workloads that make pods, and the Namespaces it creates. */
const ADMISSION_KINDS = new Set([...POD_KINDS, 'Namespace']);

/**
 * The Namespaces and pod-making workloads of istioctl's manifest, each document parsed only when it may be one: the
 * manifest is some 24,000 lines, most of them CRDs, and parsing all of it took longer than the dry runs themselves.
 * A document is skipped only when the lines at its top level name a kind, none of them one of these.
 */
export function admissionObjects(manifest: string): AnyObject[] {
  return manifest
    .split(/^---[ \t]*$/m)
    .filter(mayHoldAdmissionKind)
    .flatMap((text) => loadAll(text) as unknown[])
    .filter((o): o is AnyObject => isAdmissionObject(o));
}

function mayHoldAdmissionKind(text: string): boolean {
  // A further document marker with content, or a document in flow style, hides kinds from the line test: parse it.
  if (/^(---|\{)/m.test(text)) return true;
  const kinds = [...text.matchAll(/^kind:[ \t]*["']?([^"'\s#]+)["']?[ \t]*(#.*)?$/gm)].map((m) => m[1] ?? '');
  return kinds.length === 0 || kinds.some((kind) => ADMISSION_KINDS.has(kind));
}

function isAdmissionObject(o: unknown): o is AnyObject {
  return typeof o === 'object' && o !== null && ADMISSION_KINDS.has(String((o as AnyObject).kind));
}
