// The container tier's runner (`npm run test:container [-- jest args]`): installs Podman and buildah, builds or reuses the
// product image, checks that Podman can run it here, serves Podman's API for testcontainers, runs the tier's jest
// files against it, then removes what the tests left and stops the service. Prints how long each step took.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { TIER_LABEL } from './containers.js';
import { ensureLocalImage, formatMb, REPO_ROOT } from './local-image.js';
import {
  CONTAINER_PACKAGES,
  ensurePackages,
  preflight,
  startPodmanService,
  writeContainersConf,
} from './podman.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (since: number) => Math.round((Date.now() - since) / 1000);

/** Containers and networks the tests did not remove: stopped (a kill is reported), then removed. */
async function removeLeftovers(env: Record<string, string>): Promise<void> {
  const opts = { env, reject: false } as const;
  const ids = (await execa('podman', ['ps', '-aq', '--filter', `label=${TIER_LABEL}=true`], opts)).stdout
    .split('\n')
    .filter(Boolean);
  for (const id of ids) {
    await execa('podman', ['stop', '-t', '10', id], opts);
    const code = (await execa('podman', ['inspect', '--format', '{{.State.ExitCode}}', id], opts)).stdout;
    log(
      `container tier: removed leftover container ${id.slice(0, 12)}${code.trim() === '137' ? ' (did not stop within 10 s of SIGTERM; killed)' : ''}`,
    );
    await execa('podman', ['rm', '-f', id], opts);
  }
  const networks = (
    await execa('podman', ['network', 'ls', '-q', '--filter', `label=${TIER_LABEL}=true`], opts)
  ).stdout
    .split('\n')
    .filter(Boolean);
  for (const network of networks) await execa('podman', ['network', 'rm', '-f', network], opts);
}

async function main(jestArgs: string[]): Promise<number> {
  const started = Date.now();
  await ensurePackages(CONTAINER_PACKAGES, log);
  const dir = mkdtempSync(join(tmpdir(), 'rancher-istio-containers-'));
  const confEnv = writeContainersConf(dir);
  // buildah and podman read the same containers.conf, for the image build too.
  Object.assign(process.env, confEnv);
  try {
    const image = await ensureLocalImage(log);
    const preflightStarted = Date.now();
    await preflight(image.tag, confEnv);
    const service = await startPodmanService(dir, confEnv);
    log(
      `container tier: podman runs ${image.tag} (checked in ${seconds(preflightStarted)} s); API on ${service.socketPath}`,
    );
    const testsStarted = Date.now();
    let code: number;
    try {
      code = await new Promise<number>((resolve) => {
        const jest = spawn(
          process.execPath,
          [
            '--experimental-vm-modules',
            join(REPO_ROOT, 'node_modules/jest/bin/jest.js'),
            '-c',
            join(REPO_ROOT, 'jest.container.config.js'),
            ...jestArgs,
          ],
          {
            cwd: REPO_ROOT,
            stdio: 'inherit',
            env: { ...process.env, ...service.env, RANCHER_ISTIO_IMAGE: image.tag },
          },
        );
        jest.on('exit', (c) => resolve(c ?? 1));
      });
    } finally {
      await removeLeftovers(confEnv);
      await service.stop();
    }
    log(
      `container tier: image ${image.reused ? 'reused' : `built in ${image.buildSeconds} s`} (${formatMb(image.sizeBytes)}), ` +
        `tests ${seconds(testsStarted)} s, total ${seconds(started)} s; Istio archives: ${image.archives}`,
    );
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
