// Runs a real Rancher Fleet over rigs: Fleet's CRDs, controller and agent management in a management cluster, one
// agent per downstream cluster registered with a ClusterRegistrationToken as Fleet's agent chart does, all as local
// processes against the rigs' apiservers (their kubeconfigs), and Bundles created with `fleet apply`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type Result } from 'execa';
import { KubeHttpError } from './kube-http.js';
import type { Cluster } from './rig.js';
import { eventually } from './testkit.js';
import { toolPaths } from './tools.js';

/** Fleet's system namespace (the chart's default), on the management cluster and on every downstream one. */
export const FLEET_SYSTEM_NAMESPACE = 'cattle-fleet-system';
/** Where Rancher keeps its downstream clusters' Cluster objects, and where Bundles for them go. */
export const FLEET_WORKSPACE = 'fleet-default';
const REGISTRATION_TOKEN = 'rig-registration';

export interface FleetDownstream {
  /** The Fleet cluster's name (its agent's clientID, and the `Cluster` object's name label). */
  name: string;
  cluster: Cluster;
  /** Labels the agent asks its `Cluster` to carry, which fleet.yaml's clusterSelectors match. */
  labels: Record<string, string>;
}

export interface FleetCluster {
  /** The `Cluster` object's name in FLEET_WORKSPACE (Fleet chooses it at registration). */
  name: string;
  /** The cluster namespace on the management cluster where its BundleDeployments are. */
  namespace: string;
}

export interface Fleet {
  /** Registered clusters by the downstream names given to startFleet. */
  clusters: Record<string, FleetCluster>;
  /** Runs `fleet apply` against the management cluster (Bundles in FLEET_WORKSPACE); never throws. */
  apply(bundleName: string, dir: string, extra?: string[]): Promise<Result>;
  /** Rejects, naming the Fleet process and its last lines, when one exits before stop(): waits race against it. */
  exited: Promise<never>;
  /** Output of one Fleet process so far (`controller`, `agentmanagement`, `agent-<name>`). */
  log(process: string): string;
  /**
   * Stops one downstream cluster's agent (SIGTERM), as when that cluster goes down or loses its way to the
   * management cluster: Fleet is pull-based, so the management side then hears nothing from it. Not an exit that
   * fails waits.
   */
  stopAgent(name: string): Promise<void>;
  stop(): Promise<void>;
}

interface Named {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}
interface List<T> {
  items: T[];
}

const lifetimeSeconds = (c: Cluster): number => Math.max(60, Math.ceil((c.deadline - Date.now()) / 1000));

/** Creates an object, leaving one that exists alone. */
async function ensure(cluster: Cluster, path: string, body: Record<string, unknown>): Promise<void> {
  try {
    await cluster.kube.post(path, body);
  } catch (err) {
    if (!(err instanceof KubeHttpError && err.status === 409)) throw err;
  }
}

const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

/**
 * Starts Fleet over `management` and registers every `downstream` cluster (the management cluster may be one of
 * them, as Fleet's `fleet-local` is). Resolves once every agent has registered and checked in.
 */
export async function startFleet(opts: {
  management: Cluster;
  downstream: FleetDownstream[];
  dir: string;
  log?: (line: string) => void;
}): Promise<Fleet> {
  const { management } = opts;
  const say = opts.log ?? (() => undefined);
  const fleet = toolPaths().fleet;
  const missing = Object.values(fleet).filter((f) => !existsSync(f));
  if (missing.length > 0)
    throw new Error(`Fleet is not built (run \`npm run tools\`): ${missing.join(', ')}`);
  mkdirSync(opts.dir, { recursive: true });
  const children: { name: string; child: ChildProcess }[] = [];
  const logFile = (name: string) => join(opts.dir, `${name}.log`);
  let stopping = false;
  /** Processes stopped on purpose (stopAgent), whose exit is no failure. */
  const stoppedOnPurpose = new Set<string>();
  // A Fleet process that exits while starting fails the start at once, with its last lines, instead of a wait.
  let exitedEarly: (err: Error) => void = () => undefined;
  const anExit = new Promise<never>((_, reject) => (exitedEarly = reject));
  anExit.catch(() => undefined);
  const whileRunning = <T>(wait: Promise<T>): Promise<T> => Promise.race([wait, anExit]);

  // Bounded by the management rig's lifetime like every rig component, so a killed owner leaves nothing running.
  const run = (name: string, argv: string[], env: Record<string, string>) => {
    const out = createWriteStream(logFile(name));
    const bounded = ['--signal=TERM', '--kill-after=10', String(lifetimeSeconds(management)), ...argv];
    const child = spawn('timeout', bounded, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: opts.dir,
        // Required by Fleet's controllers even without leader election: the values of Fleet's chart.
        CATTLE_ELECTION_LEASE_DURATION: '30s',
        CATTLE_ELECTION_RETRY_PERIOD: '10s',
        CATTLE_ELECTION_RENEW_DEADLINE: '25s',
        // Several Fleet processes share this network namespace: no fixed metrics, probe or pprof ports.
        FLEET_METRICS_BIND_ADDRESS: '0',
        FLEET_HEALTHPROBE_BIND_ADDRESS: '0',
        FLEET_AGENT_METRICS_BIND_ADDRESS: '0',
        FLEET_AGENT_PROBE_BIND_ADDRESS: '0',
        FLEET_AGENT_PPROF_DISABLED: 'true',
        ...env,
      },
    });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.on('exit', (code, signal) => {
      if (stopping || stoppedOnPurpose.has(name)) return;
      const tail = existsSync(logFile(name)) ? readFileSync(logFile(name), 'utf8').split('\n').slice(-5) : [];
      exitedEarly(new Error(`Fleet's ${name} exited (${code ?? signal}):\n${tail.join('\n')}`));
    });
    children.push({ name, child });
  };
  const end = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(hard);
  };
  const stop = async () => {
    stopping = true;
    for (const { child } of [...children].reverse()) await end(child);
  };

  try {
    // Fleet's CRDs as its fleet-crd chart installs them; server-side, as they are too large for the last-applied
    // annotation of a client-side apply.
    const crds = await management.kubectl(['apply', '--server-side', '-f', fleet.crds]);
    if (crds.exitCode !== 0) throw new Error(`applying Fleet's CRDs failed: ${crds.stderr}`);
    await management.kubectl(['wait', '--for=condition=Established', '--timeout=120s', '-f', fleet.crds]);
    for (const ns of [FLEET_SYSTEM_NAMESPACE, FLEET_WORKSPACE, 'cattle-fleet-clusters-system'])
      await ensure(management, '/api/v1/namespaces', namespace(ns));

    // What Fleet's chart writes into the controller's ConfigMap: where agents reach the management apiserver and
    // its CA. No local bootstrap and no managed agents: the agents here are processes, not Deployments Fleet rolls
    // out (those would be kwok pods that never run).
    const controllerConfig = {
      apiServerURL: management.server,
      apiServerCA: readFileSync(management.caPath).toString('base64'),
      manageAgent: false,
      bootstrap: { namespace: '-' },
      agentCheckinInterval: '15s',
    };
    await ensure(management, `/api/v1/namespaces/${FLEET_SYSTEM_NAMESPACE}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'fleet-controller' },
      data: { config: JSON.stringify(controllerConfig) },
    });

    const managementEnv = { KUBECONFIG: management.kubeconfigPath, NAMESPACE: FLEET_SYSTEM_NAMESPACE };
    run('controller', [fleet.controller, '--leader-elect=false', '--disable-metrics'], managementEnv);
    run(
      'agentmanagement',
      [
        fleet.controller,
        'agentmanagement',
        `--kubeconfig=${management.kubeconfigPath}`,
        '--disable-bootstrap',
      ],
      managementEnv,
    );

    // The token a Rancher admin creates (Continuous Delivery > Clusters > Create token): Fleet answers with a Secret
    // of the same name carrying the values of the agent's bootstrap Secret.
    await ensure(
      management,
      `/apis/fleet.cattle.io/v1alpha1/namespaces/${FLEET_WORKSPACE}/clusterregistrationtokens`,
      {
        apiVersion: 'fleet.cattle.io/v1alpha1',
        kind: 'ClusterRegistrationToken',
        metadata: { name: REGISTRATION_TOKEN, namespace: FLEET_WORKSPACE },
        spec: {},
      },
    );
    const tokenValues = await whileRunning(
      eventually('Fleet to answer the registration token', 120_000, async () => {
        const s = await management.kube.get<{ data?: Record<string, string> }>(
          `/api/v1/namespaces/${FLEET_WORKSPACE}/secrets/${REGISTRATION_TOKEN}`,
        );
        const values = s.data?.values;
        return values && Buffer.from(values, 'base64').toString().includes('token: ey') ? values : undefined;
      }),
    );

    for (const d of opts.downstream) {
      // What `helm install fleet-agent` with the token's values leaves in a downstream cluster.
      await ensure(d.cluster, '/api/v1/namespaces', namespace(FLEET_SYSTEM_NAMESPACE));
      await ensure(d.cluster, `/api/v1/namespaces/${FLEET_SYSTEM_NAMESPACE}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'fleet-agent-bootstrap' },
        data: { values: tokenValues },
      });
      await ensure(d.cluster, `/api/v1/namespaces/${FLEET_SYSTEM_NAMESPACE}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'fleet-agent' },
        // strict: trust only the CA of the bootstrap values (the system store would try a request first).
        data: { config: JSON.stringify({ labels: d.labels, clientID: d.name, agentTLSMode: 'strict' }) },
      });
      run(`agent-${d.name}`, [fleet.agent, '--leader-elect=false'], {
        KUBECONFIG: d.cluster.kubeconfigPath,
        NAMESPACE: FLEET_SYSTEM_NAMESPACE,
        CHECKIN_INTERVAL: '15s',
        HOSTNAME: `fleet-agent-${d.name}`,
      });
    }

    const clusters: Record<string, FleetCluster> = {};
    for (const d of opts.downstream) {
      clusters[d.name] = await whileRunning(
        eventually(`Fleet cluster ${d.name} to register and check in`, 180_000, async () => {
          const list = await management.kube.get<
            List<Named & { status?: { namespace?: string; agent?: { lastSeen?: string } } }>
          >(`/apis/fleet.cattle.io/v1alpha1/namespaces/${FLEET_WORKSPACE}/clusters`);
          const c = list.items.find((i) =>
            Object.entries(d.labels).every(([k, v]) => i.metadata.labels?.[k] === v),
          );
          const ns = c?.status?.namespace;
          return c && ns && c.status?.agent?.lastSeen ? { name: c.metadata.name, namespace: ns } : undefined;
        }),
      );
      say(`cluster ${d.name} registered as ${clusters[d.name]?.name}`);
    }

    return {
      clusters,
      exited: anExit,
      apply: (bundleName, dir, extra = []) =>
        execa(
          fleet.cli,
          [
            'apply',
            `--kubeconfig=${management.kubeconfigPath}`,
            `--namespace=${FLEET_WORKSPACE}`,
            ...extra,
            bundleName,
            '.',
          ],
          { cwd: dir, reject: false, all: true },
        ),
      log: (name) => (existsSync(logFile(name)) ? readFileSync(logFile(name), 'utf8') : ''),
      stopAgent: async (name) => {
        const agent = children.find((c) => c.name === `agent-${name}`);
        if (!agent) throw new Error(`no Fleet agent for ${name}`);
        stoppedOnPurpose.add(agent.name);
        await end(agent.child);
      },
      stop,
    };
  } catch (err) {
    await stop();
    const logs = children.map(({ name }) => `${name}: ${logFile(name)}`).join(', ');
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`starting Fleet failed: ${msg} (Fleet's logs: ${logs})`);
  }
}

/** Writes `files` (path -> text) under `dir`, creating directories: a Git checkout's worth of a fleet.yaml. */
export function writeTree(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}
