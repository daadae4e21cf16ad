// The rig's own network namespace: every rig process and pod runs where only loopback exists, so no address the
// rig hands out or dials (Services, pods, cluster DNS) can leave this machine, whatever the machine's routes are.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { holdNetworkNamespace, type NamespaceHolder } from './netns-holder.js';
import { POD_DEVICE_PREFIX } from './pod-network.js';

const RELAY = join(dirname(fileURLToPath(import.meta.url)), 'netns-relay.mjs');

/** One route as the kernel lists it in /proc/PID/net/route (IPv4, main table) or ipv6_route. */
export interface Route {
  family: 'ipv4' | 'ipv6';
  destination: string;
  device: string;
}

/** Parses /proc/net/route: a header line, then tab-separated fields whose first is the interface. */
export function parseIpv4Routes(text: string): Route[] {
  return text
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [device = '', hexDestination = '', , , , , , hexMask = ''] = line.trim().split(/\s+/);
      return { family: 'ipv4', destination: `${hexIpv4(hexDestination)}/${maskBits(hexMask)}`, device };
    });
}

/** Parses /proc/net/ipv6_route: space-separated, destination first and the interface last. */
export function parseIpv6Routes(text: string): Route[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      const hex = fields[0] ?? '';
      const groups = (hex.match(/.{4}/g) ?? []).map((g) => parseInt(g, 16).toString(16));
      return {
        family: 'ipv6',
        destination: `${groups.join(':')}/${parseInt(fields[1] ?? '0', 16)}`,
        device: fields[fields.length - 1] ?? '',
      };
    });
}

// /proc/net/route stores addresses as little-endian hex words.
const hexIpv4 = (hex: string): string =>
  [0, 2, 4, 6]
    .map((i) => parseInt(hex.slice(i, i + 2) || '0', 16))
    .reverse()
    .join('.');
const maskBits = (hex: string): number =>
  parseInt(hex || '0', 16)
    .toString(2)
    .split('')
    .filter((b) => b === '1').length;

/**
 * Routes through which a packet could leave this machine: any route on a device other than loopback or one the
 * rig created itself (a real pod's veth, which leads only into that pod's namespace). Blackhole and unreachable
 * routes have no device (`*`) or use `lo`, so they count as local.
 */
export function routesOffMachine(routes: Route[]): Route[] {
  const local = (device: string) => device === 'lo' || device === '*' || device.startsWith(POD_DEVICE_PREFIX);
  return routes.filter((r) => !local(r.device));
}

/** Every route of the network namespace that process `pid` is in (`self` for this process). */
export function readRoutes(pid: number | 'self'): Route[] {
  const read = (file: string) => {
    try {
      return readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      return ''; // No IPv6 in this kernel or namespace.
    }
  };
  return [...parseIpv4Routes(read('route')), ...parseIpv6Routes(read('ipv6_route'))];
}

export const describeRoutes = (routes: Route[]): string =>
  routes.map((r) => `${r.destination} dev ${r.device}`).join(', ');

export interface RigNetwork {
  /** argv prefix that runs a command inside the namespace. */
  enter: string[];
  /** The process that holds the namespace open for the rig's lifetime, and its namespace file. */
  holderPid: number;
  nsPath: string;
  /** The namespace's routes, for guards and tests. */
  routes(): Route[];
  /**
   * Makes 127.0.0.1:port inside the namespace reachable at 127.0.0.1:port on this side (the apiserver): this
   * process listens here and hands each connection over a Unix socket (which no namespace confines) to a relay
   * process that `runInside` starts in the namespace.
   */
  expose(port: number, runInside: (name: string, argv: string[]) => ChildProcess): Promise<void>;
  /** Closes the relay and ends the holder; the namespace goes when the last process in it exits. */
  stop(): Promise<void>;
}

export class RigNetworkError extends Error {
  constructor(message: string) {
    super(`rig network: ${message}`);
    this.name = 'RigNetworkError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Creates the namespace (loopback only, no route anywhere else) and checks it. `lifetimeSeconds` bounds the
 * holder like every rig component, so a rig killed with SIGKILL leaves no namespace behind once it runs out.
 */
export async function startRigNetwork(opts: { lifetimeSeconds: number; dir: string }): Promise<RigNetwork> {
  if (process.getuid?.() !== 0) throw new RigNetworkError('needs root (unshare --net and nsenter)');
  let holder: NamespaceHolder;
  try {
    holder = await holdNetworkNamespace(opts.lifetimeSeconds);
  } catch (err) {
    throw new RigNetworkError(err instanceof Error ? err.message : String(err));
  }
  const { pid: holderPid, nsPath, enter } = holder;
  const relays: Server[] = [];
  const sockets = new Set<Socket>();
  const stop = async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(relays.map((r) => new Promise<void>((resolve) => r.close(() => resolve()))));
    await holder.stop();
  };
  try {
    await execa(enter[0] ?? 'nsenter', [...enter.slice(1), 'ip', 'link', 'set', 'lo', 'up']);
    const leaving = routesOffMachine(readRoutes(holderPid));
    if (leaving.length > 0)
      throw new RigNetworkError(`the new namespace has routes off this machine: ${describeRoutes(leaving)}`);
  } catch (err) {
    await stop();
    throw err instanceof RigNetworkError ? err : new RigNetworkError(String(err));
  }

  const expose = async (port: number, runInside: (name: string, argv: string[]) => ChildProcess) => {
    const socketPath = join(opts.dir, `relay-${port}.sock`);
    rmSync(socketPath, { force: true });
    // The host side listens first, so nothing else can take the port while the inside starts.
    const server = createServer({ noDelay: true }, (client) => {
      const inside = createConnection({ path: socketPath });
      for (const s of [client, inside]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          inside.destroy();
        });
      }
      client.pipe(inside).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    relays.push(server);
    runInside(`relay-${port}`, [process.execPath, RELAY, socketPath, String(port)]);
    for (let i = 0; !existsSync(socketPath); i++) {
      if (i > 500) throw new RigNetworkError(`the relay for port ${port} did not start`);
      await sleep(10);
    }
  };

  return { enter, holderPid, nsPath, routes: () => readRoutes(holderPid), expose, stop };
}
