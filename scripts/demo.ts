// `npm run demo`: builds what is missing, starts the local rig, installs the chart with its defaults, prints
// `istio-installer status` and the installer Jobs' logs, uninstalls, and tears everything down.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startCluster, type Cluster } from '../test/cluster/rig.js';
import { DEFAULT_KUBE_MINOR, buildTools, missingTools } from '../test/cluster/tools.js';

const NAMESPACE = 'istio-system';
const RELEASE = 'rancher-istio';
const CHART = 'charts/rancher-istio';

const say = (line: string) => process.stderr.write(`demo: ${line}\n`);
const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

/** Newest modification time under `dir` (0 when absent). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

async function buildIfStale(): Promise<void> {
  if (newest('dist') >= newest('src')) {
    say('installer build: up to date');
    return;
  }
  say('installer build: building (npm run build)…');
  await execa('npm', ['run', 'build'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

async function podsOfJob(cluster: Cluster, job: string): Promise<string[]> {
  const pods = await cluster.kube.get<{ items: { metadata: { name: string; creationTimestamp: string } }[] }>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${job}`,
  );
  return pods.items
    .sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp))
    .map((p) => p.metadata.name);
}

async function printJobLogs(cluster: Cluster, job: string): Promise<void> {
  for (const pod of await podsOfJob(cluster, job)) {
    out(`\n===== log of Job ${job}, pod ${pod} =====`);
    out(cluster.podLogs(NAMESPACE, pod) || '(empty)');
  }
}

async function main(): Promise<number> {
  await buildIfStale();
  // Only what a rig of the default versions needs: the other Kubernetes, the old Istio releases and Fleet are the
  // cluster tier's (`npm run tools`), and would more than double a fresh machine's first demo.
  const missing = missingTools(undefined, DEFAULT_KUBE_MINOR).length;
  if (missing > 0) {
    say(`tools: building ${missing} missing (Go builds; the first run takes a while)…`);
    await buildTools(undefined, (line) => say(line), 'base');
  }

  // Next to the tool cache, so a demo's files are easy to find while it runs.
  const base = join(homedir(), '.cache', 'rancher-istio');
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, 'demo-'));
  say('cluster: starting the rig (etcd, kube-apiserver, controllers, kwok nodes, process kubelet)…');
  const cluster = await startCluster({
    dir: join(work, 'cluster'),
    keepDir: false,
    nodes: 2,
    lifetimeMs: 30 * 60_000,
  });
  const kube = [`--kubeconfig=${cluster.kubeconfigPath}`];
  const helmEnv = {
    HELM_CACHE_HOME: join(work, 'helm', 'cache'),
    HELM_CONFIG_HOME: join(work, 'helm', 'config'),
    HELM_DATA_HOME: join(work, 'helm', 'data'),
  };
  const helm = (args: string[]) =>
    execa(cluster.tools.helm3, [...args, ...kube], { env: helmEnv, reject: false, all: true });
  let failed = false;
  try {
    say(`helm install ${RELEASE} ${CHART} -n ${NAMESPACE} (chart defaults)…`);
    const install = await helm([
      'install',
      RELEASE,
      CHART,
      '-n',
      NAMESPACE,
      '--create-namespace',
      '--wait',
      '--timeout=10m',
    ]);
    out(`===== helm install (exit ${install.exitCode}) =====\n${install.all}`);
    failed ||= install.exitCode !== 0;

    const status = await execa(
      process.execPath,
      ['bin/istio-installer.js', 'status', '-n', NAMESPACE, ...kube],
      {
        reject: false,
        all: true,
      },
    );
    out(`\n===== istio-installer status (exit ${status.exitCode}) =====\n${status.all}`);
    failed ||= status.exitCode !== 0;
    await printJobLogs(cluster, `${RELEASE}-install`);

    say(`helm uninstall ${RELEASE} (runs the pre-delete uninstall Job)…`);
    const uninstall = await helm(['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout=10m']);
    out(`\n===== helm uninstall (exit ${uninstall.exitCode}) =====\n${uninstall.all}`);
    failed ||= uninstall.exitCode !== 0;
    await printJobLogs(cluster, `${RELEASE}-uninstall`);
  } finally {
    say('cluster: tearing down…');
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
  say(failed ? 'FAILED (see above)' : 'done');
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    say(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
