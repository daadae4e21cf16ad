// Starts a real Kubernetes control plane (etcd, apiserver, controller manager, scheduler) with kwok's fake nodes and
// the process kubelet in a network namespace of its own (netns.ts), in a temp dir, for tests and `npm run cluster:up`.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Result } from 'execa';
import { stringify } from 'yaml';
import { buildImageLayout } from './image.js';
import { KubeHttp, KubeHttpError } from './kube-http.js';
import { KWOK_NODE_LABEL, kwokConfigYaml, kwokLogsCrd } from './kwok-config.js';
import { startRigNetwork, type RigNetwork, type Route } from './netns.js';
import { makePki, type Pki } from './pki.js';
import { choosePodRuntime, fallbackNotice, POD_RUNTIME_ENV, type PodRuntimeMode } from './podman-pod.js';
import { PodNetworks } from './pod-network.js';
import { ProcessKubelet } from './process-kubelet.js';
import {
  DEFAULT_KUBE_MINOR,
  missingTools,
  toolPaths,
  type KubeMinor,
  type RigIstioVersion,
  type ToolPaths,
} from './tools.js';
import { rancherRestrictedAdmission } from './pod-security-admission.js';

export interface ClusterOptions {
  /** The cluster stops itself after this long (default one hour), even if its owner dies. */
  lifetimeMs?: number;
  /** Number of fake linux nodes (default 3). */
  nodes?: number;
  /** Directory for state and logs (default: a fresh temp dir, removed by stop() unless keepDir). */
  dir?: string;
  keepDir?: boolean;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
  /**
   * How installer pods run: `podman` (containers of the local image), `process` (host processes) or `auto`
   * (podman where it can run the built image). Default: $RANCHER_ISTIO_POD_RUNTIME, else auto.
   */
  podRuntime?: 'auto' | PodRuntimeMode;
  /**
   * false: istiod pods are kwok pods that never run, as before the rig ran a real istiod (default true). Only for
   * measuring what the real istiod costs (`npm run bench:rig`): webhooks then reach nothing.
   */
  realIstiod?: boolean;
  /**
   * Kubernetes minor of the control plane, kubectl and the nodes' reported kubelet (default 1.36): 1.32 is what
   * Rancher 2.12 clusters run.
   */
  kube?: KubeMinor;
  /**
   * The Istio versions whose istioctl and pilot-discovery this rig's tests run (default: every one the rig carries,
   * RIG_ISTIO_VERSIONS); a rig of an old path need not wait for the builds it never runs. A version missing from
   * the cache fails the start, naming the tool.
   */
  istio?: readonly RigIstioVersion[];
  /**
   * `rancher-restricted`: PodSecurity `restricted` enforced in every namespace but Rancher's exempted ones, as Rancher's
   * template of that name configures the API server (test/cluster/pod-security-admission.ts). Default: none, as
   * Kubernetes ships (privileged unless a namespace's labels say otherwise).
   */
  podSecurity?: 'rancher-restricted';
}

export interface Cluster {
  dir: string;
  /** Admin kubeconfig (client certificate of group system:masters, CA and keys inline). */
  kubeconfigPath: string;
  server: string;
  /** The cluster CA's certificate (PEM), which the apiserver's serving certificate chains to. */
  caPath: string;
  /** When the cluster stops itself (epoch ms): what processes started beside it bound their own lives by. */
  deadline: number;
  /** The control plane's Kubernetes version (`v1.36.3`, `v1.32.13`). */
  kubeVersion: string;
  /** Admin REST client for quick reads and writes from tests. */
  kube: KubeHttp;
  tools: ToolPaths;
  nodeNames: string[];
  /** How this rig runs installer pods, and why (one line, for test output). */
  podRuntime: { mode: PodRuntimeMode; reason: string };
  /** Output of a pod run by the process kubelet (empty if it never ran there). */
  podLogs(namespace: string, pod: string): string;
  /** Runs the pinned kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(args: string[], input?: string): Promise<Result>;
  /** Runs a command inside the rig's network namespace, where its components and pods run; never throws. */
  runInside(argv: string[]): Promise<Result>;
  /** The rig's network namespace: its holder process and its routes (loopback only). */
  network: { holderPid: number; routes(): Route[] };
  /** Stops everything (idempotent); resolves once every process has exited. */
  stop(): Promise<void>;
  /** Resolves when the cluster has stopped, whether by stop() or by its lifetime running out. */
  stopped: Promise<void>;
}

export class ClusterStartError extends Error {
  constructor(
    message: string,
    readonly logsDir: string,
  ) {
    super(`${message} (component logs in ${logsDir})`);
    this.name = 'ClusterStartError';
  }
}

const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
// Addresses the rig hands out. They exist only inside the rig's network namespace, which has no route but
// loopback: a connection to any of them fails there at once (ENETUNREACH) and never reaches a network.
const SERVICE_CIDR = '10.96.0.0/16';
const POD_CIDR = '10.244.0.0/16';
// Ports inside the namespace are all free, so components get fixed ones; only the apiserver's port is also taken
// on this side (its relay), and is therefore chosen free here.
const INSIDE_PORTS = { etcd: 2379, etcdPeer: 2380, controllerManager: 10257, scheduler: 10259, kwok: 10250 };

/** A loopback port nothing listens on right now (the kernel picks it; a race with others is possible but rare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'rig', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [
      {
        name: 'rig-admin',
        user: { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) },
      },
    ],
    contexts: [{ name: 'rig', context: { cluster: 'rig', user: 'rig-admin' } }],
    'current-context': 'rig',
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last}` : ''}`);
}

/** Starts a cluster; resolves once the apiserver answers and every node is Ready. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const kubeMinor = opts.kube ?? DEFAULT_KUBE_MINOR;
  const tools = toolPaths(undefined, kubeMinor);
  const missing = missingTools(undefined, kubeMinor, opts.istio);
  if (missing.length > 0)
    throw new Error(`test tools missing (run \`npm run tools\`): ${missing.join(', ')}`);
  const log = opts.log ?? (() => undefined);
  const lifetimeMs = opts.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  const startedAt = Date.now();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'rancher-istio-cluster-'));
  mkdirSync(dir, { recursive: true });
  const logsDir = join(dir, 'logs');
  mkdirSync(logsDir, { recursive: true });
  const pkiDir = join(dir, 'pki');
  mkdirSync(pkiDir, { recursive: true });

  const children: { name: string; child: ChildProcess }[] = [];
  // A failed start keeps its directory so the component logs can be read.
  let keepDir = opts.keepDir ?? opts.dir !== undefined;
  let kubelet: ProcessKubelet | undefined;
  let network: RigNetwork | undefined;
  let stopping: Promise<void> | undefined;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  // `timeout` bounds every component's life on its own, so a crashed or killed owner leaves nothing behind.
  const lifetimeSeconds = Math.ceil(lifetimeMs / 1000) + 30;
  const run = (name: string, argv: string[]): ChildProcess => {
    if (!network) throw new Error(`${name} would start outside the rig's network namespace`);
    const [nsenter = 'nsenter', ...enter] = network.enter;
    const out = createWriteStream(join(logsDir, `${name}.log`));
    const bounded = ['timeout', '--signal=TERM', '--kill-after=10', String(lifetimeSeconds), ...argv];
    const child = spawn(nsenter, [...enter, ...bounded], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.on('exit', (code, signal) => {
      if (!stopping) log(`cluster: ${name} exited (${code ?? signal}); see ${join(logsDir, `${name}.log`)}`);
    });
    children.push({ name, child });
    return child;
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearTimeout(lifetimeTimer);
      await kubelet?.stop();
      // Reverse start order: clients first, etcd last.
      for (const { child } of [...children].reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(hard);
      }
      await network?.stop();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
      log('cluster: stopped');
      resolveStopped();
    })();
    return stopping;
  };
  const lifetimeTimer = setTimeout(() => {
    log(`cluster: lifetime of ${lifetimeMs / 1000}s reached, stopping`);
    void stop();
  }, lifetimeMs);
  lifetimeTimer.unref();

  try {
    network = await startRigNetwork({ lifetimeSeconds, dir });
    const pki = await makePki(pkiDir);
    const { etcd: etcdPort, etcdPeer: etcdPeerPort, kwok: kwokPort } = INSIDE_PORTS;
    const apiPort = await freePort();
    // The same address works on both sides, so one kubeconfig serves the tests here and the pods inside.
    await network.expose(apiPort, run);
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, pki), { mode: 0o600 });
    const kube = new KubeHttp({ server, ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey });

    log(`cluster: starting etcd on 127.0.0.1:${etcdPort}`);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    run('etcd', [
      tools.etcd,
      '--name=rig',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=rig=${peerUrl}`,
      // Throwaway data: durability buys nothing and fsync is most of etcd's latency on a shared disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    log(`cluster: starting kube-apiserver ${tools.kubeVersion} on ${server}`);
    run('kube-apiserver', [
      tools.kubeApiserver,
      `--etcd-servers=${etcdUrl}`,
      // All addresses of the rig's namespace: loopback, and NODE_ADDRESS on each real pod's link.
      '--bind-address=0.0.0.0',
      '--advertise-address=127.0.0.1',
      // Webhooks and aggregated APIs are called at a ready endpoint's pod IP (a real istiod's own address)
      // rather than at the Service's ClusterIP, which nothing routes: the rig has no kube-proxy.
      '--enable-aggregator-routing=true',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki.saPublicKey}`,
      `--service-account-signing-key-file=${pki.saPrivateKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      '--profiling=false',
      '--endpoint-reconciler-type=none',
      // Pod logs are proxied to the node's kubelet endpoint: kwok's server, on loopback with a cert of our CA.
      '--kubelet-preferred-address-types=InternalIP',
      `--kubelet-certificate-authority=${pki.caCert}`,
      `--kubelet-client-certificate=${pki.adminCert}`,
      `--kubelet-client-key=${pki.adminKey}`,
      ...(opts.podSecurity === 'rancher-restricted' ? [rancherRestrictedAdmission(dir)] : []),
    ]);
    await waitFor('the apiserver to be ready', 120_000, async () => {
      await kube.get('/readyz');
      return true;
    });

    const kcmKubeconfig = ['--kubeconfig', '--authentication-kubeconfig', '--authorization-kubeconfig'].map(
      (f) => `${f}=${kubeconfigPath}`,
    );
    run('kube-controller-manager', [
      tools.kubeControllerManager,
      ...kcmKubeconfig,
      '--bind-address=127.0.0.1',
      `--secure-port=${INSIDE_PORTS.controllerManager}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${pki.saPrivateKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
    ]);
    run('kube-scheduler', [
      tools.kubeScheduler,
      ...kcmKubeconfig,
      '--bind-address=127.0.0.1',
      `--secure-port=${INSIDE_PORTS.scheduler}`,
      '--leader-elect=false',
    ]);

    await kube.post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', kwokLogsCrd());
    await waitFor('the kwok Logs CRD to be established', 60_000, async () => {
      const crd = await kube.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
        '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/logs.kwok.x-k8s.io',
      );
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    });
    const kwokConfig = join(dir, 'kwok.yaml');
    writeFileSync(kwokConfig, kwokConfigYaml(opts.realIstiod ?? true, tools.kubeVersion));
    run('kwok', [
      tools.kwok,
      `--kubeconfig=${kubeconfigPath}`,
      `--config=${kwokConfig}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-label-selector=${KWOK_NODE_LABEL.key}=${KWOK_NODE_LABEL.value}`,
      '--node-lease-duration-seconds=40',
      `--cidr=${POD_CIDR}`,
      '--node-ip=127.0.0.1',
      // kwok's kubelet server: serves `kubectl logs` from the files named in Logs objects (process-kubelet.ts).
      '--enable-crds=Logs',
      `--server-address=127.0.0.1:${kwokPort}`,
      `--node-port=${kwokPort}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
    ]);

    const nodeNames = Array.from({ length: opts.nodes ?? 3 }, (_, i) => `rig-node-${i}`);
    for (const name of nodeNames) {
      await kube.post('/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          labels: {
            [KWOK_NODE_LABEL.key]: KWOK_NODE_LABEL.value,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            'kubernetes.io/hostname': name,
          },
          annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
        },
        spec: {},
      });
    }
    await waitFor(`nodes ${nodeNames.join(', ')} to be Ready`, 120_000, async () => {
      const list = await kube.get<{
        items: { status?: { conditions?: { type: string; status: string }[] } }[];
      }>('/api/v1/nodes');
      const ready = list.items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length >= nodeNames.length;
    });
    // The controller manager must have published the default ServiceAccount and the root CA before pods can run.
    await waitFor('the default ServiceAccount and kube-root-ca.crt', 120_000, async () => {
      await kube.get('/api/v1/namespaces/default/serviceaccounts/default');
      await kube.get('/api/v1/namespaces/default/configmaps/kube-root-ca.crt');
      return true;
    });

    const requested = opts.podRuntime ?? process.env[POD_RUNTIME_ENV];
    const runtime = await choosePodRuntime({ requested, dir: join(dir, 'podman'), enter: network.enter });
    log(`cluster: ${runtime.reason}`);
    const notice = fallbackNotice(requested, runtime);
    if (notice) process.stderr.write(`${notice}\n`);
    kubelet = new ProcessKubelet({
      kube,
      apiHost: '127.0.0.1',
      apiPort,
      workDir: join(dir, 'process-kubelet'),
      image: buildImageLayout(join(dir, 'image'), tools),
      enterNetwork: network.enter,
      podNetworks: new PodNetworks(network.nsPath, lifetimeSeconds),
      tools,
      realIstiod: opts.realIstiod ?? true,
      deadline: startedAt + lifetimeMs,
      ...(runtime.podman ? { podman: runtime.podman } : {}),
      log,
    });
    kubelet.start();
    const activeKubelet = kubelet;
    const activeNetwork = network;
    log(`cluster: ready (${server}, kubeconfig ${kubeconfigPath})`);

    return {
      dir,
      kubeconfigPath,
      server,
      caPath: pki.caCert,
      deadline: startedAt + lifetimeMs,
      kubeVersion: tools.kubeVersion,
      kube,
      tools,
      nodeNames,
      podRuntime: { mode: runtime.mode, reason: runtime.reason },
      podLogs: (namespace, pod) => activeKubelet.logs(namespace, pod),
      kubectl: (args, input) =>
        execa(tools.kubectl, [`--kubeconfig=${kubeconfigPath}`, ...args], {
          reject: false,
          ...(input !== undefined ? { input } : {}),
        }),
      runInside: (argv) => {
        const [nsenter = 'nsenter', ...enter] = activeNetwork.enter;
        return execa(nsenter, [...enter, ...argv], { reject: false });
      },
      network: { holderPid: activeNetwork.holderPid, routes: () => activeNetwork.routes() },
      stop,
      stopped,
    };
  } catch (err) {
    keepDir = true;
    await stop();
    const msg = err instanceof KubeHttpError || err instanceof Error ? err.message : String(err);
    throw new ClusterStartError(msg, existsSync(logsDir) ? logsDir : dir);
  }
}
