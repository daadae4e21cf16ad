// Istio's release downloads on loopback: `<url>/<version>/<file>` served from a directory of real tarballs with their
// .sha256, as GitHub serves them, recording every request.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeTarball } from './helpers.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Writes `<root>/<version>/istioctl-<version>-linux-amd64.tar.gz` and its `.sha256` for each version. */
export function makeReleases(root: string, versions: readonly string[]): void {
  for (const version of versions) {
    const dir = join(root, version);
    mkdirSync(dir, { recursive: true });
    const archive = makeTarball(dir, 'istioctl', version, 'amd64');
    writeFileSync(
      `${archive}.sha256`,
      `${sha256(readFileSync(archive))}  istioctl-${version}-linux-amd64.tar.gz\n`,
    );
  }
}

export interface ReleaseServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/** Serves `<root>/<version>/<file>`; anything else is 404. */
export function startReleaseServer(root: string): Promise<ReleaseServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const parts = (req.url ?? '').split('/').filter(Boolean);
    const file = parts.length === 2 ? join(root, parts[0]!, parts[1]!) : '';
    if (!file || parts.some((p) => p.startsWith('.')) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-length': String(body.length), etag: `"${sha256(body)}"` }).end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  );
}
