// `istio-installer mirror ...` as users run it: exit codes, stdout results, and serve stopping cleanly on SIGTERM.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli } from '../helpers/run-cli.js';
import { get } from './http.js';
import { makeTarball, tempDir } from './helpers.js';

const bin = resolve('bin/istio-installer.js');
let work: ReturnType<typeof tempDir>;
beforeEach(() => {
  work = tempDir();
});
afterEach(() => work.remove());

test('add prints what it added; verify passes, then fails with exit 3 naming the changed file', async () => {
  const files = [
    makeTarball(work.path, 'release', '1.30.3', 'arm64'),
    makeTarball(work.path, 'istioctl', '1.30.3', 'amd64'),
  ];
  const added = await runCli(
    ['mirror', 'add', '--dir', 'mirror', ...files.map((f) => f.slice(work.path.length + 1))],
    { cwd: work.path },
  );
  expect(added.code).toBe(0);
  expect(
    added.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('  ')[1]),
  ).toEqual([
    '1.30.3/istio-1.30.3-linux-arm64.tar.gz',
    '1.30.3/istioctl-1.30.3-linux-arm64',
    '1.30.3/istioctl-1.30.3-linux-amd64.tar.gz',
    '1.30.3/istioctl-1.30.3-linux-amd64',
  ]);
  expect(await runCli(['mirror', 'verify', '--dir', join(work.path, 'mirror')])).toMatchObject({
    code: 0,
    stdout: '',
  });
  appendFileSync(join(work.path, 'mirror', 'releases', '1.30.3', 'istio-1.30.3-linux-arm64.tar.gz'), '!');
  const verify = await runCli(['mirror', 'verify', '--dir', join(work.path, 'mirror')]);
  expect(verify.code).toBe(3);
  expect(verify.stdout).toMatch(/istio-1\.30\.3-linux-arm64\.tar\.gz: size \d+, index says \d+\n$/);
  expect(verify.stderr).toMatch(/refused: 1 problem\(s\) in .* \(4 indexed files checked\)/);
});

test('add with a file that is not an Istio release exits 2 naming it', async () => {
  const result = await runCli(['mirror', 'add', '--dir', join(work.path, 'm'), '/tmp/kiali-1.0.0.tgz']);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/^\/tmp\/kiali-1\.0\.0\.tgz {2}not an Istio release file name/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
});

test('serve validates its options before listening', async () => {
  expect((await runCli(['mirror', 'serve', '--dir', work.path, '--port', '70000'])).code).toBe(2);
  expect((await runCli(['mirror', 'serve', '--dir', work.path, '--tls-cert', 'x.pem'])).stderr).toMatch(
    /--tls-key: required together/,
  );
  expect((await runCli(['mirror', 'serve', '--dir', join(work.path, 'absent')])).code).toBe(3);
  const second = await runCli(['mirror', 'serve', '--dir', work.path, '--dir', join(work.path, 'absent')]);
  expect(second.code).toBe(3);
  expect(second.stderr).toMatch(/absent is not usable/);
});

test('the built CLI serves over TLS, feeds "mirror istioctl", and exits 0 on SIGTERM', async () => {
  const mirror = join(work.path, 'mirror');
  expect(
    (await runCli(['mirror', 'add', '--dir', mirror, makeTarball(work.path, 'istioctl', '1.30.3', 'amd64')]))
      .code,
  ).toBe(0);
  const cert = join(work.path, 'cert.pem');
  const key = join(work.path, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const serve = execa(
    process.execPath,
    [
      bin,
      '--log-format',
      'json',
      'mirror',
      'serve',
      '--dir',
      mirror,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ],
    {
      reject: false,
    },
  );
  const url = await new Promise<string>((done, fail) => {
    let seen = '';
    serve.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /"url":"(https:\/\/[^"]+)"/.exec(seen);
      if (match) done(match[1]!);
    });
    void serve.then(() => fail(new Error(`serve exited early: ${seen}`)));
  });
  try {
    const cacheDir = join(work.path, 'cache');
    const client = await execa(
      process.execPath,
      [bin, 'mirror', 'istioctl', '--url', url, '--istio-version', '1.30.3', '--cache-dir', cacheDir],
      {
        reject: false,
        env: { NODE_EXTRA_CA_CERTS: cert },
      },
    );
    expect(client.exitCode).toBe(0);
    expect(client.stdout).toBe(join(cacheDir, '1.30.3', 'linux-amd64', 'istioctl'));
    expect(readFileSync(client.stdout, 'utf8')).toContain('client version: 1.30.3');
    const missing = await execa(
      process.execPath,
      [bin, 'mirror', 'istioctl', '--url', url, '--istio-version', '1.28.0', '--cache-dir', cacheDir],
      {
        reject: false,
        env: { NODE_EXTRA_CA_CERTS: cert },
      },
    );
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain(`is not in the release mirror at ${url}/releases/index.json`);
  } finally {
    serve.kill('SIGTERM');
  }
  const result = await serve;
  expect(result.exitCode).toBe(0);
  const lines = result.stderr
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string });
  expect(lines.map((l) => l.msg)).toEqual([
    'index loaded',
    'mirror serving',
    'shutting down',
    'mirror stopped',
  ]);
});

test('a plain HTTP server from the built CLI answers health checks', async () => {
  const serve = execa(
    process.execPath,
    [bin, 'mirror', 'serve', '--dir', work.path, '--host', '127.0.0.1', '--port', '0'],
    { reject: false },
  );
  const url = await new Promise<string>((done, fail) => {
    let seen = '';
    serve.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /url=(http:\/\/\S+)/.exec(seen);
      if (match) done(match[1]!);
    });
    void serve.then(() => fail(new Error(`serve exited early: ${seen}`)));
  });
  expect((await get(`${url}/healthz`)).status).toBe(503);
  serve.kill('SIGINT');
  expect((await serve).exitCode).toBe(0);
});
