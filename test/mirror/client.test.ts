// obtainIstioctl against the real mirror server on loopback: download, verify, cache, resume and refusals.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { InputError, PreconditionError } from '../../src/errors.js';
import {
  defaultCacheDir,
  hostPlatform,
  obtainIstioctl,
  type ObtainIstioctlDeps,
} from '../../src/mirror/client.js';
import { startMirrorServer, type MirrorServer } from '../../src/mirror/server.js';
import { addToMirror } from '../../src/mirror/store.js';
import { makeTarball, recordingLog, tempDir } from './helpers.js';

let work: ReturnType<typeof tempDir>;
let mirror: string;
let server: MirrorServer;

beforeAll(async () => {
  work = tempDir();
  mirror = join(work.path, 'mirror');
  await addToMirror(
    mirror,
    [
      makeTarball(work.path, 'istioctl', '1.29.4', 'amd64'),
      makeTarball(work.path, 'release', '1.29.4', 'arm64'),
    ],
    recordingLog(),
  );
  server = await startMirrorServer({
    dir: mirror,
    port: 0,
    host: '127.0.0.1',
    log: recordingLog(),
    indexRecheckMs: 0,
  });
});
afterAll(async () => {
  await server.close();
  work.remove();
});

/** The real fetch, recording each URL it was asked for. */
function recordingFetch(): { fetch: typeof globalThis.fetch; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      urls.push(String(input));
      return globalThis.fetch(input, init);
    },
  };
}

function deps(
  cacheDir: string,
  fetch: typeof globalThis.fetch,
  extra: Partial<ObtainIstioctlDeps> = {},
): ObtainIstioctlDeps {
  return { fetch, cacheDir, log: recordingLog(), sleep: async () => {}, ...extra };
}

test('downloads, verifies and caches; the second call uses the cache after checking it against the index', async () => {
  const cache = join(work.path, 'cache-1');
  const recorder = recordingFetch();
  const first = await obtainIstioctl(
    { version: '1.29.4', mirrorUrl: server.url, os: 'linux', arch: 'amd64' },
    deps(cache, recorder.fetch),
  );
  expect(first).toMatchObject({ source: 'mirror', path: join(cache, '1.29.4', 'linux-amd64', 'istioctl') });
  expect(execFileSync(first.path).toString()).toBe('client version: 1.29.4 (amd64)\n');
  expect(recorder.urls).toEqual([
    `${server.url}/releases/index.json`,
    `${server.url}/istioctl/1.29.4/linux-amd64`,
  ]);
  const second = await obtainIstioctl(
    { version: '1.29.4', mirrorUrl: `${server.url}/`, os: 'linux', arch: 'amd64' },
    deps(cache, recorder.fetch),
  );
  expect(second).toEqual({ ...first, source: 'cache' });
  expect(recorder.urls).toHaveLength(3);
  expect(readdirSync(join(cache, '1.29.4', 'linux-amd64'))).toEqual(['istioctl']);
});

test('the arm64 binary extracted from a release archive is served to arm64 callers', async () => {
  const got = await obtainIstioctl(
    { version: '1.29.4', mirrorUrl: server.url, os: 'linux', arch: 'arm64' },
    deps(join(work.path, 'cache-arm'), globalThis.fetch),
  );
  expect(execFileSync(got.path).toString()).toContain('(arm64)');
});

test('a bundled istioctl wins and nothing is fetched', async () => {
  const bundled = join(work.path, 'bundled');
  mkdirSync(join(bundled, '1.30.3'), { recursive: true });
  writeFileSync(join(bundled, '1.30.3', 'istioctl'), '#!/bin/sh\n');
  chmodSync(join(bundled, '1.30.3', 'istioctl'), 0o755);
  const recorder = recordingFetch();
  const got = await obtainIstioctl(
    { version: '1.30.3', mirrorUrl: server.url },
    deps(join(work.path, 'c'), recorder.fetch, { bundledDir: bundled }),
  );
  expect(got).toEqual({ path: join(bundled, '1.30.3', 'istioctl'), source: 'bundled' });
  expect(recorder.urls).toEqual([]);
});

test('a missing version is an exit-3 error naming the index URL and the versions there', async () => {
  const error = await obtainIstioctl(
    { version: '1.28.0', mirrorUrl: server.url, os: 'linux', arch: 'amd64' },
    deps(join(work.path, 'c2'), globalThis.fetch),
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PreconditionError);
  expect((error as PreconditionError).message).toBe(
    `istioctl 1.28.0 for linux-amd64 is not in the release mirror at ${server.url}/releases/index.json`,
  );
  expect((error as PreconditionError).hint).toMatch(/^versions there: 1\.29\.4;/);
});

test('a checksum mismatch is an exit-3 error naming the URL, and leaves nothing in the cache', async () => {
  const cache = join(work.path, 'cache-bad');
  const binary = join(mirror, 'releases', '1.29.4', 'istioctl-1.29.4-linux-amd64');
  const original = execFileSync('cat', [binary]);
  writeFileSync(binary, original.toString().replace('1.29.4', '6.66.6'));
  try {
    const error = await obtainIstioctl(
      { version: '1.29.4', mirrorUrl: server.url, os: 'linux', arch: 'amd64' },
      deps(cache, globalThis.fetch),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionError);
    expect((error as Error).message).toContain(
      `istioctl 1.29.4 from ${server.url}/istioctl/1.29.4/linux-amd64 failed verification`,
    );
    expect(readdirSync(join(cache, '1.29.4', 'linux-amd64'))).toEqual([]);
  } finally {
    writeFileSync(binary, original);
  }
});

test('a tampered cache entry is replaced by a verified download', async () => {
  const cache = join(work.path, 'cache-tampered');
  const request = { version: '1.29.4', mirrorUrl: server.url, os: 'linux', arch: 'amd64' } as const;
  const first = await obtainIstioctl(request, deps(cache, globalThis.fetch));
  writeFileSync(first.path, '#!/bin/sh\necho evil\n');
  const second = await obtainIstioctl(request, deps(cache, globalThis.fetch));
  expect(second.source).toBe('mirror');
  expect(execFileSync(second.path).toString()).toContain('1.29.4');
});

test('a download cut off midway resumes with a range request and still verifies', async () => {
  const seen: { url: string; range: string | null }[] = [];
  let cut = false;
  const flaky: typeof globalThis.fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    seen.push({ url: String(input), range: headers.get('range') });
    const response = await globalThis.fetch(input, init);
    if (cut || !String(input).includes('/istioctl/')) return response;
    cut = true;
    // Deliver the first 10 bytes, then fail as a dropped connection would.
    const bytes = new Uint8Array(await response.arrayBuffer()).subarray(0, 10);
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(bytes);
        else controller.error(new TypeError('terminated'));
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  const got = await obtainIstioctl(
    { version: '1.29.4', mirrorUrl: server.url, os: 'linux', arch: 'amd64' },
    deps(join(work.path, 'cache-resume'), flaky),
  );
  expect(got.source).toBe('mirror');
  expect(seen.map((s) => s.range)).toEqual([null, null, 'bytes=10-']);
});

test('an unreachable mirror is retried, then reported with its URL', async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const recorder = recordingFetch();
  const error = await obtainIstioctl(
    { version: '1.29.4', mirrorUrl: `http://127.0.0.1:${closedPort}` },
    deps(join(work.path, 'c3'), recorder.fetch, { attempts: 3 }),
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PreconditionError);
  expect((error as Error).message).toMatch(
    new RegExp(
      `^release mirror unavailable: cannot reach http://127\\.0\\.0\\.1:${closedPort}/releases/index\\.json: ECONNREFUSED`,
    ),
  );
  expect(recorder.urls).toHaveLength(3);
});

test('no mirror configured and no bundled binary, or a bad URL, are refused before any download', async () => {
  await expect(
    obtainIstioctl({ version: '1.29.4', mirrorUrl: undefined }, deps(work.path, globalThis.fetch)),
  ).rejects.toThrow(/not in this image and no release mirror is configured/);
  await expect(
    obtainIstioctl({ version: '1.29.4', mirrorUrl: 'ftp://x' }, deps(work.path, globalThis.fetch)),
  ).rejects.toThrow(InputError);
  await expect(
    obtainIstioctl({ version: 'latest', mirrorUrl: server.url }, deps(work.path, globalThis.fetch)),
  ).rejects.toThrow(InputError);
  expect(existsSync(join(work.path, '1.29.4'))).toBe(false);
});

test('cache dir and platform defaults', () => {
  expect(defaultCacheDir({ TMPDIR: '/scratch' })).toBe('/scratch/istio-installer/istioctl');
  expect(defaultCacheDir({})).toBe('/tmp/istio-installer/istioctl');
  expect(hostPlatform('linux', 'arm64')).toEqual({ os: 'linux', arch: 'arm64' });
  expect(hostPlatform('darwin', 'x64')).toEqual({ os: 'osx', arch: 'amd64' });
});

test('a mirror that stops sending is abandoned after the stall timeout, retried, then reported', async () => {
  // A stand-in that answers the index, then sends the binary's headers and a few bytes and goes silent. It hangs
  // up itself after 5 s (far above the stall timeout, far below the default one): a client that did not give up
  // first sees that hang-up instead, another error.
  const index = readFileSync(join(mirror, 'releases', 'index.json'));
  const requests: string[] = [];
  const hungUp = { byClient: 0, byStandIn: 0 };
  const silent = createHttpServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/releases/index.json') return void res.end(index);
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial');
    let standInFirst = false;
    const yardstick = setTimeout(() => {
      standInFirst = true;
      hungUp.byStandIn++;
      res.destroy();
    }, 5_000);
    res.once('close', () => {
      clearTimeout(yardstick);
      if (!standInFirst) hungUp.byClient++;
    });
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  try {
    const error = await obtainIstioctl(
      { version: '1.29.4', mirrorUrl: url, os: 'linux', arch: 'amd64' },
      deps(join(work.path, 'cache-stall'), globalThis.fetch, { stallTimeoutMs: 200, attempts: 2 }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionError);
    expect((error as Error).message).toBe(
      `release mirror unavailable: download of ${url}/istioctl/1.29.4/linux-amd64 broke off after 7 bytes: no data for 0.2 s`,
    );
    expect(requests).toEqual([
      '/releases/index.json',
      '/istioctl/1.29.4/linux-amd64',
      '/istioctl/1.29.4/linux-amd64',
    ]);
    expect(hungUp).toEqual({ byClient: 2, byStandIn: 0 });
  } finally {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  }
});
