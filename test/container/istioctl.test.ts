// Every Istio version the image bundles has an istioctl that runs in the image and reports that version; the baked
// release mirror verifies.
import { execFileSync } from 'node:child_process';
import { ImageContainer, imageUnderTest, runToExit } from './containers.js';
import { ARCHIVES_LABEL, realIstioctlRequired } from './local-image.js';

function label(name: string): string {
  return execFileSync('podman', [
    'image',
    'inspect',
    '--format',
    `{{index .Labels "${name}"}}`,
    imageUnderTest(),
  ])
    .toString()
    .trim();
}

async function inImage(script: string) {
  const run = await runToExit(new ImageContainer().withEntrypoint(['sh', '-c']).withCommand([script]));
  return { ...run, stdout: run.stdout.toString() };
}

const versions = label('io.rancher-istio.istio-versions').split(/\s+/).filter(Boolean);

describe('bundled istioctl', () => {
  test('the image bundles the versions its label names, one directory each', async () => {
    expect(versions.length).toBeGreaterThanOrEqual(2);
    const run = await inImage('ls "$ISTIOCTL_DIR"');
    expect(run.stdout.split('\n').filter(Boolean).sort()).toEqual([...versions].sort());
  });

  test.each(versions)('istioctl %s runs as the image user and reports its version', async (version) => {
    const run = await inImage(`"$ISTIOCTL_DIR/${version}/istioctl" version --remote=false`);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(version);
    // Which kind ran: the real istioctl (built from source by `npm run tools`) or a stand-in (no GitHub here). The
    // real one is required wherever the build could bundle it, and always under CI (realIstioctlRequired).
    const source = label(ARCHIVES_LABEL).includes(`${version}/amd64=istioctl-from-source`)
      ? 'real'
      : 'stand-in';
    expect(run.stdout.includes('stand-in')).toBe(source === 'stand-in');
    expect({ version, source }).toEqual({
      version,
      source: realIstioctlRequired(version) ? 'real' : 'stand-in',
    });
  });

  test('istioctl on PATH is the newest version', async () => {
    const newest = [...versions].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1) ?? '';
    const run = await inImage('istioctl version --remote=false');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(newest);
  });

  test('the baked release mirror verifies', async () => {
    const run = await runToExit(
      new ImageContainer().withCommand(['mirror', 'verify', '--dir', '/usr/share/istio-mirror']),
    );
    expect(run.stderr).toContain('mirror verified');
    expect(run.exitCode).toBe(0);
  });
});
