// The istioctl lookup order and its error, with a fake file system and fake binaries (no process is started), and
// one lookup per version in a run; the real `istioctl version --remote=false` output is parsed in
// test/istioctl/profiles.test.ts.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PreconditionError } from '../../../src/errors.js';
import { istioctlsAtHand } from '../../../src/installer/istioctl/at-hand.js';
import {
  findIstioctl,
  parseClientVersion,
  type FindIstioctlDeps,
} from '../../../src/installer/istioctl/find.js';

function fakeLookup(
  binaries: Record<string, string | undefined>,
  mirror?: () => Promise<{ path: string; source: 'cache' | 'mirror' }>,
): FindIstioctlDeps & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    isExecutable: async (file) => file in binaries,
    clientVersion: async (file) => {
      asked.push(file);
      return binaries[file];
    },
    fromMirror: mirror ?? (async () => ({ path: '/cache/istioctl', source: 'mirror' })),
  };
}

const request = { version: '1.31.0', istioctlDir: '/opt/istioctl', pathEnv: '/usr/bin:/home/me/bin' };

test('--istioctl wins over everything and is not asked its version', async () => {
  const deps = fakeLookup({ '/opt/istioctl/1.31.0/istioctl': '1.31.0' });
  await expect(findIstioctl({ ...request, explicit: './my-istioctl' }, deps)).resolves.toEqual({
    path: './my-istioctl',
    source: 'flag',
  });
  expect(deps.asked).toEqual([]);
});

test('ISTIOCTL_DIR/<version> comes before PATH', async () => {
  const deps = fakeLookup({ '/opt/istioctl/1.31.0/istioctl': '1.31.0', '/usr/bin/istioctl': '1.31.0' });
  await expect(findIstioctl(request, deps)).resolves.toEqual({
    path: '/opt/istioctl/1.31.0/istioctl',
    source: 'bundled',
  });
});

test('the first istioctl on PATH whose own version matches is used; others are skipped', async () => {
  const deps = fakeLookup({ '/usr/bin/istioctl': '1.30.4', '/home/me/bin/istioctl': '1.31.0' });
  await expect(findIstioctl(request, deps)).resolves.toEqual({
    path: '/home/me/bin/istioctl',
    source: 'path',
  });
  expect(deps.asked).toEqual(['/usr/bin/istioctl', '/home/me/bin/istioctl']);
});

test('the mirror comes last', async () => {
  const deps = fakeLookup({ '/usr/bin/istioctl': '1.30.4' });
  await expect(findIstioctl({ ...request, mirrorUrl: 'http://mirror:8080' }, deps)).resolves.toEqual({
    path: '/cache/istioctl',
    source: 'mirror',
  });
});

test('a miss lists every place tried and what to do', async () => {
  const deps = fakeLookup({ '/usr/bin/istioctl': '1.30.4', '/home/me/bin/istioctl': undefined });
  const error = await findIstioctl(request, deps).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PreconditionError);
  const { message, hint } = error as PreconditionError;
  expect(message).toBe(
    'no istioctl 1.31.0 found; tried --istioctl: not given; ' +
      '/opt/istioctl/1.31.0/istioctl: not found (ISTIOCTL_DIR=/opt/istioctl); ' +
      '/usr/bin/istioctl on PATH: is version 1.30.4; ' +
      '/home/me/bin/istioctl on PATH: "version --remote=false" failed; ' +
      'release mirror: none configured',
  );
  expect(hint).toContain('--istioctl');
  expect(hint).toContain('--mirror-url');
});

test("a mirror miss is one of the tried places, with the mirror's reason", async () => {
  const deps = fakeLookup({}, async () => {
    throw new PreconditionError('istioctl 1.31.0 for linux-amd64 is not in the release mirror at http://m/x');
  });
  const error = (await findIstioctl({ ...request, mirrorUrl: 'http://m' }, deps).catch(
    (e: unknown) => e,
  )) as PreconditionError;
  expect(error.message).toContain('PATH: no istioctl');
  expect(error.message).toContain(
    'release mirror http://m: istioctl 1.31.0 for linux-amd64 is not in the release mirror',
  );
});

test.each([
  ['client version: 1.31.0\n', '1.31.0'],
  ['1.30.4\n', '1.30.4'],
  ['client version: 1.32.0-beta.1\n', '1.32.0-beta.1'],
  ['no version here', undefined],
])('parses %j', (output, version) => {
  expect(parseClientVersion(output)).toBe(version);
});

test('one run asks for an istioctl once per version, however many of its steps ask at once', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'at-hand-'));
  mkdirSync(path.join(dir, 'bin'));
  mkdirSync(path.join(dir, 'bundled'));
  writeFileSync(path.join(dir, 'bin', 'istioctl'), '', { mode: 0o755 });
  const asked: string[] = [];
  const atHand = istioctlsAtHand(
    { explicit: undefined, mirrorUrl: undefined },
    {
      run: async (file, args) => {
        asked.push([file, ...args].join(' '));
        return { exitCode: 0, stdout: 'client version: 1.31.0\n', stderr: '', timedOut: false };
      },
    },
    { PATH: path.join(dir, 'bin'), ISTIOCTL_DIR: path.join(dir, 'bundled') },
    { info: () => undefined, warn: () => undefined, error: () => undefined },
  );
  const version = { major: 1, minor: 31, patch: 0, suffix: '' };
  // The offline check, the prechecks and the held install of one run.
  const paths = await Promise.all([1, 2, 3].map(() => atHand.istioctlFor(version)));
  expect(paths).toEqual(Array(3).fill(path.join(dir, 'bin', 'istioctl')));
  expect(asked).toEqual([`${path.join(dir, 'bin', 'istioctl')} version --remote=false`]);
});
