// Which istioctl a run uses for each Istio version, and which versions are at hand for a stepped path: the policy
// (--istioctl, then $ISTIOCTL_DIR/<version>, then PATH, then the release mirror) and the file, process and mirror
// access it needs.
import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import {
  defaultCacheDir,
  hostPlatform,
  mirrorIstioctlVersions,
  obtainIstioctl,
} from '../../mirror/client.js';
import type { InstallerDeps } from '../deps.js';
import { formatIstioVersion, type IstioVersion } from '../model/istio-version.js';
import { findIstioctl, istioctlsOnPath, parseClientVersion } from './find.js';
import type { ProcessRunner } from './runner.js';

/** Where the image keeps one istioctl per bundled Istio version: `<dir>/<version>/istioctl`. */
export const DEFAULT_ISTIOCTL_DIR = '/usr/local/lib/istioctl';

export interface IstioctlChoice {
  /** One istioctl for every version (--istioctl or $ISTIOCTL), if given. */
  explicit: string | undefined;
  /** The release mirror to download a missing istioctl from (--mirror-url or $RELEASE_MIRROR_URL). */
  mirrorUrl: string | undefined;
}

/** The installer's istioctl lookups for one run: istioctlFor, istioctlVersions and the platform a missing hop names. */
export function istioctlsAtHand(
  choice: IstioctlChoice,
  runner: ProcessRunner,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Pick<InstallerDeps, 'istioctlFor' | 'istioctlVersions' | 'platform'> {
  const lookup = istioctlLookup(runner, env, log);
  const istioctlDir = env.ISTIOCTL_DIR || DEFAULT_ISTIOCTL_DIR;
  // PATH does not change during a run: its istioctls are asked their version once, not on every hop's plan.
  let onPath: ReturnType<typeof istioctlsOnPath> | undefined;
  // The offline check, the prechecks and the held install ask for the same version at once: one lookup (one
  // download from the mirror) serves them all. A failed one is forgotten, so that a later ask tries again.
  const found = new Map<string, Promise<string>>();
  const find = async (version: string) => {
    const result = await findIstioctl(
      { version, istioctlDir, pathEnv: env.PATH ?? '', mirrorUrl: choice.mirrorUrl },
      lookup,
    );
    if (result.source !== 'bundled')
      log.info(`using istioctl ${version} from the ${result.source}`, { path: result.path });
    return result.path;
  };
  return {
    async istioctlFor(version: IstioVersion | undefined) {
      if (choice.explicit) return choice.explicit;
      if (!version) return 'istioctl';
      const key = formatIstioVersion(version);
      let path = found.get(key);
      if (!path) {
        path = find(key);
        found.set(key, path);
        path.catch(() => found.delete(key));
      }
      return path;
    },
    platform: hostPlatform(),
    async istioctlVersions() {
      const bundled = await readdir(istioctlDir).catch(() => []);
      const mirrored = choice.mirrorUrl
        ? await mirrorIstioctlVersions(choice.mirrorUrl, hostPlatform(), globalThis.fetch).catch(
            (error: unknown) => {
              log.warn(`cannot list the release mirror's istioctl versions: ${String(error)}`);
              return [];
            },
          )
        : [];
      onPath ??= istioctlsOnPath(env.PATH ?? '', lookup);
      return [
        ...new Set([
          ...bundled,
          ...(await onPath).flatMap((found) => (found.version ? [found.version] : [])),
          ...mirrored,
        ]),
      ];
    },
  };
}

/** The file system, process and mirror access findIstioctl needs, for a CLI run. */
function istioctlLookup(
  runner: ProcessRunner,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Parameters<typeof findIstioctl>[1] {
  return {
    isExecutable: (file) =>
      access(file, constants.X_OK).then(
        () => true,
        () => false,
      ),
    async clientVersion(file) {
      const result = await runner.run(file, ['version', '--remote=false'], {
        timeoutMs: 30_000,
        env: { PATH: env.PATH, HOME: env.HOME, TMPDIR: env.TMPDIR },
      });
      return result.exitCode === 0 ? parseClientVersion(result.stdout) : undefined;
    },
    async fromMirror(version, mirrorUrl) {
      const obtained = await obtainIstioctl(
        { version, mirrorUrl, ...hostPlatform() },
        { fetch: globalThis.fetch, cacheDir: defaultCacheDir(env), log },
      );
      return { path: obtained.path, source: obtained.source === 'cache' ? 'cache' : 'mirror' };
    },
  };
}
