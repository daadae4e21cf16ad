// Istio release file names parse into version/os/arch, and versions order numerically.
import fc from 'fast-check';
import {
  binaryName,
  compareVersions,
  isIstioVersion,
  parseReleaseName,
} from '../../src/mirror/release-name.js';

describe('parseReleaseName', () => {
  test.each([
    [
      'istio-1.30.3-linux-arm64.tar.gz',
      { kind: 'release', version: '1.30.3', os: 'linux', arch: 'arm64', format: 'tar.gz' },
    ],
    [
      'istioctl-1.30.3-linux-amd64.tar.gz',
      { kind: 'istioctl-archive', version: '1.30.3', os: 'linux', arch: 'amd64', format: 'tar.gz' },
    ],
    [
      'istio-1.31.0-rc.0-linux-armv7.tar.gz',
      { kind: 'release', version: '1.31.0-rc.0', os: 'linux', arch: 'armv7', format: 'tar.gz' },
    ],
    [
      'istio-1.20.0-osx.tar.gz',
      { kind: 'release', version: '1.20.0', os: 'osx', arch: 'amd64', format: 'tar.gz' },
    ],
    [
      'istioctl-1.24.0-beta.1-osx-arm64.tar.gz',
      { kind: 'istioctl-archive', version: '1.24.0-beta.1', os: 'osx', arch: 'arm64', format: 'tar.gz' },
    ],
    ['istio-1.28.1-win.zip', { kind: 'release', version: '1.28.1', os: 'win', arch: 'amd64', format: 'zip' }],
    [
      'istioctl-1.30.3-linux-arm64',
      { kind: 'istioctl', version: '1.30.3', os: 'linux', arch: 'arm64', format: 'binary' },
    ],
  ])('%s', (name, expected) => {
    expect(parseReleaseName(name)).toEqual({ name, ...expected });
  });

  test.each([
    'istio-1.30.3-linux-s390x.tar.gz',
    'istio-v1.30.3-linux-amd64.tar.gz',
    'istio-1.30-linux-amd64.tar.gz',
    'istio-1.30.3-linux-amd64.tar.gz.sha256',
    '../istio-1.30.3-linux-amd64.tar.gz',
    'istio-1.30.3-linux-amd64.tar.gz/x',
    'kiali-1.30.3-linux-amd64.tar.gz',
    'istioctl-1.30.3-win-amd64',
    'istio-1.30.3-linux-amd64.tgz',
    '',
  ])('refuses %j', (name) => {
    expect(parseReleaseName(name)).toBeUndefined();
  });

  test('the bare binary name round-trips', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)),
        fc.constantFrom('linux' as const, 'osx' as const),
        fc.constantFrom('amd64' as const, 'arm64' as const, 'armv7' as const),
        ([a, b, c], os, arch) => {
          const version = `${a}.${b}.${c}`;
          expect(parseReleaseName(binaryName(version, os, arch))).toMatchObject({
            kind: 'istioctl',
            version,
            os,
            arch,
          });
        },
      ),
    );
  });
});

describe('compareVersions', () => {
  test('orders numerically and puts pre-releases first', () => {
    const sorted = [
      '1.10.0',
      '1.9.9',
      '1.31.0',
      '1.31.0-rc.0',
      '1.31.0-alpha.1',
      '1.31.0-beta.0',
      '1.30.12',
      '1.30.3',
    ].sort(compareVersions);
    expect(sorted).toEqual([
      '1.9.9',
      '1.10.0',
      '1.30.3',
      '1.30.12',
      '1.31.0-alpha.1',
      '1.31.0-beta.0',
      '1.31.0-rc.0',
      '1.31.0',
    ]);
  });

  test('is antisymmetric', () => {
    const version = fc
      .tuple(fc.nat(30), fc.nat(30), fc.nat(30), fc.option(fc.constantFrom('alpha', 'beta', 'rc')), fc.nat(3))
      .map(([a, b, c, pre, n]) => `${a}.${b}.${c}${pre ? `-${pre}.${n}` : ''}`);
    fc.assert(
      fc.property(version, version, (x, y) => {
        expect(isIstioVersion(x)).toBe(true);
        expect(Math.sign(compareVersions(x, y))).toBe(-Math.sign(compareVersions(y, x)));
      }),
    );
  });
});
