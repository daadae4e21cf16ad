// Builds Rancher Fleet's controller, agent and CLI, and takes its CRDs, from the exact source archive in
// ../shared/third-party (checked against SHA256SUMS first), because the module proxy here does not serve
// github.com/rancher/fleet; every module Fleet requires comes from the proxy.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { checkedThirdPartyArchive, type GoRunner } from './istio-source-build.js';

/** The Fleet release the rig runs: Fleet v0.16 deploys with the Helm 4 SDK and client-go v0.36, the rig's line. */
export const FLEET_VERSION = 'v0.16.1';
export const fleetArchiveName = (version: string): string => `fleet-${version}-src.tar.gz`;

/** The files one Fleet build leaves in its tool directory. */
export const FLEET_FILES = {
  controller: 'fleetcontroller',
  agent: 'fleetagent',
  cli: 'fleetcli',
  /** Fleet's CRDs as its fleet-crd chart ships them (a plain multi-document YAML, no templating). */
  crds: 'crds.yaml',
} as const;

/** The fleet commit SOURCE.txt names (what Fleet's release compiles in as `GitCommit`). */
export function fleetCommit(sourceTxt: string): string {
  const m = /^fleet\/\s+\S+\s+tag \S+\s+commit ([0-9a-f]{40})/m.exec(sourceTxt);
  if (!m?.[1]) throw new Error('SOURCE.txt names no fleet commit');
  return m[1];
}

/** The ldflags of Fleet's .goreleaser.yaml for every one of its binaries. */
export function fleetLdflags(version: string, commit: string): string[] {
  const v = 'github.com/rancher/fleet/pkg/version';
  return ['-w', '-s', `-X ${v}.GitCommit=${commit}`, `-X ${v}.Version=${version}`];
}

/**
 * Builds the three binaries into `outDir` in one `go build` (they share most packages, so one compile of them is
 * cheaper than three) and copies charts/fleet-crd's CRDs beside them.
 */
export async function buildFleetFromSource(opts: {
  version: string;
  outDir: string;
  go: GoRunner;
  thirdParty?: string;
}): Promise<void> {
  const archive = await checkedThirdPartyArchive(fleetArchiveName(opts.version), opts.thirdParty);
  const dir = mkdtempSync(join(tmpdir(), `rancher-istio-fleet-${opts.version}-`));
  try {
    await execa('tar', ['-xzf', archive, '-C', dir]);
    const src = join(dir, 'fleet');
    const commit = fleetCommit(readFileSync(join(dir, 'SOURCE.txt'), 'utf8'));
    await opts.go(
      [
        'build',
        '-trimpath',
        '-ldflags',
        fleetLdflags(opts.version, commit).join(' '),
        '-o',
        `${opts.outDir}/`,
        './cmd/fleetcontroller',
        './cmd/fleetagent',
        './cmd/fleetcli',
      ],
      src,
    );
    copyFileSync(
      join(src, 'charts', 'fleet-crd', 'templates', 'crds.yaml'),
      join(opts.outDir, FLEET_FILES.crds),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
