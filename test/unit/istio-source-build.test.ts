// The checks before an old Istio is built from ../shared/third-party: the archive must be there and match
// SHA256SUMS, else the tool build fails with one line naming the file; and the release's version ldflags.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SOURCE_ISTIO_VERSIONS,
  checkedIstioArchive,
  istioCommit,
  pinnedSha256,
  releaseLdflags,
} from '../cluster/istio-source-build.js';
import { ISTIO_VERSIONS, RIG_ISTIO_VERSIONS, toolPaths } from '../cluster/tools.js';

describe('old Istio from source archives', () => {
  let dir: string;
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'third-party-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('an archive matching SHA256SUMS is returned', async () => {
    writeFileSync(join(dir, 'istio-1.25.0-src.tar.gz'), 'sources');
    writeFileSync(
      join(dir, 'SHA256SUMS'),
      `${sha('other')}  istio-1.24.1-src.tar.gz\n${sha('sources')}  istio-1.25.0-src.tar.gz\n`,
    );
    await expect(checkedIstioArchive('1.25.0', dir)).resolves.toBe(join(dir, 'istio-1.25.0-src.tar.gz'));
  });

  test('a missing directory, archive or pin, or a changed archive, fails with one line naming the file', async () => {
    const missingDir = join(dir, 'nowhere');
    await expect(checkedIstioArchive('1.25.0', missingDir)).rejects.toThrow(
      new RegExp(`^needs the directory ${missingDir} \\(`),
    );
    await expect(checkedIstioArchive('1.25.0', dir)).rejects.toThrow(`needs ${join(dir, 'SHA256SUMS')} (`);
    writeFileSync(join(dir, 'SHA256SUMS'), `${sha('sources')}  istio-1.25.0-src.tar.gz\n`);
    await expect(checkedIstioArchive('1.25.0', dir)).rejects.toThrow(
      `needs ${join(dir, 'istio-1.25.0-src.tar.gz')}`,
    );
    writeFileSync(join(dir, 'istio-1.24.1-src.tar.gz'), 'sources');
    await expect(checkedIstioArchive('1.24.1', dir)).rejects.toThrow(
      `${join(dir, 'SHA256SUMS')} pins no istio-1.24.1-src.tar.gz`,
    );
    writeFileSync(join(dir, 'istio-1.25.0-src.tar.gz'), 'sources, changed');
    const changed = checkedIstioArchive('1.25.0', dir);
    await expect(changed).rejects.toThrow(/istio-1\.25\.0-src\.tar\.gz: sha256 [0-9a-f]{64} does not match/);
    await expect(changed.catch((e: Error) => e.message.split('\n').length)).resolves.toBe(1);
  });

  test('SHA256SUMS lines in text and binary mode; no prefix matches', () => {
    const a = 'a'.repeat(64);
    const b = 'b'.repeat(64);
    const sums = `${a}  istio-1.25.0-src.tar.gz.old\n${b} *istio-1.25.0-src.tar.gz\n`;
    expect(pinnedSha256(sums, 'istio-1.25.0-src.tar.gz')).toBe(b);
    expect(pinnedSha256(sums, 'istio-1.25.0-src')).toBeUndefined();
  });

  test('version ldflags as the release sets them, with the commit SOURCE.txt names', () => {
    const commit = istioCommit(
      [
        'Istio 1.25.0 sources, exact commits (Apache-2.0):',
        'istio/      github.com/istio/istio       tag 1.25.0  commit 57e59c2e5d6b757a68d867491d9c9c09694e1522',
        'api/        github.com/istio/api         commit 76cd29bc906fed5720a9be4e19cc469312987113',
      ].join('\n'),
    );
    expect(commit).toBe('57e59c2e5d6b757a68d867491d9c9c09694e1522');
    const flags = releaseLdflags({ version: '1.25.0', hub: 'docker.io/istio' }, commit, 'amd64');
    expect(flags).toEqual(
      expect.arrayContaining([
        '-X istio.io/istio/pkg/version.buildVersion=1.25.0',
        '-X istio.io/istio/pkg/version.buildTag=1.25.0',
        '-X istio.io/istio/pkg/version.buildHub=docker.io/istio',
        `-X istio.io/istio/pkg/version.buildGitRevision=${commit}`,
      ]),
    );
  });

  test('the old builds are their own list: ISTIO_VERSIONS keeps only what the image bundles', () => {
    expect(SOURCE_ISTIO_VERSIONS).toEqual(['1.23.2', '1.24.1', '1.25.0', '1.27.9', '1.29.6']);
    expect(ISTIO_VERSIONS.some((v) => (SOURCE_ISTIO_VERSIONS as readonly string[]).includes(v))).toBe(false);
    const tools = toolPaths('/cache');
    for (const v of RIG_ISTIO_VERSIONS) {
      expect(tools.istioctl[v]).toBe(`/cache/istioctl/${v}/istioctl`);
      expect(tools.pilotDiscovery[v]).toBe(`/cache/pilot-discovery/${v}/pilot-discovery`);
    }
    expect(toolPaths('/cache', '1.32').kubectl).toBe('/cache/kubectl/v1.32.13/kubectl');
    expect(toolPaths('/cache').kubeVersion).toBe('v1.36.3');
  });
});
