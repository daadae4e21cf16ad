// `npm run bench:install`: our install against bare `istioctl install` of the same spec and against Istio's own Helm
// charts (base, istiod, gateway, as Istio's docs install them), on the rig, fresh and re-run, side by side in one run.
// Prints median wall-clock times, the ratios the README quotes, and where our fresh install's time goes.
import { execa } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster } from '../test/cluster/rig.js';
import { KubeHttpError } from '../test/cluster/kube-http.js';
import { imageIstioctlDir } from '../test/cluster/image.js';
import { ISTIO_BUILDS, ISTIO_HUB, toolPaths } from '../test/cluster/tools.js';
import { helmEnv } from '../test/chart/render.js';
import { node24 as findNode24 } from './node24.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const VERSION = '1.31.0';

/** Each phase's seconds of our install runs, from their `done: <phase> (<seconds>s)` log lines, by phase. */
const phases = new Map<string, number[]>();

/** One line the child wrote to stderr, with the milliseconds since it was started when the line arrived. */
interface Stamped {
  ms: number;
  line: string;
}

/** The first fresh install's stderr, each line with its time since the process started. */
let timeline: Stamped[] = [];
/** Per fresh install: its wall time not covered by any phase (phases may overlap: precheck and analyze do). */
const outsidePhases: number[] = [];

function recordPhases(lines: Stamped[]): void {
  if (timeline.length === 0) timeline = lines;
  const starts = new Map<string, number>();
  const intervals: [number, number][] = [];
  for (const { ms, line } of lines) {
    const started = /^- (.+)$/.exec(line.trim());
    if (started) starts.set(started[1] ?? '', ms);
    const done = /done: (.+) \((\d+(?:\.\d+)?)s\)/.exec(line);
    if (!done) continue;
    const name = done[1] ?? '';
    const key = name.replace(/revision [^)\s]+/, 'revision R');
    phases.set(key, [...(phases.get(key) ?? []), Number(done[2]) * 1000]);
    intervals.push([starts.get(name) ?? ms, ms]);
  }
  // The union of the phases' intervals, by the stamps of their start and done lines.
  let covered = 0;
  let reached = 0;
  for (const [from, to] of intervals.sort((a, b) => a[0] - b[0])) {
    covered += Math.max(0, to - Math.max(from, reached));
    reached = Math.max(reached, to);
  }
  outsidePhases.push((lines.at(-1)?.ms ?? 0) - covered);
}

async function timed(
  what: string,
  file: string,
  args: string[],
  env: Record<string, string>,
  onLog?: (lines: Stamped[]) => void,
): Promise<number> {
  const start = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - start) / 1e6;
  const child = execa(file, args, { reject: false, env, extendEnv: true });
  // Each stderr line stamped as it arrives: the timeline of one run (the installer logs each phase's start and end).
  const lines: Stamped[] = [];
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    const ms = since();
    for (const line of parts) lines.push({ ms, line });
  });
  const result = await child;
  const ms = since();
  if (result.exitCode !== 0)
    throw new Error(`${what} failed (exit ${result.exitCode}): ${String(result.stderr).slice(-2000)}`);
  onLog?.([...lines, ...(partial ? [{ ms, line: partial }] : []), { ms, line: '(exit)' }]);
  return ms;
}

/** Istio's Helm charts of VERSION, from the Go module the rig's istioctl is built from (downloaded if missing). */
async function istioCharts(): Promise<string> {
  const build = ISTIO_BUILDS.find((b) => b.version === VERSION);
  if (!build) throw new Error(`no pinned istio.io/istio build of ${VERSION}`);
  const module = `istio.io/istio@${build.module}`;
  const { stdout } = await execa('go', ['mod', 'download', '-json', module], {
    env: { GOFLAGS: '-mod=mod' },
  });
  const { Dir } = JSON.parse(stdout) as { Dir?: string };
  if (!Dir) throw new Error(`go mod download ${module} gave no directory`);
  return path.join(Dir, 'manifests', 'charts');
}

/**
 * The three releases Istio's Helm install instructions make, in their order, with values equivalent to our spec for
 * VERSION's default profile: the release images, and the ingress gateway as a NodePort Service (Rancher's default,
 * which our spec has; a LoadBalancer would keep `helm --wait` waiting for an address the rig never gives).
 */
function istioReleases(charts: string): { name: string; chart: string; values: string[] }[] {
  const image = [`--set`, `global.hub=${ISTIO_HUB}`, `--set`, `global.tag=${VERSION}`];
  return [
    { name: 'istio-base', chart: path.join(charts, 'base'), values: ['--set', 'defaultRevision=default'] },
    { name: 'istiod', chart: path.join(charts, 'istio-control', 'istio-discovery'), values: image },
    {
      name: 'istio-ingressgateway',
      chart: path.join(charts, 'gateway'),
      values: [...image, '--set', 'service.type=NodePort'],
    },
  ];
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

  const charts = await istioCharts();
  const node24 = findNode24();
  process.stderr.write('starting the rig...\n');
  const cluster = await startCluster({ lifetimeMs: 30 * 60_000, nodes: 2 });
  const env = { KUBECONFIG: cluster.kubeconfigPath, ISTIOCTL_DIR: imageIstioctlDir() };
  const istioctl = toolPaths().istioctl[VERSION];
  // A purge returns before everything is gone; the next round must start from a clean cluster, or it races the
  // garbage collector (a Deployment deleted under istioctl's feet, webhooks calling a vanished istiod).
  type Named = { metadata: { name: string }; spec?: { group?: string } };
  const leftovers = async (): Promise<string[]> => {
    const names = async (url: string, keep: (o: Named) => boolean, kind: string) =>
      (await cluster.kube.get<{ items: Named[] }>(url)).items
        .filter(keep)
        .map((o) => `${kind}/${o.metadata.name}`);
    const all = () => true;
    return (
      await Promise.all([
        names(
          '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
          (crd) => crd.spec?.group?.endsWith('istio.io') === true,
          'crd',
        ),
        names('/apis/apps/v1/namespaces/istio-system/deployments', all, 'deployment'),
        names(
          '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
          (w) => w.metadata.name.startsWith('istio'),
          'mutatingwebhookconfiguration',
        ),
        names('/api/v1/namespaces/istio-system/services', all, 'service'),
      ])
    ).flat();
  };
  const purge = async () => {
    await timed('purge', istioctl, ['uninstall', '-y', '--purge'], env);
    // Our record of the last apply outlives istioctl's purge; a fresh install starts without one, as on a new cluster
    // (with it, a run takes the spec on record for a likely no-op and begins its offline check only after the plan).
    await cluster.kube
      .delete('/api/v1/namespaces/istio-system/configmaps/istio-installer-state')
      .catch((error: unknown) => {
        if (!(error instanceof KubeHttpError && error.status === 404)) throw error;
      });
    let left: string[] = [];
    for (let i = 0; i < 120; i++) {
      left = await leftovers();
      if (left.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`Istio objects still there 60 s after purge: ${left.join(', ')}`);
  };
  const helm3 = toolPaths().helm3;
  const helmEnvFor = { ...env, ...helmEnv };
  /** Installs (fresh) or upgrades (re-run) Istio's three charts one after the other, each waiting, as Istio's docs do. */
  const helmCharts = async (verb: 'install' | 'upgrade'): Promise<number> => {
    let total = 0;
    for (const release of istioReleases(charts))
      total += await timed(
        `helm ${verb} ${release.name}`,
        helm3,
        [
          verb,
          release.name,
          release.chart,
          '-n',
          'istio-system',
          '--create-namespace',
          '--wait',
          ...release.values,
        ],
        helmEnvFor,
      );
    return total;
  };
  // Istio's base chart keeps its CRDs on uninstall (helm.sh/resource-policy: keep) and they carry none of the labels
  // istioctl's purge selects by: removed here, as a user starting over would.
  const deleteIstioCrds = async () => {
    const crds = await cluster.kube.get<{ items: Named[] }>(
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    );
    for (const crd of crds.items.filter((c) => c.spec?.group?.endsWith('istio.io')))
      await cluster.kube.delete(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      );
  };
  const helmUninstall = async () => {
    for (const release of istioReleases(charts).reverse())
      await timed(
        `helm uninstall ${release.name}`,
        helm3,
        ['uninstall', release.name, '-n', 'istio-system', '--wait'],
        helmEnvFor,
      );
  };
  const samples = {
    helmFresh: [] as number[],
    helmRerun: [] as number[],
    bareFresh: [] as number[],
    oursFresh: [] as number[],
    bareRerun: [] as number[],
    oursRerun: [] as number[],
    oursRerun24: [] as number[],
  };
  try {
    // One unmeasured install first: the rig's first istiod start (files not yet in the page cache, the API server's
    // first writes of Istio's CRDs) made the first round's fresh istioctl install 3-4 s slower than any later one.
    process.stderr.write('warm-up: istioctl install, then purge\n');
    await timed('istioctl install (warm-up)', istioctl, ['install', '-y', '-f', spec], env);
    await purge();
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
      samples.helmFresh.push(await helmCharts('install'));
      samples.helmRerun.push(await helmCharts('upgrade'));
      await helmUninstall();
      await deleteIstioCrds();
      await purge();
    }
  } finally {
    await cluster.stop();
  }
  const [bareFresh, oursFresh, bareRerun, oursRerun, oursRerun24, helmFresh, helmRerun] = [
    samples.bareFresh,
    samples.oursFresh,
    samples.bareRerun,
    samples.oursRerun,
    samples.oursRerun24,
    samples.helmFresh,
    samples.helmRerun,
  ].map(median) as [number, number, number, number, number, number, number];
  const row = (label: string, ms: number) => `| ${label} | ${(ms / 1000).toFixed(2)} s |`;
  process.stdout.write(
    `Istio ${VERSION} default profile on the rig, median of ${RUNS} runs, node ${process.version}\n\n`,
  );
  process.stdout.write(
    [
      '| run | wall time |',
      '| --- | ---: |',
      row('istioctl install -y -f spec (fresh)', bareFresh),
      row("Istio's Helm charts: helm install --wait of base, istiod, gateway (fresh)", helmFresh),
      row(
        'istio-installer install (fresh: plan, lock, precheck, analyze, install, verify, record)',
        oursFresh,
      ),
      row('istioctl install -y -f spec (re-run, nothing changed)', bareRerun),
      row("Istio's Helm charts: helm upgrade --wait of the three (re-run, nothing changed)", helmRerun),
      row(`istio-installer install (re-run: no-op), node ${process.version}`, oursRerun),
      row('istio-installer install (re-run: no-op), node 24', oursRerun24),
    ].join('\n') + '\n\n',
  );
  process.stdout.write(
    `fresh install overhead ratio (ours / istioctl): ${(oursFresh / bareFresh).toFixed(2)}; ours / Istio's Helm charts: ${(oursFresh / helmFresh).toFixed(2)}\n\n`,
  );
  // Where a fresh install's time goes: each phase the installer logs (each istioctl process is one), median over the
  // runs, and the wall time no phase covers.
  const phaseRows = [...phases].map(([name, ms]) => [name, median(ms)] as const);
  process.stdout.write(
    [
      '| fresh install, phase | median |',
      '| --- | ---: |',
      ...phaseRows.map(([name, ms]) => row(name, ms)),
      row(
        'outside the phases (Node start, the second read under the lock, record writes, dashboards)',
        median(outsidePhases),
      ),
    ].join('\n') + '\n\n',
  );
  // The timeline of the first fresh install: when each line arrived and the gap since the line before, so that time
  // outside the phases shows where it lies (Node's start is the first line's time).
  process.stdout.write(
    [
      '| first fresh install, stderr line | at | gap |',
      '| --- | ---: | ---: |',
      ...timeline.map(
        (l, i) =>
          `| ${l.line.trim().slice(0, 110).replaceAll('|', '\\|')} | ${(l.ms / 1000).toFixed(2)} s | ${((l.ms - (timeline[i - 1]?.ms ?? 0)) / 1000).toFixed(2)} s |`,
      ),
    ].join('\n') + '\n\n',
  );
  process.stdout.write(
    `no-op re-run speed-up (istioctl re-run / ours): ${(bareRerun / oursRerun).toFixed(1)}x on node ${process.version}, ${(bareRerun / oursRerun24).toFixed(1)}x on node 24\n`,
  );
}

await main();
