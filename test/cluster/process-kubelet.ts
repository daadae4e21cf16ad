// The "process kubelet": runs the installer's Job pods and istiod's pods as real local processes (volumes
// bind-mounted in a private mount namespace, a real ServiceAccount token), or the installer's as Podman containers of
// the product image where the rig has them (podman-pod.ts), records their output as the pod log and reports their
// status: exit status for Job pods; pod IP, readiness and restarts for istiod (real-istiod.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isProcessKubeletPod } from './kwok-config.js';
import { CriLogWriter } from './cri-log.js';
import type { ImageLayout } from './image.js';
import { KWOK_LOGS_API } from './kwok-config.js';
import { KubeHttp, KubeHttpError, type Json } from './kube-http.js';
import {
  ContainerNotStarted,
  localImageFor,
  missingImageMessage,
  RIG_POD_LABEL,
  resourceOptions,
  securityOptions,
  stopMessage,
  type PodmanPods,
  type Resources,
  type SecurityContext,
} from './podman-pod.js';
import { NODE_ADDRESS, type PodNetworks } from './pod-network.js';
import { istiodImage, istiodVersion, isIstiodPod } from './real-istiod.js';
import { RIG_ISTIO_VERSIONS, type ToolPaths } from './tools.js';

const SANDBOX = join(dirname(fileURLToPath(import.meta.url)), 'pod-sandbox.sh');

// Only the fields the process kubelet reads.
interface KeyToPath {
  key: string;
  path: string;
}
interface ObjectSource {
  name: string;
  items?: KeyToPath[];
  optional?: boolean;
}
interface DownwardItem {
  path: string;
  fieldRef?: { fieldPath: string };
}
interface ProjectedSource {
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  configMap?: ObjectSource;
  secret?: ObjectSource;
  downwardAPI?: { items?: DownwardItem[] };
}
interface Volume {
  name: string;
  configMap?: ObjectSource;
  secret?: ObjectSource & { secretName?: string };
  projected?: { sources?: ProjectedSource[] };
  downwardAPI?: { items?: DownwardItem[] };
  emptyDir?: object;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: { prefix?: string; configMapRef?: { name: string }; secretRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  terminationMessagePolicy?: string;
  securityContext?: SecurityContext;
  resources?: Resources;
  readinessProbe?: {
    httpGet?: { path?: string; port: number | string; scheme?: string };
    initialDelaySeconds?: number;
    periodSeconds?: number;
    timeoutSeconds?: number;
    successThreshold?: number;
    failureThreshold?: number;
  };
}
export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: {
    nodeName?: string;
    serviceAccountName?: string;
    securityContext?: SecurityContext;
    terminationGracePeriodSeconds?: number;
    containers: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
  };
  status?: { phase?: string; hostIP?: string };
}

export interface ProcessKubeletOptions {
  /** Admin client of the rig's apiserver (reads pods, ConfigMaps, Secrets; requests tokens; writes pod status). */
  kube: KubeHttp;
  /** Host and port pods see as KUBERNETES_SERVICE_HOST/PORT. */
  apiHost: string;
  apiPort: number;
  /** Where pod volumes and logs are written. */
  workDir: string;
  /** The container image as the rig reproduces it (image.ts); every process-kubelet pod runs "in" it. */
  image: ImageLayout;
  /** argv prefix that puts a pod's processes into the rig's network namespace (netns.ts). */
  enterNetwork: string[];
  /** Own network namespaces for pods that serve (istiod), inside the rig's. */
  podNetworks: PodNetworks;
  /** Where each Istio version's pilot-discovery is, for istiod pods. */
  tools: ToolPaths;
  /** false: istiod pods are left to kwok like any other (default true: real pilot-discovery processes). */
  realIstiod?: boolean;
  /** Epoch ms when the cluster's lifetime ends: pod processes are bounded by it too, even if the rig dies. */
  deadline?: number;
  /** Set in podman mode: containers of the product image run as Podman containers of the local build. */
  podman?: PodmanPods;
  /** How often pods are listed; polling keeps the kubelet immune to dropped watches and apiserver restarts. */
  pollMs?: number;
  log?: (line: string) => void;
}

class PodFailure extends Error {}

/**
 * A readiness probe's initial delay, period, timeout, success and failure thresholds, with Kubernetes' defaults, in the
 * order netns-probe.mjs takes them: the rig's pods flip Ready exactly when a kubelet's would.
 */
function probeTiming(p: NonNullable<Container['readinessProbe']>): number[] {
  return [
    p.initialDelaySeconds ?? 0,
    p.periodSeconds ?? 10,
    p.timeoutSeconds ?? 1,
    p.successThreshold ?? 1,
    p.failureThreshold ?? 3,
  ];
}

/** Where and as what a pod's containers run: its image, its network namespace, and the addresses it sees. */
interface PodPlace {
  image: ImageLayout;
  enter: string[];
  /** KUBERNETES_SERVICE_HOST as this pod reaches the apiserver. */
  apiHost: string;
  podIP: string;
}
/** A referenced ConfigMap or Secret that does not exist (yet): a kubelet keeps the pod waiting, so do we. */
class MissingObject extends PodFailure {}

/** How long a pod waits for the ConfigMaps and Secrets it mounts, like a kubelet's ContainerCreating. */
const VOLUME_WAIT_MS = 60_000;
/** A served container that exited is started again after this long (a kubelet's first CrashLoopBackOff step). */
const RESTART_BACKOFF_MS = 10_000;
const PROBE = join(dirname(fileURLToPath(import.meta.url)), 'netns-probe.mjs');

interface Running {
  pod: Pod;
  children: Set<ChildProcess>;
  /** The Podman container each `podman run` child attaches to; stopped with `podman stop`, not by signal. */
  containers: Map<ChildProcess, string>;
  stopping: boolean;
  /** Resolves once stopping starts, so a restart backoff can end early. */
  stopped: Promise<void>;
  markStopped: () => void;
}

function newRunning(pod: Pod): Running {
  let markStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (markStopped = r));
  return { pod, children: new Set(), containers: new Map(), stopping: false, stopped, markStopped };
}

export class ProcessKubelet {
  private readonly running = new Map<string, Running>();
  private readonly seen = new Set<string>();
  /** Every pod being run, until it has cleaned up after itself (its network namespace included). */
  private readonly tasks = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: ProcessKubeletOptions) {
    this.log = opts.log ?? (() => undefined);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 500);
  }

  /** Stops polling and kills every pod process still running. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.running.values()].map((r) => this.kill(r)));
    await Promise.all([...this.tasks]);
  }

  /** The combined stdout/stderr of a pod's container, as far as it has run (empty if it never ran). */
  logs(namespace: string, pod: string, container?: string): string {
    const file = this.logPath(namespace, pod, container);
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  }

  logPath(namespace: string, pod: string, container?: string): string {
    return join(this.opts.workDir, 'logs', `${namespace}_${pod}${container ? `_${container}` : ''}.log`);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const list = await this.opts.kube.get<{ items: Pod[] }>('/api/v1/pods');
      const present = new Set<string>();
      for (const pod of list.items) {
        if (!isProcessKubeletPod(pod.metadata.labels, this.opts.realIstiod ?? true)) continue;
        present.add(pod.metadata.uid);
        const run = this.running.get(pod.metadata.uid);
        if (run && pod.metadata.deletionTimestamp) void this.kill(run);
        if (run || this.seen.has(pod.metadata.uid)) continue;
        if (!pod.spec.nodeName || pod.metadata.deletionTimestamp) continue;
        if (pod.status?.phase && pod.status.phase !== 'Pending') continue;
        this.seen.add(pod.metadata.uid);
        const task =
          isIstiodPod(pod) && (this.opts.realIstiod ?? true) ? this.runServedPod(pod) : this.runPod(pod);
        this.tasks.add(task);
        void task.finally(() => this.tasks.delete(task));
      }
      for (const run of this.running.values()) if (!present.has(run.pod.metadata.uid)) void this.kill(run);
    } catch (err) {
      this.log(`process-kubelet: listing pods failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.polling = false;
    }
  }

  private async kill(run: Running): Promise<void> {
    if (run.stopping) return;
    run.stopping = true;
    run.markStopped();
    const exits = [...run.children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          const container = run.containers.get(child);
          // A signal to `podman run` would end the client, not the container: Podman stops it, honouring the grace.
          const podman = this.opts.podman;
          if (container && podman) {
            // A container still being created when the pod went misses the stop: removed by force soon after.
            const force = () => {
              if (child.exitCode === null && child.signalCode === null) void podman.remove(container);
            };
            void podman.stop(container, gracePeriod(run.pod)).then(() => setTimeout(force, 15_000).unref());
            return;
          }
          signalGroup(child, 'SIGTERM');
          setTimeout(() => signalGroup(child, 'SIGKILL'), 5_000).unref();
        }),
    );
    await Promise.all(exits);
  }

  private async runPod(pod: Pod): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    const run = newRunning(pod);
    this.running.set(uid, run);
    const podDir = join(this.opts.workDir, 'pods', uid);
    const startedAt = new Date().toISOString();
    this.log(`process-kubelet: running pod ${namespace}/${name}`);
    // Job pods share the rig's network namespace and its loopback, where the apiserver listens.
    const place: PodPlace = {
      image: this.opts.image,
      enter: this.opts.enterNetwork,
      apiHost: this.opts.apiHost,
      podIP: '127.0.0.1',
    };
    let exitCode = 1;
    let failed: Container | undefined;
    let message = '';
    let inPodman = new Map<string, PodmanContainer>();
    try {
      inPodman = await this.podmanContainers(pod);
      const volumes = await this.volumesWhenAvailable(pod, podDir, place.podIP);
      await this.publishLogs(pod);
      await this.setStatus(pod, runningStatus(pod, startedAt, inPodman));
      for (const container of pod.spec.initContainers ?? []) {
        exitCode = await this.runContainer(
          run,
          container,
          volumes,
          podDir,
          place,
          inPodman.get(container.name),
        );
        if (exitCode !== 0) {
          failed = container;
          break;
        }
      }
      if (!failed) {
        const codes = await Promise.all(
          pod.spec.containers.map((c) =>
            this.runContainer(run, c, volumes, podDir, place, inPodman.get(c.name)).then((code) => ({
              c,
              code,
            })),
          ),
        );
        const bad = codes.find((r) => r.code !== 0);
        exitCode = bad ? bad.code : 0;
        failed = bad?.c;
      }
      if (failed && failed.terminationMessagePolicy === 'FallbackToLogsOnError') {
        message = this.logs(namespace, name).split('\n').slice(-80).join('\n');
      }
    } catch (err) {
      if (err instanceof ContainerNotStarted) {
        this.running.delete(uid);
        await this.notStarted(pod, err);
        return;
      }
      message = err instanceof Error ? err.message : String(err);
      failed = pod.spec.containers[0];
      exitCode = 128;
      this.appendLog(pod, `process-kubelet: cannot start pod: ${message}\n`);
    }
    this.running.delete(uid);
    this.log(`process-kubelet: pod ${namespace}/${name} exited ${exitCode}`);
    if (run.stopping) return;
    await this.setStatus(
      pod,
      finishedStatus(pod, startedAt, exitCode, failed?.name, message, inPodman),
    ).catch((err) => this.log(`process-kubelet: status of ${namespace}/${name}: ${String(err)}`));
  }

  /**
   * In podman mode, the containers of the product image: the local image each runs as and its `podman run` security
   * options. Throws ContainerNotStarted, as a kubelet refuses, for an image not built here or a securityContext the
   * image cannot satisfy (runAsNonRoot with a root user).
   */
  private async podmanContainers(pod: Pod): Promise<Map<string, PodmanContainer>> {
    const out = new Map<string, PodmanContainer>();
    const podman = this.opts.podman;
    if (!podman) return out;
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      const image = localImageFor(c.image);
      if (!image) continue;
      if (!(await podman.imageExists(image))) {
        if (podman.strict)
          throw new ContainerNotStarted('ErrImageNeverPull', missingImageMessage(c.image, image));
        // Auto mode: a test that installs the chart with another tag still runs, and the event and stderr say how.
        const message = missingImageMessage(c.image, image, true);
        process.stderr.write(`rig: pod ${pod.metadata.namespace}/${pod.metadata.name}: ${message}\n`);
        await this.warn(pod, 'ImageNotBuilt', message);
        continue;
      }
      const { user, id } = await podman.inspect(image);
      out.set(c.name, {
        name: `rig-${pod.metadata.uid}-${c.name}`,
        image,
        imageID: id,
        // Limits are cgroup settings of the container, as a kubelet applies them.
        security: [
          ...securityOptions(pod.spec.securityContext, c.securityContext, user),
          ...resourceOptions(c.resources),
        ],
      });
    }
    return out;
  }

  /** A pod the rig refuses to start: a Warning event and a Pending status naming why, as a kubelet reports it. */
  private async notStarted(pod: Pod, err: ContainerNotStarted): Promise<void> {
    const { namespace, name } = pod.metadata;
    await this.warn(pod, err.reason, err.message);
    await this.setStatus(pod, waitingStatus(pod, err.reason, err.message)).catch((e: unknown) =>
      this.log(`process-kubelet: status of ${namespace}/${name}: ${String(e)}`),
    );
  }

  /** A Warning event on the pod (`kubectl describe` shows it), the same line in its log and the rig's. */
  private async warn(pod: Pod, reason: string, message: string): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    this.log(`process-kubelet: pod ${namespace}/${name}: ${reason}: ${message}`);
    this.appendLog(pod, `process-kubelet: ${reason}: ${message}\n`);
    const t = new Date().toISOString();
    await this.opts.kube
      .post(`/api/v1/namespaces/${namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace, uid },
        type: 'Warning',
        reason,
        message,
        source: { component: 'kubelet', host: pod.spec.nodeName ?? '' },
        firstTimestamp: t,
        lastTimestamp: t,
        count: 1,
      })
      .catch((e: unknown) => this.log(`process-kubelet: event for ${namespace}/${name}: ${String(e)}`));
  }

  /**
   * A pod that serves until it is deleted (istiod): in a network namespace of its own with its own pod IP, Ready
   * only while its readiness probe answers, and started again when its process exits, as a kubelet would.
   */
  private async runServedPod(pod: Pod): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    const run = newRunning(pod);
    this.running.set(uid, run);
    const podDir = join(this.opts.workDir, 'pods', uid);
    const cleanups: (() => Promise<void>)[] = [];
    this.log(`process-kubelet: running served pod ${namespace}/${name}`);
    try {
      const { version, image } = istiodVersion(pod);
      if (!version) {
        throw new PodFailure(
          `the rig has no pilot-discovery for image ${image} (it runs Istio ${RIG_ISTIO_VERSIONS.join(', ')})`,
        );
      }
      const [container, ...more] = pod.spec.containers;
      if (!container || more.length > 0)
        throw new PodFailure('the rig runs served pods of exactly one container');
      const binary = this.opts.tools.pilotDiscovery[version];
      if (!existsSync(binary)) throw new PodFailure(`${binary} is not built (run \`npm run tools\`)`);
      const network = await this.opts.podNetworks.create();
      cleanups.push(network.stop);
      const place: PodPlace = {
        image: istiodImage(this.opts.tools, version),
        enter: network.enter,
        apiHost: NODE_ADDRESS,
        podIP: network.ip,
      };
      const volumes = await this.volumesWhenAvailable(pod, podDir, place.podIP);
      await this.publishLogs(pod);
      const state: ServedState = {
        ip: network.ip,
        ready: false,
        restarts: 0,
        startedAt: '',
        lastExit: undefined,
      };
      const publish = () =>
        this.setStatus(pod, servedStatus(pod, state)).catch((err) =>
          this.log(`process-kubelet: status of ${namespace}/${name}: ${String(err)}`),
        );
      const probe = container.readinessProbe?.httpGet;
      if (probe) {
        const url = `http://${network.ip}:${probe.port}${probe.path ?? '/'}`;
        const prober = this.startProber(url, probeTiming(container.readinessProbe ?? {}), (ready) => {
          if (state.startedAt === '' || ready === state.ready) return;
          state.ready = ready;
          void publish();
        });
        cleanups.push(async () => {
          if (prober.exitCode !== null || prober.signalCode !== null) return;
          const exited = new Promise<void>((r) => prober.once('close', () => r()));
          // TERM reaches the probe through `timeout`; a KILL would orphan it with our pipe still open.
          prober.kill('SIGTERM');
          await exited;
        });
      }
      while (!run.stopping) {
        state.startedAt = new Date().toISOString();
        state.ready = !probe;
        await publish();
        const code = await this.runContainer(run, container, volumes, podDir, place);
        if (run.stopping) break;
        this.appendLog(
          pod,
          `process-kubelet: container ${container.name} exited ${code}; restarting
`,
        );
        state.lastExit = { code, at: new Date().toISOString() };
        state.ready = false;
        state.startedAt = '';
        state.restarts++;
        await publish();
        await Promise.race([run.stopped, new Promise((r) => setTimeout(r, RESTART_BACKOFF_MS).unref())]);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.appendLog(pod, `process-kubelet: cannot start pod: ${message}\n`);
      this.log(`process-kubelet: pod ${namespace}/${name}: ${message}`);
      if (!run.stopping) {
        await this.setStatus(
          pod,
          waitingStatus(pod, err instanceof PodFailure ? 'ErrImagePull' : 'RunContainerError', message),
        ).catch(() => undefined);
      }
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup();
      this.running.delete(uid);
    }
  }

  /** A readiness prober inside the rig's namespace (where pod IPs are reachable); reports every change. */
  private startProber(url: string, timing: number[], onChange: (ready: boolean) => void): ChildProcess {
    const [program = 'nsenter', ...args] = this.opts.enterNetwork;
    const left = this.opts.deadline
      ? Math.max(1, Math.ceil((this.opts.deadline - Date.now()) / 1000))
      : 86_400;
    const child = spawn(
      program,
      [...args, 'timeout', String(left), process.execPath, PROBE, url, ...timing.map(String)],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    let buffered = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) onChange(line === 'ready');
    });
    return child;
  }

  private appendLog(pod: Pod, text: string): void {
    const file = this.logPath(pod.metadata.namespace, pod.metadata.name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { flag: 'a' });
  }

  private runContainer(
    run: Running,
    c: Container,
    volumes: Map<string, string>,
    podDir: string,
    place: PodPlace,
    inPodman?: PodmanContainer,
  ): Promise<number> {
    const pod = run.pod;
    return (async () => {
      const started = inPodman
        ? await this.spawnPodman(pod, c, volumes, place, inPodman)
        : await this.spawnProcess(pod, c, volumes, podDir, place);
      const { child, container } = started;
      run.children.add(child);
      if (container) run.containers.set(child, container);
      const logFile = this.logPath(pod.metadata.namespace, pod.metadata.name);
      mkdirSync(dirname(logFile), { recursive: true });
      const out = createWriteStream(logFile, { flags: 'a' });
      const cri = new CriLogWriter(createWriteStream(this.criLogPath(pod, c.name), { flags: 'a' }));
      child.stdout?.on('data', (d: Buffer) => {
        out.write(d);
        cri.write('stdout', d);
      });
      child.stderr?.on('data', (d: Buffer) => {
        out.write(d);
        cri.write('stderr', d);
      });
      return await new Promise<number>((resolve) => {
        // Resolve only once the log is on disk: the pod's final status must never precede its log.
        child.on('error', (err) => {
          cri.end();
          out.end(`process-kubelet: ${err.message}\n`, () => resolve(127));
        });
        child.on('close', (code, signal) => {
          run.children.delete(child);
          run.containers.delete(child);
          cri.end();
          const exit = code ?? (signal ? 128 + signalNumber(signal) : 1);
          // A deleted pod's container: say whether it ended on SIGTERM or had to be killed.
          const report =
            container && run.stopping
              ? `process-kubelet: ${stopMessage(container, gracePeriod(pod), exit)}\n`
              : '';
          if (report) this.log(report.trim());
          out.end(report, () => resolve(exit));
        });
      });
    })();
  }

  /** The container as a local process in the rig's namespace, under `unshare --mount` (pod-sandbox.sh). */
  private async spawnProcess(
    pod: Pod,
    c: Container,
    volumes: Map<string, string>,
    podDir: string,
    place: PodPlace,
  ): Promise<{ child: ChildProcess; container?: string }> {
    const env = await this.containerEnv(pod, c, place, true);
    // Kubernetes' rule: `command` replaces ENTRYPOINT (and drops CMD), `args` replaces CMD.
    const { entrypoint, cmd } = place.image;
    const argv = (c.command ? [...c.command, ...(c.args ?? [])] : [...entrypoint, ...(c.args ?? cmd)]).map(
      (a) => expandVars(a, env),
    );
    if (argv.length === 0) throw new PodFailure(`container ${c.name} has nothing to run`);
    // A pod without volumes has no directory yet (volumesWhenAvailable makes it only for volumes).
    mkdirSync(podDir, { recursive: true });
    const mountsFile = join(podDir, `${c.name}.mounts`);
    const lines = mountsOf(c, volumes).map((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw'].join('\t'));
    writeFileSync(mountsFile, lines.join('\n') + '\n');
    const keepFile = join(podDir, `${c.name}.keep`);
    writeFileSync(keepFile, place.image.hostPaths.join('\n') + '\n');
    const workdir = c.workingDir ?? place.image.workingDir;
    mkdirSync(workdir, { recursive: true });
    const sandbox = [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'bash',
      SANDBOX,
      mountsFile,
      keepFile,
      workdir,
    ];
    const left = this.opts.deadline ? Math.max(1, Math.ceil((this.opts.deadline - Date.now()) / 1000)) : 0;
    const bound = left ? ['timeout', '--signal=TERM', '--kill-after=10', String(left)] : [];
    const [program = 'unshare', ...rest] = [...place.enter, ...bound, ...sandbox, '--', ...argv];
    const child = spawn(program, rest, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return { child };
  }

  /** The container as a Podman container of the local image, sharing the rig's namespace (podman-pod.ts). */
  private async spawnPodman(
    pod: Pod,
    c: Container,
    volumes: Map<string, string>,
    place: PodPlace,
    inPodman: PodmanContainer,
  ): Promise<{ child: ChildProcess; container: string }> {
    const podman = this.opts.podman;
    if (!podman) throw new PodFailure('podman mode is off');
    // The image's own ENV, PATH, ENTRYPOINT, CMD and WORKDIR apply inside; the rig adds only what a kubelet adds.
    const env = await this.containerEnv(pod, c, place, false);
    const expand = (list: string[] | undefined) => list?.map((a) => expandVars(a, env));
    const { name } = inPodman;
    const left = this.opts.deadline ? Math.ceil((this.opts.deadline - Date.now()) / 1000) : undefined;
    const argv = podman.runArgv({
      name,
      image: inPodman.image,
      hostname: pod.metadata.name,
      labels: { [RIG_POD_LABEL]: `${pod.metadata.namespace}/${pod.metadata.name}` },
      ...(left !== undefined ? { timeoutSeconds: left } : {}),
      security: inPodman.security,
      mounts: mountsOf(c, volumes),
      env,
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      ...(c.command ? { command: expand(c.command) } : {}),
      ...(c.args ? { args: expand(c.args) } : {}),
    });
    const [program = 'nsenter', ...rest] = argv;
    const child = spawn(program, rest, {
      env: { ...process.env, ...podman.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    return { child, container: name };
  }

  /**
   * Image env (when the rig stands in for the image: process mode), then the API address a kubelet injects, then the
   * container's own env (which wins).
   */
  private async containerEnv(
    pod: Pod,
    c: Container,
    place: PodPlace,
    imageEnv: boolean,
  ): Promise<Record<string, string>> {
    const { image, apiHost } = place;
    const { apiPort } = this.opts;
    const env: Record<string, string> = {
      ...(imageEnv
        ? {
            PATH: [
              ...image.path,
              '/usr/local/sbin',
              '/usr/local/bin',
              '/usr/sbin',
              '/usr/bin',
              '/sbin',
              '/bin',
            ].join(':'),
            HOSTNAME: pod.metadata.name,
            ...image.env,
          }
        : {}),
      KUBERNETES_SERVICE_HOST: apiHost,
      KUBERNETES_SERVICE_PORT: String(apiPort),
      KUBERNETES_SERVICE_PORT_HTTPS: String(apiPort),
      KUBERNETES_PORT: `tcp://${apiHost}:${apiPort}`,
      KUBERNETES_PORT_443_TCP: `tcp://${apiHost}:${apiPort}`,
    };
    const ns = pod.metadata.namespace;
    for (const from of c.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      if (!ref) continue;
      const data = from.configMapRef
        ? await this.configMapData(ns, ref.name, false)
        : await this.secretData(ns, ref.name, false);
      for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${k}`] = v.toString('utf8');
    }
    for (const e of c.env ?? []) {
      const value = await this.envValue(pod, e, env, place.podIP);
      if (value !== undefined) env[e.name] = value;
    }
    return env;
  }

  private async envValue(
    pod: Pod,
    e: EnvVar,
    env: Record<string, string>,
    podIP: string,
  ): Promise<string | undefined> {
    if (e.value !== undefined) return expandVars(e.value, env);
    const from = e.valueFrom;
    if (from?.fieldRef) return fieldValue(pod, from.fieldRef.fieldPath, podIP);
    const ns = pod.metadata.namespace;
    const keyRef = from?.secretKeyRef ?? from?.configMapKeyRef;
    if (keyRef) {
      const data = from?.secretKeyRef
        ? await this.secretData(ns, keyRef.name, keyRef.optional ?? false)
        : await this.configMapData(ns, keyRef.name, keyRef.optional ?? false);
      const v = data?.[keyRef.key];
      if (v === undefined && !keyRef.optional)
        throw new PodFailure(`env ${e.name}: key ${keyRef.key} not found`);
      return v?.toString('utf8');
    }
    return '';
  }

  private async configMapData(ns: string, name: string, optional: boolean) {
    const cm = await this.getOptional(
      `/api/v1/namespaces/${ns}/configmaps/${name}`,
      optional,
      `ConfigMap ${name}`,
    );
    if (!cm) return undefined;
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>))
      out[k] = Buffer.from(v, 'utf8');
    for (const [k, v] of Object.entries((cm.binaryData ?? {}) as Record<string, string>))
      out[k] = Buffer.from(v, 'base64');
    return out;
  }

  private async secretData(ns: string, name: string, optional: boolean) {
    const s = await this.getOptional(`/api/v1/namespaces/${ns}/secrets/${name}`, optional, `Secret ${name}`);
    if (!s) return undefined;
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries((s.data ?? {}) as Record<string, string>))
      out[k] = Buffer.from(v, 'base64');
    return out;
  }

  private async getOptional(path: string, optional: boolean, what: string): Promise<Json | undefined> {
    try {
      return await this.opts.kube.get(path);
    } catch (err) {
      if (err instanceof KubeHttpError && err.status === 404) {
        if (optional) return undefined;
        throw new MissingObject(`${what} not found`);
      }
      throw err;
    }
  }

  private async volumesWhenAvailable(pod: Pod, podDir: string, podIP: string): Promise<Map<string, string>> {
    const deadline = Date.now() + VOLUME_WAIT_MS;
    for (;;) {
      try {
        return await this.materializeVolumes(pod, podDir, podIP);
      } catch (err) {
        if (!(err instanceof MissingObject) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  /** Writes every volume's files under the pod dir; returns volume name -> host directory. */
  private async materializeVolumes(pod: Pod, podDir: string, podIP: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const ns = pod.metadata.namespace;
    for (const v of pod.spec.volumes ?? []) {
      const dir = join(podDir, 'volumes', v.name);
      mkdirSync(dir, { recursive: true });
      out.set(v.name, dir);
      const files: Record<string, Buffer> = {};
      // World-writable, as a kubelet makes an emptyDir: a container's non-root user writes its /tmp there.
      if (v.emptyDir) {
        chmodSync(dir, 0o777);
        continue;
      }
      if (v.configMap) {
        Object.assign(
          files,
          select(await this.configMapData(ns, v.configMap.name, !!v.configMap.optional), v.configMap),
        );
      } else if (v.secret) {
        const name = v.secret.secretName ?? v.secret.name;
        const data = await this.secretData(ns, name, !!v.secret.optional);
        Object.assign(files, select(data, { ...v.secret, name }));
      } else if (v.downwardAPI) {
        Object.assign(files, downward(pod, v.downwardAPI.items, podIP));
      } else if (v.projected) {
        for (const s of v.projected.sources ?? []) {
          if (s.serviceAccountToken) {
            files[s.serviceAccountToken.path] = Buffer.from(await this.token(pod, s.serviceAccountToken));
          } else if (s.configMap) {
            Object.assign(
              files,
              select(await this.configMapData(ns, s.configMap.name, !!s.configMap.optional), s.configMap),
            );
          } else if (s.secret) {
            Object.assign(
              files,
              select(await this.secretData(ns, s.secret.name, !!s.secret.optional), s.secret),
            );
          } else if (s.downwardAPI) {
            Object.assign(files, downward(pod, s.downwardAPI.items, podIP));
          }
        }
      } else {
        throw new PodFailure(
          `volume ${v.name}: only configMap, secret, projected, downwardAPI and emptyDir run here`,
        );
      }
      for (const [path, data] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), data, { mode: 0o644 });
      }
    }
    return out;
  }

  /** A bound token from the TokenRequest API, exactly what a kubelet would project: RBAC then judges the pod. */
  private async token(pod: Pod, src: { audience?: string; expirationSeconds?: number }): Promise<string> {
    const sa = pod.spec.serviceAccountName ?? 'default';
    const res = await this.opts.kube.post<{ status: { token: string } }>(
      `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: src.audience ? [src.audience] : [],
          expirationSeconds: src.expirationSeconds ?? 3607,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
        },
      },
    );
    return res.status.token;
  }

  private criLogPath(pod: Pod, container: string): string {
    const { namespace, name } = pod.metadata;
    return join(this.opts.workDir, 'cri-logs', `${namespace}_${name}_${container}.log`);
  }

  /** Tells kwok's kubelet server where each container's log is, so `kubectl logs` reads it through the apiserver. */
  private async publishLogs(pod: Pod): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    mkdirSync(join(this.opts.workDir, 'cri-logs'), { recursive: true });
    const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    for (const c of containers) writeFileSync(this.criLogPath(pod, c.name), '', { flag: 'a' });
    const { group, version, plural } = KWOK_LOGS_API;
    try {
      await this.opts.kube.post(`/apis/${group}/${version}/namespaces/${namespace}/${plural}`, {
        apiVersion: `${group}/${version}`,
        kind: 'Logs',
        // Owned by the pod, so the garbage collector removes it with the pod.
        metadata: { name, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid }] },
        spec: {
          logs: containers.map((c) => ({ containers: [c.name], logsFile: this.criLogPath(pod, c.name) })),
        },
      });
    } catch (err) {
      if (!(err instanceof KubeHttpError && err.status === 409)) throw err;
    }
  }

  private async setStatus(pod: Pod, status: Json): Promise<void> {
    const { namespace, name } = pod.metadata;
    await this.opts.kube.mergePatch(`/api/v1/namespaces/${namespace}/pods/${name}/status`, { status });
  }
}

/** A container of the product image in podman mode: the local image it runs as, and its security options. */
interface PodmanContainer {
  /** Container name, unique on the machine (the pod's UID is). */
  name: string;
  image: string;
  imageID: string;
  security: string[];
}

/** Seconds a deleted pod's containers get between SIGTERM and SIGKILL (Kubernetes' default is 30). */
const gracePeriod = (pod: Pod): number => pod.spec.terminationGracePeriodSeconds ?? 30;

/** A container's volume mounts as host source, mountPath and read-only flag. */
function mountsOf(
  c: Container,
  volumes: Map<string, string>,
): { source: string; target: string; readOnly: boolean }[] {
  return (c.volumeMounts ?? []).map((m) => {
    const src = volumes.get(m.name);
    if (!src) throw new PodFailure(`container ${c.name} mounts unknown volume ${m.name}`);
    return { source: m.subPath ? join(src, m.subPath) : src, target: m.mountPath, readOnly: !!m.readOnly };
  });
}

function select(data: Record<string, Buffer> | undefined, src: ObjectSource): Record<string, Buffer> {
  if (!data) return {};
  if (!src.items) return data;
  const out: Record<string, Buffer> = {};
  for (const item of src.items) {
    const v = data[item.key];
    if (v === undefined) {
      if (src.optional) continue;
      throw new PodFailure(`${src.name}: key ${item.key} not found`);
    }
    out[item.path] = v;
  }
  return out;
}

function downward(pod: Pod, items: DownwardItem[] | undefined, podIP: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const item of items ?? []) {
    if (item.fieldRef) out[item.path] = Buffer.from(fieldValue(pod, item.fieldRef.fieldPath, podIP));
  }
  return out;
}

function fieldValue(pod: Pod, path: string, podIP: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2] ?? ''] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'metadata.labels':
      return kvLines(pod.metadata.labels);
    case 'metadata.annotations':
      return kvLines(pod.metadata.annotations);
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.hostIP':
      return '127.0.0.1';
    case 'status.podIP':
      return podIP;
    default:
      throw new PodFailure(`fieldRef ${path} is not supported by the process kubelet`);
  }
}

const kvLines = (m: Record<string, string> | undefined): string =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}="${v}"`)
    .join('\n');

/** Kubernetes' $(VAR) expansion in command, args and env values; $$ escapes, unknown names stay as written. */
export function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && env[name] !== undefined ? env[name] : whole;
  });
}

/**
 * What every container status names: the container and its image; for a Podman container also the local image's ID
 * and the container (`podman://<name>`), else no image ID (never pulled).
 */
const containerIdentity = (c: Container, inPodman?: Map<string, PodmanContainer>) => {
  const p = inPodman?.get(c.name);
  return p
    ? { name: c.name, image: c.image, imageID: p.imageID, containerID: `podman://${p.name}` }
    : { name: c.name, image: c.image, imageID: '' };
};

function runningStatus(pod: Pod, startedAt: string, inPodman: Map<string, PodmanContainer>): Json {
  const t = startedAt;
  return {
    phase: 'Running',
    startTime: t,
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
      { type: 'Initialized', status: 'True', lastTransitionTime: t },
      { type: 'Ready', status: 'True', lastTransitionTime: t },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: t },
    ],
    containerStatuses: pod.spec.containers.map((c) => ({
      ...containerIdentity(c, inPodman),
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: t } },
    })),
  };
}

/** What a served pod's status shows: its IP, readiness, restarts and the last exit. */
interface ServedState {
  ip: string;
  ready: boolean;
  restarts: number;
  /** When the running container started; empty while it waits to be restarted. */
  startedAt: string;
  lastExit: { code: number; at: string } | undefined;
}

function servedStatus(pod: Pod, s: ServedState): Json {
  const t = new Date().toISOString();
  const ready = s.ready ? 'True' : 'False';
  return {
    phase: 'Running',
    hostIP: '127.0.0.1',
    hostIPs: [{ ip: '127.0.0.1' }],
    podIP: s.ip,
    podIPs: [{ ip: s.ip }],
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
      { type: 'Initialized', status: 'True', lastTransitionTime: t },
      { type: 'Ready', status: ready, lastTransitionTime: t },
      { type: 'ContainersReady', status: ready, lastTransitionTime: t },
    ],
    containerStatuses: pod.spec.containers.map((c) => ({
      ...containerIdentity(c),
      ready: s.ready,
      started: s.startedAt !== '',
      restartCount: s.restarts,
      state: s.startedAt
        ? { running: { startedAt: s.startedAt } }
        : {
            waiting: { reason: 'CrashLoopBackOff', message: `exited ${s.lastExit?.code ?? '?'}; restarting` },
          },
      ...(s.lastExit
        ? {
            lastState: {
              terminated: { exitCode: s.lastExit.code, reason: 'Error', finishedAt: s.lastExit.at },
            },
          }
        : {}),
    })),
  };
}

/** A pod the rig cannot start: Pending with its container waiting, as a kubelet shows an image it cannot pull. */
function waitingStatus(pod: Pod, reason: string, message: string): Json {
  return {
    phase: 'Pending',
    containerStatuses: pod.spec.containers.map((c) => ({
      ...containerIdentity(c),
      ready: false,
      started: false,
      restartCount: 0,
      state: { waiting: { reason, message } },
    })),
  };
}

function finishedStatus(
  pod: Pod,
  startedAt: string,
  exitCode: number,
  failed: string | undefined,
  msg: string,
  inPodman: Map<string, PodmanContainer>,
): Json {
  const t = new Date().toISOString();
  const ok = exitCode === 0;
  const reason = ok ? 'PodCompleted' : 'PodFailed';
  return {
    phase: ok ? 'Succeeded' : 'Failed',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: startedAt },
      { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
      { type: 'Ready', status: 'False', reason, lastTransitionTime: t },
      { type: 'ContainersReady', status: 'False', reason, lastTransitionTime: t },
    ],
    containerStatuses: pod.spec.containers.map((c) => {
      const code = c.name === failed ? exitCode : 0;
      return {
        ...containerIdentity(c, inPodman),
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: code,
            reason: code === 0 ? 'Completed' : 'Error',
            ...(code !== 0 && msg ? { message: msg } : {}),
            startedAt,
            finishedAt: t,
          },
        },
      };
    }),
  };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // The sandbox is a process-group leader (detached), so its whole tree gets the signal.
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
const signalNumber = (s: NodeJS.Signals): number => SIGNALS[s] ?? 1;
