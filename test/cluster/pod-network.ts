// Gives a process-kubelet pod a network of its own, as a container runtime would: a network namespace with the
// pod's IP, joined by a veth pair to the rig's namespace (and so reachable only from there, never off the machine).
import { execa } from 'execa';
import { holdNetworkNamespace } from './netns-holder.js';

/**
 * The address pods in their own namespace reach the rig at (the node, as they see it): set on the rig's end of every
 * pod's veth; the apiserver listens on it and its serving certificate names it.
 */
export const NODE_ADDRESS = '169.254.1.1';

/** Real pods take addresses from the top of the rig's pod range; kwok hands out the bottom of it. */
const POD_ADDRESS_BASE = [10, 244, 200];

/** Devices the rig creates in its own namespace: each leads only into one pod's namespace. */
export const POD_DEVICE_PREFIX = 'rigpod';

export interface PodNetwork {
  ip: string;
  /** argv prefix that runs a command in the pod's namespace. */
  enter: string[];
  /** Ends the pod's namespace; its veth pair goes with it. */
  stop(): Promise<void>;
}

/** The n-th real pod's address (1-based): 10.244.200.1, …, 10.244.200.254, 10.244.201.1, … */
export function podAddress(n: number): string {
  const [a = 10, b = 244, c = 200] = POD_ADDRESS_BASE;
  return `${a}.${b}.${c + Math.floor((n - 1) / 254)}.${((n - 1) % 254) + 1}`;
}

/** `ip -batch` lines for one side of a pod's link; no line adds a default route, so nothing else is reachable. */
export function rigSideCommands(device: string, ip: string): string[] {
  return [
    `addr add ${NODE_ADDRESS}/32 dev ${device}`,
    `link set ${device} up`,
    `route add ${ip}/32 dev ${device}`,
  ];
}

export function podSideCommands(ip: string): string[] {
  return [
    'link set lo up',
    `addr add ${ip}/32 dev eth0`,
    'link set eth0 up',
    `route add ${NODE_ADDRESS}/32 dev eth0`,
  ];
}

export class PodNetworks {
  private count = 0;

  private readonly rigEnter: string[];

  /** `rigNsPath` is the rig's namespace (/proc/PID/ns/net); `lifetimeSeconds` bounds each pod namespace's holder. */
  constructor(
    private readonly rigNsPath: string,
    private readonly lifetimeSeconds: number,
  ) {
    this.rigEnter = ['nsenter', `--net=${rigNsPath}`, '--'];
  }

  async create(): Promise<PodNetwork> {
    const n = ++this.count;
    const ip = podAddress(n);
    const device = `${POD_DEVICE_PREFIX}${n}`;
    const holder = await holdNetworkNamespace(this.lifetimeSeconds, this.rigNsPath);
    try {
      const batch = async (prefix: string[], lines: string[]) => {
        const [program = 'nsenter', ...args] = prefix;
        await execa(program, [...args, 'ip', '-batch', '-'], { input: lines.join('\n') + '\n' });
      };
      await batch(this.rigEnter, [
        `link add ${device} type veth peer name eth0 netns ${holder.pid}`,
        ...rigSideCommands(device, ip),
      ]);
      await batch(holder.enter, podSideCommands(ip));
      return { ip, enter: holder.enter, stop: holder.stop };
    } catch (err) {
      await holder.stop();
      throw err;
    }
  }
}
