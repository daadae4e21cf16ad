// `istio-installer run`: the chart Jobs' entry point; reads the mounted values and overlays and Rancher's environment.
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { install } from '../installer/actions/install.js';
import { uninstall } from '../installer/actions/uninstall.js';
import { withInstallerDeps } from './installer-deps.js';
import { installRequest } from '../installer/actions/request.js';
import { oneOf, type CommandContext } from './main.js';
import { resolveInputs } from './inputs.js';

export const DEFAULT_VALUES_FILE = '/etc/istio-installer/values/values.yaml';
export const DEFAULT_OVERLAY_DIR = '/etc/istio-installer/overlays';

/**
 * The overlay files of a mounted ConfigMap, in name order. ConfigMap volumes hold symlinks into `..data/`, so a
 * link is followed, but only to a file that stays inside the directory.
 */
export async function overlayFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new InputError([
      {
        file: dir,
        path: '',
        message: `cannot read the overlay directory: ${(error as NodeJS.ErrnoException).code}`,
      },
    ]);
  }
  const root = await realpath(dir);
  const files: string[] = [];
  for (const name of names.filter((n) => /^[\w][\w.-]*\.ya?ml$/.test(n)).sort()) {
    const file = path.join(dir, name);
    const target = await realpath(file).catch(() => undefined);
    if (!target || !target.startsWith(root + path.sep) || !(await stat(target)).isFile())
      throw new InputError([{ file, path: '', message: 'not a regular file inside the overlay directory' }]);
    files.push(file);
  }
  return files;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export function registerRun(program: Command, context: CommandContext): void {
  program
    .command('run')
    .description(
      "entry point of the chart's Jobs: install (post-install/upgrade hook) or uninstall (pre-delete hook)",
    )
    .option('--action <action>', 'install or uninstall', 'install')
    .action(async (options: { action: string }) => {
      const action = oneOf('--action', options.action, ['install', 'uninstall'] as const);
      const env = context.io.env;
      const namespace = env.ISTIO_NAMESPACE || 'istio-system';
      const valuesFile = env.VALUES_FILE || DEFAULT_VALUES_FILE;
      const overlayDir = env.OVERLAY_DIR || DEFAULT_OVERLAY_DIR;
      const summary = await withInstallerDeps({}, context, async (deps) => {
        deps.log.info(`istio-installer run --action ${action}`, {
          release: env.RELEASE_NAME ?? '',
          namespace,
          chart: env.CHART_VERSION ?? '',
        });

        const sleepSeconds = Number(env.SECONDS_SLEEP ?? '0');
        if (sleepSeconds > 0) {
          deps.log.info(
            `sleeping ${sleepSeconds}s (installer.debug.secondsSleep) so the pod can be inspected`,
          );
          await deps.sleep(sleepSeconds * 1000);
        }

        const inputs = await resolveInputs(
          {
            values: (await exists(valuesFile)) ? [valuesFile] : [],
            overlay: action === 'install' ? await overlayFiles(overlayDir) : [],
            set: [],
            namespace,
          },
          context,
        );
        if (action === 'uninstall')
          return uninstall(
            {
              namespace,
              purge: inputs.values.uninstall.purge,
              chartVersion: env.CHART_VERSION ?? '',
              timeoutSeconds: inputs.values.installer.timeouts.readinessSeconds,
            },
            deps,
          );
        return (await install(installRequest(inputs, namespace, env, false), deps)).summary;
      });
      context.io.stdout.write(summary + '\n');
    });
}
