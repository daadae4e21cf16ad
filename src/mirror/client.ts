// Obtains the istioctl of an Istio version: from the image, from the local cache, or from a release mirror, verified.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, PreconditionError } from '../errors.js';
import { findIstioctl, INDEX_URL_PATH, type MirrorIndex } from './mirror-index.js';
import { isIstioVersion, type ReleaseArch, type ReleaseOs } from './release-name.js';
import { hashFile, parseIndex } from './store.js';

export interface ObtainIstioctlRequest {
  version: string;
  /** Base URL of the mirror, e.g. http://rancher-istio-mirror.istio-system.svc:8080; undefined = no mirror. */
  mirrorUrl: string | undefined;
  os?: ReleaseOs;
  arch?: ReleaseArch;
}

export interface ObtainIstioctlDeps {
  fetch: typeof globalThis.fetch;
  /** Where downloaded binaries are kept, e.g. /tmp/istio-installer/istioctl. */
  cacheDir: string;
  /** ISTIOCTL_DIR of the image: `<dir>/<version>/istioctl` for every bundled version. */
  bundledDir?: string;
  log?: {
    info(message: string, fields?: Record<string, unknown>): void;
    warn(message: string, fields?: Record<string, unknown>): void;
  };
  /** Attempts per request for transient failures (connection errors, stalls, 408, 429, 5xx). */
  attempts?: number;
  /** A request that receives nothing for this long is abandoned (and retried); default 60 s. */
  stallTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ObtainedIstioctl {
  path: string;
  source: 'bundled' | 'cache' | 'mirror';
  sha256?: string;
}

/** The istioctl cache directory under $TMPDIR (the only writable place in the image). */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.TMPDIR || '/tmp', 'istio-installer', 'istioctl');
}

/** Istio's os/arch names for the platform this process runs on. */
export function hostPlatform(
  platform: string = process.platform,
  arch: string = process.arch,
): { os: ReleaseOs; arch: ReleaseArch } {
  const os: ReleaseOs = platform === 'darwin' ? 'osx' : platform === 'win32' ? 'win' : 'linux';
  const istioArch: ReleaseArch = arch === 'arm64' ? 'arm64' : arch === 'arm' ? 'armv7' : 'amd64';
  return { os, arch: istioArch };
}

class TransientFailure extends Error {}

/** Once retries are spent, a transient failure is the mirror being unavailable: exit 3, naming why. */
function unavailableAfterRetries(error: unknown): never {
  if (error instanceof TransientFailure)
    throw new PreconditionError(`release mirror unavailable: ${error.message}`);
  throw error;
}

/** Aborts a request once no data has arrived for `ms`; `touch` on every chunk. A slow download is fine, a dead one is not. */
function stallGuard(ms: number): { signal: AbortSignal; touch(): void; stop(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no data for ${ms / 1000} s`)), ms);
  return { signal: controller.signal, touch: () => void timer.refresh(), stop: () => clearTimeout(timer) };
}

function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Retries what is transient, with exponential backoff; anything else fails at once. */
async function withRetries<T>(
  attempts: number,
  sleep: (ms: number) => Promise<void>,
  action: (attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action(attempt);
    } catch (error) {
      if (!(error instanceof TransientFailure) || attempt >= attempts) throw error;
      await sleep(200 * 2 ** (attempt - 1));
    }
  }
}

async function fetchIndex(
  indexUrl: string,
  deps: Required<Pick<ObtainIstioctlDeps, 'fetch' | 'attempts' | 'sleep' | 'stallTimeoutMs'>>,
): Promise<MirrorIndex> {
  const text = await withRetries(deps.attempts, deps.sleep, async () => {
    const guard = stallGuard(deps.stallTimeoutMs);
    try {
      let response: Response;
      try {
        response = await deps.fetch(indexUrl, {
          headers: { accept: 'application/json' },
          signal: guard.signal,
        });
      } catch (error) {
        throw new TransientFailure(`cannot reach ${indexUrl}: ${describeFetchError(error)}`);
      }
      if (isTransientStatus(response.status))
        throw new TransientFailure(`${indexUrl} answered ${response.status}`);
      if (response.status !== 200)
        throw new PreconditionError(`${indexUrl} answered ${response.status}; is this a release mirror?`);
      try {
        return await response.text();
      } catch (error) {
        throw new TransientFailure(`reading ${indexUrl} broke off: ${describeFetchError(error)}`);
      }
    } finally {
      guard.stop();
    }
  }).catch(unavailableAfterRetries);
  try {
    return parseIndex(text, indexUrl);
  } catch (error) {
    throw new PreconditionError(
      `${indexUrl} is not a valid mirror index: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** Downloads `url` into `destination`, resuming after a dropped connection; returns size and sha256. */
async function download(
  url: string,
  destination: string,
  deps: Required<Pick<ObtainIstioctlDeps, 'fetch' | 'attempts' | 'sleep' | 'stallTimeoutMs'>>,
): Promise<{ size: number; sha256: string }> {
  const file = await open(destination, 'w', 0o700);
  let hash: Hash = createHash('sha256');
  let written = 0;
  let etag: string | undefined;
  try {
    await withRetries(deps.attempts, deps.sleep, async () => {
      const headers: Record<string, string> = {};
      if (written > 0 && etag) {
        headers.range = `bytes=${written}-`;
        headers['if-range'] = etag;
      }
      const guard = stallGuard(deps.stallTimeoutMs);
      try {
        await fetchInto(url, headers, guard);
      } finally {
        guard.stop();
      }
    }).catch(unavailableAfterRetries);
    return { size: written, sha256: hash.digest('hex') };
  } finally {
    await file.close();
  }

  async function fetchInto(
    url: string,
    headers: Record<string, string>,
    guard: ReturnType<typeof stallGuard>,
  ): Promise<void> {
    let response: Response;
    try {
      response = await deps.fetch(url, { headers, signal: guard.signal });
    } catch (error) {
      throw new TransientFailure(`cannot reach ${url}: ${describeFetchError(error)}`);
    }
    if (isTransientStatus(response.status)) throw new TransientFailure(`${url} answered ${response.status}`);
    if (response.status === 206) {
      if (!response.headers.get('content-range')?.startsWith(`bytes ${written}-`))
        throw new PreconditionError(`${url} answered a range that was not asked for`);
    } else if (response.status === 200) {
      // A fresh copy (the file changed, or no resume was asked for): start over.
      hash = createHash('sha256');
      written = 0;
      await file.truncate(0);
    } else {
      throw new PreconditionError(`${url} answered ${response.status}`);
    }
    etag = response.headers.get('etag') ?? undefined;
    if (!response.body) throw new PreconditionError(`${url} answered without a body`);
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        guard.touch();
        hash.update(chunk);
        await file.write(chunk, 0, chunk.length, written);
        written += chunk.length;
      }
    } catch (error) {
      throw new TransientFailure(
        `download of ${url} broke off after ${written} bytes: ${describeFetchError(error)}`,
      );
    }
  }
}

/**
 * The path of a verified istioctl for `version`: the image's own if bundled, else a cached download whose
 * sha256 still matches the mirror's index, else a fresh download from the mirror checked against that index.
 * A missing version or a checksum mismatch is a PreconditionError (exit 3) naming the URL.
 */
export async function obtainIstioctl(
  request: ObtainIstioctlRequest,
  deps: ObtainIstioctlDeps,
): Promise<ObtainedIstioctl> {
  const { version } = request;
  if (!isIstioVersion(version))
    throw new InputError([{ path: 'version', message: `"${version}" is not an Istio version` }]);
  if (deps.bundledDir) {
    const bundled = join(deps.bundledDir, version, 'istioctl');
    if (await exists(bundled)) return { path: bundled, source: 'bundled' };
  }
  if (!request.mirrorUrl)
    throw new PreconditionError(
      `istioctl ${version} is not in this image and no release mirror is configured`,
      'enable installer.releaseMirror or set installer.releaseMirror.url',
    );
  let base: URL;
  try {
    base = new URL(request.mirrorUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new InputError([
      { path: 'installer.releaseMirror.url', message: `"${request.mirrorUrl}" is not an http(s) URL` },
    ]);
  }
  const root = base.href.replace(/\/+$/, '');
  const platform = {
    ...hostPlatform(),
    ...(request.os ? { os: request.os } : {}),
    ...(request.arch ? { arch: request.arch } : {}),
  };
  const resolved = {
    fetch: deps.fetch,
    attempts: deps.attempts ?? 3,
    stallTimeoutMs: deps.stallTimeoutMs ?? 60_000,
    sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
  };

  const indexUrl = root + INDEX_URL_PATH;
  const index = await fetchIndex(indexUrl, resolved);
  const entry = findIstioctl(index, version, platform.os, platform.arch);
  if (!entry) {
    const available = index.versions.map((v) => v.version).join(', ') || 'none';
    throw new PreconditionError(
      `istioctl ${version} for ${platform.os}-${platform.arch} is not in the release mirror at ${indexUrl}`,
      `versions there: ${available}; add it with "istio-installer mirror add --dir DIR istioctl-${version}-${platform.os}-${platform.arch}.tar.gz"`,
    );
  }

  const dir = join(deps.cacheDir, version, `${platform.os}-${platform.arch}`);
  const cached = join(dir, 'istioctl');
  if (await exists(cached)) {
    const { sha256 } = await hashFile(cached);
    if (sha256 === entry.sha256) return { path: cached, source: 'cache', sha256 };
    deps.log?.warn('cached istioctl does not match the mirror index; downloading again', { path: cached });
    await rm(cached, { force: true });
  }

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const url = root + entry.url;
  const temp = join(dir, `.istioctl.${randomBytes(6).toString('hex')}.part`);
  try {
    deps.log?.info('downloading istioctl from the release mirror', { version, url });
    const got = await download(url, temp, resolved);
    if (got.size !== entry.size || got.sha256 !== entry.sha256)
      throw new PreconditionError(
        `istioctl ${version} from ${url} failed verification: sha256 ${got.sha256} (${got.size} bytes), ` +
          `the index at ${indexUrl} says ${entry.sha256} (${entry.size} bytes)`,
        'the mirror content is corrupt or was changed; run "istio-installer mirror verify" on it',
      );
    await chmod(temp, 0o755);
    await rename(temp, cached);
    deps.log?.info('istioctl verified and cached', { version, path: cached, sha256: got.sha256 });
    return { path: cached, source: 'mirror', sha256: got.sha256 };
  } finally {
    await rm(temp, { force: true });
  }
}

/** The Istio versions whose istioctl for this platform the mirror at `mirrorUrl` holds (for stepped upgrades). */
export async function mirrorIstioctlVersions(
  mirrorUrl: string,
  platform: { os: ReleaseOs; arch: ReleaseArch },
  fetchImpl: typeof globalThis.fetch,
): Promise<string[]> {
  const index = await fetchIndex(new URL(mirrorUrl).href.replace(/\/+$/, '') + INDEX_URL_PATH, {
    fetch: fetchImpl,
    attempts: 3,
    stallTimeoutMs: 60_000,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  return index.versions
    .map((v) => v.version)
    .filter((version) => findIstioctl(index, version, platform.os, platform.arch) !== undefined);
}

/** Where Istio publishes its releases: `<base>/<version>/<file>`, with `<file>.sha256` beside each archive. */
export const ISTIO_RELEASE_URL = 'https://github.com/istio/istio/releases/download';

export interface ReleaseDownload {
  /** Base URL of the releases (`ISTIO_RELEASE_URL`, or a mirror's `/istio/istio/releases/download`). */
  baseUrl: string;
  version: string;
  file: string;
  /** Directory the archive (and its `.sha256`, when published) is written into. */
  dir: string;
}

/**
 * Downloads one release archive and, when the release publishes it, its `.sha256` (written beside it, so that
 * `mirror add` checks it again). A checksum that does not match, or an archive the release does not have, is a
 * PreconditionError (exit 3) naming the URL. `verified` says whether a published checksum was there to compare.
 */
export async function downloadRelease(
  request: ReleaseDownload,
  deps: Pick<ObtainIstioctlDeps, 'fetch' | 'attempts' | 'sleep' | 'stallTimeoutMs'>,
): Promise<{ path: string; sha256: string; verified: boolean }> {
  const resolved = {
    fetch: deps.fetch,
    attempts: deps.attempts ?? 3,
    stallTimeoutMs: deps.stallTimeoutMs ?? 60_000,
    sleep: deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
  };
  const url = `${request.baseUrl.replace(/\/+$/, '')}/${request.version}/${request.file}`;
  const path = join(request.dir, request.file);
  const got = await download(url, path, resolved).catch(async (error: unknown) => {
    await rm(path, { force: true });
    throw error;
  });
  const published = await withRetries(resolved.attempts, resolved.sleep, async () => {
    let response: Response;
    try {
      response = await resolved.fetch(`${url}.sha256`);
    } catch (error) {
      throw new TransientFailure(`cannot reach ${url}.sha256: ${describeFetchError(error)}`);
    }
    if (isTransientStatus(response.status))
      throw new TransientFailure(`${url}.sha256 answered ${response.status}`);
    return response.status === 200 ? await response.text() : undefined;
  }).catch(unavailableAfterRetries);
  if (published === undefined) return { path, sha256: got.sha256, verified: false };
  const expected = /^([0-9a-fA-F]{64})\b/.exec(published.trim())?.[1]?.toLowerCase();
  if (expected !== got.sha256) {
    await rm(path, { force: true });
    throw new PreconditionError(
      `checksum mismatch: ${url} has sha256 ${got.sha256}, ${url}.sha256 says ${expected ?? JSON.stringify(published.slice(0, 80))}`,
      'the download is corrupt or was changed on the way; run the command again, or download it from another network',
    );
  }
  await writeFile(`${path}.sha256`, `${expected}  ${request.file}\n`);
  return { path, sha256: got.sha256, verified: true };
}
