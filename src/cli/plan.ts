// `istio-installer plan`: reads the cluster and the inputs and prints what install would do and why. Changes nothing.
import type { Command } from 'commander';
import { makePlan, planReport } from '../installer/actions/plan.js';
import { preflight } from '../installer/actions/preflight.js';
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
      const { plan, state, notes } = await withInstallerDeps(options, context, async (deps) => {
        const request = installRequest(inputs, options.namespace, context.io.env, false);
        const decided = await makePlan(request, deps);
        // What install would refuse before acting, plan refuses too: a spec istioctl rejects, a pod admission refuses.
        if (decided.plan.kind !== 'nothing') await preflight(decided, request, deps);
        return decided;
      });
      context.io.stdout.write(planReport(plan, state, notes).join('\n') + '\n');
    });
}
