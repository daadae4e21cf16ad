// Before the lock and before anything changes: the target istioctl renders the merged spec (what it refuses is bad
// input, exit 2), and every pod that manifest would make is dry-run in its namespace, so that PodSecurity, a quota or a
// policy webhook refuses now (exit 3, naming the namespace, the component and the rule) rather than after istioctl's
// readiness wait.
import { loadAll } from 'js-yaml';
import { renderDocument } from '../../overlay/output.js';
import { admissionPod, admissionRefusal, podWorkloads } from '../decide/pod-admission.js';
import { phase, type InstallerDeps } from '../deps.js';
import { checkWithIstioctl } from '../istioctl/offline-check.js';
import { istioctl } from '../istioctl/runner.js';
import type { AnyObject } from '../model/objects.js';
import { refusalError } from '../model/refusal.js';
import { specOf } from '../model/spec.js';
import type { Decided } from './plan.js';
import type { InstallRequest } from './request.js';

/** The offline check, then the admission check of its manifest; throws InputError or the refusal's error. */
export async function preflight(
  decided: Decided,
  request: InstallRequest,
  deps: InstallerDeps,
): Promise<void> {
  const manifest = await checkOffline(decided, request, deps);
  // forceInstall skips the checks of the cluster (as it skips istioctl's prechecks), not the check of the input.
  if (request.force) return;
  await phase(deps, 'admission dry run of every pod the manifest makes', () =>
    checkAdmission(manifest, request.namespace, deps),
  );
}

/** The target version's own `istioctl manifest generate` checks the merged spec; resolves with the manifest. */
async function checkOffline(decided: Decided, request: InstallRequest, deps: InstallerDeps): Promise<string> {
  return phase(deps, 'istioctl manifest generate (offline check of the merged spec)', async () => {
    // The generated manifest is thousands of lines: not logged; a refusal's cause is in the error.
    const tool = istioctl(
      await deps.istioctlFor(decided.plan.toVersion),
      deps.runner,
      deps.env,
      () => undefined,
    );
    const specFile = await deps.writeTempFile(
      'istio-operator.yaml',
      renderDocument(decided.plan.istioOperator, 'yaml'),
    );
    return checkWithIstioctl(tool, specFile, specOf(decided.plan.istioOperator), request.locateSpec);
  });
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
  const objects = (loadAll(manifest) as (AnyObject | null)[]).filter((o): o is AnyObject => !!o);
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
