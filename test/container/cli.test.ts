// The CLI in the image gives byte for byte what the host's CLI gives, started the way a user starts the image.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ImageContainer, runToExit } from './containers.js';
import { NODE_VERSION, REPO_ROOT } from './local-image.js';

const examples = join(REPO_ROOT, 'examples');

function hostCli(args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/istio-installer.js'), ...args], {
    cwd: examples,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr.toString() };
}

describe('istio-installer in the image', () => {
  test('--version prints the same bytes as the host CLI', async () => {
    const run = await runToExit(new ImageContainer().withCommand(['--version']));
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toBe(hostCli(['--version']).stdout.toString());
  });

  test('runs on the Node the image was built with', async () => {
    const run = await runToExit(new ImageContainer().withEntrypoint(['node']).withCommand(['--version']));
    expect(run.stdout.toString()).toBe(`v${NODE_VERSION}\n`);
  });

  test.each([
    ['yaml', ['render', '-f', 'values.yaml']],
    [
      'json',
      ['render', '-f', 'values.yaml', '-o', 'json', '--set', 'values.global.logging.level=default:debug'],
    ],
  ])('render of examples/ (%s) prints the same bytes as the host CLI', async (_format, args) => {
    const run = await runToExit(
      new ImageContainer()
        .withBindMounts([{ source: examples, target: '/examples', mode: 'ro' }])
        .withWorkingDir('/examples')
        .withCommand(args),
    );
    const host = hostCli(args);
    expect(host.status).toBe(0);
    expect(run.exitCode).toBe(0);
    // Warnings (Rancher keys the example carries) are part of what the user sees: same bytes too.
    expect(run.stderr).toBe(host.stderr);
    expect(host.stdout.length).toBeGreaterThan(100);
    expect(run.stdout.equals(host.stdout)).toBe(true);
  });

  test("bad input in the image is exit 2 with the host's message", async () => {
    const args = ['render', '-f', 'values.yaml', '--set', 'tag=[not a version'];
    const run = await runToExit(
      new ImageContainer()
        .withBindMounts([{ source: examples, target: '/examples', mode: 'ro' }])
        .withWorkingDir('/examples')
        .withCommand(args),
    );
    const host = hostCli(args);
    expect(host.status).toBe(2);
    expect(run.exitCode).toBe(2);
    expect(run.stdout.toString()).toBe('');
    expect(run.stderr).toContain('spec.tag');
    expect(run.stderr).toBe(host.stderr);
  });
});
