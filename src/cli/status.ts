// `istio-installer status`: installed revisions and versions, node agents, health, each namespace's data plane and
// the waypoints, and the last applied spec and outcome; over several clusters, one row per cluster.
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { readFleetStatus } from '../installer/actions/fleet-status.js';
import { readStatus } from '../installer/actions/status.js';
import { defaultKubeconfigFile, readKubeconfigContexts } from '../installer/cluster/kubeconfig.js';
import {
  asksForMany,
  fleetError,
  fleetJson,
  fleetTargets,
  formatFleet,
} from '../installer/decide/fleet-status.js';
import { formatStatus } from '../installer/decide/status.js';
import { fleetDeps, withClusterOptions, withInstallerDeps, type ClusterOptions } from './installer-deps.js';
import { collect, oneOf, type CommandContext } from './main.js';

interface StatusOptions extends Omit<ClusterOptions, 'kubeconfig' | 'context'> {
  kubeconfig?: string[];
  context?: string[];
  allContexts?: boolean;
  namespace: string;
  output: string;
  timeout: string;
  concurrency: string;
}

export function registerStatus(program: Command, context: CommandContext): void {
  withClusterOptions(program.command('status'), true)
    .description(
      'show installed Istio revisions, their health, and what the installer last applied; over several clusters, one line each',
    )
    .option('-n, --namespace <namespace>', 'Istio namespace', 'istio-system')
    .option('-o, --output <format>', 'human or json', 'human')
    .option(
      '--context <name>',
      'kubeconfig context to read; repeat for several clusters, one row each',
      collect,
    )
    .option('--all-contexts', 'every context of the kubeconfig(s), one row per cluster')
    .option(
      '--timeout <seconds>',
      'with several clusters: how long one may take before its row says so',
      '10',
    )
    .option('--concurrency <n>', 'with several clusters: how many are read at once', '8')
    .action(async (options: StatusOptions) => {
      const format = oneOf('--output', options.output, ['human', 'json'] as const);
      const kubeconfigs = options.kubeconfig ?? [];
      const contexts = options.context ?? [];
      const allContexts = options.allContexts === true;
      if (asksForMany({ allContexts, contexts, kubeconfigs }))
        return fleetStatus(options, format, { kubeconfigs, contexts, allContexts }, context);
      // One cluster: the single-cluster report, exactly as before.
      const single: ClusterOptions = { ...options, kubeconfig: kubeconfigs[0], context: contexts[0] };
      const report = await withInstallerDeps(single, context, (deps) => readStatus(options.namespace, deps));
      context.io.stdout.write(
        format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report),
      );
    });
}

/**
 * The view of many clusters: printed whole, then the command ends with the error of the worst cluster that could not
 * be read (exit 5, 3, 2 or 1, see fleetError), or exit 0 when every cluster answered.
 */
async function fleetStatus(
  options: StatusOptions,
  format: 'human' | 'json',
  asked: { kubeconfigs: string[]; contexts: string[]; allContexts: boolean },
  context: CommandContext,
): Promise<void> {
  const timeoutSeconds = positive('--timeout', options.timeout);
  const concurrency = Math.floor(positive('--concurrency', options.concurrency));
  const files = (asked.kubeconfigs.length ? asked.kubeconfigs : [defaultKubeconfigFile(context.io.env)]).map(
    (file) => readKubeconfigContexts(path.resolve(context.io.cwd, file)),
  );
  const targets = fleetTargets(files, asked);
  const deps = fleetDeps(context);
  const rows = await readFleetStatus(
    targets,
    { namespace: options.namespace, concurrency, timeoutMs: timeoutSeconds * 1000 },
    deps,
  );
  context.io.stdout.write(format === 'json' ? fleetJson(rows) : formatFleet(rows, deps.now()));
  const error = fleetError(rows, timeoutSeconds);
  if (error) throw error;
}

function positive(option: string, value: string): number {
  const n = Number(value);
  if (Number.isFinite(n) && n > 0) return n;
  throw new InputError([{ path: option, message: `must be a number above 0, got "${value}"` }]);
}
