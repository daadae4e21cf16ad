// The built `istio-installer` as a user runs it, from the npm bin and from the image's start-up snapshot: real process, real exit codes, stdout only for results.
import { execa, execaSync } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const bin = path.resolve('bin/istio-installer.js');

/**
 * The start-up snapshot as the image builds it (Dockerfile), here with this Node: its `istio-installer` starts Node
 * with `--snapshot-blob` and its own path, as the kernel does for the launcher's `#!` line.
 */
function snapshotBlob(): string {
  const blob = path.join(mkdtempSync(path.join(tmpdir(), 'bin-snapshot-')), 'istio-installer.blob');
  execaSync(process.execPath, [
    '--snapshot-blob',
    blob,
    '--build-snapshot',
    path.resolve('dist/snapshot/istio-installer.cjs'),
  ]);
  return blob;
}

const LAUNCHERS: [string, () => string[]][] = [
  ['bin/istio-installer.js', () => [bin]],
  ['start-up snapshot', () => [`--snapshot-blob=${snapshotBlob()}`, bin]],
];

describe.each(LAUNCHERS)('%s', (_launcher, nodeArgs) => {
  let prefix: string[] = [];
  beforeAll(() => {
    prefix = nodeArgs();
  });
  const run = (args: string[], input?: string) =>
    execa(process.execPath, [...prefix, ...args], { reject: false, input: input ?? '' });

  test('--help lists the commands', async () => {
    const result = await run(['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/render/);
    expect(result.stdout).toMatch(/schema/);
  });

  test('--version prints the package version', async () => {
    const result = await run(['--version']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('render of the example values writes the IstioOperator on stdout and only warnings on stderr', async () => {
    const result = await run(['render', '-f', 'examples/values.yaml']);
    expect(result.exitCode).toBe(0);
    // The example is Rancher's values: its installer image keys are ignored, with one warning each.
    expect(result.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        /^warn: examples\/values.yaml:9:3 {2}installer.repository: Rancher's installer image key is ignored/,
      ),
      expect.stringMatching(
        /^warn: examples\/values.yaml:10:3 {2}installer.tag: Rancher's installer image key is ignored/,
      ),
    ]);
    expect(result.stdout).toMatch(/^apiVersion: install.istio.io\/v1alpha1\nkind: IstioOperator\n/);
  });

  test('an overlay from stdin is read', async () => {
    const result = await run(
      ['render', '-o', 'json', '--overlay', '-'],
      'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {profile: demo}\n',
    );
    expect(result.exitCode).toBe(0);
    expect((JSON.parse(result.stdout) as { spec: { profile: string } }).spec.profile).toBe('demo');
  });

  test('an endless stdin (--overlay - < /dev/zero) exits 2 once past the size limit', async () => {
    const result = await execa(process.execPath, [...prefix, 'render', '--overlay', '-'], {
      reject: false,
      inputFile: '/dev/zero',
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe('<stdin>  input is over the limit of 8388608 bytes');
  });

  test('bad input exits 2 with located lines and no stack trace', async () => {
    const result = await run([
      'render',
      '-f',
      'test/fixtures/bad-input/wrong-type.yaml',
      '-f',
      'test/fixtures/bad-input/unknown-top-key.yaml',
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([
      'test/fixtures/bad-input/wrong-type.yaml:2:3  dns.enabled: expected boolean or "true"/"false", got string "yes"',
      'test/fixtures/bad-input/unknown-top-key.yaml:1:1  ingressGateway: unknown key; did you mean "ingressGateways"?',
    ]);
  });

  test('--log-format json reports each problem as a JSON line', async () => {
    const result = await run([
      '--log-format',
      'json',
      'render',
      '-f',
      'test/fixtures/bad-input/wrong-type.yaml',
    ]);
    expect(result.exitCode).toBe(2);
    const line = JSON.parse(result.stderr.trim()) as { level: string; msg: string; exitCode: number };
    expect(line).toMatchObject({ level: 'error', exitCode: 2 });
    expect(line.msg).toContain('dns.enabled');
  });

  test('an unknown command is a usage error, exit 2', async () => {
    const result = await run(['instal']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/unknown command 'instal'/);
  });

  test('status over contexts whose API servers refuse: a row each, the view on stdout, exit 5 and one line', async () => {
    // Ports the kernel just handed out and that nothing listens on any more: connections are refused at once.
    const dead = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number>((resolve) => {
            const server = net.createServer().listen(0, '127.0.0.1', () => {
              const port = (server.address() as net.AddressInfo).port;
              server.close(() => resolve(port));
            });
          }),
      ),
    );
    const dir = mkdtempSync(path.join(tmpdir(), 'bin-fleet-'));
    const kubeconfig = path.join(dir, 'config');
    writeFileSync(
      kubeconfig,
      [
        'current-context: one',
        'contexts:',
        ...dead.map((_, i) => `- {name: dead-${i}, context: {cluster: c${i}, user: u}}`),
        'clusters:',
        ...dead.map((port, i) => `- {name: c${i}, cluster: {server: "https://127.0.0.1:${port}"}}`),
        'users: [{name: u, user: {token: t}}]',
        '',
      ].join('\n'),
    );
    const human = await run(['status', '--kubeconfig', kubeconfig, '--all-contexts']);
    expect(human.exitCode).toBe(5);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines.slice(1, 3).map((l) => l.split(/ {2,}/).slice(0, 5))).toEqual([
      ['dead-0', '-', '-', '-', 'UNREACHABLE'],
      ['dead-1', '-', '-', '-', 'UNREACHABLE'],
    ]);
    expect(lines[3]).toBe('2 clusters: 2 unreachable');
    expect(human.stderr).toBe(
      'timed out: 2 of 2 clusters could not be read: dead-0 (unreachable), dead-1 (unreachable); each had 10s (--timeout)',
    );
    const json = await run([
      'status',
      '--kubeconfig',
      kubeconfig,
      '--context',
      'dead-1',
      '--context',
      'dead-0',
      '-o',
      'json',
    ]);
    expect(json.exitCode).toBe(5);
    const rows = JSON.parse(json.stdout) as { cluster: string; server: string; error: { kind: string } }[];
    expect(rows.map((r) => [r.cluster, r.server, r.error.kind])).toEqual([
      ['dead-1', `https://127.0.0.1:${dead[1]}`, 'unreachable'],
      ['dead-0', `https://127.0.0.1:${dead[0]}`, 'unreachable'],
    ]);
  });
});
