// Holds a new network namespace open: `unshare --net` running `timeout … sleep`, bounded by a lifetime so that a
// killed owner leaves nothing behind; used for the rig's own namespace and for each real pod's inside it.
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';

export interface NamespaceHolder {
  pid: number;
  /** The namespace's file (/proc/PID/ns/net), for `nsenter --net=`. */
  nsPath: string;
  /** argv prefix that runs a command in the namespace. */
  enter: string[];
  /** Ends the holder; the namespace goes when the last process in it exits. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates the namespace, from inside the one at `withinNsPath` if given (its veth peers can then be moved in). */
export async function holdNetworkNamespace(
  lifetimeSeconds: number,
  withinNsPath?: string,
): Promise<NamespaceHolder> {
  const within = withinNsPath ? ['nsenter', `--net=${withinNsPath}`, '--'] : [];
  const argv = [...within, 'unshare', '--net', '--', 'timeout', '--signal=KILL', String(lifetimeSeconds)];
  const [program = 'unshare', ...args] = [...argv, 'sleep', 'infinity'];
  const holder = spawn(program, args, { stdio: 'ignore' });
  const pid = holder.pid;
  if (pid === undefined) throw new Error(`could not start ${program}`);
  const stop = async () => {
    if (holder.exitCode !== null || holder.signalCode !== null) return;
    const exited = new Promise<void>((r) => holder.once('exit', () => r()));
    // TERM, which `timeout` passes on to its `sleep`: a KILL would end `timeout` alone and orphan the `sleep`,
    // and with it the namespace.
    holder.kill('SIGTERM');
    await exited;
  };
  const nsPath = `/proc/${pid}/ns/net`;
  try {
    // The holder passes through this namespace (and the one it enters) before unshare makes its own.
    const before = new Set([
      readlinkSync('/proc/self/ns/net'),
      ...(withinNsPath ? [readlinkSync(withinNsPath)] : []),
    ]);
    for (let i = 0; before.has(readlinkSync(nsPath)); i++) {
      if (holder.exitCode !== null) throw new Error(`unshare --net exited with ${holder.exitCode}`);
      if (i > 500) throw new Error('unshare --net did not create a namespace in time');
      await sleep(10);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid, nsPath, enter: ['nsenter', `--net=${nsPath}`, '--'], stop };
}
