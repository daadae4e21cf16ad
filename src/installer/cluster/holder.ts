// Who holds the lock, written so that another run can tell whether that holder still exists: a pod by
// namespace/name, or a process by host and pid.
import type { Kube } from './kube.js';

export type Holder =
  { kind: 'pod'; namespace: string; name: string } | { kind: 'process'; host: string; pid: number };

/** `pod:<namespace>/<name>` inside a pod (the chart sets POD_NAME and POD_NAMESPACE), else `process:<host>/<pid>`. */
export function holderIdentity(
  env: Readonly<Record<string, string | undefined>>,
  host: string,
  pid: number,
): string {
  if (env.POD_NAME)
    return `pod:${env.POD_NAMESPACE || env.ISTIO_NAMESPACE || 'istio-system'}/${env.POD_NAME}`;
  return `process:${host}/${pid}`;
}

/** The holder an identity names; undefined for anything else (another tool's lease, an older installer's). */
export function parseHolder(identity: string | undefined): Holder | undefined {
  const pod = /^pod:([^/]+)\/(.+)$/.exec(identity ?? '');
  if (pod) return { kind: 'pod', namespace: pod[1] ?? '', name: pod[2] ?? '' };
  const process = /^process:(.+)\/(\d+)$/.exec(identity ?? '');
  if (process) return { kind: 'process', host: process[1] ?? '', pid: Number(process[2]) };
  return undefined;
}

export interface HolderProbe {
  kube: Pick<Kube, 'podPhase'>;
  /** This machine's host name: a process holder can only be checked on its own host. */
  hostname: string;
  isProcessAlive(pid: number): boolean;
}

/**
 * Why the holder is provably gone (its pod no longer exists or has finished, its process on this host is dead),
 * or undefined when that cannot be proved and its lease must be waited out.
 */
export async function holderGone(
  identity: string | undefined,
  probe: HolderProbe,
): Promise<string | undefined> {
  const holder = parseHolder(identity);
  if (holder?.kind === 'pod') {
    const phase = await probe.kube.podPhase(holder.namespace, holder.name);
    if (phase === undefined) return `its pod ${holder.namespace}/${holder.name} no longer exists`;
    if (phase === 'Succeeded' || phase === 'Failed')
      return `its pod ${holder.namespace}/${holder.name} has ended (${phase})`;
    return undefined;
  }
  if (holder?.kind === 'process' && holder.host === probe.hostname && !probe.isProcessAlive(holder.pid))
    return `its process ${holder.pid} on this host is dead`;
  return undefined;
}

/** `kill -0`: ESRCH means no such process; EPERM means one exists that we may not signal. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
