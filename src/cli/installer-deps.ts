// Builds the installer's dependencies for a CLI run: the Kubernetes client, the istioctls at hand, temp files, the logger.
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { holderIdentity, isProcessAlive } from '../installer/cluster/holder.js';
import { clientNodeKube } from '../installer/cluster/client-node-kube.js';
import { loadRestCredentials } from '../installer/cluster/kubeconfig.js';
import { restKube } from '../installer/cluster/rest-kube.js';
import type { InstallerDeps } from '../installer/deps.js';
import type { ClusterConnection, FleetDeps } from '../installer/actions/fleet-status.js';
import { istioctlsAtHand } from '../installer/istioctl/at-hand.js';
import { execaRunner } from '../installer/istioctl/runner.js';
import { createLogger } from './io.js';
import { collect, type CommandContext } from './main.js';

export interface ClusterOptions {
  kubeconfig?: string;
  /** A context of the kubeconfig instead of its current-context (only `status` offers it: istioctl would not follow). */
  context?: string;
  istioctl?: string;
  mirrorUrl?: string;
}

/**
 * Options every command that talks to the cluster shares. `repeatKubeconfig`: `--kubeconfig` may be given more than
 * once and collects into a list (`status` over many clusters).
 */
export function withClusterOptions(command: Command, repeatKubeconfig = false): Command {
  const kubeconfigHelp = 'kubeconfig to use (default: in-cluster credentials, $KUBECONFIG, ~/.kube/config)';
  return (
    repeatKubeconfig
      ? command.option('--kubeconfig <file>', `${kubeconfigHelp}; repeat for several`, collect)
      : command.option('--kubeconfig <file>', kubeconfigHelp)
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
  const kubeconfig = options.kubeconfig ? path.resolve(context.io.cwd, options.kubeconfig) : undefined;
  // The lean client for plain certificates and tokens; client-node for everything else it understands.
  const credentials = loadRestCredentials(kubeconfig, env, undefined, options.context);
  const rest = credentials ? restKube(credentials) : undefined;
  const kube = rest ?? (await clientNodeKube(options.kubeconfig ?? undefined, undefined, options.context));
  const runner = execaRunner();
  const tempFiles = runTempFiles(env);
  const deps: InstallerDeps = {
    kube,
    runner,
    log,
    now: () => new Date(),
    sleep: sleepUnlessAborted,
    env: { ...env, ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}) },
    holder: holderIdentity(env, hostname(), process.pid),
    hostname: hostname(),
    isProcessAlive,
    lockSeconds: Number(env.ISTIO_INSTALLER_LOCK_SECONDS) > 0 ? Number(env.ISTIO_INSTALLER_LOCK_SECONDS) : 60,
    ...istioctlsAtHand(
      {
        explicit: options.istioctl ?? env.ISTIOCTL,
        mirrorUrl: options.mirrorUrl ?? (env.RELEASE_MIRROR_URL || undefined),
      },
      runner,
      env,
      log,
    ),
    writeTempFile: tempFiles.write,
  };
  const dispose = async () => {
    rest?.close();
    await tempFiles.remove();
  };
  return { deps, dispose };
}

/** The run's temp dir, made on the first file (mode 0600: specs may hold secrets) and removed by `remove`. */
function runTempFiles(env: Readonly<Record<string, string | undefined>>): {
  write: InstallerDeps['writeTempFile'];
  remove: () => Promise<void>;
} {
  let workDir: string | undefined;
  return {
    async write(name, content) {
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
    async remove() {
      if (workDir) await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** A real wait of `ms` that ends, clearing its timer, as soon as `signal` aborts. */
export async function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch((error: unknown) => {
    if (!signal?.aborted) throw error;
  });
}

/**
 * A view over many clusters reads, it does not act: a few quick tries per call (a refused port is known in about
 * half a second), the per-cluster `--timeout` bounding the rest.
 */
const FLEET_RETRY = {
  attempts: 3,
  baseDelayMs: 200,
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
};

/** The fleet view's dependencies: one API client per context (the lean one where it can), real timers. */
export function fleetDeps(context: CommandContext): FleetDeps {
  const env = context.io.env;
  return {
    async connect(target): Promise<ClusterConnection> {
      const file = path.resolve(context.io.cwd, target.kubeconfig);
      const credentials = loadRestCredentials(file, env, undefined, target.context);
      if (credentials) {
        const rest = restKube(credentials, FLEET_RETRY);
        return { kube: rest, close: () => rest.close() };
      }
      return { kube: await clientNodeKube(file, FLEET_RETRY, target.context), close: () => undefined };
    },
    deadline(ms) {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
      return { expired, cancel: () => clearTimeout(timer) };
    },
    now: () => new Date(),
    hostname: hostname(),
    isProcessAlive,
  };
}
