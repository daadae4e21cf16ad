// `npm run bench:migrate`: how long taking over a Rancher-shaped install and its upgrade hop take on the rig, next to
// a plain canary upgrade of the same hop (1.30.4 -> 1.31.0). Prints wall-clock times; nothing asserts them.
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../test/cluster/rig.js';
import { imageIstioctlDir } from '../test/cluster/image.js';
import { NAMESPACE } from '../test/chart/render.js';
import {
  RANCHER_VALUES,
  chartArgs,
  helm3,
  installRancherShaped,
  takeoverValuesText,
} from '../test/e2e/rancher-shaped.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 1);
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
): Promise<T> {
  const dir = mkdtempSync(path.join(work, `${name}-`));
  const cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 2, podRuntime: 'process' });
  try {
    return await body(cluster, dir);
  } finally {
    await cluster.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  await execa('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  const work = mkdtempSync(path.join(tmpdir(), 'bench-migrate-'));
  const file = (dir: string, name: string, text: string) => {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  };
  const samples = {
    adopt: [] as number[],
    hop: [] as number[],
    helmUpgrade: [] as number[],
    plainHop: [] as number[],
  };
  try {
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
          await timed('helm upgrade', () =>
            helm3(cluster, chartArgs('upgrade', 'rancher-istio', next, '8m')),
          ),
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
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  process.stdout.write(
    [
      `Istio 1.30.4 -> 1.31.0 on the rig (real istioctl and istiod), median of ${RUNS} run(s), node ${process.version}`,
      '',
      '| run | wall time |',
      '| --- | ---: |',
      `| takeover by the CLI, same version: adopt + reconfigure in place (after helm uninstall --no-hooks) | ${s(median(samples.adopt))} |`,
      `| then the hop by the CLI: canary 1-31-0, tags moved, Rancher's revision removed | ${s(median(samples.hop))} |`,
      `| helm upgrade rancher-istio onto this chart (adopt + the hop in the Job, helm's waits) | ${s(median(samples.helmUpgrade))} |`,
      `| plain canary upgrade of the same hop by the CLI (no takeover) | ${s(median(samples.plainHop))} |`,
      '',
    ].join('\n'),
  );
}

await main();
