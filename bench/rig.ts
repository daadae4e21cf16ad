// `npm run bench:rig`: what the rig's real istiod costs, side by side in one run: the rig's start time, a canary
// install of Istio 1.31.0 with istioctl, and the peak memory of every process the rig runs, with istiod as a kwok
// pod (as before) and as a real pilot-discovery process. Prints medians and peaks.
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { startCluster } from '../test/cluster/rig.js';
import { toolPaths } from '../test/cluster/tools.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const VERSION = '1.31.0';
// After the install, the rig idles this long so that istiod's own start-up (certificates, first push) is counted.
const SETTLE_MS = 10_000;

/** pid → parent pid, from /proc. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name in parentheses may hold spaces: the fields after its closing parenthesis are fixed.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(Number(entry), ppid);
    } catch {
      // the process ended while we listed
    }
  }
  return map;
}

/** Resident memory (kB) of every descendant of this process: the rig's components and pods, our CLI excluded. */
function descendantsRssKb(): number {
  const tree = parents();
  const inTree = (pid: number): boolean => {
    for (let p = tree.get(pid); p !== undefined && p > 1; p = tree.get(p)) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const pid of tree.keys()) {
    if (!inTree(pid)) continue;
    try {
      const rss = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      total += Number(rss ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

/** Samples the rig's memory every 250 ms until stopped; returns the peak in MB. */
function peakSampler(): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, descendantsRssKb());
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return Math.round(Math.max(peak, descendantsRssKb()) / 1024);
    },
  };
}

interface Round {
  startMs: number;
  installMs: number;
  peakMb: number;
}

async function round(realIstiod: boolean): Promise<Round> {
  const sampler = peakSampler();
  const started = Date.now();
  const cluster = await startCluster({ lifetimeMs: 15 * 60_000, nodes: 2, realIstiod });
  const startMs = Date.now() - started;
  try {
    const installStarted = Date.now();
    const result = await execa(
      toolPaths().istioctl[VERSION],
      ['install', '-y', '--set', 'profile=default', '--readiness-timeout', '5m'],
      { reject: false, env: { KUBECONFIG: cluster.kubeconfigPath } },
    );
    if (result.exitCode !== 0)
      throw new Error(`istioctl install failed (exit ${result.exitCode}): ${result.stderr.slice(-2000)}`);
    const installMs = Date.now() - installStarted;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return { startMs, installMs, peakMb: sampler.stop() };
  } finally {
    sampler.stop();
    await cluster.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const results: Record<'kwok' | 'real', Round[]> = { kwok: [], real: [] };
  // Alternating, so that whatever else the machine does falls on both modes alike.
  for (let i = 0; i < RUNS; i++) {
    for (const mode of ['kwok', 'real'] as const) {
      process.stderr.write(
        `round ${i + 1}/${RUNS}: istiod as ${mode === 'real' ? 'a real process' : 'a kwok pod'}\n`,
      );
      results[mode].push(await round(mode === 'real'));
    }
  }
  const cells = (mode: 'kwok' | 'real') => {
    const r = results[mode];
    return `${(median(r.map((x) => x.startMs)) / 1000).toFixed(1)} s | ${(median(r.map((x) => x.installMs)) / 1000).toFixed(1)} s | ${Math.max(...r.map((x) => x.peakMb))} MB`;
  };
  process.stdout.write(
    [
      `Rig with 2 nodes, istioctl ${VERSION} install (default profile) + ${SETTLE_MS / 1000} s idle; median of ${RUNS} (peak: highest of ${RUNS})`,
      '',
      '| istiod | rig start | istioctl install | peak RSS of the rig |',
      '| --- | ---: | ---: | ---: |',
      `| kwok pod (never runs) | ${cells('kwok')} |`,
      `| real pilot-discovery | ${cells('real')} |`,
    ].join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
