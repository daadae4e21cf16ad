// `npm run bench:job-resources`: the CPU and memory the installer Jobs' work takes (the installer and its istioctl
// children, one process tree) on a rig of Kubernetes 1.32: a fresh install, a no-op re-run, an uninstall with purge,
// and a stepped upgrade of an istioctl 1.25.0 install to 1.31.0. Prints the peaks the chart's defaults are based on.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../test/cluster/rig.js';
import { imageIstioctlDir } from '../test/cluster/image.js';
import { node24 as findNode24 } from './node24.js';

const bin = path.resolve('bin/istio-installer.js');
const PAGE = 4096;
const TICKS = 100; // USER_HZ on Linux
const SAMPLE_MS = 100;

interface ProcSample {
  ppid: number;
  comm: string;
  ticks: number;
  rss: number;
}

/** Every process's parent, name, CPU ticks (user + system) and resident bytes, from /proc/<pid>/stat. */
function readProcs(): Map<number, ProcSample> {
  const procs = new Map<number, ProcSample>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; the fields after it are space-separated.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      procs.set(Number(entry), {
        ppid: Number(fields[1]),
        comm,
        ticks: Number(fields[11]) + Number(fields[12]),
        rss: Number(fields[21]) * PAGE,
      });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return procs;
}

function treeOf(root: number, procs: Map<number, ProcSample>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    if (!procs.has(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

interface Measured {
  what: string;
  wallS: number;
  cpuS: number;
  peakTreeMiB: number;
  peakProcess: string;
  peakCores: number;
}

/**
 * Runs `argv` under /usr/bin/time and samples its process tree every 100 ms: the peak of the tree's summed RSS (what a
 * container's memory limit must hold, shared pages counted once per process, so on the safe side), the largest single
 * process, and the peak CPU over one-second windows. Total CPU comes from time's rusage, which counts every child.
 */
async function measure(what: string, argv: string[], env: Record<string, string>): Promise<Measured> {
  const timeFile = path.join(mkdtempSync(path.join(tmpdir(), 'job-resources-')), 'time.txt');
  const child = execa('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...argv], {
    reject: false,
    all: true,
    env,
  });
  const root = child.pid as number;
  let peakTree = 0;
  let peakProcess = { rss: 0, comm: '' };
  let peakCores = 0;
  const last = new Map<number, number>();
  const window: number[] = [];
  let running = true;
  void child.finally(() => {
    running = false;
  });
  while (running) {
    const procs = readProcs();
    let rss = 0;
    let ticks = 0;
    for (const pid of treeOf(root, procs)) {
      const p = procs.get(pid) as ProcSample;
      rss += p.rss;
      if (p.rss > peakProcess.rss) peakProcess = { rss: p.rss, comm: p.comm };
      ticks += p.ticks - (last.get(pid) ?? 0);
      last.set(pid, p.ticks);
    }
    peakTree = Math.max(peakTree, rss);
    window.push(ticks);
    if (window.length > 1000 / SAMPLE_MS) window.shift();
    if (window.length === 1000 / SAMPLE_MS)
      peakCores = Math.max(peakCores, window.reduce((a, b) => a + b, 0) / TICKS);
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  }
  const result = await child;
  if (result.exitCode !== 0)
    throw new Error(`${what} failed (exit ${result.exitCode}): ${String(result.all).slice(-3000)}`);
  const [wall, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return {
    what,
    wallS: wall as number,
    cpuS: (user as number) + (sys as number),
    peakTreeMiB: peakTree / 2 ** 20,
    peakProcess: `${peakProcess.comm} ${(peakProcess.rss / 2 ** 20).toFixed(0)} MiB`,
    peakCores,
  };
}

async function leftovers(cluster: Cluster): Promise<number> {
  const crds = await cluster.kube.get<{ items: { spec: { group: string } }[] }>(
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
  );
  const deployments = await cluster.kube.get<{ items: unknown[] }>(
    '/apis/apps/v1/namespaces/istio-system/deployments',
  );
  return crds.items.filter((c) => c.spec.group.endsWith('istio.io')).length + deployments.items.length;
}

async function main(): Promise<void> {
  await execa('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  // The image's runtime, so the installer's own heap is what the Job's is.
  const node = findNode24();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-job-resources-'));
  const fresh = path.join(dir, 'fresh.yaml');
  writeFileSync(fresh, 'tag: "1.31.0"\n');
  const stepped = path.join(dir, 'stepped.yaml');
  // No path limit: the whole path 1.25.0 -> 1.27.9 -> 1.29.6 -> 1.31.0 in one run, the longest a Job may take.
  writeFileSync(stepped, 'tag: "1.31.0"\ninstaller:\n  timeouts:\n    pathSeconds: 0\n');
  process.stderr.write('starting a Kubernetes 1.32 rig with real istiod 1.25.0-1.31.0...\n');
  const cluster = await startCluster({
    lifetimeMs: 40 * 60_000,
    nodes: 2,
    kube: '1.32',
    istio: ['1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'],
  });
  const env = {
    KUBECONFIG: cluster.kubeconfigPath,
    ISTIOCTL_DIR: imageIstioctlDir(),
    HOME: dir,
    TMPDIR: dir,
  };
  const results: Measured[] = [];
  const run = async (what: string, argv: string[]) => {
    const r = await measure(what, argv, env);
    process.stderr.write(`${JSON.stringify(r)}\n`);
    results.push(r);
  };
  try {
    // First, where a Rancher 2.12 cluster stands: Istio 1.25.0 applied by istioctl 1.25.0, default profile, no
    // record of ours (an uninstall leaves one, which would make the next install an in-place upgrade of ours).
    const start = await execa(cluster.tools.istioctl['1.25.0'], ['install', '-y'], {
      reject: false,
      all: true,
      env,
    });
    if (start.exitCode !== 0) throw new Error(`istioctl 1.25.0 install failed: ${String(start.all)}`);
    await run('install, stepped upgrade (adopt 1.25.0, hops 1.27.9, 1.29.6, 1.31.0)', [
      node,
      bin,
      'install',
      '-f',
      stepped,
    ]);
    await run('uninstall --purge', [node, bin, 'uninstall', '--purge']);
    for (let i = 0; i < 240 && (await leftovers(cluster)) > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 500));
    await run('install, fresh (1.31.0)', [node, bin, 'install', '-f', fresh]);
    await run('install, re-run (no-op)', [node, bin, 'install', '-f', fresh]);
  } finally {
    await cluster.stop();
  }
  process.stdout.write(
    [
      `node ${(await execa(node, ['--version'])).stdout}, Kubernetes ${cluster.kubeVersion}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at the end`,
      '',
      '| run | wall | CPU time | peak CPU (1 s) | peak RSS, process tree | largest process |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
      ...results.map(
        (r) =>
          `| ${r.what} | ${r.wallS.toFixed(1)} s | ${r.cpuS.toFixed(1)} s | ${r.wallS < 1 ? '- (under 1 s)' : `${r.peakCores.toFixed(2)} cores`} | ${r.peakTreeMiB.toFixed(0)} MiB | ${r.peakProcess} |`,
      ),
      '',
    ].join('\n'),
  );
}

await main();
