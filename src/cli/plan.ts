// `istio-installer plan`: reads the cluster and the inputs and prints what install would do and why. Changes nothing.
import type { Command } from 'commander';
import { makePlan, planReport } from '../installer/actions/plan.js';
import { installRequest } from '../installer/actions/request.js';
import { withClusterOptions, withInstallerDeps, type ClusterOptions } from './installer-deps.js';
import type { CommandContext } from './main.js';
import { resolveInputs, withInputOptions, type InputOptions } from './inputs.js';

export function registerPlan(program: Command, context: CommandContext): void {
  withClusterOptions(withInputOptions(program.command('plan')))
    .description(
      'print what install would do (install, upgrade in place or by canary, reconfigure, repair, nothing) and why',
    )
    .action(async (options: InputOptions & ClusterOptions) => {
      const inputs = await resolveInputs(options, context);
      const { plan, state, notes } = await withInstallerDeps(options, context, (deps) =>
        makePlan(installRequest(inputs, options.namespace, context.io.env, false), deps),
      );
      context.io.stdout.write(planReport(plan, state, notes).join('\n') + '\n');
    });
}
