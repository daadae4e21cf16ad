// The environment the image's ENV gives every process (NODE_OPTIONS, MALLOC_*), so benches measure the image's CLI as it ships.
import { readFileSync } from 'node:fs';

/** NODE_OPTIONS and the MALLOC_* settings of the Dockerfile's ENV. */
export function imageMemoryEnv(): Record<string, string> {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const settings = Object.fromEntries(
    [...dockerfile.matchAll(/^\s*(?:ENV\s+)?(NODE_OPTIONS|MALLOC_[A-Z_]+)=(\S+)/gm)].map((m) => [
      m[1]!,
      m[2]!,
    ]),
  );
  if (!settings.NODE_OPTIONS) throw new Error('Dockerfile sets no NODE_OPTIONS');
  return settings;
}
