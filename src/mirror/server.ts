// The read-only HTTP(S) server of the release mirror: GitHub's download layout, the index, bare istioctl binaries.
import { createHash } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { sep } from 'node:path';
import { PreconditionError } from '../errors.js';
import { contentTypeOf, decideRange, ifRangeMatches, notModified } from './http-semantics.js';
import {
  artifactFile,
  buildIndex,
  indexFile,
  indexRecords,
  serializeIndex,
  type ArtifactRecord,
} from './mirror-index.js';
import { METRICS_CONTENT_TYPE, MirrorMetrics } from './metrics.js';
import { resolveRoute, type Route } from './routes.js';
import { ChunkPool, chunkSizeFor, ClientGone, sendFileRange } from './send-file.js';
import { parseIndex } from './store.js';

export interface ServerLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface MirrorServerOptions {
  dir: string;
  /**
   * More mirror directories served beside `dir` as one mirror (each filled by `mirror add`, each with its own index):
   * the served index is their union; a file two directories both hold comes from the first listed (`dir` first).
   */
  extraDirs?: readonly string[];
  port: number;
  host?: string;
  tls?: { cert: Buffer; key: Buffer };
  log: ServerLog;
  /** Connections beyond this are closed on accept. */
  maxConnections?: number;
  /** A connection with no traffic for this long is closed, mid-response included (a reader that stalled). */
  idleTimeoutMs?: number;
  /** The whole request head must arrive within this (slow-header clients get 408). */
  headersTimeoutMs?: number;
  maxHeaderBytes?: number;
  /** On close, in-flight responses get this long to finish before their connections are cut. */
  shutdownGraceMs?: number;
  accessLog?: boolean;
  /** How often, at most, a request checks whether index.json changed on disk. */
  indexRecheckMs?: number;
}

export interface MirrorServer {
  url: string;
  address: AddressInfo;
  metrics: MirrorMetrics;
  /** Stops accepting, lets in-flight responses finish within the grace period, then cuts the rest. */
  close(): Promise<void>;
}

/** What one URL serves: its size, validators and a way to stream any byte range of it. */
interface Representation {
  size: number;
  etag: string;
  lastModified: Date;
  contentType: string;
  headers: Record<string, string>;
  /** Writes bytes start..end (inclusive) and ends the response; resolves to the body bytes handed over. */
  send(res: ServerResponse, start: number, end: number): Promise<number>;
  /** Frees what the representation holds when no body is sent (HEAD, 304, 416). */
  release(): Promise<void>;
}

/** An index record and the mirror directory whose file it names. */
interface ServedRecord extends ArtifactRecord {
  root: string;
}

/** What the server answers from: the union of every directory's index. */
interface LoadedIndex {
  body: Buffer;
  etag: string;
  lastModified: Date;
  files: Map<string, ServedRecord>;
  binaries: Map<string, ServedRecord>;
}

/** One directory's index as last read from disk. */
interface SourceIndex {
  root: string;
  body: Buffer;
  lastModified: Date;
  records: ArtifactRecord[];
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

function quoteEtag(hex: string): string {
  return `"${hex}"`;
}

function memoryRepresentation(
  body: Buffer,
  contentType: string,
  lastModified: Date,
  headers: Record<string, string>,
  etag?: string,
): Representation {
  return {
    size: body.length,
    etag: etag ?? quoteEtag(createHash('sha256').update(body).digest('hex')),
    lastModified,
    contentType,
    headers,
    send: async (res, start, end) => {
      res.end(body.subarray(start, end + 1));
      return end - start + 1;
    },
    release: async () => {},
  };
}

/** Loads and validates index.json; a missing or broken index leaves the mirror serving nothing but health. */
async function loadIndex(dir: string, log: ServerLog): Promise<SourceIndex | undefined> {
  const file = indexFile(dir);
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    const info = await handle.stat();
    const body = await handle.readFile();
    const index = parseIndex(body.toString('utf8'), file);
    const records = indexRecords(index);
    log.info('index loaded', { file, versions: index.versions.length, files: records.length });
    return { root: dir, body, lastModified: info.mtime, records };
  } catch (error) {
    log.error('index unusable; serving no release files until it is fixed', {
      file,
      reason: (error as Error).message,
    });
    return undefined;
  } finally {
    await handle?.close();
  }
}

/**
 * The union of the directories' indexes, or nothing while any of them is unusable (a mirror missing some of its
 * files is not ready). One directory is served byte for byte as `mirror add` wrote it; several as one rebuilt
 * index. A file two directories both hold comes from the first listed; differing copies are logged.
 */
function mergeIndexes(
  sources: readonly (SourceIndex | undefined)[],
  log: ServerLog,
): LoadedIndex | undefined {
  if (sources.some((source) => source === undefined)) return undefined;
  const loaded = sources as readonly SourceIndex[];
  const files = new Map<string, ServedRecord>();
  const binaries = new Map<string, ServedRecord>();
  const kept: ArtifactRecord[] = [];
  for (const source of loaded)
    for (const record of source.records) {
      const [map, key] =
        record.kind === 'istioctl'
          ? [binaries, `${record.version}/${record.os}-${record.arch}`]
          : [files, `${record.version}/${record.name}`];
      const first = map.get(key);
      if (first) {
        if (first.sha256 !== record.sha256)
          log.warn('two mirror directories hold different copies of a file; serving the first', {
            file: record.name,
            served: first.root,
            ignored: source.root,
          });
        continue;
      }
      map.set(key, { ...record, root: source.root });
      kept.push(record);
    }
  const body = loaded.length === 1 ? loaded[0]!.body : Buffer.from(serializeIndex(buildIndex(kept)));
  return {
    body,
    etag: quoteEtag(createHash('sha256').update(body).digest('hex')),
    lastModified: new Date(Math.max(...loaded.map((source) => source.lastModified.getTime()))),
    files,
    binaries,
  };
}

async function indexStamp(dir: string): Promise<string | undefined> {
  try {
    const info = await stat(indexFile(dir));
    return `${info.mtimeMs}:${info.size}:${info.ino}`;
  } catch {
    return undefined;
  }
}

/** Starts the mirror server; resolves once it listens. */
export async function startMirrorServer(options: MirrorServerOptions): Promise<MirrorServer> {
  const log = options.log;
  const roots: string[] = [];
  for (const dir of [options.dir, ...(options.extraDirs ?? [])]) {
    try {
      const root = await realpath(dir);
      if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
      roots.push(root);
    } catch (error) {
      throw new PreconditionError(`mirror directory ${dir} is not usable: ${(error as Error).message}`);
    }
  }
  const metrics = new MirrorMetrics();
  // Downloads in flight; their number sizes the chunks every download reads into.
  let activeDownloads = 0;
  const chunks = new ChunkPool(() => chunkSizeFor(activeDownloads));
  const recheckMs = options.indexRecheckMs ?? 1000;
  // Per directory, the stamp of the index file last read, loaded or not, so a broken index is reported once, not
  // every second.
  const stamps = await Promise.all(roots.map(indexStamp));
  const sources = await Promise.all(roots.map((root) => loadIndex(root, log)));
  let index = mergeIndexes(sources, log);
  let lastCheck = Date.now();
  let reloading: Promise<void> | undefined;
  metrics.indexedFiles = index ? index.files.size + index.binaries.size : 0;

  const currentIndex = async (): Promise<LoadedIndex | undefined> => {
    if (Date.now() - lastCheck >= recheckMs) {
      reloading ??= (async () => {
        lastCheck = Date.now();
        let changed = false;
        for (const [i, root] of roots.entries()) {
          const stamp = await indexStamp(root);
          if (stamp === stamps[i]) continue;
          stamps[i] = stamp;
          sources[i] = stamp === undefined ? undefined : await loadIndex(root, log);
          changed = true;
        }
        if (changed) {
          index = mergeIndexes(sources, log);
          metrics.indexedFiles = index ? index.files.size + index.binaries.size : 0;
        }
      })().finally(() => (reloading = undefined));
      await reloading;
    }
    return index;
  };

  /** Opens an indexed file, refusing anything that is not a regular file inside the mirror directory. */
  const openArtifact = async (record: ServedRecord, remote: string): Promise<Representation | undefined> => {
    const root = record.root;
    const path = artifactFile(root, record.version, record.name);
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      log.warn('indexed file is missing; run "mirror verify"', { file: path });
      return undefined;
    }
    if (!real.startsWith(root + sep)) {
      log.warn('refused: file resolves outside the mirror directory', { file: path, target: real, remote });
      return undefined;
    }
    let handle: FileHandle;
    try {
      handle = await open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (error) {
      log.warn('cannot open indexed file', { file: path, reason: (error as Error).message });
      return undefined;
    }
    let info: Stats;
    try {
      info = await handle.stat();
    } catch (error) {
      await handle.close();
      log.warn('cannot stat indexed file', { file: path, reason: (error as Error).message });
      return undefined;
    }
    if (!info.isFile()) {
      await handle.close();
      log.warn('refused: not a regular file', { file: path, remote });
      return undefined;
    }
    if (info.size !== record.size) {
      await handle.close();
      throw new IndexMismatch(path, info.size, record.size);
    }
    const headers: Record<string, string> = { 'cache-control': IMMUTABLE };
    if (record.kind === 'istioctl') headers['content-disposition'] = 'attachment; filename="istioctl"';
    // RFC 9530: lets a client check what it got without a second request for the checksum.
    headers['repr-digest'] = `sha-256=:${Buffer.from(record.sha256, 'hex').toString('base64')}:`;
    return {
      size: info.size,
      etag: quoteEtag(record.sha256),
      lastModified: info.mtime,
      contentType: contentTypeOf(record.name),
      headers,
      send: async (res, start, end) => {
        activeDownloads++;
        try {
          const sent = await sendFileRange(handle.fd, res, start, end, chunks);
          res.end();
          return sent;
        } finally {
          activeDownloads--;
          await handle.close();
        }
      },
      release: () => handle.close(),
    };
  };

  const representationFor = async (route: Route, remote: string): Promise<Representation | undefined> => {
    const loaded = await currentIndex();
    switch (route.route) {
      case 'healthz':
        return memoryRepresentation(
          Buffer.from(loaded ? 'ok\n' : 'no usable index\n'),
          'text/plain; charset=utf-8',
          new Date(),
          {
            'cache-control': 'no-store',
          },
        );
      case 'metrics':
        return memoryRepresentation(Buffer.from(metrics.render()), METRICS_CONTENT_TYPE, new Date(), {
          'cache-control': 'no-store',
        });
      case 'index':
        if (!loaded) return undefined;
        return memoryRepresentation(
          loaded.body,
          'application/json',
          loaded.lastModified,
          { 'cache-control': 'no-cache' },
          loaded.etag,
        );
      case 'checksum': {
        const record = loaded?.files.get(`${route.version}/${route.file}`);
        if (!record) return undefined;
        return memoryRepresentation(
          Buffer.from(`${record.sha256}  ${record.name}\n`),
          contentTypeOf('x.sha256'),
          loaded!.lastModified,
          {
            'cache-control': IMMUTABLE,
          },
        );
      }
      case 'release': {
        const record = loaded?.files.get(`${route.version}/${route.file}`);
        return record ? openArtifact(record, remote) : undefined;
      }
      case 'istioctl': {
        const record = loaded?.binaries.get(`${route.version}/${route.platform}`);
        return record ? openArtifact(record, remote) : undefined;
      }
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const remote = `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`;
    const target = req.url ?? '';
    let routeLabel = 'other';
    const finish = (status: number, extra: Record<string, string> = {}, text = ''): void => {
      const body = Buffer.from(text);
      res.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(body.length),
        ...extra,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      metrics.request(routeLabel, status);
    };
    if (options.accessLog)
      res.once('finish', () =>
        log.info('request', {
          method: req.method,
          path: target,
          status: res.statusCode,
          ms: Date.now() - started,
          remote,
        }),
      );
    res.setHeader('x-content-type-options', 'nosniff');

    const resolution = resolveRoute(target);
    if (!resolution.ok) {
      if (resolution.status === 400) metrics.refusePath();
      log.warn(resolution.status === 400 ? 'refused path' : 'not found', {
        path: JSON.stringify(target).slice(1, -1).slice(0, 300),
        reason: resolution.reason,
        remote,
      });
      return finish(resolution.status, {}, resolution.status === 400 ? 'bad request\n' : 'not found\n');
    }
    const route = resolution.value;
    routeLabel = route.route === 'checksum' ? 'release' : route.route;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return finish(405, { allow: 'GET, HEAD', connection: 'close' }, 'method not allowed\n');

    let representation: Representation | undefined;
    try {
      representation = await representationFor(route, remote);
    } catch (error) {
      metrics.error(routeLabel);
      log.error('file on disk differs from the index; run "mirror verify"', {
        path: target,
        reason: (error as Error).message,
      });
      return finish(500, {}, 'internal error\n');
    }
    if (!representation) {
      log.warn('not found', { path: target, remote });
      return finish(404, {}, 'not found\n');
    }
    if (route.route === 'healthz' && !index) {
      await representation.release();
      return finish(503, { 'cache-control': 'no-store' }, 'no usable index\n');
    }

    const validators = { etag: representation.etag, lastModified: representation.lastModified };
    const common: Record<string, string> = {
      ...representation.headers,
      etag: representation.etag,
      'last-modified': representation.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
    };
    const conditional = {
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: req.headers['if-modified-since'],
    };
    if (notModified(conditional, validators)) {
      await representation.release();
      res.writeHead(304, common);
      res.end();
      metrics.request(routeLabel, 304);
      return;
    }
    const size = representation.size;
    const ifRange = req.headers['if-range'] as string | undefined;
    const decision = ifRangeMatches(ifRange, validators)
      ? decideRange(req.headers.range, size)
      : { kind: 'full' as const };
    if (decision.kind === 'unsatisfiable') {
      await representation.release();
      return finish(416, { 'content-range': `bytes */${size}`, ...common }, 'range not satisfiable\n');
    }
    const [status, start, end] =
      decision.kind === 'partial' ? [206, decision.start, decision.end] : [200, 0, size - 1];
    const headers: Record<string, string> = {
      ...common,
      'content-type': representation.contentType,
      'content-length': String(end - start + 1),
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    metrics.request(routeLabel, status);
    if (req.method === 'HEAD' || size === 0) {
      await representation.release();
      res.end();
      return;
    }
    let sent = 0;
    try {
      sent = await representation.send(res, start, end);
    } catch (error) {
      if (error instanceof ClientGone) {
        sent = error.sent;
        metrics.abort(routeLabel);
      } else {
        metrics.error(routeLabel);
        log.error('failed to send body', { path: target, reason: (error as Error).message });
      }
      res.destroy();
    } finally {
      metrics.sent(routeLabel, sent);
    }
  };

  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const serverOptions = {
    maxHeaderSize: options.maxHeaderBytes ?? 8 * 1024,
    headersTimeout,
    // Requests have no body, so the whole request is its head; the slack covers the checking interval.
    requestTimeout: headersTimeout + 1_000,
    keepAliveTimeout: 5_000,
    // Node checks header and request timeouts on this interval; the default (30 s) would make them coarse.
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 4))),
  };
  const server: Server = options.tls
    ? createHttpsServer({
        ...serverOptions,
        cert: options.tls.cert,
        key: options.tls.key,
        minVersion: 'TLSv1.2',
      })
    : createHttpServer(serverOptions);
  server.maxConnections = options.maxConnections ?? 512;
  server.setTimeout(options.idleTimeoutMs ?? 60_000);
  let inFlight = 0;
  let drained: (() => void) | undefined;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    handle(req, res).catch((error: unknown) => {
      metrics.error('other');
      log.error('request failed', { reason: (error as Error).message });
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  const sockets = new Set<Socket>();
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    metrics.openConnections = sockets.size;
    socket.once('close', () => {
      sockets.delete(socket);
      metrics.openConnections = sockets.size;
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE')
      log.warn('bad request', { reason: error.code ?? error.message, remote: socket.remoteAddress });
    if (!socket.writable) return socket.destroy();
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  log.info('mirror serving', { dirs: roots, url, tls: Boolean(options.tls) });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      const drainedOrTimeout = new Promise<void>((done) => {
        if (inFlight === 0) return done();
        drained = done;
        setTimeout(done, options.shutdownGraceMs ?? 10_000).unref();
      });
      void drainedOrTimeout.then(async () => {
        // Connections still open now are cut: responses that did not finish within the grace, idle keep-alives.
        const cut = sockets.size;
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await closed;
        log.info('mirror stopped', { cut });
        resolve();
      });
    }));
  return { url, address, metrics, close };
}

class IndexMismatch extends Error {
  constructor(path: string, actual: number, indexed: number) {
    super(`${path} has ${actual} bytes, the index says ${indexed}`);
  }
}
