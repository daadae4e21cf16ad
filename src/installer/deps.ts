// What the installer's steps need from the outside world, gathered in one object so tests can replace each part.
import type { Logger } from '../log.js';
import type { IstioVersion } from './model/istio-version.js';
import type { ProcessRunner } from './istioctl/runner.js';
import type { Kube } from './cluster/kube.js';

export interface InstallerDeps {
  kube: Kube;
  runner: ProcessRunner;
  log: Logger;
  now: () => Date;
  /** Waits `ms`; resolves early, and holds no timer, once `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Environment for istioctl (KUBECONFIG, proxies, HOME). */
  env: Readonly<Record<string, string | undefined>>;
  /** Path of an istioctl for this version (bundled, cached or from the mirror); undefined version: the default one. */
  istioctlFor(version: IstioVersion | undefined): Promise<string>;
  /** Istio versions whose istioctl is at hand (bundled, on PATH or in the release mirror), for a stepped upgrade's hops. */
  istioctlVersions?(): Promise<string[]>;
  /** The platform istioctl runs on, for the `prepare-site` and `mirror add` commands a missing hop names. */
  platform?: { os: string; arch: string };
  /** Writes a file only istioctl reads (the spec, the mesh config) and returns its path. */
  writeTempFile(name: string, content: string): Promise<string>;
  /** Identifies this run in the lock and the record: `pod:<namespace>/<name>` or `process:<host>/<pid>`. */
  holder: string;
  /** This machine's host name, to tell whether a lock holder's process runs here. */
  hostname: string;
  /** Whether a process of this host is alive (a lock holder that died leaves its lease behind). */
  isProcessAlive(pid: number): boolean;
  /** How long the lock outlives a run that died without releasing it. */
  lockSeconds: number;
}

/** Runs one named phase, logging its start and its duration. */
export async function phase<T>(
  deps: Pick<InstallerDeps, 'log' | 'now'>,
  name: string,
  work: () => Promise<T>,
): Promise<T> {
  const started = deps.now().getTime();
  deps.log.info(`- ${name}`);
  try {
    const result = await work();
    deps.log.info(`  done: ${name} (${((deps.now().getTime() - started) / 1000).toFixed(1)}s)`, {
      phase: name,
    });
    return result;
  } catch (error) {
    deps.log.warn(`  failed: ${name} (${((deps.now().getTime() - started) / 1000).toFixed(1)}s)`, {
      phase: name,
    });
    throw error;
  }
}
