// `npm run bench:render-ab -- DIR`: renders the 2 MB overlay with this checkout's build and with the one in DIR (another
// checkout, built), alternating run by run, so that both see the same load on a shared machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bigOverlay } from './big-overlay.js';
import { node24 } from './node24.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 2;

/** CPU time (user + system) of this process's waited-for children so far, in milliseconds; 100 ticks a second. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

interface Sample {
  wall: number[];
  cpu: number;
}

/** Runs every command once per round, in turn, for WARMUP + RUNS rounds. */
function alternate(commands: string[][]): Sample[] {
  const samples = commands.map(() => ({ wall: [] as number[], cpu: 0 }));
  for (let round = 0; round < WARMUP + RUNS; round++)
    commands.forEach(([command, ...args], i) => {
      const cpuBefore = childrenCpuMs();
      const start = process.hrtime.bigint();
      const result = spawnSync(command!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.toString()}`);
      if (round < WARMUP) return;
      samples[i]!.wall.push(ms);
      samples[i]!.cpu += (childrenCpuMs() - cpuBefore) / RUNS;
    });
  return samples;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN;

function main(): void {
  const other = process.argv[2];
  if (!other)
    throw new Error('usage: npm run bench:render-ab -- DIR (another checkout, built with npm run build)');
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  const overlay = path.join(mkdtempSync(path.join(tmpdir(), 'bench-render-ab-')), 'big-overlay.yaml');
  writeFileSync(overlay, bigOverlay());
  const builds = [
    ['other', path.resolve(other, 'bin/istio-installer.js')],
    ['this', path.resolve('bin/istio-installer.js')],
  ];
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`${RUNS} alternating rounds after ${WARMUP}; other = ${path.resolve(other)}\n`);
  process.stdout.write(
    '| node | command | other: median - floor | this: median - floor | CPU other -> this |\n',
  );
  process.stdout.write('| --- | --- | ---: | ---: | ---: |\n');
  for (const runtime of [process.execPath, node24()]) {
    const version = execFileSync(runtime, ['--version']).toString().trim();
    for (const [label, args] of [
      ['render --overlay (2 MB)', ['render', '--overlay', overlay]],
      ['render -f examples/values.yaml', ['render', '-f', 'examples/values.yaml']],
    ] as const) {
      const loadBefore = load();
      const [floor, a, b] = alternate([
        [runtime, '-e', ''],
        ...builds.map(([, bin]) => [runtime, bin!, ...args]),
      ]);
      const above = (s: Sample) => (median(s.wall) - median(floor!.wall)).toFixed(0);
      const cpu = (s: Sample) => (s.cpu - floor!.cpu).toFixed(0);
      process.stdout.write(
        `| ${version} | ${label} | ${above(a!)} ms | ${above(b!)} ms | ${cpu(a!)} -> ${cpu(b!)} ms |\n`,
      );
      process.stderr.write(`load average before and after the row above: ${loadBefore} / ${load()}\n`);
    }
  }
}

main();
