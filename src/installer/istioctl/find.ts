// Finds the istioctl of one Istio version the way a user expects, in order: --istioctl, $ISTIOCTL_DIR/<version>,
// an istioctl on PATH whose own version matches, then the release mirror; a miss names every place it tried.
import { delimiter, join } from 'node:path';
import { PreconditionError } from '../../errors.js';

export type IstioctlSource = 'flag' | 'bundled' | 'path' | 'cache' | 'mirror';

export interface FoundIstioctl {
  path: string;
  source: IstioctlSource;
}

export interface FindIstioctlRequest {
  version: string;
  /** `--istioctl` (or $ISTIOCTL): used for every version, unchecked, as the user asked. */
  explicit?: string;
  /** $ISTIOCTL_DIR, or the image's default. */
  istioctlDir: string;
  /** $PATH as the process sees it. */
  pathEnv: string;
  /** Whether a release mirror is configured; without one the last step is skipped and named as skipped. */
  mirrorUrl?: string;
}

export interface FindIstioctlDeps {
  /** Whether `file` exists and is executable. */
  isExecutable(file: string): Promise<boolean>;
  /** The version an istioctl binary reports for itself offline (`version --remote=false`), or undefined if it fails. */
  clientVersion(file: string): Promise<string | undefined>;
  /** Obtains the version from the mirror (verified download or cache); throws PreconditionError on a miss. */
  fromMirror(version: string, mirrorUrl: string): Promise<{ path: string; source: 'cache' | 'mirror' }>;
}

/** The version in `istioctl version --remote=false` output: "client version: 1.31.0" or a bare "1.31.0". */
export function parseClientVersion(output: string): string | undefined {
  const match = /(?:client version:\s*)?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/.exec(output);
  return match?.[1];
}

/**
 * Every istioctl on PATH, in PATH order, with the version it reports (undefined when it cannot say): a stepped upgrade
 * counts these among the versions at hand, and the lookup takes the first of the right version.
 */
export async function istioctlsOnPath(
  pathEnv: string,
  deps: Pick<FindIstioctlDeps, 'isExecutable' | 'clientVersion'>,
): Promise<{ path: string; version: string | undefined }[]> {
  const found: { path: string; version: string | undefined }[] = [];
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'istioctl');
    if (found.some((f) => f.path === candidate) || !(await deps.isExecutable(candidate))) continue;
    found.push({ path: candidate, version: await deps.clientVersion(candidate) });
  }
  return found;
}

/** Looks for istioctl `version` in the documented order; throws PreconditionError listing what it tried. */
export async function findIstioctl(
  request: FindIstioctlRequest,
  deps: FindIstioctlDeps,
): Promise<FoundIstioctl> {
  if (request.explicit) return { path: request.explicit, source: 'flag' };
  const tried: string[] = ['--istioctl: not given'];

  const bundled = join(request.istioctlDir, request.version, 'istioctl');
  if (await deps.isExecutable(bundled)) return { path: bundled, source: 'bundled' };
  tried.push(`${bundled}: not found (ISTIOCTL_DIR=${request.istioctlDir})`);

  const onPath = await istioctlsOnPath(request.pathEnv, deps);
  const match = onPath.find((found) => found.version === request.version);
  if (match) return { path: match.path, source: 'path' };
  for (const found of onPath)
    tried.push(
      `${found.path} on PATH: ${found.version ? `is version ${found.version}` : '"version --remote=false" failed'}`,
    );
  if (onPath.length === 0) tried.push('PATH: no istioctl');

  if (request.mirrorUrl) {
    try {
      return await deps.fromMirror(request.version, request.mirrorUrl);
    } catch (error) {
      if (!(error instanceof PreconditionError)) throw error;
      tried.push(`release mirror ${request.mirrorUrl}: ${error.message}`);
    }
  } else tried.push('release mirror: none configured');

  throw new PreconditionError(
    `no istioctl ${request.version} found; tried ${tried.join('; ')}`,
    `pass --istioctl PATH, put it at ${bundled}, put an istioctl ${request.version} on PATH, or give --mirror-url`,
  );
}
