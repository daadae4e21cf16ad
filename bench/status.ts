// `npm run bench:status`: `istio-installer status` over 40 clusters, simulated as 40 contexts of one kubeconfig: 36
// reach one real rig apiserver with Istio installed by `istio-installer install`, 4 point at loopback ports that
// refuse connections; then the same with one more context whose server accepts and never answers. Prints medians.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dump, load } from 'js-yaml';
import { imageIstioctlDir } from '../test/cluster/image.js';
import { freePort, startCluster } from '../test/cluster/rig.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CLUSTERS = 40;
const DEAD = 4;
const bin = path.resolve('bin/istio-installer.js');

/** Wall time of one CLI run; the view's own exit codes (0, or 5 with dead clusters) are expected, others fail. */
async function timed(args: string[], expectExit: number): Promise<{ ms: number; stdout: string }> {
  const start = process.hrtime.bigint();
  const result = await execa(process.execPath, [bin, ...args], { reject: false });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.exitCode !== expectExit)
    throw new Error(`${args.join(' ')}: exit ${result.exitCode}: ${String(result.stderr).slice(-2000)}`);
  return { ms, stdout: String(result.stdout) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  await execa('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-status-'));
  process.stderr.write('starting the rig...\n');
  const cluster = await startCluster({ lifetimeMs: 30 * 60_000, nodes: 1, istio: ['1.31.0'] });
  const silent = net.createServer(() => undefined);
  const held = new Set<net.Socket>();
  silent.on('connection', (socket) => {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
  });
  try {
    const values = path.join(dir, 'values.yaml');
    writeFileSync(values, 'tag: "1.31.0"\n');
    process.stderr.write('installing Istio 1.31.0 with istio-installer install...\n');
    const install = await execa(
      process.execPath,
      [bin, 'install', '-f', values, '--kubeconfig', cluster.kubeconfigPath],
      { reject: false, env: { ISTIOCTL_DIR: imageIstioctlDir() } },
    );
    if (install.exitCode !== 0) throw new Error(`install failed: ${String(install.stderr).slice(-2000)}`);

    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const rig = load(readFileSync(cluster.kubeconfigPath, 'utf8')) as {
      clusters: { name: string; cluster: Record<string, unknown> }[];
      users: unknown[];
    };
    const rigCluster = rig.clusters[0]?.cluster ?? {};
    const deadPorts = await Promise.all(Array.from({ length: DEAD }, () => freePort()));
    const names = Array.from({ length: CLUSTERS }, (_, i) => `cluster-${String(i + 1).padStart(2, '0')}`);
    // The dead ones spread through the list, as a real fleet's would be.
    const deadAt = new Map(deadPorts.map((port, i) => [Math.floor(((i + 0.5) * CLUSTERS) / DEAD), port]));
    const kubeconfig = (withSilent: boolean) => {
      const file = path.join(dir, withSilent ? 'fleet-silent.yaml' : 'fleet.yaml');
      const contexts = names.map((name, i) => ({
        name,
        context: { cluster: deadAt.has(i) ? `dead-${i}` : 'rig', user: 'rig-admin' },
      }));
      const clusters = [
        ...rig.clusters,
        ...[...deadAt].map(([i, port]) => ({
          name: `dead-${i}`,
          cluster: { ...rigCluster, server: `https://127.0.0.1:${port}` },
        })),
      ];
      if (withSilent) {
        contexts.push({ name: 'silent', context: { cluster: 'silent', user: 'rig-admin' } });
        clusters.push({
          name: 'silent',
          cluster: { ...rigCluster, server: `https://127.0.0.1:${silentPort}` },
        });
      }
      writeFileSync(
        file,
        dump({
          apiVersion: 'v1',
          kind: 'Config',
          clusters,
          contexts,
          users: rig.users,
          'current-context': names[0],
        }),
      );
      return file;
    };
    const fleet = kubeconfig(false);
    const fleetSilent = kubeconfig(true);

    const cases: { what: string; args: string[]; exit: number }[] = [
      {
        what: 'one cluster, single-cluster `status` (for scale)',
        args: ['status', '--kubeconfig', fleet],
        exit: 0,
      },
      ...[1, 8, 40].map((c) => ({
        what: `40 contexts (36 live, 4 refused), \`--concurrency ${c}\``,
        args: ['status', '--kubeconfig', fleet, '--all-contexts', '--concurrency', String(c)],
        exit: 5,
      })),
      {
        what: '40 contexts as above, `-o json`, `--concurrency 8`',
        args: ['status', '--kubeconfig', fleet, '--all-contexts', '-o', 'json'],
        exit: 5,
      },
      {
        what: '41 contexts: the 40 and one that never answers, default `--timeout 10`, `--concurrency 8`',
        args: ['status', '--kubeconfig', fleetSilent, '--all-contexts'],
        exit: 5,
      },
    ];
    const samples = cases.map(() => [] as number[]);
    let table = '';
    // Rounds alternate the cases, so that a change of load on the shared machine touches every case alike.
    for (let round = 0; round < RUNS; round++)
      for (const [i, c] of cases.entries()) {
        const { ms, stdout } = await timed(c.args, c.exit);
        samples[i]?.push(ms);
        if (i === 2 && round === 0) table = stdout;
        process.stderr.write(`round ${round + 1}/${RUNS}: ${c.what}: ${(ms / 1000).toFixed(2)} s\n`);
      }
    const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    process.stdout.write(`\nThe view at --concurrency 8 (round 1):\n\n${table}\n`);
    process.stdout.write(
      `${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${RUNS} runs per case, load average at the end ${loadAverage}; ` +
        `every live context reaches one rig apiserver (Kubernetes ${cluster.kubeVersion}, Istio 1.31.0)\n\n`,
    );
    process.stdout.write('| case | median | min | max |\n| --- | ---: | ---: | ---: |\n');
    for (const [i, c] of cases.entries()) {
      const s = samples[i] ?? [];
      const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      process.stdout.write(`| ${c.what} | ${f(median(s))} | ${f(Math.min(...s))} | ${f(Math.max(...s))} |\n`);
    }
  } finally {
    for (const socket of held) socket.destroy();
    silent.close();
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:status failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
