// A CLI run's installer dependencies: the temp dir with the specs istioctl read is gone when the command ends.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { sleepUnlessAborted, withInstallerDeps } from '../../src/cli/installer-deps.js';
import type { CommandContext } from '../../src/cli/main.js';

/** A context whose TMPDIR is an empty directory of its own and whose kubeconfig points at nothing. */
function setup(): { context: CommandContext; tmp: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'deps-test-'));
  const kubeconfig = path.join(root, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\n',
  );
  const tmp = path.join(root, 'tmp');
  mkdirSync(tmp);
  const io = {
    stdout: { write: () => undefined },
    stderr: { write: () => undefined },
    stdin: () => Readable.from([]),
    env: { TMPDIR: tmp, KUBECONFIG: kubeconfig },
    cwd: root,
  };
  return { context: { io, logFormat: () => 'human' }, tmp };
}

test('the run temp dir is removed after the work', async () => {
  const { context, tmp } = setup();
  const written = await withInstallerDeps({}, context, (deps) =>
    deps.writeTempFile('istio-operator.yaml', 'spec: {}\n'),
  );
  expect(written.startsWith(path.join(tmp, 'istio-installer-'))).toBe(true);
  expect(readdirSync(tmp)).toEqual([]);
});

test('and after work that failed', async () => {
  const { context, tmp } = setup();
  await expect(
    withInstallerDeps({}, context, async (deps) => {
      await deps.writeTempFile('mesh-config.yaml', '{}\n');
      throw new Error('istioctl failed');
    }),
  ).rejects.toThrow('istioctl failed');
  expect(readdirSync(tmp)).toEqual([]);
});

test("a killed run's temp dir is removed by the next run; a live run's is left alone", async () => {
  const { context, tmp } = setup();
  // A pid far above any pid_max is never alive; this process's own is.
  const dead = path.join(tmp, 'istio-installer-99999999-abc');
  const alive = path.join(tmp, `istio-installer-${process.pid}-def`);
  const other = path.join(tmp, 'istio-installer-cache');
  for (const dir of [dead, alive, other]) mkdirSync(dir);
  await withInstallerDeps({}, context, (deps) => deps.writeTempFile('istio-operator.yaml', 'spec: {}\n'));
  expect(readdirSync(tmp).sort()).toEqual([path.basename(alive), path.basename(other)].sort());
});

test("a stepped upgrade's istioctl versions at hand: bundled ones and those istioctls on PATH report", async () => {
  const { context } = setup();
  const root = path.dirname(context.io.env.TMPDIR ?? '');
  const bundled = path.join(root, 'bundled');
  mkdirSync(path.join(bundled, '1.31.0'), { recursive: true });
  // A fake istioctl (a script that prints what `istioctl version --remote=false` prints), first on PATH.
  const fakeBin = path.join(root, 'fake-istioctl-bin');
  mkdirSync(fakeBin);
  writeFileSync(path.join(fakeBin, 'istioctl'), '#!/bin/sh\necho "client version: 1.29.3"\n', {
    mode: 0o755,
  });
  const env = { ...context.io.env, ISTIOCTL_DIR: bundled, PATH: `${fakeBin}:${process.env.PATH ?? ''}` };
  const versions = await withInstallerDeps({}, { ...context, io: { ...context.io, env } }, (deps) =>
    deps.istioctlVersions ? deps.istioctlVersions() : Promise.resolve([]),
  );
  expect(versions).toEqual(expect.arrayContaining(['1.31.0', '1.29.3']));
});

describe('sleepUnlessAborted, the CLI runs’ wait between reads', () => {
  test('an hour-long wait ends when its signal aborts (a pending timer would keep the process alive)', async () => {
    const controller = new AbortController();
    const waiting = sleepUnlessAborted(60 * 60_000, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });

  test('a signal aborted before the wait ends it at once; without a signal it waits its time', async () => {
    await expect(sleepUnlessAborted(60 * 60_000, AbortSignal.abort())).resolves.toBeUndefined();
    await expect(sleepUnlessAborted(1)).resolves.toBeUndefined();
  });
});
