// Rollback of a failed in-place upgrade: the last good spec re-applied with the istioctl of its own version, verified, recorded.
import { isObject } from '../../overlay/json.js';
import { parseYamlSource } from '../../overlay/yaml-source.js';
import { readClusterState } from '../cluster/read-state.js';
import { writeRecord } from '../cluster/record-store.js';
import { verifyInstalled } from '../cluster/wait.js';
import type { Plan } from '../decide/plan.js';
import { phase, type InstallerDeps } from '../deps.js';
import { installArgs } from '../istioctl/args.js';
import { istioctl } from '../istioctl/runner.js';
import { formatIstioVersion, parseIstioVersion } from '../model/istio-version.js';
import type { ClusterState } from '../model/state.js';
import { istioctlTimeoutMs, waitOptions, type InstallRequest } from './request.js';

/** Re-applies the last good spec with the istioctl of its own version, then records the rollback. */
export async function rollBack(
  plan: Plan,
  state: ClusterState,
  request: InstallRequest,
  deps: InstallerDeps,
  cause: Error,
): Promise<void> {
  const lastGood = state.record?.lastGood;
  const lastGoodSpec = state.record?.lastGoodSpec;
  if (!lastGood || !lastGoodSpec) {
    deps.log.warn('rollbackOnFailure: no successful install is on record, nothing to roll back to');
    return;
  }
  const version = parseIstioVersion(lastGood.istioVersion);
  await phase(deps, `roll back to Istio ${lastGood.istioVersion}`, async () => {
    const tool = istioctl(await deps.istioctlFor(version), deps.runner, deps.env, (line) =>
      deps.log.info(line),
    );
    const specFile = await deps.writeTempFile('rollback-istio-operator.yaml', lastGoodSpec);
    await tool.run(installArgs(specFile, request.readinessSeconds), istioctlTimeoutMs(request));
    const parsed = parseYamlSource(lastGoodSpec, 'last good spec');
    if (parsed.ok && isObject(parsed.source.value))
      await verifyInstalled(
        deps.kube,
        request.namespace,
        parsed.source.value,
        plan.revision,
        version,
        waitOptions(request, deps),
      );
  });
  await writeRecord(deps, request.namespace, (await readClusterState(deps.kube, request.namespace)).record, {
    action: 'rollback',
    outcome: 'rolled-back',
    specSha256: lastGood.specSha256,
    istioVersion: lastGood.istioVersion,
    revision: plan.revision,
    chartVersion: request.chartVersion,
    message: `upgrade to ${plan.toVersion ? formatIstioVersion(plan.toVersion) : '?'} failed (${cause.message}); rolled back to ${lastGood.istioVersion}`,
    spec: lastGoodSpec,
  });
  deps.log.warn(`rolled back to Istio ${lastGood.istioVersion}`);
}
