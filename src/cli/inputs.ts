// The inputs every command that renders shares: --values, --overlay, --set and --namespace, read and merged into one IstioOperator.
import type { Command } from 'commander';
import { formatIssue, InputError } from '../errors.js';
import { buildIstioOperator, loadSources, type Values } from '../overlay/index.js';
import type { SpecLocator } from '../installer/istioctl/offline-check.js';
import type { JsonObject } from '../overlay/json.js';
import { createLogger } from './io.js';
import { collect, type CommandContext } from './main.js';

export interface InputOptions {
  values: string[];
  overlay: string[];
  set: string[];
  namespace: string;
}

/** Adds the input options shared by render, plan and install. */
export function withInputOptions(command: Command): Command {
  return command
    .option('-f, --values <file>', 'values file (repeatable; later files win, as with helm)', collect, [])
    .option(
      '--overlay <file>',
      'IstioOperator overlay file (repeatable; "-" reads stdin, last only)',
      collect,
      [],
    )
    .option('--set <path=value>', 'istioctl-style override, applied last (repeatable)', collect, [])
    .option('-n, --namespace <namespace>', 'Istio namespace', 'istio-system');
}

/** Loads every input and builds the IstioOperator; all problems become one InputError, warnings go to stderr. */
export async function resolveInputs(
  options: InputOptions,
  context: CommandContext,
): Promise<{ istioOperator: JsonObject; values: Values; locate: SpecLocator; autoVersion: boolean }> {
  const deps = { stdin: () => context.io.stdin(), cwd: context.io.cwd };
  const [values, overlays] = await Promise.all([
    loadSources(options.values, deps, 'values'),
    loadSources(options.overlay, deps, 'overlay'),
  ]);
  const loadIssues = [...values.issues, ...overlays.issues];
  if (loadIssues.length > 0) throw new InputError(loadIssues);
  const result = buildIstioOperator({
    values: values.sources,
    overlays: overlays.sources,
    sets: options.set,
    namespace: options.namespace,
  });
  if (!result.ok) throw new InputError(result.issues);
  const log = createLogger(context.io.stderr, context.logFormat());
  for (const warning of result.warnings) log.warn(formatIssue(warning));
  return {
    istioOperator: result.istioOperator,
    values: result.values,
    locate: result.locate,
    autoVersion: result.autoVersion,
  };
}
