// Builds the installer's dependencies for a CLI run: the Kubernetes client, istioctl lookup, temp files, the logger.
import { constants } from 'node:fs';
import { access, chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { InstallerDeps } from '../installer/deps.js';
import { findIstioctl, istioctlsOnPath, parseClientVersion } from '../installer/istioctl/find.js';
import { formatIstioVersion, type IstioVersion } from '../installer/model/istio-version.js';
import { holderIdentity, isProcessAlive } from '../installer/cluster/holder.js';
import { execaRunner, type ProcessRunner } from '../installer/istioctl/runner.js';
import { clientNodeKube } from '../installer/cluster/kube.js';
import { loadRestCredentials, restKube } from '../installer/cluster/rest-kube.js';
import { defaultCacheDir, hostPlatform, mirrorIstioctlVersions, obtainIstioctl } from '../mirror/client.js';
import { createLogger, type Logger } from './io.js';
import type { CommandContext } from './main.js';

/** Where the image keeps one istioctl per bundled Istio version: `<dir>/<version>/istioctl`. */
export const DEFAULT_ISTIOCTL_DIR = '/usr/local/lib/istioctl';

export interface ClusterOptions {
  kubeconfig?: string;
  istioctl?: string;
  mirrorUrl?: string;
}

/** Options every command that talks to the cluster shares. */
export function withClusterOptions(command: Command): Command {
  return command
    .option(
      '--kubeconfig <file>',
      'kubeconfig to use (default: in-cluster credentials, $KUBECONFIG, ~/.kube/config)',
    )
    .option(
      '--istioctl <path>',
      'istioctl binary to use for every version (default: $ISTIOCTL_DIR/<version>/istioctl, then an istioctl on PATH of that version, then the mirror)',
    )
    .option(
      '--mirror-url <url>',
      'release mirror to download a missing istioctl from (default: $RELEASE_MIRROR_URL)',
    );
}

/**
 * Runs one command's work with the installer's dependencies, then removes the run's temp dir (the specs istioctl
 * read) and closes the API connections, whatever the outcome.
 */
export async function withInstallerDeps<T>(
  options: ClusterOptions,
  context: CommandContext,
  work: (deps: InstallerDeps) => Promise<T>,
): Promise<T> {
  const { deps, dispose } = await installerDeps(options, context);
  try {
    return await work(deps);
  } finally {
    await dispose();
  }
}

/** A run's temp dir is `<TMPDIR>/istio-installer-<pid>-<random>`: the pid tells whose it is. */
const TEMP_PREFIX = 'istio-installer-';

/**
 * Removes the temp dirs of runs whose process is dead: a run killed with SIGKILL could not remove its own, and
 * it holds the specs istioctl read. A dir whose pid is alive (another run, or a reused pid) is left alone.
 */
export async function removeDirsOfDeadRuns(parent: string): Promise<void> {
  const entries = await readdir(parent).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(entry)?.[1];
    if (pid !== undefined && !isProcessAlive(Number(pid)))
      await rm(path.join(parent, entry), { recursive: true, force: true });
  }
}

async function installerDeps(
  options: ClusterOptions,
  context: CommandContext,
): Promise<{ deps: InstallerDeps; dispose: () => Promise<void> }> {
  const env = context.io.env;
  const log = createLogger(context.io.stderr, context.logFormat());
  // The lean client for plain certificates and tokens; client-node for everything else it understands.
  const credentials = loadRestCredentials(
    options.kubeconfig ? path.resolve(context.io.cwd, options.kubeconfig) : undefined,
    env,
  );
  const rest = credentials ? restKube(credentials) : undefined;
  const kube = rest ?? (await clientNodeKube(options.kubeconfig ?? undefined));
  let workDir: string | undefined;
  const explicit = options.istioctl ?? env.ISTIOCTL;
  const runner = execaRunner();
  const lookup = istioctlLookup(runner, env, log);
  // PATH does not change during a run: its istioctls are asked their version once, not on every hop's plan.
  let onPath: ReturnType<typeof istioctlsOnPath> | undefined;
  const deps: InstallerDeps = {
    kube,
    runner,
    log,
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    env: {
      ...env,
      ...(options.kubeconfig ? { KUBECONFIG: path.resolve(context.io.cwd, options.kubeconfig) } : {}),
    },
    holder: holderIdentity(env, hostname(), process.pid),
    hostname: hostname(),
    isProcessAlive,
    lockSeconds: Number(env.ISTIO_INSTALLER_LOCK_SECONDS) > 0 ? Number(env.ISTIO_INSTALLER_LOCK_SECONDS) : 60,
    async istioctlFor(version: IstioVersion | undefined) {
      if (explicit) return explicit;
      if (!version) return 'istioctl';
      const found = await findIstioctl(
        {
          version: formatIstioVersion(version),
          istioctlDir: env.ISTIOCTL_DIR || DEFAULT_ISTIOCTL_DIR,
          pathEnv: env.PATH ?? '',
          mirrorUrl: options.mirrorUrl ?? (env.RELEASE_MIRROR_URL || undefined),
        },
        lookup,
      );
      if (found.source !== 'bundled')
        log.info(`using istioctl ${formatIstioVersion(version)} from the ${found.source}`, {
          path: found.path,
        });
      return found.path;
    },
    platform: hostPlatform(),
    async istioctlVersions() {
      const bundled = await readdir(env.ISTIOCTL_DIR || DEFAULT_ISTIOCTL_DIR).catch(() => []);
      const mirrorUrl = options.mirrorUrl ?? (env.RELEASE_MIRROR_URL || undefined);
      const mirrored = mirrorUrl
        ? await mirrorIstioctlVersions(mirrorUrl, hostPlatform(), globalThis.fetch).catch(
            (error: unknown) => {
              log.warn(`cannot list the release mirror's istioctl versions: ${String(error)}`);
              return [];
            },
          )
        : [];
      onPath ??= istioctlsOnPath(env.PATH ?? '', lookup);
      return [
        ...new Set([
          ...bundled,
          ...(await onPath).flatMap((found) => (found.version ? [found.version] : [])),
          ...mirrored,
        ]),
      ];
    },
    async writeTempFile(name, content) {
      if (!workDir) {
        const parent = env.TMPDIR || tmpdir();
        await removeDirsOfDeadRuns(parent);
        workDir = await mkdtemp(path.join(parent, `${TEMP_PREFIX}${process.pid}-`));
      }
      const file = path.join(workDir, name);
      await writeFile(file, content, { mode: 0o600 });
      await chmod(file, 0o600);
      return file;
    },
  };
  const dispose = async () => {
    rest?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  };
  return { deps, dispose };
}

/** The file system, process and mirror access findIstioctl needs, for a CLI run. */
function istioctlLookup(
  runner: ProcessRunner,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Parameters<typeof findIstioctl>[1] {
  return {
    isExecutable: (file) =>
      access(file, constants.X_OK).then(
        () => true,
        () => false,
      ),
    async clientVersion(file) {
      const result = await runner.run(file, ['version', '--remote=false'], {
        timeoutMs: 30_000,
        env: { PATH: env.PATH, HOME: env.HOME, TMPDIR: env.TMPDIR },
      });
      return result.exitCode === 0 ? parseClientVersion(result.stdout) : undefined;
    },
    async fromMirror(version, mirrorUrl) {
      const obtained = await obtainIstioctl(
        { version, mirrorUrl, ...hostPlatform() },
        { fetch: globalThis.fetch, cacheDir: defaultCacheDir(env), log },
      );
      return { path: obtained.path, source: obtained.source === 'cache' ? 'cache' : 'mirror' };
    },
  };
}
