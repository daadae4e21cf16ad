// `istio-installer status`: installed revisions and versions, node agents, health, each namespace's data plane and
// the waypoints, and the last applied spec and outcome.
import type { Command } from 'commander';
import { readStatus } from '../installer/actions/status.js';
import { formatStatus } from '../installer/decide/status.js';
import { withClusterOptions, withInstallerDeps, type ClusterOptions } from './installer-deps.js';
import { oneOf, type CommandContext } from './main.js';

export function registerStatus(program: Command, context: CommandContext): void {
  withClusterOptions(program.command('status'))
    .description('show installed Istio revisions, their health, and what the installer last applied')
    .option('-n, --namespace <namespace>', 'Istio namespace', 'istio-system')
    .option('-o, --output <format>', 'human or json', 'human')
    .action(async (options: ClusterOptions & { namespace: string; output: string }) => {
      const format = oneOf('--output', options.output, ['human', 'json'] as const);
      const report = await withInstallerDeps(options, context, (deps) => readStatus(options.namespace, deps));
      context.io.stdout.write(
        format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report),
      );
    });
}
