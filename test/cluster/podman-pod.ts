// Runs the process kubelet's installer containers as Podman containers of the locally built product image
// (`npm run image`), in the rig's network namespace, under the pod's securityContext, with its volumes, ServiceAccount
// token and env; and chooses between that ("podman") and host processes ("process") for a rig.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { imageTag } from '../container/local-image.js';
import { preflight, writeContainersConf } from '../container/podman.js';

/** Overrides the choice: `podman`, `process` or `auto` (the default). */
export const POD_RUNTIME_ENV = 'RANCHER_ISTIO_POD_RUNTIME';
export type PodRuntimeMode = 'podman' | 'process';
/** The command that builds the image the rig runs; named in every message about a missing image. */
export const BUILD_COMMAND = 'npm run image';
/** The product image's name: a pod image `…/istio-installer:<tag>` runs as `localhost/istio-installer:<tag>`. */
const PRODUCT_IMAGE_NAME = 'istio-installer';
/** Label on every container the rig starts: the pod it belongs to (namespace/name). */
export const RIG_POD_LABEL = 'io.rancher-istio.rig-pod';

/** The securityContext fields the rig reads (pod- and container-level share most of them). */
export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string; localhostProfile?: string };
  /** Pod level only. */
  fsGroup?: number;
  supplementalGroups?: number[];
}

/** A pod the rig cannot start as asked; the pod stays Pending with this reason, as a kubelet leaves it. */
export class ContainerNotStarted extends Error {
  constructor(
    readonly reason: 'ErrImageNeverPull' | 'CreateContainerConfigError',
    message: string,
  ) {
    super(message);
    this.name = 'ContainerNotStarted';
  }
}

/**
 * The local image a pod's image reference runs as: the product image by name, whatever registry and repository the
 * chart puts in front of it, at the same tag; undefined for every other image (those pods stay host processes).
 */
export function localImageFor(reference: string): string | undefined {
  const withoutDigest = reference.split('@')[0] ?? '';
  const last = withoutDigest.split('/').at(-1) ?? '';
  const [name, tag = 'latest'] = last.split(':');
  return name === PRODUCT_IMAGE_NAME ? `localhost/${PRODUCT_IMAGE_NAME}:${tag}` : undefined;
}

/** The message of a pod whose image is not built here; `fallback` when it runs as host processes instead. */
export function missingImageMessage(reference: string, local: string, fallback = false): string {
  return (
    `image ${reference} runs here as ${local}, which is not built: \`${BUILD_COMMAND}\` builds ` +
    `${imageTag()} (set the chart's installer.image.tag to its tag)` +
    (fallback ? '; running the pod as host processes (process mode)' : '')
  );
}

/** Parses an image's USER ("65532", "65532:65532", "root", "") into what runAsNonRoot needs. */
function imageUid(user: string): number | 'non-numeric' {
  const name = user.split(':')[0] ?? '';
  if (name === '' || name === 'root') return 0;
  return /^\d+$/.test(name) ? Number(name) : 'non-numeric';
}

/**
 * `podman run` options for a container's effective securityContext (the container's fields over the pod's), or the
 * reason a kubelet would refuse to start it. Pure. Fields the rig does not honour are listed in the README.
 */
export function securityOptions(
  pod: SecurityContext | undefined,
  container: SecurityContext | undefined,
  imageUser: string,
): string[] {
  const p = pod ?? {};
  const c = container ?? {};
  const runAsUser = c.runAsUser ?? p.runAsUser;
  const runAsGroup = c.runAsGroup ?? p.runAsGroup;
  const runAsNonRoot = c.runAsNonRoot ?? p.runAsNonRoot;
  const seccomp = c.seccompProfile ?? p.seccompProfile;
  const args: string[] = [];
  if (runAsNonRoot) {
    const uid = runAsUser ?? imageUid(imageUser);
    if (uid === 'non-numeric')
      throw new ContainerNotStarted(
        'CreateContainerConfigError',
        `container has runAsNonRoot and image has non-numeric user (${imageUser}), cannot verify user is non-root`,
      );
    if (uid === 0)
      throw new ContainerNotStarted(
        'CreateContainerConfigError',
        'container has runAsNonRoot and image will run as root',
      );
  }
  if (runAsUser !== undefined || runAsGroup !== undefined) {
    const user = runAsUser !== undefined ? String(runAsUser) : imageUser.split(':')[0] || '0';
    args.push('--user', runAsGroup !== undefined ? `${user}:${runAsGroup}` : user);
  }
  for (const gid of [...(p.fsGroup !== undefined ? [p.fsGroup] : []), ...(p.supplementalGroups ?? [])])
    args.push('--group-add', String(gid));
  // Podman's --read-only alone would add its own tmpfs on /tmp, /var/tmp and /run; a pod gets only its volumes.
  if (c.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  if (c.privileged) args.push('--privileged');
  for (const cap of c.capabilities?.drop ?? []) args.push('--cap-drop', cap);
  for (const cap of c.capabilities?.add ?? []) args.push('--cap-add', cap);
  if (c.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  if (seccomp?.type === 'Unconfined') args.push('--security-opt', 'seccomp=unconfined');
  else if (seccomp?.type === 'Localhost')
    throw new ContainerNotStarted(
      'CreateContainerConfigError',
      `seccompProfile Localhost (${seccomp.localhostProfile ?? ''}) is not supported by the rig`,
    );
  // RuntimeDefault, or none: Podman's default seccomp profile.
  return args;
}

/** A container's `resources`, as the rig reads them. */
export interface Resources {
  limits?: Record<string, string | number>;
  requests?: Record<string, string | number>;
}

const MEMORY_SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity (`384Mi`, `1G`, `250m`, `2`) as a number of units, or undefined for a form the rig does not read. */
export function quantity(value: string | number): number | undefined {
  if (typeof value === 'number') return value;
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(value);
  if (!match) return undefined;
  const suffix = match[2] ?? '';
  return Number(match[1]) * (suffix === 'm' ? 1e-3 : (MEMORY_SUFFIXES[suffix] ?? 1));
}

/**
 * `podman run` options for a container's limits, enforced by cgroups as a kubelet's are: `limits.memory` (no swap on
 * top, as Kubernetes gives pods none) and `limits.cpu`. Requests only place pods, which the rig does not; so do the
 * rig's fake nodes. Pure; throws ContainerNotStarted, as the kubelet would fail, for a quantity it cannot read.
 */
export function resourceOptions(resources: Resources | undefined): string[] {
  const args: string[] = [];
  const limits = resources?.limits ?? {};
  for (const [name, flag] of [
    ['memory', '--memory'],
    ['cpu', '--cpus'],
  ] as const) {
    const text = limits[name];
    if (text === undefined) continue;
    const amount = quantity(text);
    if (amount === undefined || amount <= 0)
      throw new ContainerNotStarted(
        'CreateContainerConfigError',
        `limits.${name} ${text} is not a quantity the rig reads`,
      );
    if (name === 'memory')
      args.push(flag, String(Math.floor(amount)), '--memory-swap', String(Math.floor(amount)));
    else args.push(flag, String(amount));
  }
  return args;
}

export interface ContainerRun {
  /** Container name, unique on the machine. */
  name: string;
  /** Local image (localImageFor). */
  image: string;
  hostname: string;
  labels: Record<string, string>;
  /** Seconds until conmon kills the container whatever happens to the rig (its lifetime). */
  timeoutSeconds?: number;
  security: string[];
  mounts: { source: string; target: string; readOnly: boolean }[];
  /** /etc/hosts entries (`--add-host`): the names of the Services of the rig's served pods. */
  hosts?: { host: string; ip: string }[];
  env: Record<string, string>;
  workingDir?: string;
  /** Kubernetes' `command` (replaces ENTRYPOINT and drops CMD) and `args` (replace CMD), already expanded. */
  command?: string[];
  args?: string[];
}

/**
 * `podman run` argv (without `podman`) for one container. Host networking: run from inside the rig's network
 * namespace, the container shares that namespace (loopback only, the apiserver on it) as a Job pod does there.
 */
export function podmanRunArgs(run: ContainerRun): string[] {
  const args = ['run', '--rm', '--name', run.name, '--pull', 'never', '--network', 'host'];
  args.push('--hostname', run.hostname.slice(0, 63));
  for (const [k, v] of Object.entries(run.labels)) args.push('--label', `${k}=${v}`);
  if (run.timeoutSeconds !== undefined) args.push('--timeout', String(Math.max(1, run.timeoutSeconds)));
  args.push(...run.security);
  for (const m of run.mounts) args.push('-v', `${m.source}:${m.target}:${m.readOnly ? 'ro' : 'rw'}`);
  for (const h of run.hosts ?? []) args.push('--add-host', `${h.host}:${h.ip}`);
  for (const [k, v] of Object.entries(run.env)) args.push('--env', `${k}=${v}`);
  if (run.workingDir) args.push('--workdir', run.workingDir);
  if (run.command) args.push('--entrypoint', JSON.stringify(run.command));
  args.push(run.image, ...(run.args ?? []));
  return args;
}

/** How a stop ended: on SIGTERM, or killed once the grace period was over (exit 137), said in one line. */
export function stopMessage(name: string, graceSeconds: number, exitCode: number): string {
  return exitCode === 137
    ? `container ${name} did not stop within ${graceSeconds} s of SIGTERM and was killed (exit 137)`
    : `container ${name} stopped on SIGTERM (exit ${exitCode})`;
}

/** Podman as the rig runs it: its containers.conf, the rig's namespace, and the commands around `podman run`. */
export class PodmanPods {
  constructor(
    /** CONTAINERS_CONF for every podman command (test/container/podman.ts writes it). */
    readonly env: Record<string, string>,
    /** argv prefix into the rig's network namespace. */
    readonly enter: string[],
    /**
     * Forced podman mode: a pod whose image is not built stays Pending (ErrImageNeverPull). In auto mode it runs as
     * host processes instead, with a Warning event that says so and names `npm run image`.
     */
    readonly strict: boolean,
  ) {}

  async imageExists(image: string): Promise<boolean> {
    const r = await execa('podman', ['image', 'exists', image], { env: this.env, reject: false });
    return r.exitCode === 0;
  }

  /** The image's USER and ID. */
  async inspect(image: string): Promise<{ user: string; id: string }> {
    const r = await execa('podman', ['image', 'inspect', '--format', '{{.Config.User}}\t{{.Id}}', image], {
      env: this.env,
    });
    const [user = '', id = ''] = r.stdout.trim().split('\t');
    return { user, id };
  }

  /** `podman rm -f`: kills the container at once and removes it. */
  async remove(name: string): Promise<void> {
    await execa('podman', ['rm', '-f', '-t', '0', name], { env: this.env, reject: false, timeout: 60_000 });
  }

  /** The full argv of `podman run` inside a network namespace (`enter`: the rig's, or a served pod's own). */
  runArgv(enter: string[], run: ContainerRun): string[] {
    return [...enter, 'podman', ...podmanRunArgs(run)];
  }

  /**
   * `podman stop -t grace`: SIGTERM, then SIGKILL once the grace is over. The attached `podman run` then exits with
   * the container's code, which says whether it was killed (stopMessage).
   */
  async stop(name: string, graceSeconds: number): Promise<void> {
    await execa('podman', ['stop', '-t', String(graceSeconds), name], {
      env: this.env,
      reject: false,
      timeout: (graceSeconds + 60) * 1000,
    });
  }
}

export interface PodRuntimeChoice {
  mode: PodRuntimeMode;
  /** One line: which mode and why. */
  reason: string;
  /** Set in podman mode. */
  podman?: PodmanPods;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, cmd)));
}

/**
 * The line the rig prints on stderr when auto mode fell back to process mode: the installer pods then run as host
 * processes, not as containers of the image a real cluster runs, and a person reading the test output must see it.
 * None when the mode was asked for (`process`, or `podman`, which fails rather than falls back) or podman was chosen.
 */
export function fallbackNotice(
  requested: string | undefined,
  choice: { mode: PodRuntimeMode; reason: string },
): string | undefined {
  if ((requested ?? 'auto') !== 'auto' || choice.mode === 'podman') return undefined;
  return `rig: fell back to ${choice.reason}: installer pods run as host processes, not as containers of the image; ${POD_RUNTIME_ENV}=podman requires podman mode`;
}

/**
 * Podman mode when Podman can run a container here and the product image is built, process mode otherwise;
 * `RANCHER_ISTIO_POD_RUNTIME` (or `requested`) forces either. A forced podman mode without Podman fails the rig's
 * start; without the image it starts, and every installer pod says `npm run image` (missingImageMessage). In auto
 * mode a pod asking for a tag that is not built runs as processes, with an event saying so.
 */
export async function choosePodRuntime(opts: {
  requested: string | undefined;
  dir: string;
  enter: string[];
}): Promise<PodRuntimeChoice> {
  const requested = opts.requested ?? 'auto';
  if (!['auto', 'podman', 'process'].includes(requested))
    throw new Error(`${POD_RUNTIME_ENV}=${requested}: expected podman, process or auto`);
  if (requested === 'process')
    return { mode: 'process', reason: `process mode (${POD_RUNTIME_ENV}=process)` };
  const forced = requested === 'podman';
  const image = imageTag();
  if (!onPath('podman')) {
    if (forced) throw new Error(`${POD_RUNTIME_ENV}=podman: podman is not installed`);
    return { mode: 'process', reason: 'process mode (podman is not installed)' };
  }
  const podman = new PodmanPods(writeContainersConf(opts.dir), opts.enter, forced);
  if (!(await podman.imageExists(image))) {
    if (forced)
      return {
        mode: 'podman',
        reason: `podman mode (${POD_RUNTIME_ENV}=podman), but ${image} is not built: run \`${BUILD_COMMAND}\``,
        podman,
      };
    return {
      mode: 'process',
      reason: `process mode (${image} is not built; \`${BUILD_COMMAND}\` builds it)`,
    };
  }
  try {
    await preflight(image, podman.env);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (forced) throw new Error(`${POD_RUNTIME_ENV}=podman: ${why}`);
    return { mode: 'process', reason: `process mode (podman cannot run ${image} here: ${why})` };
  }
  return {
    mode: 'podman',
    reason: `podman mode: installer pods run as containers of ${image}${forced ? ` (${POD_RUNTIME_ENV}=podman)` : ''}`,
    podman,
  };
}
