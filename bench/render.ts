// `npm run bench`: cold start and render time of the CLI, side by side with `node -e ''` (the floor) and the unbundled
// build, on this machine's Node and on Node 24 (the image's runtime).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { node24 } from './node24.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bigOverlay } from './big-overlay.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 3;

function time(command: string, args: string[]): number[] {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0)
      throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.toString()}`);
    if (i >= WARMUP) samples.push(ms);
  }
  return samples.sort((a, b) => a - b);
}

const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? NaN;

function main(): void {
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-render-'));
  const overlay = path.join(dir, 'big-overlay.yaml');
  writeFileSync(overlay, bigOverlay());
  const sizeMb = statSync(overlay).size / 1024 / 1024;

  const bundled = path.resolve('bin/istio-installer.js');
  const unbundled = path.resolve('dist/cli/entry.js');
  const runtimes = [process.execPath, node24()];
  process.stdout.write(`${RUNS} runs after ${WARMUP} warm-up runs each, milliseconds\n\n`);
  process.stdout.write(
    '| node | command | min | median | max | median - floor |\n| --- | --- | ---: | ---: | ---: | ---: |\n',
  );
  for (const runtime of runtimes) {
    const version = execFileSync(runtime, ['--version']).toString().trim();
    const rows: [string, string[]][] = [
      ["node -e ''  (floor)", ['-e', '']],
      ['istio-installer --version', [bundled, '--version']],
      ['istio-installer render -f examples/values.yaml', [bundled, 'render', '-f', 'examples/values.yaml']],
      [
        `istio-installer render --overlay (${sizeMb.toFixed(1)} MB, 500 gateways)`,
        [bundled, 'render', '--overlay', overlay],
      ],
      [
        'unbundled dist/cli/entry.js render -f examples/values.yaml',
        [unbundled, 'render', '-f', 'examples/values.yaml'],
      ],
    ];
    const results = rows.map(([label, args]) => ({ label, samples: time(runtime, args) }));
    const floor = median(results[0]?.samples ?? []);
    for (const { label, samples } of results) {
      const row = [samples[0], median(samples), samples.at(-1), median(samples) - floor].map((n) =>
        (n ?? NaN).toFixed(0),
      );
      process.stdout.write(`| ${version} | ${label} | ${row.join(' | ')} |\n`);
    }
  }
}

main();
