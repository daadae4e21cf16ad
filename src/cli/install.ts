// `istio-installer install`: does what plan says, under a lock, then verifies and records the outcome.
import type { Command } from 'commander';
import { install, type InstallRequest } from '../installer/actions/install.js';
import type { SpecLocator } from '../installer/istioctl/offline-check.js';
import type { JsonObject } from '../overlay/json.js';
import type { Values } from '../overlay/index.js';
import { withClusterOptions, withInstallerDeps, type ClusterOptions } from './installer-deps.js';
import type { CommandContext } from './main.js';
import { resolveInputs, withInputOptions, type InputOptions } from './render.js';

/** The install request the values describe (upgrade strategy, guards, timeouts). */
export function installRequest(
  inputs: { istioOperator: JsonObject; values: Values; locate?: SpecLocator },
  namespace: string,
  env: Readonly<Record<string, string | undefined>>,
  dryRun: boolean,
): InstallRequest {
  const { values } = inputs;
  return {
    istioOperator: inputs.istioOperator,
    ...(inputs.locate ? { locateSpec: inputs.locate } : {}),
    namespace,
    strategy: values.upgrade.strategy,
    revisionTags: values.upgrade.revisionTags,
    removeOldRevision: values.upgrade.removeOldRevision,
    rollbackOnFailure: values.upgrade.rollbackOnFailure,
    force: values.forceInstall || env.FORCE_INSTALL === 'true',
    readinessSeconds: values.installer.timeouts.readinessSeconds,
    chartVersion: env.CHART_VERSION ?? '',
    dryRun,
    updateWorkloads: values.upgrade.updateWorkloads,
    ...(env.RELEASE_NAME ? { release: env.RELEASE_NAME } : {}),
  };
}

export function registerInstall(program: Command, context: CommandContext): void {
  withClusterOptions(withInputOptions(program.command('install')))
    .description('install or upgrade Istio as plan describes, verify it and record what was applied')
    .option('--dry-run', 'print the plan and stop')
    .action(async (options: InputOptions & ClusterOptions & { dryRun?: boolean }) => {
      const inputs = await resolveInputs(options, context);
      const result = await withInstallerDeps(options, context, (deps) =>
        install(installRequest(inputs, options.namespace, context.io.env, options.dryRun === true), deps),
      );
      context.io.stdout.write(result.summary + '\n');
    });
}
