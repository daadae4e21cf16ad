// `npm run cluster:up` / `cluster:down`: one long-lived rig cluster for people, its admin kubeconfig at
// `.cluster/kubeconfig`; `up` starts a detached `serve` process that owns the cluster until `down` or its lifetime.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { REPO_ROOT } from './image.js';
import { startCluster } from './rig.js';
import { DEFAULT_KUBE_MINOR, isKubeMinor, KUBE_MINORS, type KubeMinor } from './tools.js';

/** `.cluster` of the checkout; tests point it elsewhere so they never touch a developer's running cluster. */
const STATE_DIR = process.env.RANCHER_ISTIO_CLUSTER_DIR ?? join(REPO_ROOT, '.cluster');
const STATE_FILE = join(STATE_DIR, 'state.json');
const KUBECONFIG = join(STATE_DIR, 'kubeconfig');
const SERVE_LOG = join(STATE_DIR, 'serve.log');
const RUN_DIR = join(STATE_DIR, 'run');

interface State {
  pid: number;
  /** The process holding the rig's network namespace (netns.ts). */
  netnsHolderPid: number;
  server: string;
  kubeVersion: string;
  kubeconfig: string;
  expiresAt: string;
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function up(lifetimeMinutes: number, kube: KubeMinor): Promise<number> {
  const state = readState();
  if (state && alive(state.pid)) {
    say(`cluster: already up at ${state.server} (Kubernetes ${state.kubeVersion}) until ${state.expiresAt}`);
    process.stdout.write(`${state.kubeconfig}\n`);
    return 0;
  }
  rmSync(STATE_FILE, { force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const logFd = openSync(SERVE_LOG, 'w');
  // Same node and loader flags (tsx) as this process, detached so it outlives `npm run`.
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      'serve',
      '--lifetime',
      String(lifetimeMinutes),
      '--kube',
      kube,
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  child.unref();
  say(`cluster: starting (log: ${SERVE_LOG})`);
  const deadline = Date.now() + 5 * 60_000;
  while (Date.now() < deadline) {
    const s = readState();
    if (s) {
      say(`cluster: up at ${s.server} (Kubernetes ${s.kubeVersion}) until ${s.expiresAt}`);
      process.stdout.write(`${s.kubeconfig}\n`);
      return 0;
    }
    if (child.exitCode !== null || (child.pid !== undefined && !alive(child.pid))) break;
    await sleep(500);
  }
  say(`cluster: failed to start:\n${readFileSync(SERVE_LOG, 'utf8').split('\n').slice(-30).join('\n')}`);
  if (child.pid !== undefined && alive(child.pid)) process.kill(child.pid, 'SIGTERM');
  return 1;
}

async function serve(lifetimeMinutes: number, kube: KubeMinor): Promise<number> {
  rmSync(RUN_DIR, { recursive: true, force: true });
  const lifetimeMs = lifetimeMinutes * 60_000;
  const cluster = await startCluster({ dir: RUN_DIR, lifetimeMs, log: say, kube });
  copyFileSync(cluster.kubeconfigPath, KUBECONFIG);
  const state: State = {
    pid: process.pid,
    netnsHolderPid: cluster.network.holderPid,
    server: cluster.server,
    kubeVersion: cluster.kubeVersion,
    kubeconfig: KUBECONFIG,
    expiresAt: new Date(Date.now() + lifetimeMs).toISOString(),
  };
  writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  const shutdown = () => void cluster.stop();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  await cluster.stopped;
  rmSync(STATE_FILE, { force: true });
  rmSync(KUBECONFIG, { force: true });
  rmSync(RUN_DIR, { recursive: true, force: true });
  return 0;
}

async function down(): Promise<number> {
  const state = readState();
  if (!state || !alive(state.pid)) {
    say('cluster: not running');
    rmSync(STATE_FILE, { force: true });
    rmSync(KUBECONFIG, { force: true });
    return 0;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (alive(state.pid) && Date.now() < deadline) await sleep(250);
  if (alive(state.pid)) {
    process.kill(state.pid, 'SIGKILL');
    say('cluster: serve process did not stop in 60s; killed (components end at their lifetime)');
  }
  rmSync(STATE_FILE, { force: true });
  rmSync(KUBECONFIG, { force: true });
  say('cluster: down');
  return existsSync(STATE_FILE) ? 1 : 0;
}

function kubeOption(): Option {
  return new Option('--kube <minor>', 'Kubernetes minor of the cluster')
    .choices(KUBE_MINORS)
    .default(DEFAULT_KUBE_MINOR)
    .argParser((value: string): KubeMinor => {
      const minor = value.replace(/^v/, '');
      if (!isKubeMinor(minor))
        throw new InvalidArgumentError(`the rig runs Kubernetes ${KUBE_MINORS.join(' or ')}, not ${value}`);
      return minor;
    });
}

const program = new Command('cluster').description('Local Kubernetes test rig');
program
  .command('up')
  .description('start a cluster; prints the kubeconfig path')
  .option('--lifetime <minutes>', 'stop by itself after this many minutes', '60')
  .addOption(kubeOption())
  .action(async (o: { lifetime: string; kube: KubeMinor }) => {
    process.exitCode = await up(Number(o.lifetime), o.kube);
  });
program
  .command('serve', { hidden: true })
  .option('--lifetime <minutes>', 'lifetime', '60')
  .addOption(kubeOption())
  .action(async (o: { lifetime: string; kube: KubeMinor }) => {
    process.exitCode = await serve(Number(o.lifetime), o.kube);
  });
program
  .command('down')
  .description('stop the cluster started by `up`')
  .action(async () => {
    process.exitCode = await down();
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  say(`cluster: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
