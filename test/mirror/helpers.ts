// Test fixtures for the mirror: temp dirs, real Istio-shaped release tarballs made with tar, a recording logger.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'mirror-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A stand-in istioctl: a real executable script that prints its version, so tests can run what they fetched. */
export function fakeIstioctl(version: string, arch: string, note = ''): string {
  return `#!/bin/sh\necho "client version: ${version} (${arch})${note}"\n`;
}

export type TarballKind = 'release' | 'istioctl';

/**
 * Writes `istio-<v>-<os>-<arch>.tar.gz` (istio-<v>/bin/istioctl plus a manifest) or `istioctl-<v>-<os>-<arch>.tar.gz`
 * (istioctl at the top), laid out like Istio's own archives, into `dir`; returns its path.
 */
export function makeTarball(
  dir: string,
  kind: TarballKind,
  version: string,
  arch = 'amd64',
  os = 'linux',
  /** Printed after the version, to make two archives of the same name differ. */
  note = '',
): string {
  const work = mkdtempSync(join(dir, '.work-'));
  const name = `${kind === 'release' ? 'istio' : 'istioctl'}-${version}-${os}-${arch}.tar.gz`;
  const output = join(dir, name);
  if (kind === 'release') {
    const top = join(work, `istio-${version}`);
    mkdirSync(join(top, 'bin'), { recursive: true });
    mkdirSync(join(top, 'manifests'), { recursive: true });
    writeFileSync(join(top, 'manifests', 'README.md'), `Istio ${version}\n`);
    writeFileSync(join(top, 'bin', 'istioctl'), fakeIstioctl(version, arch, note));
    chmodSync(join(top, 'bin', 'istioctl'), 0o755);
    execFileSync('tar', ['-czf', output, '-C', work, `istio-${version}`]);
  } else {
    writeFileSync(join(work, 'istioctl'), fakeIstioctl(version, arch, note));
    chmodSync(join(work, 'istioctl'), 0o755);
    execFileSync('tar', ['-czf', output, '-C', work, 'istioctl']);
  }
  rmSync(work, { recursive: true, force: true });
  return output;
}

export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

export function recordingLog(): {
  lines: LogLine[];
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
} {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level, message, fields });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
