// `npm run bench:install`: our install against bare `istioctl install` of the same spec on the rig, fresh and re-run,
// side by side in one run. Prints median wall-clock times and the ratios the README quotes.
import { execa } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster } from '../test/cluster/rig.js';
import { imageIstioctlDir } from '../test/cluster/image.js';
import { toolPaths } from '../test/cluster/tools.js';
import { node24 as findNode24 } from './node24.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const VERSION = '1.31.0';

/** Each phase's seconds of our install runs, from their `done: <phase> (<seconds>s)` log lines, by phase. */
const phases = new Map<string, number[]>();

function recordPhases(log: string): void {
  for (const match of log.matchAll(/done: (.+) \((\d+(?:\.\d+)?)s\)/g)) {
    const name = (match[1] ?? '').replace(/revision \S+/, 'revision R');
    phases.set(name, [...(phases.get(name) ?? []), Number(match[2]) * 1000]);
  }
}

async function timed(
  what: string,
  file: string,
  args: string[],
  env: Record<string, string>,
  onLog?: (log: string) => void,
): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await execa(file, args, { reject: false, env, extendEnv: true });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.exitCode !== 0)
    throw new Error(`${what} failed (exit ${result.exitCode}): ${String(result.stderr).slice(-2000)}`);
  onLog?.(String(result.stderr));
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  await execa('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-install-'));
  const values = path.join(dir, 'values.yaml');
  writeFileSync(values, `tag: "${VERSION}"\n`);
  const spec = path.join(dir, 'istio-operator.yaml');
  const bin = path.resolve('bin/istio-installer.js');
  writeFileSync(spec, (await execa(process.execPath, [bin, 'render', '-f', values])).stdout);

  const node24 = findNode24();
  process.stderr.write('starting the rig...\n');
  const cluster = await startCluster({ lifetimeMs: 30 * 60_000, nodes: 2 });
  const env = { KUBECONFIG: cluster.kubeconfigPath, ISTIOCTL_DIR: imageIstioctlDir() };
  const istioctl = toolPaths().istioctl[VERSION];
  // A purge returns before the CRDs are gone; the next round must start from a cluster without them.
  // A purge returns before everything is gone; the next round must start from a clean cluster, or it races the
  // garbage collector (a Deployment deleted under istioctl's feet, webhooks calling a vanished istiod).
  const leftovers = async (): Promise<number> => {
    const lists = await Promise.all([
      cluster.kube.get<{ items: { spec: { group: string } }[] }>(
        '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      ),
      cluster.kube.get<{ items: unknown[] }>('/apis/apps/v1/namespaces/istio-system/deployments'),
      cluster.kube.get<{ items: { metadata: { name: string } }[] }>(
        '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      ),
      cluster.kube.get<{ items: unknown[] }>('/api/v1/namespaces/istio-system/services'),
    ]);
    return (
      lists[0].items.filter((crd) => crd.spec.group.endsWith('istio.io')).length +
      lists[1].items.length +
      lists[2].items.filter((w) => w.metadata.name.startsWith('istio')).length +
      lists[3].items.length
    );
  };
  const purge = async () => {
    await timed('purge', istioctl, ['uninstall', '-y', '--purge'], env);
    for (let i = 0; i < 120; i++) {
      if ((await leftovers()) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error('Istio objects still there 60 s after purge');
  };
  const samples = {
    bareFresh: [] as number[],
    oursFresh: [] as number[],
    bareRerun: [] as number[],
    oursRerun: [] as number[],
    oursRerun24: [] as number[],
  };
  try {
    for (let i = 0; i < RUNS; i++) {
      process.stderr.write(`round ${i + 1}/${RUNS}\n`);
      samples.bareFresh.push(await timed('istioctl install', istioctl, ['install', '-y', '-f', spec], env));
      samples.bareRerun.push(
        await timed('istioctl install (re-run)', istioctl, ['install', '-y', '-f', spec], env),
      );
      await purge();
      samples.oursFresh.push(
        await timed(
          'istio-installer install',
          process.execPath,
          [bin, 'install', '-f', values],
          env,
          recordPhases,
        ),
      );
      samples.oursRerun.push(
        await timed(
          'istio-installer install (re-run)',
          process.execPath,
          [bin, 'install', '-f', values],
          env,
        ),
      );
      // The same no-op on Node 24, the image's runtime (with V8's compile cache warm from the run before).
      await timed('istio-installer install (re-run, node 24)', node24, [bin, 'install', '-f', values], env);
      samples.oursRerun24.push(
        await timed('istio-installer install (re-run, node 24)', node24, [bin, 'install', '-f', values], env),
      );
      await purge();
    }
  } finally {
    await cluster.stop();
  }
  const [bareFresh, oursFresh, bareRerun, oursRerun, oursRerun24] = [
    samples.bareFresh,
    samples.oursFresh,
    samples.bareRerun,
    samples.oursRerun,
    samples.oursRerun24,
  ].map(median) as [number, number, number, number, number];
  const row = (label: string, ms: number) => `| ${label} | ${(ms / 1000).toFixed(2)} s |`;
  process.stdout.write(
    `Istio ${VERSION} default profile on the rig, median of ${RUNS} runs, node ${process.version}\n\n`,
  );
  process.stdout.write(
    [
      '| run | wall time |',
      '| --- | ---: |',
      row('istioctl install -y -f spec (fresh)', bareFresh),
      row(
        'istio-installer install (fresh: plan, lock, precheck, analyze, install, verify, record)',
        oursFresh,
      ),
      row('istioctl install -y -f spec (re-run, nothing changed)', bareRerun),
      row(`istio-installer install (re-run: no-op), node ${process.version}`, oursRerun),
      row('istio-installer install (re-run: no-op), node 24', oursRerun24),
    ].join('\n') + '\n\n',
  );
  process.stdout.write(
    `fresh install overhead ratio (ours / istioctl): ${(oursFresh / bareFresh).toFixed(2)}\n\n`,
  );
  // Where a fresh install's time goes: each phase the installer logs (each istioctl process is one), median over the
  // runs; what is left of the wall time is Node's start, reading the cluster and the decision, before the first phase.
  const phaseRows = [...phases].map(([name, ms]) => [name, median(ms)] as const);
  const inPhases = phaseRows.reduce((sum, [, ms]) => sum + ms, 0);
  process.stdout.write(
    [
      '| fresh install, phase | median |',
      '| --- | ---: |',
      ...phaseRows.map(([name, ms]) => row(name, ms)),
      row('outside the phases (Node start, read cluster, plan, lock)', oursFresh - inPhases),
    ].join('\n') + '\n\n',
  );
  process.stdout.write(
    `no-op re-run speed-up (istioctl re-run / ours): ${(bareRerun / oursRerun).toFixed(1)}x on node ${process.version}, ${(bareRerun / oursRerun24).toFixed(1)}x on node 24\n`,
  );
}

await main();
