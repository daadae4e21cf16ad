// The mirror server over real HTTP on loopback: layout, ranges, validators, hostile paths, limits and shutdown.
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { indexFile } from '../../src/mirror/mirror-index.js';
import { startMirrorServer, type MirrorServer } from '../../src/mirror/server.js';
import { addToMirror, readIndex } from '../../src/mirror/store.js';
import { makeTarball, recordingLog, tempDir } from './helpers.js';
import { get, rawGet, rawRequest } from './http.js';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const RELEASE = '/istio/istio/releases/download/1.30.3/istio-1.30.3-linux-amd64.tar.gz';

let work: ReturnType<typeof tempDir>;
let mirror: string;
let server: MirrorServer;
let log: ReturnType<typeof recordingLog>;
let releaseBytes: Buffer;

beforeAll(async () => {
  work = tempDir();
  mirror = join(work.path, 'mirror');
  const files = [
    makeTarball(work.path, 'release', '1.30.3', 'amd64'),
    makeTarball(work.path, 'release', '1.30.3', 'arm64'),
    makeTarball(work.path, 'istioctl', '1.29.4', 'amd64'),
  ];
  await addToMirror(mirror, files, recordingLog());
  releaseBytes = readFileSync(files[0]!);
  writeFileSync(join(work.path, 'secret.txt'), 'SECRET outside the mirror\n');
  symlinkSync(join(work.path, 'secret.txt'), join(mirror, 'releases', '1.30.3', 'secret-link'));
  log = recordingLog();
  server = await startMirrorServer({ dir: mirror, port: 0, host: '127.0.0.1', log, indexRecheckMs: 0 });
});
afterAll(async () => {
  await server.close();
  work.remove();
});

const port = (): number => server.address.port;

describe('GitHub layout, index and bare binaries', () => {
  test('GET serves a release archive with its validators and type', async () => {
    const reply = await get(server.url + RELEASE);
    expect(reply.status).toBe(200);
    expect(reply.body.equals(releaseBytes)).toBe(true);
    expect(reply.headers).toMatchObject({
      'content-type': 'application/gzip',
      'content-length': String(releaseBytes.length),
      etag: `"${sha256(releaseBytes)}"`,
      'accept-ranges': 'bytes',
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
      'repr-digest': `sha-256=:${createHash('sha256').update(releaseBytes).digest('base64')}:`,
    });
    expect(Date.parse(reply.headers['last-modified']!)).not.toBeNaN();
  });

  test('HEAD answers the same headers without a body', async () => {
    const head = await rawRequest(port(), `HEAD ${RELEASE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(releaseBytes.length));
    expect(head.body.length).toBe(0);
  });

  test('index.json lists every version, file, size, sha256 and arch, and revalidates with 304', async () => {
    const reply = await get(`${server.url}/releases/index.json`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    const index = JSON.parse(reply.body.toString('utf8'));
    expect(index).toEqual(await readIndex(mirror));
    const names = index.versions.flatMap((v: { files: { name: string; arch: string }[] }) =>
      v.files.map((f) => `${f.name} ${f.arch}`),
    );
    expect(names).toContain('istio-1.30.3-linux-arm64.tar.gz arm64');
    expect(names).toContain('istioctl-1.30.3-linux-amd64 amd64');
    const again = await get(`${server.url}/releases/index.json`, { 'if-none-match': reply.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  test('/istioctl/<version>/<os>-<arch> serves the bare binary of each arch', async () => {
    for (const arch of ['amd64', 'arm64']) {
      const reply = await get(`${server.url}/istioctl/1.30.3/linux-${arch}`);
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toContain(`client version: 1.30.3 (${arch})`);
      expect(reply.headers['content-type']).toBe('application/octet-stream');
      expect(reply.headers['content-disposition']).toBe('attachment; filename="istioctl"');
    }
    expect((await get(`${server.url}/istioctl/1.30.3/linux-s390x`)).status).toBe(404);
    expect((await get(`${server.url}/istioctl/1.28.0/linux-amd64`)).status).toBe(404);
  });

  test('<file>.sha256 is answered from the index, as GitHub publishes it', async () => {
    const reply = await get(`${server.url}${RELEASE}.sha256`);
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe(`${sha256(releaseBytes)}  istio-1.30.3-linux-amd64.tar.gz\n`);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  test('healthz, metrics and 405 for other methods', async () => {
    expect((await get(`${server.url}/healthz`)).body.toString()).toBe('ok\n');
    const post = await get(server.url + RELEASE, {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    await get(`${server.url}/no/such/thing`);
    const metrics = await get(`${server.url}/metrics`);
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = metrics.body.toString();
    expect(text).toMatch(/^# TYPE istio_mirror_http_requests_total counter$/m);
    expect(text).toMatch(/^istio_mirror_http_requests_total\{route="release",code="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^istio_mirror_http_requests_total\{route="release",code="405"\} 1$/m);
    expect(text).toMatch(/^istio_mirror_http_requests_total\{route="other",code="404"\} [1-9]\d*$/m);
    expect(text).toMatch(/^istio_mirror_http_response_bytes_total\{route="release"\} [1-9]\d*$/m);
    expect(text).toMatch(/^istio_mirror_indexed_files 6$/m);
    expect(text).toMatch(/^istio_mirror_open_connections [1-9]\d*$/m);
  });
});

describe('byte ranges and conditional requests', () => {
  const size = (): number => releaseBytes.length;

  test.each([
    ['bytes=0-9', 0, 9],
    ['bytes=10-', 10, -1],
    ['bytes=-5', -5, -1],
    ['bytes=100-99999999', 100, -1],
  ])('%s is a 206 with the right bytes', async (range, first, last) => {
    const start = first < 0 ? size() + first : first;
    const end = last < 0 ? size() - 1 : last;
    const reply = await get(server.url + RELEASE, { range });
    expect(reply.status).toBe(206);
    expect(reply.headers['content-range']).toBe(`bytes ${start}-${end}/${size()}`);
    expect(reply.body.equals(releaseBytes.subarray(start, end + 1))).toBe(true);
  });

  test.each(['bytes=5-3', 'bytes=999999999-', 'bytes=abc', 'bytes=-0', 'bytes=-', 'bytes=1-2,x'])(
    '%s is a 416',
    async (range) => {
      const reply = await get(server.url + RELEASE, { range });
      expect(reply.status).toBe(416);
      expect(reply.headers['content-range']).toBe(`bytes */${size()}`);
    },
  );

  test('an unknown unit or several ranges get the whole file', async () => {
    expect((await get(server.url + RELEASE, { range: 'items=0-1' })).status).toBe(200);
    expect((await get(server.url + RELEASE, { range: 'bytes=0-1,5-9' })).body.length).toBe(size());
  });

  test('If-Range resumes only the same file', async () => {
    const etag = `"${sha256(releaseBytes)}"`;
    const same = await get(server.url + RELEASE, { range: 'bytes=10-', 'if-range': etag });
    expect(same.status).toBe(206);
    const changed = await get(server.url + RELEASE, { range: 'bytes=10-', 'if-range': '"other"' });
    expect(changed.status).toBe(200);
    expect(changed.body.length).toBe(size());
  });

  test('If-None-Match and If-Modified-Since answer 304', async () => {
    const etag = `"${sha256(releaseBytes)}"`;
    expect((await get(server.url + RELEASE, { 'if-none-match': `"x", W/${etag}` })).status).toBe(304);
    expect((await get(server.url + RELEASE, { 'if-none-match': '*' })).status).toBe(304);
    expect((await get(server.url + RELEASE, { 'if-none-match': '"x"' })).status).toBe(200);
    const future = new Date(Date.now() + 60_000).toUTCString();
    expect((await get(server.url + RELEASE, { 'if-modified-since': future })).status).toBe(304);
    const past = new Date(0).toUTCString();
    expect((await get(server.url + RELEASE, { 'if-modified-since': past })).status).toBe(200);
  });
});

describe('hostile paths', () => {
  const prefix = '/istio/istio/releases/download/1.30.3';
  const variants = [
    '/../secret.txt',
    '/../../../../etc/passwd',
    `${prefix}/../../../../../secret.txt`,
    `${prefix}/..%2f..%2f..%2fsecret.txt`,
    `${prefix}/%2e%2e/%2e%2e/secret.txt`,
    `${prefix}/%2E%2E%2Fsecret.txt`,
    `${prefix}/.%2e/.%2e/secret.txt`,
    `${prefix}/%252e%252e%252fsecret.txt`,
    `${prefix}/%c0%ae%c0%ae/secret.txt`,
    `${prefix}/..%5c..%5csecret.txt`,
    `${prefix}/..\\..\\secret.txt`,
    `${prefix}/istio-1.30.3-linux-amd64.tar.gz%00.txt`,
    `${prefix}/%`,
    `${prefix}/C:%5Cwindows%5Cwin.ini`,
    `${prefix}/secret-link`,
    '/istio/istio/releases/download/%2e%2e/index.json',
    '/istioctl/1.30.3/..%2f..%2f..%2fsecret.txt',
    '/istioctl/../../secret.txt',
    '/%2e%2e/%2e%2e/secret.txt',
    '/releases/./index.json',
    '/releases/1.30.3/istio-1.30.3-linux-amd64.tar.gz',
    '//etc/passwd',
    '/etc/passwd',
    `${work ? '' : ''}/${'x'.repeat(40)}/../../secret.txt`,
    'http://127.0.0.1/../../secret.txt',
    '*',
  ];

  test.each(variants)('%s is refused and logged', async (target) => {
    const before = log.lines.length;
    const reply = await rawGet(port(), target);
    expect([400, 404]).toContain(reply.status);
    expect(reply.raw.toString('latin1')).not.toContain('SECRET');
    expect(reply.raw.toString('latin1')).not.toContain('root:');
    expect(log.lines.slice(before).some((line) => line.level === 'warn')).toBe(true);
  });

  test('an indexed file that is a symlink leaving the directory is refused; one staying inside is served', async () => {
    const dir = join(mirror, 'releases', '1.29.4');
    const name = 'istioctl-1.29.4-linux-amd64';
    const content = readFileSync(join(dir, name));
    const outside = join(work.path, 'outside-istioctl');
    writeFileSync(outside, content);
    renameSync(join(dir, name), join(dir, 'real-copy'));
    symlinkSync(outside, join(dir, name));
    const before = log.lines.length;
    expect((await get(`${server.url}/istioctl/1.29.4/linux-amd64`)).status).toBe(404);
    expect(log.lines.slice(before).map((l) => l.message)).toContain(
      'refused: file resolves outside the mirror directory',
    );
    rmSync(join(dir, name));
    symlinkSync('real-copy', join(dir, name));
    expect((await get(`${server.url}/istioctl/1.29.4/linux-amd64`)).body.equals(content)).toBe(true);
    rmSync(join(dir, name));
    renameSync(join(dir, 'real-copy'), join(dir, name));
  });

  test('a directory in place of an indexed file is not served; a changed size is a 500', async () => {
    const path = join(mirror, 'releases', '1.29.4', 'istioctl-1.29.4-linux-amd64.tar.gz');
    const saved = readFileSync(path);
    rmSync(path);
    mkdirSync(path);
    expect(
      (await get(`${server.url}/istio/istio/releases/download/1.29.4/istioctl-1.29.4-linux-amd64.tar.gz`))
        .status,
    ).toBe(404);
    rmSync(path, { recursive: true });
    writeFileSync(path, saved);
    truncateSync(path, 10);
    expect(
      (await get(`${server.url}/istio/istio/releases/download/1.29.4/istioctl-1.29.4-linux-amd64.tar.gz`))
        .status,
    ).toBe(500);
    writeFileSync(path, saved);
    const metrics = (await get(`${server.url}/metrics`)).body.toString();
    expect(metrics).toMatch(/^istio_mirror_http_errors_total\{route="release"\} [1-9]/m);
  });
});

describe('index changes while serving', () => {
  test('a version added by "mirror add" is served without restart', async () => {
    expect((await get(`${server.url}/istioctl/1.31.0/linux-amd64`)).status).toBe(404);
    await addToMirror(mirror, [makeTarball(work.path, 'istioctl', '1.31.0')], recordingLog());
    expect((await get(`${server.url}/istioctl/1.31.0/linux-amd64`)).status).toBe(200);
  });
});

describe('several directories served as one mirror', () => {
  // The chart's case: the image's own mirror, and beside it a volume filled by "mirror add" with more hops.
  let extra: string;
  let s: MirrorServer;
  let slog: ReturnType<typeof recordingLog>;
  let hopBytes: Buffer;
  beforeAll(async () => {
    extra = join(work.path, 'extra');
    const inputs = join(work.path, 'extra-inputs');
    mkdirSync(inputs);
    const hop = makeTarball(inputs, 'istioctl', '1.27.9', 'amd64');
    // The same name as an archive of the first directory, with other bytes.
    const clash = makeTarball(inputs, 'release', '1.30.3', 'arm64', 'linux', ' (the copy on the volume)');
    await addToMirror(extra, [hop, clash], recordingLog());
    hopBytes = readFileSync(join(extra, 'releases', '1.27.9', 'istioctl-1.27.9-linux-amd64'));
    slog = recordingLog();
    s = await startMirrorServer({
      dir: mirror,
      extraDirs: [extra],
      port: 0,
      host: '127.0.0.1',
      log: slog,
      indexRecheckMs: 0,
    });
  });
  afterAll(() => s.close());

  test('index.json is the union; each file is served from its own directory with ranges and validators', async () => {
    const reply = await get(`${s.url}/releases/index.json`);
    const versions = JSON.parse(reply.body.toString('utf8')).versions.map(
      (v: { version: string }) => v.version,
    );
    expect(versions).toEqual(expect.arrayContaining(['1.30.3', '1.29.4', '1.27.9']));
    expect((await get(`${s.url}/releases/index.json`, { 'if-none-match': reply.headers.etag! })).status).toBe(
      304,
    );

    const hop = await get(`${s.url}/istioctl/1.27.9/linux-amd64`);
    expect(hop.status).toBe(200);
    expect(hop.body.equals(hopBytes)).toBe(true);
    expect(hop.headers.etag).toBe(`"${sha256(hopBytes)}"`);
    const part = await get(`${s.url}/istioctl/1.27.9/linux-amd64`, { range: 'bytes=2-5' });
    expect(part.status).toBe(206);
    expect(part.body.equals(hopBytes.subarray(2, 6))).toBe(true);
    expect(
      (await get(`${s.url}/istioctl/1.27.9/linux-amd64`, { 'if-none-match': hop.headers.etag! })).status,
    ).toBe(304);
    const sum = await get(
      `${s.url}/istio/istio/releases/download/1.27.9/istioctl-1.27.9-linux-amd64.tar.gz.sha256`,
    );
    expect(sum.body.toString()).toMatch(/^[0-9a-f]{64} {2}istioctl-1\.27\.9-linux-amd64\.tar\.gz\n$/);
    expect((await get(`${s.url}/istioctl/1.29.4/linux-amd64`)).status).toBe(200);
  });

  test('a file both directories hold comes from the first; the index names that copy and the clash is logged', async () => {
    const path = '/istio/istio/releases/download/1.30.3/istio-1.30.3-linux-arm64.tar.gz';
    const first = readFileSync(join(mirror, 'releases', '1.30.3', 'istio-1.30.3-linux-arm64.tar.gz'));
    const reply = await get(s.url + path);
    expect(reply.body.equals(first)).toBe(true);
    const index = JSON.parse((await get(`${s.url}/releases/index.json`)).body.toString('utf8'));
    const listed = index.versions
      .find((v: { version: string }) => v.version === '1.30.3')
      .files.filter((f: { name: string }) => f.name === 'istio-1.30.3-linux-arm64.tar.gz');
    expect(listed).toEqual([expect.objectContaining({ sha256: sha256(first) })]);
    expect(slog.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'two mirror directories hold different copies of a file; serving the first',
      }),
    );
  });

  test('a symlink in the second directory that leaves it is refused, even into the first', async () => {
    const dir = join(extra, 'releases', '1.27.9');
    const name = 'istioctl-1.27.9-linux-amd64';
    renameSync(join(dir, name), join(dir, 'saved'));
    try {
      writeFileSync(join(mirror, 'planted'), hopBytes);
      symlinkSync(join(mirror, 'planted'), join(dir, name));
      expect((await get(`${s.url}/istioctl/1.27.9/linux-amd64`)).status).toBe(404);
      expect(slog.lines.map((l) => l.message)).toContain(
        'refused: file resolves outside the mirror directory',
      );
    } finally {
      rmSync(join(dir, name), { force: true });
      rmSync(join(mirror, 'planted'), { force: true });
      renameSync(join(dir, 'saved'), join(dir, name));
    }
    expect((await get(`${s.url}/istioctl/1.27.9/linux-amd64`)).status).toBe(200);
  });

  test('not ready while any directory lacks a usable index; a version added to it is served without restart', async () => {
    const empty = join(work.path, 'empty-volume');
    mkdirSync(empty);
    const t = await startMirrorServer({
      dir: mirror,
      extraDirs: [empty],
      port: 0,
      host: '127.0.0.1',
      log: recordingLog(),
      indexRecheckMs: 0,
    });
    try {
      expect((await get(`${t.url}/healthz`)).status).toBe(503);
      await addToMirror(empty, [makeTarball(work.path, 'istioctl', '1.25.0')], recordingLog());
      expect((await get(`${t.url}/healthz`)).status).toBe(200);
      expect((await get(`${t.url}/istioctl/1.25.0/linux-amd64`)).status).toBe(200);
      expect((await get(`${t.url}/istioctl/1.29.4/linux-amd64`)).status).toBe(200);
    } finally {
      await t.close();
    }
    await expect(
      startMirrorServer({ dir: mirror, extraDirs: [join(work.path, 'nope')], port: 0, log: recordingLog() }),
    ).rejects.toThrow(/nope is not usable/);
  });
});

describe('limits and lifecycle', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  /** A mirror whose one indexed file is a sparse file of `size` bytes (its sha256 is not checked by the server). */
  const sparseMirror = (size: number): string => {
    const versionDir = join(dir.path, 'releases', '1.30.3');
    mkdirSync(versionDir, { recursive: true });
    writeFileSync(join(versionDir, 'istio-1.30.3-linux-amd64.tar.gz'), '');
    truncateSync(join(versionDir, 'istio-1.30.3-linux-amd64.tar.gz'), size);
    const file = {
      name: 'istio-1.30.3-linux-amd64.tar.gz',
      kind: 'release',
      os: 'linux',
      arch: 'amd64',
      size,
      sha256: 'a'.repeat(64),
      url: RELEASE,
    };
    writeFileSync(
      indexFile(dir.path),
      JSON.stringify({ schemaVersion: 1, versions: [{ version: '1.30.3', files: [file] }] }),
    );
    return dir.path;
  };

  const openSocket = (p: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect(p, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    });
  /** Reads what the server sent until it closed the connection; resolves to the byte count. */
  const drain = (socket: Socket): Promise<number> =>
    new Promise((resolve) => {
      let total = 0;
      socket.on('data', (chunk: Buffer) => (total += chunk.length));
      socket.once('close', () => resolve(total));
      socket.resume();
    });
  const until = async (condition: () => boolean): Promise<void> => {
    for (let waited = 0; !condition(); waited += 20) {
      if (waited > 5000) throw new Error('condition not met within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  test('files past 4 GiB: sizes and ranges at the far end are exact', async () => {
    const size = 5 * 1024 ** 3 + 123;
    const s = await startMirrorServer({
      dir: sparseMirror(size),
      port: 0,
      host: '127.0.0.1',
      log: recordingLog(),
    });
    try {
      const head = await rawRequest(
        s.address.port,
        `HEAD ${RELEASE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(head.headers['content-length']).toBe(String(size));
      const tail = await get(s.url + RELEASE, { range: `bytes=${size - 100}-` });
      expect(tail.status).toBe(206);
      expect(tail.headers['content-range']).toBe(`bytes ${size - 100}-${size - 1}/${size}`);
      expect(tail.body).toEqual(Buffer.alloc(100));
    } finally {
      await s.close();
    }
  });

  test('oversized request heads get 431, slow ones 408 from the head timeout, before the idle timeout', async () => {
    const log = recordingLog();
    // The idle timeout is the yardstick: far above the head timeout, far below the server's default head timeout
    // (10 s), so a head timeout left unapplied ends in the idle cut, a closed connection without a 408.
    const s = await startMirrorServer({
      dir: sparseMirror(10),
      port: 0,
      host: '127.0.0.1',
      log,
      headersTimeoutMs: 300,
      idleTimeoutMs: 5_000,
    });
    try {
      const big = await rawRequest(
        s.address.port,
        `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      expect(big.status).toBe(431);
      const slow = await rawRequest(s.address.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 60_000);
      expect(slow.status).toBe(408);
      expect(log.lines.filter((l) => l.message === 'bad request').map((l) => l.fields.reason)).toEqual([
        'HPE_HEADER_OVERFLOW',
        'ERR_HTTP_REQUEST_TIMEOUT',
      ]);
    } finally {
      await s.close();
    }
  });

  test('a client that stops reading is cut after the idle timeout', async () => {
    const s = await startMirrorServer({
      dir: sparseMirror(64 * 1024 ** 2),
      port: 0,
      host: '127.0.0.1',
      log: recordingLog(),
      idleTimeoutMs: 300,
    });
    try {
      const socket = await openSocket(s.address.port);
      socket.write(`GET ${RELEASE} HTTP/1.1\r\nHost: x\r\n\r\n`);
      socket.pause();
      await until(() => /^istio_mirror_http_aborted_total\{route="release"\} 1$/m.test(s.metrics.render()));
      expect(s.metrics.openConnections).toBe(0);
      const sentBeforeCut = Number(
        /^istio_mirror_http_response_bytes_total\{route="release"\} (\d+)$/m.exec(s.metrics.render())?.[1],
      );
      expect(sentBeforeCut).toBeGreaterThan(0);
      expect(sentBeforeCut).toBeLessThan(64 * 1024 ** 2);
      expect(await drain(socket)).toBeLessThan(64 * 1024 ** 2);
    } finally {
      await s.close();
    }
  });

  test('connections past the limit are closed on accept', async () => {
    const s = await startMirrorServer({
      dir: sparseMirror(10),
      port: 0,
      host: '127.0.0.1',
      log: recordingLog(),
      maxConnections: 2,
    });
    try {
      const kept = [await openSocket(s.address.port), await openSocket(s.address.port)];
      await new Promise((r) => setTimeout(r, 50));
      const third = await openSocket(s.address.port);
      const gotData = new Promise<boolean>((resolve) => {
        third.once('data', () => resolve(true));
        third.once('close', () => resolve(false));
      });
      third.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(await gotData).toBe(false);
      kept[0]!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect((await rawGet(s.address.port, '/healthz')).status).toBe(200);
      kept[1]!.destroy();
    } finally {
      await s.close();
    }
  });

  test('close lets an in-flight download finish, refuses new connections, then cuts stalled ones after the grace', async () => {
    const size = 32 * 1024 ** 2;
    const log = recordingLog();
    // The grace is long enough for the in-flight download to finish on a busy machine.
    const s = await startMirrorServer({
      dir: sparseMirror(size),
      port: 0,
      host: '127.0.0.1',
      log,
      shutdownGraceMs: 2_000,
    });
    const download = get(s.url + RELEASE);
    const stalled = await openSocket(s.address.port);
    stalled.write(`GET ${RELEASE} HTTP/1.1\r\nHost: x\r\n\r\n`);
    stalled.pause();
    let stalledRead = 0;
    stalled.on('data', (chunk: Buffer) => (stalledRead += chunk.length));
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    await new Promise((r) => setTimeout(r, 100));
    const closing = s.close();
    // The yardstick: the stalled reader starts reading again 6 s after close (well past the grace, well before the
    // default grace of 10 s) unless it was cut by then; then it gets the whole file, and the checks below fail.
    const yardstick = setTimeout(() => stalled.resume(), 6_000);
    await expect(openSocket(s.address.port)).rejects.toThrow(/ECONNREFUSED/);
    const reply = await download;
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(size);
    await closing;
    clearTimeout(yardstick);
    expect(log.lines.filter((l) => l.message === 'mirror stopped').map((l) => l.fields)).toEqual([
      { cut: 1 },
    ]);
    stalled.resume();
    await stalledClosed;
    expect(stalledRead).toBeLessThan(size);
  });

  test('a broken index is reported once, serves nothing, and recovers when fixed', async () => {
    const good = readFileSync(indexFile(sparseMirror(10)));
    const log = recordingLog();
    const s = await startMirrorServer({ dir: dir.path, port: 0, host: '127.0.0.1', log, indexRecheckMs: 0 });
    try {
      writeFileSync(
        indexFile(dir.path),
        '{"schemaVersion": 1, "versions": [{"version": "../..", "files": []}]}',
      );
      for (let i = 0; i < 3; i++) expect((await get(`${s.url}/healthz`)).status).toBe(503);
      expect((await get(s.url + RELEASE)).status).toBe(404);
      expect(log.lines.filter((l) => l.level === 'error').map((l) => l.fields.reason)).toEqual([
        expect.stringMatching(/versions\[0\]\.version: not an Istio version/),
      ]);
      writeFileSync(indexFile(dir.path), good);
      expect((await get(`${s.url}/healthz`)).status).toBe(200);
      expect((await get(s.url + RELEASE)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test('healthz is 503 without a usable index; a missing directory refuses to start', async () => {
    const s = await startMirrorServer({ dir: dir.path, port: 0, host: '127.0.0.1', log: recordingLog() });
    try {
      expect((await get(`${s.url}/healthz`)).status).toBe(503);
      expect((await get(`${s.url}/releases/index.json`)).status).toBe(404);
    } finally {
      await s.close();
    }
    await expect(
      startMirrorServer({ dir: join(dir.path, 'nope'), port: 0, log: recordingLog() }),
    ).rejects.toThrow(/not usable/);
  });
});
