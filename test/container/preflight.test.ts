// Bad input for the tier itself: a Podman that cannot run containers here is reported naming the missing piece, within
// a bounded time; a container that ignores SIGTERM is killed at the end of its grace period and reported.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageContainer, imageUnderTest, stopWithin } from './containers.js';
import {
  preflight,
  PodmanUnusableError,
  WORKING_CONF,
  writeContainersConf,
  type ContainersConfOptions,
  type MissingPiece,
} from './podman.js';

describe('preflight with real podman and a broken containers.conf', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'rancher-istio-preflight-'));
    dirs.push(dir);
    return dir;
  }

  async function preflightWith(options: ContainersConfOptions, timeoutMs = 60_000): Promise<unknown> {
    return preflight(imageUnderTest(), writeContainersConf(tempDir(), options), timeoutMs).then(
      () => 'ran',
      (error: unknown) => error,
    );
  }

  test('the working settings run a container', async () => {
    expect(await preflightWith(WORKING_CONF)).toBe('ran');
  });

  test.each<[MissingPiece, Partial<ContainersConfOptions>]>([
    ['ulimits', { defaultUlimits: true }],
    ['cgroups', { cgroupManager: 'systemd' }],
    ['runtime', { runtime: 'no-such-runtime' }],
  ])('%s: %p fails naming it', async (piece, change) => {
    const error = await preflightWith({ ...WORKING_CONF, ...change });
    expect(error).toBeInstanceOf(PodmanUnusableError);
    const { diagnosis, message } = error as PodmanUnusableError;
    expect(diagnosis.piece).toBe(piece);
    expect(message).toMatch(new RegExp(`^container tier: ${piece}: `));
    expect(message).not.toContain('\n');
  });

  test('a runtime that hangs is reported after the timeout, not waited on', async () => {
    const runtime = join(tempDir(), 'hanging-runtime');
    // An OCI runtime that never answers (bounded, so that nothing outlives the test for long).
    writeFileSync(runtime, '#!/bin/sh\nexec sleep 20\n', { mode: 0o755 });
    const error = await preflightWith({ ...WORKING_CONF, runtime: 'hanging', runtimePath: runtime }, 5_000);
    expect(error).toBeInstanceOf(PodmanUnusableError);
    expect((error as PodmanUnusableError).message).toBe(
      `container tier: runtime: podman run did not finish within 5 s (${imageUnderTest()})`,
    );
  });
});

describe('a container that does not stop in time', () => {
  test('is killed at the end of its grace period and reported', async () => {
    // PID 1 ignores SIGTERM, as a hung process would.
    const stubborn = await new ImageContainer()
      .withEntrypoint(['sh', '-c'])
      .withCommand(['trap "" TERM; while :; do sleep 1; done'])
      .start();
    const report = await stopWithin(stubborn, 2);
    expect(report).toEqual({
      exitCode: 137,
      killed: true,
      message: expect.stringMatching(
        /^container \S+ did not stop within 2 s of SIGTERM and was killed \(exit 137\)$/,
      ),
    });
  });
});
