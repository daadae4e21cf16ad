// A rig for the chart's tests, its files next to the tool cache with a work dir beside them, both gone on stop. The
// process kubelet stages volume sources there, so the Job pods' emptyDir on /tmp hides nothing wherever they are.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster, type ClusterOptions } from '../cluster/rig.js';

export interface ChartRig {
  cluster: Cluster;
  /** A directory of the test's own (values files, HOME for tools), removed on stop. */
  work: string;
  stop(): Promise<void>;
}

export async function startChartRig(
  name: string,
  options: Omit<ClusterOptions, 'dir' | 'keepDir'>,
): Promise<ChartRig> {
  const base = join(homedir(), '.cache', 'rancher-istio');
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, `${name}-`));
  try {
    const cluster = await startCluster({ ...options, dir: join(work, 'cluster'), keepDir: false });
    return {
      cluster,
      work,
      async stop() {
        await cluster.stop();
        rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
}

/** Where a Job's pod ran: `podman` (a container of the product image) or `process` (host processes, no container). */
export function ranIn(pod: { status?: { containerStatuses?: { containerID?: string }[] } }): string {
  return pod.status?.containerStatuses?.[0]?.containerID?.split('://')[0] ?? 'process';
}
