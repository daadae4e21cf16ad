// `istio-installer uninstall`: removes Istio's control planes, gateways and webhooks; --purge removes the CRDs too.
import type { Command } from 'commander';
import { uninstall } from '../installer/actions/uninstall.js';
import { withClusterOptions, withInstallerDeps, type ClusterOptions } from './installer-deps.js';
import type { CommandContext } from './main.js';

export function registerUninstall(program: Command, context: CommandContext): void {
  withClusterOptions(program.command('uninstall'))
    .description("remove Istio; CRDs and users' Istio resources stay unless --purge")
    .option('-n, --namespace <namespace>', 'Istio namespace', 'istio-system')
    .option('--purge', 'also delete the Istio CRDs and every Istio resource (logs how many first)')
    .option('--timeout <seconds>', 'how long to wait for the components to go', '300')
    .action(async (options: ClusterOptions & { namespace: string; purge?: boolean; timeout: string }) => {
      const summary = await withInstallerDeps(options, context, (deps) =>
        uninstall(
          {
            namespace: options.namespace,
            purge: options.purge === true,
            chartVersion: context.io.env.CHART_VERSION ?? '',
            timeoutSeconds: Number(options.timeout) || 300,
          },
          deps,
        ),
      );
      context.io.stdout.write(summary + '\n');
    });
}
