// The built `istio-installer` bin as a user runs it: real process, real exit codes, stdout only for results.
import { execa } from 'execa';
import path from 'node:path';

const bin = path.resolve('bin/istio-installer.js');
const run = (args: string[], input?: string) =>
  execa(process.execPath, [bin, ...args], { reject: false, input: input ?? '' });

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
  const result = await execa(process.execPath, [bin, 'render', '--overlay', '-'], {
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
