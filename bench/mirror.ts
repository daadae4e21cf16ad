// Benchmarks the release mirror against Debian's nginx serving the same directory on loopback, side by side.
// Usage: npm run build && npm run bench:mirror [-- --duration 3 --size 256 --nginx-workers auto]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import {
  chmodSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { imageMemoryEnv } from './image-env.js';

const NGINX = '/usr/sbin/nginx';
const VERSION = '1.99.0';
const FILE = `istio-${VERSION}-linux-amd64.tar.gz`;
const FILE_PATH = `/istio/istio/releases/download/${VERSION}/${FILE}`;
const CONCURRENCY = [1, 16, 64];
const ROUNDS = 3;
const INDEX_CLIENTS = 16;

interface Options {
  durationMs: number;
  sizeMb: number;
  /** nginx worker processes: Debian's default is `auto` (one per core). */
  nginxWorkers: string;
}

function parseOptions(argv: string[]): Options {
  const value = (flag: string, fallback: number): number => {
    const at = argv.indexOf(flag);
    const parsed = at === -1 ? fallback : Number(argv[at + 1]);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${flag} must be a positive number`);
    return parsed;
  };
  const workersAt = argv.indexOf('--nginx-workers');
  const nginxWorkers = workersAt === -1 ? 'auto' : (argv[workersAt + 1] ?? '');
  if (!/^(auto|[1-9]\d*)$/.test(nginxWorkers)) throw new Error('--nginx-workers must be auto or a count');
  return { durationMs: value('--duration', 3) * 1000, sizeMb: value('--size', 256), nginxWorkers };
}

/** Installs nginx-light with apt-get when it is missing and we may; otherwise says how. */
function ensureNginx(): void {
  if (existsSync(NGINX)) return;
  if (process.getuid?.() !== 0)
    throw new Error(`nginx is not installed: run "sudo apt-get install -y nginx-light" first`);
  console.error('installing nginx-light with apt-get ...');
  const result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-light'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0 || !existsSync(NGINX)) throw new Error('apt-get install nginx-light failed');
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

/** A release-shaped tarball of `sizeMb` incompressible bytes, stored (gzip level 0) so its size is what we ask for. */
async function makeReleaseArchive(work: string, sizeMb: number): Promise<string> {
  const top = join(work, 'src', `istio-${VERSION}`);
  mkdirSync(join(top, 'bin'), { recursive: true });
  writeFileSync(join(top, 'bin', 'istioctl'), '#!/bin/sh\necho bench\n', { mode: 0o755 });
  const payload = createWriteStream(join(top, 'payload.bin'));
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < sizeMb; i++) {
    randomFillSync(chunk);
    if (!payload.write(chunk)) await new Promise<void>((r) => payload.once('drain', () => r()));
  }
  await new Promise<void>((r) => payload.end(() => r()));
  const archive = join(work, FILE);
  const tar = spawn('tar', ['-cf', '-', '-C', join(work, 'src'), `istio-${VERSION}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await pipeline(tar.stdout, createGzip({ level: 0 }), createWriteStream(archive));
  rmSync(join(work, 'src'), { recursive: true });
  return archive;
}

function nginxConfig(work: string, mirror: string, port: number, workers: string): string {
  const temp = (name: string) => join(work, 'nginx', name);
  return `
worker_processes ${workers};
daemon off;
pid ${temp('nginx.pid')};
error_log ${temp('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  types { application/gzip gz; application/json json; }
  server {
    listen 127.0.0.1:${port};
    location /istio/istio/releases/download/ { alias ${mirror}/releases/; }
    location = /releases/index.json { root ${mirror}; }
  }
}
`;
}

async function waitForHttp(port: number, path: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((done) => {
      const req = request({ host: '127.0.0.1', port, path, method: 'HEAD', agent: false }, (res) => {
        res.resume();
        done(res.statusCode === 200);
      });
      req.on('error', () => done(false));
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answered on port ${port}`);
}

/** Resident set size in bytes of a process and its children (nginx's master plus worker). */
function rssOf(pid: number): number {
  const pids = processTree(pid);
  return pids.reduce((sum, p) => {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      return sum + Number(kb ?? 0) * 1024;
    } catch {
      return sum;
    }
  }, 0);
}

/** The processes of a server: itself and its children (nginx's master and workers). */
function processTree(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    return [pid, ...children.filter(Boolean).map(Number)];
  } catch {
    return [pid];
  }
}

/**
 * CPU time in milliseconds (user + system, all threads) a server's processes have used so far. Other load on the
 * machine slows a server but hardly changes how much CPU it spends per byte, so this figure is steadier than
 * throughput on a shared machine. Assumes the kernel's usual 100 ticks per second.
 */
function cpuMsOf(pids: number[]): number {
  return pids.reduce((sum, p) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return sum + (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return sum;
    }
  }, 0);
}

/** Clients each downloading `path` over and over until the time is up; bytes received per second. */
async function throughput(port: number, path: string, clients: number, durationMs: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const deadline = Date.now() + durationMs;
  const started = Date.now();
  let bytes = 0;
  const client = async (): Promise<void> => {
    while (Date.now() < deadline) {
      await new Promise<void>((done, fail) => {
        const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
          const stop = setTimeout(() => req.destroy(), Math.max(0, deadline - Date.now()));
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.on('end', () => (clearTimeout(stop), done()));
          res.on('close', () => (clearTimeout(stop), done()));
        });
        req.on('error', (error) => (Date.now() >= deadline ? done() : fail(error)));
        req.end();
      });
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  agent.destroy();
  return bytes / ((Date.now() - started) / 1000);
}

/** Keep-alive clients asking for index.json in a loop; responses per second. */
async function requestRate(port: number, clients: number, durationMs: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const deadline = Date.now() + durationMs;
  const started = Date.now();
  let count = 0;
  const client = async (): Promise<void> => {
    while (Date.now() < deadline) {
      await new Promise<void>((done, fail) => {
        const req = request({ host: '127.0.0.1', port, path: '/releases/index.json', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) count++;
            done();
          });
        });
        req.on('error', fail);
        req.end();
      });
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  agent.destroy();
  return count / ((Date.now() - started) / 1000);
}

async function sha256Of(port: number, path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.on('end', () => done(hash.digest('hex')));
    });
    req.on('error', fail);
    req.end();
  });
}

interface Target {
  name: string;
  port: number;
  process: ChildProcess;
  peakRss64: number;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mb = (bytes: number): string => (bytes / 1024 ** 2).toFixed(0);

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const cli = resolve('bin/istio-installer.js');
  if (!existsSync(resolve('dist/bundle/entry.mjs'))) throw new Error('run "npm run build" first');
  ensureNginx();
  const memoryEnv = imageMemoryEnv();
  const memorySettings = Object.entries(memoryEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

  const work = mkdtempSync(join(tmpdir(), 'bench-mirror-'));
  // nginx's worker runs as nobody and must read the files.
  chmodSync(work, 0o755);
  const children: ChildProcess[] = [];
  try {
    console.error(`preparing a ${options.sizeMb} MB release archive ...`);
    const archive = await makeReleaseArchive(work, options.sizeMb);
    const mirror = join(work, 'mirror');
    const added = spawnSync(process.execPath, [cli, 'mirror', 'add', '--dir', mirror, archive], {
      encoding: 'utf8',
    });
    if (added.status !== 0) throw new Error(`mirror add failed: ${added.stderr}`);
    rmSync(archive);
    spawnSync('chmod', ['-R', 'a+rX', mirror]);
    const expected = (
      JSON.parse(readFileSync(join(mirror, 'releases', 'index.json'), 'utf8')) as {
        versions: { files: { name: string; sha256: string }[] }[];
      }
    ).versions[0]!.files.find((f) => f.name === FILE)!.sha256;

    const ours = await freePort();
    const theirs = await freePort();
    const mirrorProcess = spawn(
      process.execPath,
      [cli, 'mirror', 'serve', '--dir', mirror, '--host', '127.0.0.1', '--port', String(ours)],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...memoryEnv } },
    );
    mkdirSync(join(work, 'nginx'));
    writeFileSync(join(work, 'nginx', 'nginx.conf'), nginxConfig(work, mirror, theirs, options.nginxWorkers));
    const nginxProcess = spawn(
      NGINX,
      ['-c', join(work, 'nginx', 'nginx.conf'), '-e', join(work, 'nginx', 'error.log')],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    children.push(mirrorProcess, nginxProcess);
    await waitForHttp(ours, FILE_PATH);
    await waitForHttp(theirs, FILE_PATH);
    const targets: Target[] = [
      { name: 'nginx', port: theirs, process: nginxProcess, peakRss64: 0 },
      { name: 'istio-installer', port: ours, process: mirrorProcess, peakRss64: 0 },
    ];
    for (const target of targets) {
      const got = await sha256Of(target.port, FILE_PATH);
      if (got !== expected) throw new Error(`${target.name} served different bytes (sha256 ${got})`);
    }

    const rows: [string, string, string, string][] = [];
    const seconds = options.durationMs / 1000;
    console.error(`measuring: ${seconds} s per run, ${ROUNDS} rounds, servers alternating ...`);
    const cpuPerGb = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (const clients of CONCURRENCY) {
      const results = new Map<string, number[]>(targets.map((t) => [t.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          let sampler: NodeJS.Timeout | undefined;
          if (clients === 64)
            sampler = setInterval(
              () => (target.peakRss64 = Math.max(target.peakRss64, rssOf(target.process.pid!))),
              100,
            );
          const pids = processTree(target.process.pid!);
          const cpuBefore = cpuMsOf(pids);
          const started = Date.now();
          const rate = await throughput(target.port, FILE_PATH, clients, options.durationMs);
          results.get(target.name)!.push(rate);
          if (clients === 16) {
            const gigabytes = (rate * ((Date.now() - started) / 1000)) / 1024 ** 3;
            cpuPerGb.get(target.name)!.push((cpuMsOf(pids) - cpuBefore) / gigabytes);
          }
          if (sampler) clearInterval(sampler);
        }
      }
      const [n, o] = targets.map((t) => median(results.get(t.name)!));
      rows.push([
        `${options.sizeMb} MB file, ${clients} client${clients > 1 ? 's' : ''} (MB/s)`,
        mb(n!),
        mb(o!),
        `${(o! / n!).toFixed(2)}x`,
      ]);
    }
    const [cn, co] = targets.map((t) => median(cpuPerGb.get(t.name)!));
    rows.push([
      `server CPU per GB served, 16 clients (ms)`,
      cn!.toFixed(0),
      co!.toFixed(0),
      `${(co! / cn!).toFixed(2)}x`,
    ]);
    const rates = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++)
      for (const target of round % 2 === 0 ? targets : [...targets].reverse())
        rates.get(target.name)!.push(await requestRate(target.port, INDEX_CLIENTS, options.durationMs));
    const [rn, ro] = targets.map((t) => median(rates.get(t.name)!));
    rows.push([
      `index.json, ${INDEX_CLIENTS} keep-alive clients (req/s)`,
      rn!.toFixed(0),
      ro!.toFixed(0),
      `${(ro! / rn!).toFixed(2)}x`,
    ]);
    rows.push(['peak RSS during 64 clients (MB)', mb(targets[0]!.peakRss64), mb(targets[1]!.peakRss64), '']);

    const widths = [0, 1, 2, 3].map((i) =>
      Math.max(...[['', 'nginx', 'istio-installer', 'ratio'], ...rows].map((r) => r[i]!.length)),
    );
    const line = (r: string[]) =>
      r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
    const nginxVersion = spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim();
    console.log(
      `node ${process.version} (${memorySettings}, as in the image), ${nginxVersion} (worker_processes ${options.nginxWorkers}, sendfile on), ` +
        `loopback, ${seconds} s per run, median of ${ROUNDS}`,
    );
    console.log(line(['', 'nginx', 'istio-installer', 'ratio']));
    for (const row of rows) console.log(line(row));
    const worst = Math.min(...rows.slice(0, CONCURRENCY.length).map((r) => Number(r[3].slice(0, -1))));
    console.log(
      `goals: >= 0.90x nginx throughput: ${worst >= 0.9 ? 'met' : 'missed'} (worst ${worst.toFixed(2)}x); ` +
        `RSS < 100 MB at 64 clients: ${targets[1]!.peakRss64 < 100 * 1024 ** 2 ? 'met' : 'missed'}`,
    );
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))),
    );
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:mirror: ${(error as Error).message}`);
  process.exitCode = 1;
});
