// Runs Podman the way this kind of machine allows (runc, cgroupfs, no default ulimits), checks that it can start a
// container before any test relies on it, and serves its Docker-compatible API for testcontainers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';

/** Debian packages the container tier needs; installed with apt when missing (see ensurePackages). */
export const CONTAINER_PACKAGES: Record<string, string> = {
  podman: 'podman',
  runc: 'runc',
  buildah: 'buildah',
  debootstrap: 'debootstrap',
  netavark: 'netavark',
  'aardvark-dns': 'aardvark-dns',
  iptables: 'iptables',
};

/** Where Debian installs the network helpers, which are not on PATH. */
const LIBEXEC_HELPERS: Record<string, string> = {
  netavark: '/usr/lib/podman/netavark',
  'aardvark-dns': '/usr/lib/podman/aardvark-dns',
};

export interface ContainersConfOptions {
  /** OCI runtime; crun (Podman's default) refuses cgroups in hybrid mode here, runc works. */
  runtime: string;
  /** systemd is not PID 1 on these machines, so cgroups are managed through the cgroupfs. */
  cgroupManager: 'cgroupfs' | 'systemd';
  /** Podman's default ulimits raise RLIMIT_NOFILE/NPROC, which this sandbox does not permit: none is the fix. */
  defaultUlimits: boolean;
  /** The runtime's executable, when `runtime` is not one Podman knows by name. */
  runtimePath?: string;
}

export const WORKING_CONF: ContainersConfOptions = {
  runtime: 'runc',
  cgroupManager: 'cgroupfs',
  defaultUlimits: false,
};

/** containers.conf for CONTAINERS_CONF (which replaces every other containers.conf for the processes that get it). */
export function containersConf(options: ContainersConfOptions = WORKING_CONF): string {
  return [
    '# Written by the container tier (test/container/podman.ts); see README "Container tier".',
    '[containers]',
    ...(options.defaultUlimits ? [] : ['default_ulimits = []']),
    '',
    '[engine]',
    `runtime = "${options.runtime}"`,
    `cgroup_manager = "${options.cgroupManager}"`,
    'events_logger = "file"',
    '',
    ...(options.runtimePath
      ? ['[engine.runtimes]', `${options.runtime} = ["${options.runtimePath}"]`, '']
      : []),
  ].join('\n');
}

/** What keeps Podman from running a container here, read from its error output. */
export type MissingPiece = 'runtime' | 'ulimits' | 'cgroups' | 'unknown';

export interface PodmanDiagnosis {
  piece: MissingPiece;
  /** One line a person can act on. */
  message: string;
}

/**
 * Names the missing piece behind a failed `podman run`. The patterns are the messages Podman 4.3 and runc/crun print
 * on this kind of machine (each provoked for real by test/container/preflight.test.ts).
 */
export function diagnosePodmanFailure(stderr: string): PodmanDiagnosis {
  // Podman prints warnings before its error; the `Error:` line is the one that says what failed.
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const detail = (lines.find((l) => l.startsWith('Error:')) ?? lines[0] ?? '(no output)')
    .trim()
    .slice(0, 300);
  if (/rlimit/i.test(stderr))
    return {
      piece: 'ulimits',
      message: `ulimits: Podman's default ulimits cannot be set here; set default_ulimits = [] in containers.conf (${detail})`,
    };
  if (/cgroup/i.test(stderr) || /systemd/i.test(stderr) || /dbus/i.test(stderr))
    return {
      piece: 'cgroups',
      message: `cgroups: the container's cgroup cannot be created; use cgroup_manager = "cgroupfs" and the runc runtime (${detail})`,
    };
  if (/runtime|OCI|executable file not found|no such file or directory/i.test(stderr))
    return {
      piece: 'runtime',
      message: `runtime: no usable OCI runtime; install runc and set runtime = "runc" in containers.conf (${detail})`,
    };
  return { piece: 'unknown', message: `podman cannot run a container: ${detail}` };
}

/** Whether `cmd` is on PATH (or, for Podman's network helpers, where Debian installs them). */
async function hasCommand(cmd: string): Promise<boolean> {
  const helper = LIBEXEC_HELPERS[cmd];
  if (helper) return existsSync(helper);
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return dirs.some((dir) => existsSync(join(dir, cmd)));
}

/** Installs the Debian packages of commands that are missing (as root), or says which to install. */
export async function ensurePackages(
  commands: Record<string, string>,
  log: (line: string) => void,
): Promise<void> {
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(commands)) {
    if (!(await hasCommand(cmd)) && !missing.includes(pkg)) missing.push(pkg);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !(await hasCommand('apt-get')))
    throw new Error(`missing host packages: ${missing.join(', ')} (install them, then rerun)`);
  log(`container tier: installing ${missing.join(', ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update', '-qq'], { env });
  await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/** Writes a containers.conf into `dir` and returns the environment that makes podman and buildah use it. */
export function writeContainersConf(
  dir: string,
  options: ContainersConfOptions = WORKING_CONF,
): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'containers.conf');
  writeFileSync(path, containersConf(options));
  return { CONTAINERS_CONF: path };
}

export class PodmanUnusableError extends Error {
  constructor(readonly diagnosis: PodmanDiagnosis) {
    super(`container tier: ${diagnosis.message}`);
  }
}

/**
 * Starts one throwaway container from `image` (no network, `true` as its command) and fails naming the missing
 * piece if Podman cannot. Bounded by `timeoutMs`: a runtime that hangs is reported rather than waited on.
 */
export async function preflight(
  image: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<void> {
  const name = `rancher-istio-preflight-${process.pid}-${Date.now()}`;
  const result = await execa(
    'podman',
    ['run', '--rm', '--name', name, '--network', 'none', '--entrypoint', 'true', image],
    { env, reject: false, timeout: timeoutMs, all: true },
  );
  if (result.timedOut) {
    // The killed `podman run` leaves its container behind.
    await execa('podman', ['rm', '-f', '-t', '0', name], { env, reject: false, timeout: 30_000 });
    throw new PodmanUnusableError({
      piece: 'runtime',
      message: `runtime: podman run did not finish within ${timeoutMs / 1000} s (${image})`,
    });
  }
  if (result.exitCode !== 0) throw new PodmanUnusableError(diagnosePodmanFailure(result.all ?? ''));
}

/** GET /_ping on a unix socket: the Docker API's liveness probe, which Podman's service answers with OK. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export interface PodmanService {
  socketPath: string;
  /** DOCKER_HOST and the testcontainers settings that go with this service. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Runs `podman system service` on a unix socket in `dir` until stop(). Fails within `timeoutMs` naming the service's
 * own output if the API never answers.
 */
export async function startPodmanService(
  dir: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<PodmanService> {
  mkdirSync(dir, { recursive: true });
  const socketPath = join(dir, 'podman.sock');
  let output = '';
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socketPath}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));

  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(socketPath) && (await ping(socketPath)))) {
    if (dead) throw new Error(`container tier: podman system service exited: ${output.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `container tier: podman system service did not answer on ${socketPath} within ${timeoutMs / 1000} s: ${output.trim()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    socketPath,
    env: {
      ...env,
      DOCKER_HOST: `unix://${socketPath}`,
      // Ryuk's image cannot be pulled here; the tier removes what it starts itself.
      TESTCONTAINERS_RYUK_DISABLED: 'true',
      // Without it testcontainers points clients at the bridge's address; tests only talk to loopback.
      TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1',
    },
    async stop() {
      if (dead) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
