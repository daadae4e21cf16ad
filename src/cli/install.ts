// `istio-installer install`: does what plan says, under a lock, then verifies and records the outcome.
import type { Command } from 'commander';
import { install } from '../installer/actions/install.js';
import { installRequest } from '../installer/actions/request.js';
import { withClusterOptions, withInstallerDeps, type ClusterOptions } from './installer-deps.js';
import type { CommandContext } from './main.js';
import { resolveInputs, withInputOptions, type InputOptions } from './inputs.js';

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
