// The image runs as the chart's Jobs run it: uid 65532, nothing writable but /tmp, no capabilities, no way to install
// or escalate; and the image alone (a plain `podman run`) already runs as that user.
import type { StartedTestContainer } from 'testcontainers';
import { ImageContainer, runToExit, stopWithin } from './containers.js';

/** Fields of /proc/<pid>/status, e.g. Uid, CapEff, NoNewPrivs. */
function procStatus(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.split(/:\s*/, 2))
      .filter((kv): kv is [string, string] => kv.length === 2),
  );
}

describe('the image under the chart security context', () => {
  let server: StartedTestContainer;

  beforeAll(async () => {
    // The main process is the entrypoint as a user starts it: istio-installer mirror serve.
    server = await new ImageContainer()
      .withCommand(['mirror', 'serve', '--dir', '/usr/share/istio-mirror', '--host', '127.0.0.1'])
      .start();
  });

  afterAll(async () => {
    await stopWithin(server, 30);
  });

  async function sh(script: string) {
    return server.exec(['sh', '-c', script]);
  }

  test('the entrypoint runs as uid/gid 65532 with every capability dropped and no privilege escalation', async () => {
    const status = procStatus((await server.exec(['cat', '/proc/1/status'])).stdout);
    // Started by the launcher's `#!` line: the image's Node from the start-up snapshot, then the launcher's path.
    expect((await server.exec(['cat', '/proc/1/cmdline'])).stdout.split('\0').slice(0, 3)).toEqual([
      '/usr/local/bin/node',
      '--snapshot-blob=/opt/istio-installer/istio-installer.blob',
      '/usr/local/bin/istio-installer',
    ]);
    expect(status.Uid?.split(/\s+/)).toEqual(['65532', '65532', '65532', '65532']);
    expect(status.Gid?.split(/\s+/)).toEqual(['65532', '65532', '65532', '65532']);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
      expect(status[set]).toBe('0000000000000000');
    expect(status.NoNewPrivs).toBe('1');
  });

  test.each([
    '/',
    '/etc',
    '/usr/local/bin',
    '/opt/istio-installer',
    '/usr/share/istio-mirror',
    '/usr/local/lib/istioctl',
  ])('a write into %s fails on the read-only root', async (dir) => {
    const run = await sh(`echo x > '${dir}/.write-test'`);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain('Read-only file system');
  });

  test('/tmp (HOME and TMPDIR) is writable', async () => {
    const run = await sh('echo x > /tmp/write-test && cat /tmp/write-test && echo "$HOME $TMPDIR"');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('x\n/tmp /tmp\n');
  });

  test('no package manager, sudo or npm is left', async () => {
    const tools = ['npm', 'npx', 'corepack', 'apt', 'apt-get', 'dpkg', 'sudo', 'su'];
    const run = await sh(
      `for b in ${tools.join(' ')}; do command -v "$b"; done; test -e /usr/local/lib/node_modules && echo node_modules; echo checked`,
    );
    expect(run.output).toBe('checked\n');
  });
});

describe('the image alone (a plain podman run, no security options)', () => {
  test('runs as 65532 by itself, and that user can write nowhere but /tmp', async () => {
    const run = await runToExit(
      new ImageContainer()
        .withoutHardening()
        .withEntrypoint(['sh', '-c'])
        .withCommand([
          'id -u; id -g; for d in / /etc /usr/local/bin /opt/istio-installer /usr/share/istio-mirror; do ' +
            'touch "$d/.write-test" 2>/dev/null && echo "writable: $d"; done; touch /tmp/.write-test && echo tmp ok',
        ]),
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.toString()).toBe('65532\n65532\ntmp ok\n');
  });
});
