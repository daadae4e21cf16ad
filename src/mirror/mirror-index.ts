// The mirror's index.json: its schema, where things live under the mirror directory, and how it is built.
import { join } from 'node:path';
import * as z from 'zod';
import {
  compareVersions,
  isIstioVersion,
  parseReleaseName,
  type ArtifactKind,
  type ReleaseArch,
  type ReleaseOs,
} from './release-name.js';

export const INDEX_URL_PATH = '/releases/index.json';
const GITHUB_PREFIX = '/istio/istio/releases/download';

const fileSchema = z.object({
  name: z.string(),
  kind: z.enum(['release', 'istioctl-archive', 'istioctl']),
  os: z.enum(['linux', 'osx', 'win']),
  arch: z.enum(['amd64', 'arm64', 'armv7']),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  url: z.string(),
});

export const mirrorIndexSchema = z
  .object({
    schemaVersion: z.literal(1),
    versions: z.array(z.object({ version: z.string(), files: z.array(fileSchema) })),
  })
  .superRefine((index, ctx) => {
    // The server maps URLs to files through these names, so each must be exactly one of Istio's file names.
    index.versions.forEach((entry, v) => {
      if (!isIstioVersion(entry.version))
        ctx.addIssue({ code: 'custom', path: ['versions', v, 'version'], message: 'not an Istio version' });
      entry.files.forEach((file, f) => {
        const parsed = parseReleaseName(file.name);
        if (!parsed || parsed.version !== entry.version || parsed.kind !== file.kind)
          ctx.addIssue({
            code: 'custom',
            path: ['versions', v, 'files', f, 'name'],
            message: `not an Istio ${file.kind} file name of version ${entry.version}`,
          });
      });
    });
  });

export type MirrorIndex = z.infer<typeof mirrorIndexSchema>;
export type IndexedFile = z.infer<typeof fileSchema>;

/** A file as `mirror add` records it, before it is placed in the index. */
export interface ArtifactRecord {
  name: string;
  kind: ArtifactKind;
  version: string;
  os: ReleaseOs;
  arch: ReleaseArch;
  size: number;
  sha256: string;
}

export function releasesDir(mirrorDir: string): string {
  return join(mirrorDir, 'releases');
}

export function indexFile(mirrorDir: string): string {
  return join(mirrorDir, 'releases', 'index.json');
}

export function artifactFile(mirrorDir: string, version: string, name: string): string {
  return join(mirrorDir, 'releases', version, name);
}

/** The URL path under which the server offers a file. */
export function artifactUrlPath(
  record: Pick<ArtifactRecord, 'kind' | 'version' | 'name' | 'os' | 'arch'>,
): string {
  return record.kind === 'istioctl'
    ? `/istioctl/${record.version}/${record.os}-${record.arch}`
    : `${GITHUB_PREFIX}/${record.version}/${record.name}`;
}

/** Builds the index from records, newest version first and files by name, so equal content gives equal bytes. */
export function buildIndex(records: readonly ArtifactRecord[]): MirrorIndex {
  const byVersion = new Map<string, Map<string, ArtifactRecord>>();
  for (const record of records) {
    const files = byVersion.get(record.version) ?? new Map<string, ArtifactRecord>();
    files.set(record.name, record);
    byVersion.set(record.version, files);
  }
  const versions = [...byVersion.keys()].sort((a, b) => compareVersions(b, a));
  return {
    schemaVersion: 1,
    versions: versions.map((version) => ({
      version,
      files: [...byVersion.get(version)!.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((r) => ({
          name: r.name,
          kind: r.kind,
          os: r.os,
          arch: r.arch,
          size: r.size,
          sha256: r.sha256,
          url: artifactUrlPath(r),
        })),
    })),
  };
}

/** Flattens an index back into records (the inverse of buildIndex). */
export function indexRecords(index: MirrorIndex): ArtifactRecord[] {
  return index.versions.flatMap((entry) =>
    entry.files.map((file) => ({
      name: file.name,
      kind: file.kind,
      version: entry.version,
      os: file.os,
      arch: file.arch,
      size: file.size,
      sha256: file.sha256,
    })),
  );
}

export function serializeIndex(index: MirrorIndex): string {
  return JSON.stringify(index, null, 2) + '\n';
}

/** Finds the bare istioctl of a version for an os/arch. */
export function findIstioctl(
  index: MirrorIndex,
  version: string,
  os: ReleaseOs,
  arch: ReleaseArch,
): IndexedFile | undefined {
  return index.versions
    .find((entry) => entry.version === version)
    ?.files.find((file) => file.kind === 'istioctl' && file.os === os && file.arch === arch);
}
