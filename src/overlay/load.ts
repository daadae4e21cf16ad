// Reads values and overlay files from disk or stdin into parsed sources; the only file I/O of the overlay engine.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Issue } from '../errors.js';
import { MAX_INPUT_BYTES, parseYamlSource, type ParsedSource } from './yaml-source.js';

export const STDIN_PATH = '-';

export interface ReadDeps {
  readStdin(): Promise<string>;
  cwd: string;
}

export interface LoadedSources {
  sources: ParsedSource[];
  issues: Issue[];
}

/** Reads and parses each file; every unreadable or malformed one is reported, none stops the others. */
export async function loadSources(
  files: readonly string[],
  deps: ReadDeps,
  role: 'values' | 'overlay',
): Promise<LoadedSources> {
  const sources: ParsedSource[] = [];
  const issues: Issue[] = [];
  const stdinUses = files.filter((file) => file === STDIN_PATH).length;
  if (stdinUses > 1 || (stdinUses === 1 && files.at(-1) !== STDIN_PATH))
    issues.push({
      file: STDIN_PATH,
      path: '',
      message: `stdin ("-") may be used once, as the last ${role} file`,
    });

  for (const file of files) {
    const text = await readText(file, deps);
    if (typeof text !== 'string') {
      issues.push(text);
      continue;
    }
    const parsed = parseYamlSource(text, file === STDIN_PATH ? '<stdin>' : file);
    if (parsed.ok) sources.push(parsed.source);
    else issues.push(...parsed.issues);
  }
  return { sources, issues };
}

async function readText(file: string, deps: ReadDeps): Promise<string | Issue> {
  if (file === STDIN_PATH) return deps.readStdin();
  const absolute = path.resolve(deps.cwd, file);
  try {
    const info = await stat(absolute);
    if (!info.isFile()) return { file, path: '', message: 'not a regular file' };
    if (info.size > MAX_INPUT_BYTES)
      return { file, path: '', message: `file is ${info.size} bytes, over the limit of ${MAX_INPUT_BYTES}` };
    const bytes = await readFile(absolute);
    return decodeUtf8(bytes) ?? { file, path: '', message: 'not valid UTF-8 text' };
  } catch (error) {
    return { file, path: '', message: describeFsError(error) };
  }
}

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return `cannot read: ${code ?? String(error)}`;
  }
}
