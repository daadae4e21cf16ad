// Node 24, the image's runtime, from the npm registry's `node` package, cached outside the repo, for the benches.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export function node24(): string {
  const dir = path.join(
    process.env.RANCHER_ISTIO_TOOLS ?? path.join(homedir(), '.cache', 'rancher-istio', 'tools'),
    'node24',
  );
  const binary = path.join(dir, 'node_modules', '.bin', 'node');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', 'node@24'], {
      stdio: 'inherit',
    });
  }
  return binary;
}
