// A minimal authenticated REST client for the rig's own apiserver calls (JSON in, JSON out, errors keep the status).
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface KubeCredentials {
  server: string;
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
}

export class KubeHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 500)}`);
    this.name = 'KubeHttpError';
  }
}

export type Json = Record<string, unknown>;

export class KubeHttp {
  private readonly tls: { ca: Buffer; cert?: Buffer; key?: Buffer };

  constructor(private readonly creds: KubeCredentials) {
    this.tls = {
      ca: readFileSync(creds.ca),
      ...(creds.cert ? { cert: readFileSync(creds.cert) } : {}),
      ...(creds.key ? { key: readFileSync(creds.key) } : {}),
    };
  }

  /** Sends one request; resolves with the parsed JSON body (or the raw text), rejects with KubeHttpError. */
  call<T = Json>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = new URL(path, this.creds.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ...this.tls,
          timeout: 30_000,
          headers: {
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}),
            ...(this.creds.token ? { Authorization: `Bearer ${this.creds.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              reject(new KubeHttpError(method, path, status, text));
              return;
            }
            try {
              resolve(JSON.parse(text) as T);
            } catch {
              resolve(text as T);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  get<T = Json>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T = Json>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  mergePatch<T = Json>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  delete<T = Json>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  /**
   * Watches a list URL (`?watch=1&resourceVersion=…`): `onEvent` gets every event in the order the apiserver sent
   * them, which is the order the writes were stored in. `stop()` ends the watch; `ended` rejects if the apiserver
   * answered with an error or the connection failed.
   */
  watch<T = Json>(
    path: string,
    onEvent: (event: { type: string; object: T }) => void,
  ): { stop(): void; ended: Promise<void> } {
    const url = new URL(path, this.creds.server);
    let stopped = false;
    let stop = () => undefined as void;
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'GET',
          ...this.tls,
          headers: {
            Accept: 'application/json',
            ...(this.creds.token ? { Authorization: `Bearer ${this.creds.token}` } : {}),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          let pending = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            pending += chunk;
            for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
              const line = pending.slice(0, end).trim();
              pending = pending.slice(end + 1);
              if (line !== '' && status >= 200 && status < 300)
                onEvent(JSON.parse(line) as { type: string; object: T });
            }
          });
          res.on('end', () =>
            status >= 200 && status < 300
              ? resolve()
              : reject(new KubeHttpError('GET', path, status, pending)),
          );
          res.on('error', (error) => (stopped ? resolve() : reject(error)));
          res.on('close', () => stopped && resolve());
        },
      );
      req.on('error', (error) => (stopped ? resolve() : reject(error)));
      req.end();
      stop = () => {
        stopped = true;
        req.destroy();
      };
    });
    return { stop: () => stop(), ended };
  }
}
