// Runs the built istio-installer CLI as a real process against a rig cluster, with the rig's istioctl builds.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Cluster } from '../cluster/rig.js';
import { imageIstioctlDir } from '../cluster/image.js';

export const BIN = path.resolve('bin/istio-installer.js');

export interface CliResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** The environment the image gives the installer: every bundled istioctl under ISTIOCTL_DIR. */
export function installerEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: mkdtempSync(path.join(tmpdir(), 'e2e-home-')),
    ISTIOCTL_DIR: imageIstioctlDir(),
    ISTIO_INSTALLER_LOCK_SECONDS: '8',
    ...extra,
  };
}

export function startCli(
  args: string[],
  kubeconfig: string,
  env: Record<string, string> = {},
): ResultPromise<{ reject: false }> {
  return execa(process.execPath, [BIN, ...args, '--kubeconfig', kubeconfig], {
    reject: false,
    env: installerEnv(env),
    extendEnv: false,
    detached: true,
  }) as ResultPromise<{ reject: false }>;
}

export async function cli(
  args: string[],
  kubeconfig: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const result = await startCli(args, kubeconfig, env);
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Writes a values file for one test step. */
export function valuesFile(dir: string, name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** Resolves once `text` appears on the child's stderr. */
export function whenStderrHas(child: ResultPromise<{ reject: false }>, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) resolve();
    });
    void child.then(() => reject(new Error(`exited before printing "${text}": ${seen.slice(-2000)}`)));
  });
}

/**
 * A TCP relay in front of the API server: the installer's kubeconfig points at it, and the test stops it to
 * make the API server disappear mid-run (the rig cannot stop its apiserver alone).
 */
export class ApiRelay {
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  static async create(cluster: Cluster): Promise<ApiRelay> {
    const url = new URL(cluster.server);
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const relay = new ApiRelay({ host: url.hostname, port: Number(url.port) }, port);
    await relay.start();
    return relay;
  }

  start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    return new Promise((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A copy of the cluster's kubeconfig whose server is this relay. */
  kubeconfig(cluster: Cluster, dir: string): string {
    const file = path.join(dir, 'relay-kubeconfig');
    const original = new URL(cluster.server);
    const text = readFileSync(cluster.kubeconfigPath, 'utf8').replace(
      cluster.server,
      `https://${original.hostname}:${this.port}`,
    );
    writeFileSync(file, text);
    return file;
  }
}
