// `mirror add` copies release archives, extracts istioctl and writes the index; `mirror verify` catches drift.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, PreconditionError } from '../../src/errors.js';
import { indexFile } from '../../src/mirror/mirror-index.js';
import { addToMirror, readIndex, verifyMirror } from '../../src/mirror/store.js';
import { extractTarGzEntry } from '../../src/mirror/tar.js';
import { fakeIstioctl, makeTarball, recordingLog, tempDir } from './helpers.js';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

let work: ReturnType<typeof tempDir>;
beforeEach(() => {
  work = tempDir();
});
afterEach(() => work.remove());

describe('extractTarGzEntry', () => {
  test.each(['gnu', 'ustar', 'pax'])('finds a deep entry in a %s archive with a long path', (format) => {
    const src = join(work.path, 'src');
    const deep = join(src, 'a'.repeat(60), 'b'.repeat(60), 'bin');
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(src, 'first.txt'), 'x'.repeat(700));
    writeFileSync(join(deep, 'istioctl'), 'binary-content');
    const archive = join(work.path, 'a.tar.gz');
    execFileSync('tar', [`--format=${format}`, '-czf', archive, '-C', src, 'first.txt', 'a'.repeat(60)]);
    const out = join(work.path, 'out');
    return extractTarGzEntry(archive, (entry) => entry.endsWith('/bin/istioctl'), out).then((found) => {
      expect(found).toEqual({
        entry: `${'a'.repeat(60)}/${'b'.repeat(60)}/bin/istioctl`,
        size: 14,
        sha256: sha256('binary-content'),
      });
      expect(readFileSync(out, 'utf8')).toBe('binary-content');
    });
  });

  test('answers undefined when the entry is absent, and fails on data that is not a tar', async () => {
    const archive = makeTarball(work.path, 'istioctl', '1.30.3');
    await expect(
      extractTarGzEntry(archive, (e) => e === 'nope', join(work.path, 'o')),
    ).resolves.toBeUndefined();
    const notTar = join(work.path, 'x.tar.gz');
    execFileSync('sh', ['-c', `head -c 4096 /dev/urandom | gzip > '${notTar}'`]);
    await expect(extractTarGzEntry(notTar, () => true, join(work.path, 'o'))).rejects.toThrow(
      /not a tar archive/,
    );
  });
});

describe('addToMirror', () => {
  test('adds amd64 and arm64 archives side by side, extracts istioctl, and indexes them', async () => {
    const files = [
      makeTarball(work.path, 'release', '1.30.3', 'amd64'),
      makeTarball(work.path, 'release', '1.30.3', 'arm64'),
      makeTarball(work.path, 'istioctl', '1.29.4', 'arm64'),
    ];
    const mirror = join(work.path, 'mirror');
    const log = recordingLog();
    const added = await addToMirror(mirror, files, log);
    expect(added.map((r) => r.name).sort()).toEqual([
      'istio-1.30.3-linux-amd64.tar.gz',
      'istio-1.30.3-linux-arm64.tar.gz',
      'istioctl-1.29.4-linux-arm64',
      'istioctl-1.29.4-linux-arm64.tar.gz',
      'istioctl-1.30.3-linux-amd64',
      'istioctl-1.30.3-linux-arm64',
    ]);
    const index = await readIndex(mirror);
    expect(index.versions.map((v) => v.version)).toEqual(['1.30.3', '1.29.4']);
    const binary = index.versions[0]!.files.find((f) => f.name === 'istioctl-1.30.3-linux-arm64')!;
    expect(binary).toEqual({
      name: 'istioctl-1.30.3-linux-arm64',
      kind: 'istioctl',
      os: 'linux',
      arch: 'arm64',
      size: fakeIstioctl('1.30.3', 'arm64').length,
      sha256: sha256(fakeIstioctl('1.30.3', 'arm64')),
      url: '/istioctl/1.30.3/linux-arm64',
    });
    const archive = index.versions[0]!.files.find((f) => f.name === 'istio-1.30.3-linux-amd64.tar.gz')!;
    expect(archive.sha256).toBe(sha256(readFileSync(files[0]!)));
    expect(archive.url).toBe('/istio/istio/releases/download/1.30.3/istio-1.30.3-linux-amd64.tar.gz');
    expect(statSync(join(mirror, 'releases', '1.30.3', 'istioctl-1.30.3-linux-arm64')).mode & 0o777).toBe(
      0o755,
    );
    await expect(verifyMirror(mirror)).resolves.toEqual({ checked: 6, problems: [] });
  });

  test('adding again keeps earlier versions and gives byte-identical index for identical content', async () => {
    const mirror = join(work.path, 'mirror');
    const a = makeTarball(work.path, 'istioctl', '1.30.3');
    const b = makeTarball(work.path, 'istioctl', '1.31.0');
    await addToMirror(mirror, [a], recordingLog());
    await addToMirror(mirror, [b], recordingLog());
    const first = readFileSync(indexFile(mirror), 'utf8');
    await addToMirror(mirror, [a, b], recordingLog());
    expect(readFileSync(indexFile(mirror), 'utf8')).toBe(first);
    expect((await readIndex(mirror)).versions.map((v) => v.version)).toEqual(['1.31.0', '1.30.3']);
  });

  test('refuses every badly named file at once, before touching the mirror', async () => {
    const mirror = join(work.path, 'mirror');
    const good = makeTarball(work.path, 'istioctl', '1.30.3');
    const error = await addToMirror(
      mirror,
      [good, '/x/kiali.tar.gz', '/x/istio-1.30.3.tar.gz'],
      recordingLog(),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).issues.map((i) => i.file)).toEqual([
      '/x/kiali.tar.gz',
      '/x/istio-1.30.3.tar.gz',
    ]);
    expect(existsSync(mirror)).toBe(false);
  });

  test('checks a published .sha256 next to the input', async () => {
    const mirror = join(work.path, 'mirror');
    const file = makeTarball(work.path, 'istioctl', '1.30.3');
    writeFileSync(`${file}.sha256`, `${'0'.repeat(64)}  istioctl-1.30.3-linux-amd64.tar.gz\n`);
    await expect(addToMirror(mirror, [file], recordingLog())).rejects.toThrow(PreconditionError);
    writeFileSync(`${file}.sha256`, `${sha256(readFileSync(file))}  istioctl-1.30.3-linux-amd64.tar.gz\n`);
    await expect(addToMirror(mirror, [file], recordingLog())).resolves.toHaveLength(2);
  });

  test('an istioctl archive without istioctl is refused; a release archive without it is added with a warning', async () => {
    const mirror = join(work.path, 'mirror');
    const src = join(work.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'README'), 'no binary here');
    const ctl = join(work.path, 'istioctl-1.30.3-linux-amd64.tar.gz');
    const rel = join(work.path, 'istio-1.30.3-linux-amd64.tar.gz');
    execFileSync('tar', ['-czf', ctl, '-C', src, 'README']);
    execFileSync('tar', ['-czf', rel, '-C', src, 'README']);
    await expect(addToMirror(mirror, [ctl], recordingLog())).rejects.toThrow(/has no istioctl inside/);
    const log = recordingLog();
    await expect(addToMirror(mirror, [rel], log)).resolves.toHaveLength(1);
    expect(log.lines.some((l) => l.level === 'warn' && /no bin\/istioctl/.test(l.message))).toBe(true);
  });

  test('a lock held by another add is reported as a precondition', async () => {
    const mirror = join(work.path, 'mirror');
    mkdirSync(join(mirror, 'releases'), { recursive: true });
    writeFileSync(join(mirror, 'releases', '.lock'), '1');
    await expect(
      addToMirror(mirror, [makeTarball(work.path, 'istioctl', '1.30.3')], recordingLog()),
    ).rejects.toThrow(/another "mirror add"/);
  });
});

describe('verifyMirror', () => {
  test('reports changed, missing and unindexed files', async () => {
    const mirror = join(work.path, 'mirror');
    await addToMirror(
      mirror,
      [makeTarball(work.path, 'release', '1.30.3'), makeTarball(work.path, 'istioctl', '1.29.4')],
      recordingLog(),
    );
    const dir = join(mirror, 'releases');
    appendFileSync(join(dir, '1.30.3', 'istio-1.30.3-linux-amd64.tar.gz'), 'x');
    const binary = join(dir, '1.30.3', 'istioctl-1.30.3-linux-amd64');
    writeFileSync(binary, readFileSync(binary, 'utf8').replace('1.30.3', '6.66.6'));
    execFileSync('rm', [join(dir, '1.29.4', 'istioctl-1.29.4-linux-amd64')]);
    writeFileSync(join(dir, '1.29.4', 'stray.bin'), 'stray');
    const { checked, problems } = await verifyMirror(mirror);
    expect(checked).toBe(4);
    expect(problems.map((p) => [p.file.slice(dir.length + 1), p.problem.split(' ')[0]])).toEqual([
      ['1.30.3/istio-1.30.3-linux-amd64.tar.gz', 'size'],
      ['1.30.3/istioctl-1.30.3-linux-amd64', 'sha256'],
      ['1.29.4/istioctl-1.29.4-linux-amd64', 'missing'],
      ['1.29.4/stray.bin', 'not'],
    ]);
  });

  test('a tampered index is an input error naming the file and key', async () => {
    const mirror = join(work.path, 'mirror');
    await addToMirror(mirror, [makeTarball(work.path, 'istioctl', '1.30.3')], recordingLog());
    const index = JSON.parse(readFileSync(indexFile(mirror), 'utf8'));
    index.versions[0].files[0].name = '../../etc/passwd';
    writeFileSync(indexFile(mirror), JSON.stringify(index));
    const error = await readIndex(mirror).catch((e) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).issues[0]).toMatchObject({
      file: indexFile(mirror),
      path: 'versions[0].files[0].name',
    });
  });
});
