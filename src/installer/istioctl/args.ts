// The argv of each istioctl step, as arrays (never shell strings); tests assert them as recorded. Pure.

/**
 * `istioctl install` with the merged spec as the only `-f`. `-y` unless `held`: a held install renders, then waits at
 * its prompt for the answer on its stdin (a non-interactive run without an answer reads "no").
 */
export function installArgs(specFile: string, readinessSeconds: number, held = false): string[] {
  return ['install', ...(held ? [] : ['-y']), '-f', specFile, '--readiness-timeout', `${readinessSeconds}s`];
}

export function uninstallArgs(revision: string, purge: boolean): string[] {
  return purge ? ['uninstall', '-y', '--purge'] : ['uninstall', '-y', '--revision', revision];
}

export function tagSetArgs(tag: string, revision: string): string[] {
  return ['tag', 'set', tag, '--revision', revision, '--overwrite', '-y'];
}

export function precheckArgs(revision: string): string[] {
  return revision === 'default' ? ['x', 'precheck'] : ['x', 'precheck', '--revision', revision];
}

/**
 * `istioctl analyze` of the live cluster's configuration in every namespace, judged against the mesh config the
 * merged spec sets (an IstioOperator is not an input analyze reads; its meshConfig is).
 */
export function analyzeArgs(meshConfigFile: string): string[] {
  return ['analyze', '--all-namespaces', '--meshConfigFile', meshConfigFile, '--failure-threshold', 'Error'];
}

/** `istioctl uninstall -f` with a spec that names only the owner: removes what istioctl installed from our specs, CRDs kept. */
export function uninstallByOwnerArgs(ownerSpecFile: string): string[] {
  return ['uninstall', '-y', '-f', ownerSpecFile];
}
