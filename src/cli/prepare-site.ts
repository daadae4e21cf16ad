// `istio-installer prepare-site`: on a connected machine, writes what an air-gapped cluster needs for its stepped path.
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { prepareSite, type PrepareSiteDeps } from '../installer/actions/prepare-site.js';
import { execaRunner } from '../installer/istioctl/runner.js';
import { BUNDLED_ISTIO_VERSIONS } from '../overlay/values-schema.js';
import { withInstallerDeps } from './installer-deps.js';
import { resolveInputs, withInputOptions, type InputOptions } from './inputs.js';
import { createLogger } from './io.js';
import { collect, type CommandContext } from './main.js';

interface PrepareSiteOptions extends InputOptions {
  dir: string;
  from?: string;
  kube?: string;
  kubeconfig?: string;
  chart: string;
  istioVersion: string[];
  arch: string[];
  releaseUrl?: string;
  helm: string;
  download: boolean;
}

const ARCHES = ['amd64', 'arm64'];

export function registerPrepareSite(program: Command, context: CommandContext): void {
  withInputOptions(program.command('prepare-site'))
    .description(
      "write into --dir what an air-gapped site needs for the stepped path from its Istio to the values' target: mirror/ (every hop's istioctl archive, verified, as a release mirror) and images.txt (every image the path and the chart pull)",
    )
    .requiredOption(
      '--dir <dir>',
      'site directory (created if missing; re-running fills in only what is missing)',
    )
    .requiredOption('--chart <chart>', 'the rancher-istio chart (directory or .tgz) whose images to list')
    .option(
      '--from <version>',
      "the site's Istio version (default: the active istiod's, read with --kubeconfig)",
    )
    .option('--kube <version>', "the site's Kubernetes, e.g. 1.32 (default: read with --kubeconfig)")
    .option('--kubeconfig <file>', 'kubeconfig of the site, to read --from and --kube from it')
    .option(
      '--istio-version <version>',
      `an istioctl the hops may use (repeatable; default: the image's ${BUNDLED_ISTIO_VERSIONS.join(', ')})`,
      collect,
      [],
    )
    .option(
      '--arch <arch>',
      "the site's node architecture: amd64 or arm64 (repeatable; default amd64)",
      collect,
      [],
    )
    .option('--release-url <url>', "base URL of Istio's releases (default: GitHub's)")
    .option('--helm <path>', 'helm binary', 'helm')
    .option('--no-download', "download nothing: check that the site's mirror holds every hop's archive")
    .action(async (options: PrepareSiteOptions) => {
      const arches = options.arch.length > 0 ? options.arch : ['amd64'];
      const wrongArch = arches.filter((arch) => !ARCHES.includes(arch));
      if (wrongArch.length > 0)
        throw new InputError(
          wrongArch.map((arch) => ({ path: '--arch', message: `must be amd64 or arm64, got "${arch}"` })),
        );
      const inputs = await resolveInputs(options, context);
      const inCwd = (file: string) => path.resolve(context.io.cwd, file);
      const request = {
        istioOperator: inputs.istioOperator,
        autoVersion: inputs.autoVersion,
        allowUnsupportedKubernetes: inputs.values.upgrade.allowUnsupportedKubernetes,
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.kube !== undefined ? { kube: options.kube } : {}),
        namespace: options.namespace,
        candidates: options.istioVersion.length > 0 ? options.istioVersion : [...BUNDLED_ISTIO_VERSIONS],
        arches,
        dir: inCwd(options.dir),
        ...(options.releaseUrl ? { releaseUrl: options.releaseUrl } : {}),
        chart: inCwd(options.chart),
        valuesFiles: options.values.map(inCwd),
        helm: options.helm,
        noDownload: !options.download,
      };
      const deps: PrepareSiteDeps = {
        runner: execaRunner(),
        fetch: globalThis.fetch,
        log: createLogger(context.io.stderr, context.logFormat()),
        env: context.io.env,
      };
      const prepared =
        options.from !== undefined && options.kube !== undefined
          ? await prepareSite(request, deps)
          : await withInstallerDeps({ kubeconfig: options.kubeconfig }, context, (installer) =>
              prepareSite(request, { ...deps, kube: installer.kube }),
            );
      context.io.stdout.write(prepared.summary.join('\n') + '\n');
    });
}
