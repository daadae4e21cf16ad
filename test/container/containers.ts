// Starts containers of the locally built product image with testcontainers, under the security context the chart
// gives its Jobs, and stops them with a bounded grace period whose overrun is reported rather than waited out.
import {
  GenericContainer,
  getContainerRuntimeClient,
  StartupCheckStrategy,
  type StartedTestContainer,
  type StartupStatus,
} from 'testcontainers';
import type Dockerode from 'dockerode';

/** The image under test; set by the tier's runner (test/container/tier.ts) after `npm run image`. */
export function imageUnderTest(): string {
  const image = process.env.RANCHER_ISTIO_IMAGE;
  if (!image || !process.env.DOCKER_HOST)
    throw new Error(
      'the container tier runs through `npm run test:container` (it builds the image and starts the Podman API service)',
    );
  return image;
}

/** Label on everything the tier creates, so that its runner can remove leftovers. */
export const TIER_LABEL = 'io.rancher-istio.test-tier';

/** Startup is done when the container has exited, whatever its exit code: the test reads the code and the output. */
class ExitedStrategy extends StartupCheckStrategy {
  override async checkStartupState(dockerClient: Dockerode, containerId: string): Promise<StartupStatus> {
    const info = await dockerClient.getContainer(containerId).inspect();
    return info.State.Running || !info.State.FinishedAt || info.State.FinishedAt.startsWith('0001')
      ? 'PENDING'
      : 'SUCCESS';
  }
}

/** The chart's container securityContext in Docker API terms; /tmp is the Jobs' emptyDir. */
const HARDENED = {
  ReadonlyRootfs: true,
  CapDrop: ['ALL'],
  SecurityOpt: ['no-new-privileges'],
  Tmpfs: { '/tmp': 'rw,size=256m,mode=1777' },
};

/**
 * A container of the image under test. By default it has no network and runs as the chart's Jobs do: the image's own
 * user, a read-only root filesystem with a tmpfs on /tmp, every capability dropped, no privilege escalation.
 */
export class ImageContainer extends GenericContainer {
  constructor(image: string = imageUnderTest()) {
    super(image);
    this.withLabels({ [TIER_LABEL]: 'true' })
      .withNetworkMode('none')
      .withTmpFs(HARDENED.Tmpfs)
      .withDroppedCapabilities(...HARDENED.CapDrop)
      .withSecurityOpt(...HARDENED.SecurityOpt)
      .withPullPolicy({ shouldPull: () => false });
    this.hostConfig.ReadonlyRootfs = HARDENED.ReadonlyRootfs;
  }

  /** The image as a plain `podman run` gets it: writable root, default capabilities (to test the image's own rules). */
  withoutHardening(): this {
    this.hostConfig.ReadonlyRootfs = false;
    this.hostConfig.CapDrop = [];
    this.hostConfig.SecurityOpt = [];
    return this;
  }

  /** Publishes `port` on 127.0.0.1 only (testcontainers alone would bind every host address). */
  withLoopbackPort(port: number): this {
    this.withExposedPorts(port);
    this.hostConfig.PortBindings = {
      ...this.hostConfig.PortBindings,
      [`${port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '0' }],
    };
    return this;
  }

  /** Start, then wait until the main process exits (any exit code). */
  untilExited(): this {
    return this.withWaitStrategy(new ExitedStrategy()).withAutoRemove(false);
  }
}

/** Splits the Docker API's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, big-endian length). */
export function demuxLogs(buffer: Buffer): { stdout: Buffer; stderr: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buffer.length) {
    const stream = buffer[at];
    const length = buffer.readUInt32BE(at + 4);
    const payload = buffer.subarray(at + 8, at + 8 + length);
    (stream === 2 ? err : out).push(payload);
    at += 8 + length;
  }
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}

export interface Exited {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

async function dockerContainer(id: string): Promise<Dockerode.Container> {
  const client = await getContainerRuntimeClient();
  return client.container.getById(id);
}

/** Runs a container of the image to completion and returns its exit code and output, then removes it. */
export async function runToExit(container: ImageContainer): Promise<Exited> {
  const started = await container.untilExited().start();
  const docker = await dockerContainer(started.getId());
  try {
    const info = await docker.inspect();
    const logs = await docker.logs({ stdout: true, stderr: true, follow: false });
    const { stdout, stderr } = demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(logs));
    return { exitCode: info.State.ExitCode, stdout, stderr: stderr.toString() };
  } finally {
    await docker.remove({ force: true });
  }
}

export interface StopReport {
  exitCode: number;
  /** Whether the container outlived its grace period and was killed (SIGKILL, exit 137). */
  killed: boolean;
  message: string;
}

/**
 * `podman stop` with `graceSeconds`: SIGTERM, then SIGKILL once the grace period is over. A kill is reported, with the
 * container's name, rather than treated as a clean stop. The container is removed afterwards.
 */
export async function stopWithin(container: StartedTestContainer, graceSeconds: number): Promise<StopReport> {
  const docker = (await getContainerRuntimeClient()).container.getById(container.getId());
  return stopContainer(docker, container.getName().replace(/^\//, ''), graceSeconds);
}

async function stopContainer(
  docker: Dockerode.Container,
  name: string,
  graceSeconds: number,
): Promise<StopReport> {
  try {
    await docker.stop({ t: graceSeconds });
  } catch (error) {
    // 304: already stopped, which is fine; the exit code below says how.
    if ((error as { statusCode?: number }).statusCode !== 304) throw error;
  }
  const info = await docker.inspect();
  await docker.remove({ force: true });
  const exitCode = info.State.ExitCode;
  const killed = exitCode === 137;
  return {
    exitCode,
    killed,
    message: killed
      ? `container ${name} did not stop within ${graceSeconds} s of SIGTERM and was killed (exit 137)`
      : `container ${name} stopped on SIGTERM (exit ${exitCode})`,
  };
}

/**
 * Creates a Podman bridge network labelled as the tier's. An internal one has no route out of the machine: its
 * containers reach only each other.
 */
export async function createNetwork(
  name: string,
  options: { internal: boolean },
): Promise<{ name: string; remove(): Promise<void> }> {
  const client = await getContainerRuntimeClient();
  const network = await client.network.create({
    Name: name,
    Driver: 'bridge',
    Internal: options.internal,
    Labels: { [TIER_LABEL]: 'true' },
  });
  return { name, remove: () => client.network.remove(network) };
}

export interface NetworkedContainer {
  name: string;
  /** The output so far, split into stdout and stderr. */
  logs(): Promise<{ stdout: string; stderr: string }>;
  /** Waits for the main process to exit; its exit code. */
  wait(): Promise<number>;
  stop(graceSeconds: number): Promise<StopReport>;
}

/**
 * A hardened container of the image on a user-created network, through the same API client testcontainers uses.
 * GenericContainer cannot start these here: Podman 4.3 lists the image's EXPOSE'd port as an unbound port binding on
 * bridge networks, and testcontainers waits for it to be bound, which never happens on an internal network.
 */
export async function startOnNetwork(options: {
  name: string;
  network: string;
  entrypoint?: string[];
  cmd: string[];
  env?: Record<string, string>;
}): Promise<NetworkedContainer> {
  const client = await getContainerRuntimeClient();
  const container = await client.container.create({
    Image: imageUnderTest(),
    name: options.name,
    ...(options.entrypoint ? { Entrypoint: options.entrypoint } : {}),
    Cmd: options.cmd,
    Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: { [TIER_LABEL]: 'true' },
    HostConfig: { ...HARDENED, NetworkMode: options.network },
  });
  await client.container.start(container);
  const docker = client.container.getById(container.id);
  return {
    name: options.name,
    async logs() {
      const raw = await docker.logs({ stdout: true, stderr: true, follow: false });
      const { stdout, stderr } = demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
      return { stdout: stdout.toString(), stderr: stderr.toString() };
    },
    async wait() {
      const result = (await docker.wait()) as { StatusCode: number };
      return result.StatusCode;
    },
    async stop(graceSeconds: number) {
      return stopContainer(docker, options.name, graceSeconds);
    },
  };
}
