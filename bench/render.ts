// `npm run bench`: cold start and render time of the CLI, side by side with `node -e ''` (the floor) and the unbundled
// build, on this machine's Node and on Node 24 (the image's runtime), where it also runs as the image starts it: from
// the start-up snapshot.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { node24 } from './node24.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bigOverlay } from './big-overlay.js';
import { imageMemoryEnv } from './image-env.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 3;

/** A command line to time: Node's arguments, and environment variables on top of this process's. */
type Row = [label: string, args: string[], env?: Record<string, string>];

function time(command: string, args: string[], env: Record<string, string> = {}): number[] {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
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
    const rows: Row[] = [
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
    if (runtime !== process.execPath) rows.push(...snapshotRows(runtime, dir, bundled, overlay, sizeMb));
    const results = rows.map(([label, args, env]) => ({ label, samples: time(runtime, args, env) }));
    const floor = median(results[0]?.samples ?? []);
    for (const { label, samples } of results) {
      const row = [samples[0], median(samples), samples.at(-1), median(samples) - floor].map((n) =>
        (n ?? NaN).toFixed(0),
      );
      process.stdout.write(`| ${version} | ${label} | ${row.join(' | ')} |\n`);
    }
  }
}

/**
 * The image's `istio-installer`: Node started from the start-up snapshot (built here with this runtime, as the
 * Dockerfile builds it with the image's), with the program's path and the arguments after it, and the image's
 * NODE_OPTIONS (a small young generation, for the mirror's flat memory) and MALLOC_* settings.
 */
function snapshotRows(runtime: string, dir: string, bundled: string, overlay: string, sizeMb: number): Row[] {
  const blob = path.join(dir, 'istio-installer.blob');
  execFileSync(runtime, [
    '--snapshot-blob',
    blob,
    '--build-snapshot',
    path.resolve('dist/snapshot/istio-installer.cjs'),
  ]);
  const image = [`--snapshot-blob=${blob}`, bundled];
  const env = imageMemoryEnv();
  return [
    ['image (start-up snapshot) --version', [...image, '--version'], env],
    [
      'image (start-up snapshot) render -f examples/values.yaml',
      [...image, 'render', '-f', 'examples/values.yaml'],
      env,
    ],
    [
      `image (start-up snapshot) render --overlay (${sizeMb.toFixed(1)} MB, 500 gateways)`,
      [...image, 'render', '--overlay', overlay],
      env,
    ],
  ];
}

main();
