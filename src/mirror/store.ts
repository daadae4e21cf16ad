// The mirror directory on disk: reading its index, adding release files to it, and verifying it.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { InputError, PreconditionError, type Issue } from '../errors.js';
import { issuesFromZod } from './zod-issue.js';
import {
  artifactFile,
  buildIndex,
  indexFile,
  indexRecords,
  mirrorIndexSchema,
  releasesDir,
  serializeIndex,
  type ArtifactRecord,
  type MirrorIndex,
} from './mirror-index.js';
import { binaryName, parseReleaseName, type ReleaseName } from './release-name.js';
import { extractTarGzEntry } from './tar.js';

export interface StoreLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Validates index.json text; every problem is an issue located in `file`. */
export function parseIndex(text: string, file: string): MirrorIndex {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InputError([{ file, path: '', message: `not JSON: ${(error as Error).message}` }]);
  }
  const result = mirrorIndexSchema.safeParse(data);
  if (!result.success) throw new InputError(issuesFromZod(result.error, file));
  return result.data;
}

/** The mirror's index; an empty one when the directory has none yet. */
export async function readIndex(mirrorDir: string): Promise<MirrorIndex> {
  const file = indexFile(mirrorDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 1, versions: [] };
    throw new PreconditionError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseIndex(text, file);
}

/** Writes to a temporary name then renames, so a reader (the server) never sees half a file. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temp, content, { mode: 0o644 });
  await rename(temp, path);
}

/** The sha256 a published `<file>.sha256` companion states, if one lies next to the file. */
async function companionSha256(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(`${file}.sha256`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const match = /^([0-9a-fA-F]{64})\b/.exec(text.trim());
  if (!match)
    throw new InputError([{ file: `${file}.sha256`, path: '', message: 'does not start with a sha256' }]);
  return match[1]!.toLowerCase();
}

/** Where the istioctl binary sits inside each kind of archive. */
function istioctlEntryMatcher(release: ReleaseName): (entry: string) => boolean {
  return release.kind === 'istioctl-archive'
    ? (entry) => entry === 'istioctl'
    : (entry) => entry === `istio-${release.version}/bin/istioctl`;
}

async function withLock<T>(mirrorDir: string, action: () => Promise<T>): Promise<T> {
  const lock = join(releasesDir(mirrorDir), '.lock');
  await mkdir(releasesDir(mirrorDir), { recursive: true });
  let handle;
  try {
    handle = await open(lock, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new PreconditionError(
      `another "mirror add" is changing ${mirrorDir}`,
      `wait for it, or remove ${lock} if no such process runs`,
    );
  }
  try {
    await handle.write(String(process.pid));
    return await action();
  } finally {
    await handle.close();
    await rm(lock, { force: true });
  }
}

/** Names every argument that is not an Istio release file, before anything is copied. */
function checkNames(files: readonly string[]): ReleaseName[] {
  const issues: Issue[] = [];
  const releases: ReleaseName[] = [];
  for (const file of files) {
    const release = parseReleaseName(basename(file));
    if (!release || release.kind === 'istioctl')
      issues.push({
        file,
        path: '',
        message:
          'not an Istio release file name (expected e.g. istio-1.30.3-linux-arm64.tar.gz or istioctl-1.30.3-linux-amd64.tar.gz)',
      });
    else releases.push(release);
  }
  if (issues.length > 0) throw new InputError(issues);
  return releases;
}

/**
 * Copies release archives into the mirror, extracts each one's istioctl as a bare binary, and rewrites the
 * index. A `<file>.sha256` next to an input (as GitHub publishes them) is checked first.
 */
export async function addToMirror(
  mirrorDir: string,
  files: readonly string[],
  log: StoreLog,
): Promise<ArtifactRecord[]> {
  const releases = checkNames(files);
  return withLock(mirrorDir, async () => {
    const records = new Map(indexRecords(await readIndex(mirrorDir)).map((r) => [r.name, r]));
    const added: ArtifactRecord[] = [];
    for (const [i, release] of releases.entries()) {
      const source = files[i]!;
      const expected = await companionSha256(source);
      const versionDir = join(releasesDir(mirrorDir), release.version);
      await mkdir(versionDir, { recursive: true });
      const destination = artifactFile(mirrorDir, release.version, release.name);
      const temp = join(versionDir, `.${release.name}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await copyFile(source, temp);
        const { sha256, size } = await hashFile(temp);
        if (expected && expected !== sha256)
          throw new PreconditionError(
            `${source}: sha256 ${sha256} does not match ${source}.sha256 (${expected})`,
          );
        const record: ArtifactRecord = { ...release, size, sha256 };
        const binary =
          release.format === 'tar.gz' ? await extractIstioctl(mirrorDir, source, release, log) : undefined;
        await rename(temp, destination);
        records.set(record.name, record);
        added.push(record);
        if (binary) {
          records.set(binary.name, binary);
          added.push(binary);
        }
        log.info('added', {
          file: release.name,
          version: release.version,
          os: release.os,
          arch: release.arch,
          sha256,
        });
      } finally {
        await rm(temp, { force: true });
      }
    }
    await writeAtomically(indexFile(mirrorDir), serializeIndex(buildIndex([...records.values()])));
    return added;
  });
}

async function extractIstioctl(
  mirrorDir: string,
  source: string,
  release: ReleaseName,
  log: StoreLog,
): Promise<ArtifactRecord | undefined> {
  if (release.os === 'win') return undefined;
  const name = binaryName(release.version, release.os, release.arch);
  const destination = artifactFile(mirrorDir, release.version, name);
  const temp = `${destination}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    let extracted;
    try {
      extracted = await extractTarGzEntry(source, istioctlEntryMatcher(release), temp);
    } catch (error) {
      throw new InputError([{ file: source, path: '', message: (error as Error).message }]);
    }
    if (!extracted) {
      if (release.kind === 'istioctl-archive')
        throw new InputError([{ file: source, path: '', message: 'has no istioctl inside' }]);
      log.warn(
        'release archive has no bin/istioctl; its bare binary will come from an istioctl archive only',
        {
          file: release.name,
        },
      );
      return undefined;
    }
    await rename(temp, destination);
    return {
      ...release,
      kind: 'istioctl',
      name,
      format: 'binary',
      size: extracted.size,
      sha256: extracted.sha256,
    } as ArtifactRecord;
  } finally {
    await rm(temp, { force: true });
  }
}

export interface VerifyProblem {
  file: string;
  problem: string;
}

/** Checks every indexed file's size and sha256; also reports files the index does not know. */
export async function verifyMirror(
  mirrorDir: string,
): Promise<{ checked: number; problems: VerifyProblem[] }> {
  const index = await readIndex(mirrorDir);
  const problems: VerifyProblem[] = [];
  const known = new Set<string>();
  let checked = 0;
  for (const record of indexRecords(index)) {
    const path = artifactFile(mirrorDir, record.version, record.name);
    known.add(relative(releasesDir(mirrorDir), path));
    checked++;
    let info;
    try {
      info = await stat(path);
    } catch {
      problems.push({ file: path, problem: 'missing' });
      continue;
    }
    if (!info.isFile()) {
      problems.push({ file: path, problem: 'not a regular file' });
      continue;
    }
    const { sha256, size } = await hashFile(path);
    if (size !== record.size)
      problems.push({ file: path, problem: `size ${size}, index says ${record.size}` });
    else if (sha256 !== record.sha256)
      problems.push({ file: path, problem: `sha256 ${sha256}, index says ${record.sha256}` });
  }
  for (const entry of await listFiles(releasesDir(mirrorDir))) {
    if (entry === 'index.json' || known.has(entry)) continue;
    problems.push({
      file: join(releasesDir(mirrorDir), entry),
      problem: 'not in the index (add it with "mirror add")',
    });
  }
  return { checked, problems };
}

async function listFiles(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(root, join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}
