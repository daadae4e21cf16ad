// `istio-installer mirror serve|add|verify|istioctl`: the air-gapped release mirror and its client.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError, PreconditionError } from '../errors.js';
import { defaultCacheDir, obtainIstioctl } from '../mirror/client.js';
import { startMirrorServer } from '../mirror/server.js';
import { addToMirror, verifyMirror } from '../mirror/store.js';
import type { Logger } from '../log.js';
import { createLogger } from './io.js';
import { collect, type CommandContext } from './main.js';

function integerOption(option: string, value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max)
    throw new InputError([
      { path: option, message: `must be an integer from ${min} to ${max}, got "${value}"` },
    ]);
  return parsed;
}

async function readPem(option: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new InputError([
      {
        file,
        path: option,
        message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      },
    ]);
  }
}

/** Resolves when the process is asked to stop (SIGTERM from the kubelet, SIGINT from a terminal). */
function untilStopSignal(): Promise<string> {
  return new Promise((done) => {
    const stop = (signal: string): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      done(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

interface ServeOptions {
  dir: string[];
  port: string;
  host: string;
  tlsCert?: string;
  tlsKey?: string;
  maxConnections: string;
  idleTimeout: string;
  shutdownGrace: string;
  accessLog?: boolean;
}

/** What every mirror subcommand uses: the context, a logger on stderr, paths resolved against the working directory. */
interface MirrorCommand {
  context: CommandContext;
  logger: () => Logger;
  inCwd: (path: string) => string;
}

export function registerMirror(program: Command, context: CommandContext): void {
  const mirror = program
    .command('mirror')
    .description(
      'Serve, fill and check the release mirror that air-gapped upgrades and rollbacks download istioctl from.',
    );
  const shared: MirrorCommand = {
    context,
    logger: () => createLogger(context.io.stderr, context.logFormat()),
    inCwd: (path) => resolve(context.io.cwd, path),
  };
  registerServe(mirror, shared);
  registerAdd(mirror, shared);
  registerVerify(mirror, shared);
  registerIstioctl(mirror, shared);
}

function registerServe(mirror: Command, shared: MirrorCommand): void {
  mirror
    .command('serve')
    .description('Serve the mirror read-only over HTTP(S) until SIGTERM or SIGINT.')
    .requiredOption(
      '--dir <dir>',
      'mirror directory (as filled by "mirror add"); repeatable: several serve as one mirror, the first listed winning a file they share',
      collect,
      [],
    )
    .option('--port <port>', 'port to listen on', '8080')
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('--tls-cert <file>', 'PEM certificate chain; serves HTTPS together with --tls-key')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--max-connections <n>', 'connections beyond this are closed on accept', '512')
    .option('--idle-timeout <seconds>', 'close connections without traffic for this long', '60')
    .option('--shutdown-grace <seconds>', 'time in-flight downloads get to finish on SIGTERM', '20')
    .option('--access-log', 'log every request')
    .action((options: ServeOptions) => serve(options, shared));
}

/** The TLS key pair, when both halves are given; one without the other is an input error. */
async function tlsOf(options: ServeOptions, inCwd: (path: string) => string) {
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey))
    throw new InputError([
      {
        path: options.tlsCert ? '--tls-key' : '--tls-cert',
        message: 'required together with the other TLS option',
      },
    ]);
  return options.tlsCert && options.tlsKey
    ? {
        cert: await readPem('--tls-cert', inCwd(options.tlsCert)),
        key: await readPem('--tls-key', inCwd(options.tlsKey)),
      }
    : undefined;
}

/** Serves until a stop signal; a port in use or not allowed is a refusal (exit 3), not a stack trace. */
async function serve(options: ServeOptions, { logger, inCwd }: MirrorCommand): Promise<void> {
  if (options.dir.length === 0)
    throw new InputError([{ path: '--dir', message: 'required: the mirror directory to serve' }]);
  const tls = await tlsOf(options, inCwd);
  const log = logger();
  const stop = untilStopSignal();
  let server;
  try {
    server = await startMirrorServer({
      dir: inCwd(options.dir[0]!),
      extraDirs: options.dir.slice(1).map(inCwd),
      port: integerOption('--port', options.port, 0, 65535),
      host: options.host,
      tls,
      log,
      maxConnections: integerOption('--max-connections', options.maxConnections, 1, 1_000_000),
      idleTimeoutMs: integerOption('--idle-timeout', options.idleTimeout, 1, 86_400) * 1000,
      shutdownGraceMs: integerOption('--shutdown-grace', options.shutdownGrace, 0, 3_600) * 1000,
      accessLog: Boolean(options.accessLog),
    });
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ||
      (error as NodeJS.ErrnoException).code === 'EACCES'
    )
      throw new PreconditionError(
        `cannot listen on ${options.host}:${options.port}: ${(error as NodeJS.ErrnoException).code}`,
      );
    throw error;
  }
  const signal = await stop;
  log.info('shutting down', { signal });
  await server.close();
}

function registerAdd(mirror: Command, { context, logger, inCwd }: MirrorCommand): void {
  mirror
    .command('add')
    .description('Copy Istio release archives into the mirror, extract their istioctl and rewrite the index.')
    .requiredOption('--dir <dir>', 'mirror directory (created if missing)')
    .argument(
      '<files...>',
      'release files, e.g. istio-1.30.3-linux-arm64.tar.gz istioctl-1.30.3-linux-amd64.tar.gz',
    )
    .action(async (files: string[], options: { dir: string }) => {
      const added = await addToMirror(inCwd(options.dir), files.map(inCwd), logger());
      for (const record of added)
        context.io.stdout.write(`${record.sha256}  ${record.version}/${record.name}\n`);
    });
}

function registerVerify(mirror: Command, { context, logger, inCwd }: MirrorCommand): void {
  mirror
    .command('verify')
    .description('Check every mirrored file against the size and sha256 in the index.')
    .requiredOption('--dir <dir>', 'mirror directory')
    .action(async (options: { dir: string }) => {
      const { checked, problems } = await verifyMirror(inCwd(options.dir));
      for (const problem of problems) context.io.stdout.write(`${problem.file}: ${problem.problem}\n`);
      if (problems.length > 0)
        throw new PreconditionError(
          `${problems.length} problem(s) in ${options.dir} (${checked} indexed files checked)`,
        );
      logger().info('mirror verified', { dir: options.dir, files: checked });
    });
}

function registerIstioctl(mirror: Command, { context, logger, inCwd }: MirrorCommand): void {
  mirror
    .command('istioctl')
    .description(
      'Print the path of a verified istioctl for a version, downloading it from a mirror if needed.',
    )
    .requiredOption('--url <url>', 'mirror base URL, e.g. http://rancher-istio-mirror.istio-system.svc:8080')
    .requiredOption('--istio-version <version>', 'Istio version, e.g. 1.30.3')
    .option('--cache-dir <dir>', 'download cache (default: $TMPDIR/istio-installer/istioctl)')
    .action(async (options: { url: string; istioVersion: string; cacheDir?: string }) => {
      const env = context.io.env;
      const obtained = await obtainIstioctl(
        { version: options.istioVersion, mirrorUrl: options.url },
        {
          fetch: globalThis.fetch,
          cacheDir: options.cacheDir ? inCwd(options.cacheDir) : defaultCacheDir(env),
          bundledDir: env.ISTIOCTL_DIR,
          log: logger(),
        },
      );
      context.io.stdout.write(`${obtained.path}\n`);
    });
}
