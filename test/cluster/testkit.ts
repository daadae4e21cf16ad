// Small helpers the cluster-tier tests share: polling with a deadline that names what never happened.
import type { Cluster } from './rig.js';

export async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const why = last instanceof Error ? `: ${last.message}` : '';
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${why}`);
}

export interface PodStatus {
  phase?: string;
  containerStatuses?: { state?: { terminated?: { exitCode: number; reason?: string } } }[];
}

/** Waits until the pod reaches Succeeded or Failed and returns its status. */
export function podFinished(cluster: Cluster, namespace: string, name: string, timeoutMs = 120_000) {
  return eventually(`pod ${namespace}/${name} to finish`, timeoutMs, async () => {
    const pod = await cluster.kube.get<{ status?: PodStatus }>(
      `/api/v1/namespaces/${namespace}/pods/${name}`,
    );
    const phase = pod.status?.phase;
    return phase === 'Succeeded' || phase === 'Failed' ? (pod.status as PodStatus) : undefined;
  });
}
