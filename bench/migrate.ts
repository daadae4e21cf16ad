// `npm run bench:migrate`: how long taking over a Rancher-shaped install and its upgrade hop take on the rig, next to
// a plain canary upgrade of the same hop (1.30.4 -> 1.31.0); and each real hop of Rancher 2.12's path on Kubernetes
// 1.32 (1.25.0 -> 1.27.9 -> 1.29.6 -> 1.31.0 through the chart's Job), next to a plain canary hop there. Prints
// wall-clock times (BENCH_ONLY=takeover or BENCH_ONLY=rancher-2-12 runs one part); nothing asserts them.
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster, type ClusterOptions } from '../test/cluster/rig.js';
import { imageIstioctlDir } from '../test/cluster/image.js';
import { NAMESPACE } from '../test/chart/render.js';
import {
  RANCHER_2_12,
  RANCHER_VALUES,
  chartArgs,
  helm3,
  installRancherShaped,
  takeoverValuesText,
} from '../test/e2e/rancher-shaped.js';
import { injectedAtStart, jobLogs, seedWorkloads, upgradeOntoChart } from '../test/e2e/rancher-path.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const ONLY = process.env.BENCH_ONLY;
/** Kubernetes 1.32 with every Istio of Rancher 2.12's path (the image's bundled set), as Rancher 2.12 clusters run. */
const RANCHER_2_12_RIG: ClusterOptions = {
  kube: '1.32',
  istio: ['1.25.0', '1.27.9', '1.29.6', '1.30.4', '1.31.0'],
};
const bin = path.resolve('bin/istio-installer.js');

async function timed(
  what: string,
  run: () => Promise<{ exitCode?: number; all?: unknown }>,
): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.exitCode !== 0)
    throw new Error(`${what} failed (exit ${result.exitCode}): ${String(result.all).slice(-3000)}`);
  return ms;
}

function installer(cluster: Cluster, args: string[]) {
  return execa(process.execPath, [bin, ...args, '--kubeconfig', cluster.kubeconfigPath], {
    reject: false,
    all: true,
    env: { ISTIOCTL_DIR: imageIstioctlDir() },
  });
}

async function onRig<T>(
  work: string,
  name: string,
  body: (cluster: Cluster, dir: string) => Promise<T>,
  options: ClusterOptions = {},
): Promise<T> {
  const dir = mkdtempSync(path.join(work, `${name}-`));
  const cluster = await startCluster({
    lifetimeMs: 20 * 60_000,
    nodes: 2,
    podRuntime: 'process',
    ...options,
  });
  try {
    return await body(cluster, dir);
  } finally {
    await cluster.stop();
  }
}

/** One hop as the installer's record and the Job's log tell it. */
interface HopTime {
  hop: string;
  /** From the record's previous entry to this hop's: istioctl, verify, the workloads' restart and the old revision's removal. */
  recordMs: number;
  /** The hop's `istioctl install` phase, as the Job's log timed it. */
  istioctlMs: number;
}

/** Each canary hop on record after the adopt, with the time since the entry before it and its istioctl phase. */
async function hopTimes(cluster: Cluster, logs: string): Promise<HopTime[]> {
  const map = await cluster.kube.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${NAMESPACE}/configmaps/istio-installer-state`,
  );
  const record = JSON.parse(map.data['record.json'] ?? '{}') as {
    history: { action: string; istioVersion: string; revision: string; time: string }[];
  };
  const oldestFirst = [...record.history].reverse();
  const istioctl = new Map(
    [...logs.matchAll(/done: istioctl install \(upgrade-canary, revision (\S+)\) \(([\d.]+)s\)/g)].map(
      (m) => [m[1], Number(m[2]) * 1000],
    ),
  );
  return oldestFirst.flatMap((entry, i) => {
    const previous = oldestFirst[i - 1];
    if (entry.action !== 'upgrade-canary' || !previous) return [];
    return [
      {
        hop: `${previous.istioVersion} -> ${entry.istioVersion}`,
        recordMs: Date.parse(entry.time) - Date.parse(previous.time),
        istioctlMs: istioctl.get(entry.revision) ?? NaN,
      },
    ];
  });
}

/** Phase timings of the CLI's stderr: the plain hop's istioctl install. */
const istioctlPhaseMs = (stderr: string) =>
  Number(/done: istioctl install \(upgrade-canary, revision \S+\) \(([\d.]+)s\)/.exec(stderr)?.[1] ?? NaN) *
  1000;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function takeover(
  work: string,
  file: (dir: string, name: string, text: string) => string,
): Promise<string[]> {
  const samples = {
    adopt: [] as number[],
    hop: [] as number[],
    helmUpgrade: [] as number[],
    plainHop: [] as number[],
  };
  for (let i = 0; i < RUNS; i++) {
    process.stderr.write(`round ${i + 1}/${RUNS}: takeover by the CLI after helm uninstall --no-hooks\n`);
    await onRig(work, 'cli', async (cluster, dir) => {
      await installRancherShaped(cluster, dir);
      await timed('helm uninstall --no-hooks', () =>
        helm3(cluster, ['uninstall', 'rancher-istio', '-n', NAMESPACE, '--no-hooks', '--wait']),
      );
      const same = file(dir, 'same.yaml', takeoverValuesText('1.30.4'));
      const next = file(dir, 'next.yaml', takeoverValuesText('1.31.0'));
      samples.adopt.push(
        await timed('adopt', () => installer(cluster, ['install', '-f', RANCHER_VALUES, '-f', same])),
      );
      samples.hop.push(
        await timed('hop', () => installer(cluster, ['install', '-f', RANCHER_VALUES, '-f', next])),
      );
    });
    process.stderr.write(`round ${i + 1}/${RUNS}: helm upgrade of Rancher's release onto this chart\n`);
    await onRig(work, 'helm', async (cluster, dir) => {
      await installRancherShaped(cluster, dir);
      const next = file(dir, 'next.yaml', takeoverValuesText('1.31.0'));
      samples.helmUpgrade.push(
        await timed('helm upgrade', () => helm3(cluster, chartArgs('upgrade', 'rancher-istio', next, '8m'))),
      );
    });
    process.stderr.write(`round ${i + 1}/${RUNS}: plain canary upgrade of one hop\n`);
    await onRig(work, 'plain', async (cluster, dir) => {
      const canary = (version: string) =>
        file(
          dir,
          `${version}.yaml`,
          `tag: "${version}"\nupgrade: {strategy: RevisionBased}\ninstaller: {timeouts: {readinessSeconds: 120}}\n`,
        );
      await timed('install 1.30.4', () => installer(cluster, ['install', '-f', canary('1.30.4')]));
      samples.plainHop.push(
        await timed('canary hop', () => installer(cluster, ['install', '-f', canary('1.31.0')])),
      );
    });
  }
  return [
    `Istio 1.30.4 -> 1.31.0 on the rig (real istioctl and istiod), median of ${RUNS} run(s), node ${process.version}`,
    '',
    '| run | wall time |',
    '| --- | ---: |',
    `| takeover by the CLI, same version: adopt + reconfigure in place (after helm uninstall --no-hooks) | ${s(median(samples.adopt))} |`,
    `| then the hop by the CLI: canary 1-31-0, tags moved, Rancher's revision removed | ${s(median(samples.hop))} |`,
    `| helm upgrade rancher-istio onto this chart (adopt + the hop in the Job, helm's waits) | ${s(median(samples.helmUpgrade))} |`,
    `| plain canary upgrade of the same hop by the CLI (no takeover) | ${s(median(samples.plainHop))} |`,
    '',
  ];
}

/**
 * Rancher 2.12's path on Kubernetes 1.32, all in one `helm upgrade` (pathSeconds 0: no pause), with workloads the
 * installer restarts between hops; next to it a plain canary hop of ours on the same rig shape, 1.29.6 -> 1.31.0 (the
 * path's last hop) by the CLI, with the same workloads and updateWorkloads.
 */
async function rancher212(
  work: string,
  file: (dir: string, name: string, text: string) => string,
): Promise<string[]> {
  const hops = new Map<string, { record: number[]; istioctl: number[] }>();
  const helmUpgrade: number[] = [];
  const plain = { wall: [] as number[], istioctl: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    process.stderr.write(
      `round ${i + 1}/${RUNS}: Rancher 2.12's path through the chart's Job on Kubernetes 1.32\n`,
    );
    await onRig(
      work,
      'path',
      async (cluster, dir) => {
        await installRancherShaped(cluster, dir, RANCHER_2_12);
        await seedWorkloads(cluster);
        helmUpgrade.push(
          await timed('helm upgrade', () =>
            upgradeOntoChart(
              cluster,
              dir,
              RANCHER_2_12,
              'installer: {timeouts: {readinessSeconds: 180, pathSeconds: 0}}',
            ),
          ),
        );
        for (const hop of await hopTimes(cluster, await jobLogs(cluster))) {
          const at = hops.get(hop.hop) ?? { record: [], istioctl: [] };
          at.record.push(hop.recordMs);
          at.istioctl.push(hop.istioctlMs);
          hops.set(hop.hop, at);
        }
      },
      RANCHER_2_12_RIG,
    );
    process.stderr.write(`round ${i + 1}/${RUNS}: plain canary hop 1.29.6 -> 1.31.0 on Kubernetes 1.32\n`);
    await onRig(
      work,
      'plain-1-32',
      async (cluster, dir) => {
        const canary = (version: string) =>
          file(
            dir,
            `${version}.yaml`,
            `tag: "${version}"\nupgrade: {strategy: RevisionBased, updateWorkloads: true}\ninstaller: {timeouts: {readinessSeconds: 180}}\n`,
          );
        await timed('install 1.29.6', () => installer(cluster, ['install', '-f', canary('1.29.6')]));
        await seedWorkloads(cluster);
        await injectedAtStart(cluster);
        const start = process.hrtime.bigint();
        const hop = await installer(cluster, ['install', '-f', canary('1.31.0')]);
        if (hop.exitCode !== 0) throw new Error(`canary hop failed: ${String(hop.all).slice(-3000)}`);
        plain.wall.push(Number(process.hrtime.bigint() - start) / 1e6);
        plain.istioctl.push(istioctlPhaseMs(String(hop.all)));
      },
      RANCHER_2_12_RIG,
    );
  }
  return [
    `Rancher 2.12's path on Kubernetes 1.32 through the chart's Job (real istioctl and istiod of every hop, two injected`,
    `workloads restarted between hops), median of ${RUNS} run(s), node ${process.version}`,
    '',
    '| hop | whole hop (record) | its istioctl install (Job log) |',
    '| --- | ---: | ---: |',
    ...[...hops].map(([hop, t]) => `| ${hop} | ${s(median(t.record))} | ${s(median(t.istioctl))} |`),
    `| plain canary hop 1.29.6 -> 1.31.0 by the CLI (an install of ours, same workloads) | ${s(median(plain.wall))} | ${s(median(plain.istioctl))} |`,
    `| the whole helm upgrade (adopt + every hop + Helm's waits) | ${s(median(helmUpgrade))} | |`,
    '',
  ];
}

async function main(): Promise<void> {
  await execa('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  const work = mkdtempSync(path.join(tmpdir(), 'bench-migrate-'));
  const file = (dir: string, name: string, text: string) => {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  };
  const out: string[] = [];
  try {
    if (ONLY === undefined || ONLY === 'takeover') out.push(...(await takeover(work, file)));
    if (ONLY === undefined || ONLY === 'rancher-2-12') out.push(...(await rancher212(work, file)));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(out.join('\n'));
}

await main();
