// Makes sure the host has what building the tools and running a rig need: Go 1.26+ (fetched from the Go module
// proxy's golang.org/toolchain module when absent) and a few system commands (installed with apt when missing).
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

/** The toolchain fetched when the host has no Go or one older than the tool modules need (go 1.26.0 in go.mod). */
export const GO_TOOLCHAIN = 'go1.26.8';
const GO_MIN_MINOR = 26;

/** Commands the rig runs, and the Debian package providing each. */
const HOST_COMMANDS: Record<string, string> = {
  openssl: 'openssl',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  ip: 'iproute2',
  mount: 'mount',
  timeout: 'coreutils',
  nice: 'coreutils',
  bash: 'bash',
};

/** Whether `cmd` is an executable file on PATH. */
async function hasCommand(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      await access(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/** Installs Debian packages when running as root with apt; otherwise says what to install. */
async function aptInstall(packages: string[], log: (l: string) => void): Promise<void> {
  if (packages.length === 0) return;
  if (process.getuid?.() !== 0 || !(await hasCommand('apt-get'))) {
    throw new Error(`missing host packages: ${packages.join(', ')} (install them, then rerun)`);
  }
  log(`tools: installing ${packages.join(', ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update', '-qq'], { env });
  await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

export async function ensureHostCommands(log: (l: string) => void): Promise<void> {
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(HOST_COMMANDS)) {
    if (!(await hasCommand(cmd)) && !missing.includes(pkg)) missing.push(pkg);
  }
  await aptInstall(missing, log);
}

async function goMinor(goBinary: string): Promise<number | undefined> {
  const r = await execa(goBinary, ['env', 'GOVERSION'], { reject: false, env: { GOTOOLCHAIN: 'local' } });
  const m = /^go1\.(\d+)/.exec(r.stdout?.trim() ?? '');
  return r.exitCode === 0 && m ? Number(m[1]) : undefined;
}

/** Path of a `go` binary new enough for the pinned modules. */
export async function ensureGo(root: string, log: (l: string) => void): Promise<string> {
  const minor = (await hasCommand('go')) ? await goMinor('go') : undefined;
  if (minor !== undefined && minor >= GO_MIN_MINOR) return 'go';
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
  const finalDir = join(root, 'go', GO_TOOLCHAIN);
  const goBinary = join(finalDir, 'bin', 'go');
  if (existsSync(goBinary)) return goBinary;

  log(
    `tools: host Go is ${minor === undefined ? 'absent' : `1.${minor}`}; fetching ${GO_TOOLCHAIN} from the module proxy`,
  );
  if (!(await hasCommand('unzip'))) await aptInstall(['unzip'], log);
  const proxy =
    (process.env.GOPROXY ?? 'https://proxy.golang.org').split(/[,|]/)[0] ?? 'https://proxy.golang.org';
  const version = `v0.0.1-${GO_TOOLCHAIN}.linux-${arch}`;
  const res = await fetch(`${proxy}/golang.org/toolchain/@v/${version}.zip`);
  if (!res.ok) throw new Error(`go toolchain ${version}: HTTP ${res.status} from ${proxy}`);
  mkdirSync(join(root, 'go'), { recursive: true });
  const tmp = mkdtempSync(join(root, 'go', `.${GO_TOOLCHAIN}.partial-`));
  try {
    const zip = join(tmp, 'toolchain.zip');
    writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
    await execa('unzip', ['-q', zip, '-d', join(tmp, 'x')]);
    // Module zips hold their files under `<module>@<version>/` and keep no file modes.
    const goroot = join(tmp, 'x', 'golang.org', `toolchain@${version}`);
    if (!existsSync(join(goroot, 'bin', 'go'))) throw new Error(`no bin/go in the ${version} zip`);
    for (const dir of [join(goroot, 'bin'), ...toolDirs(goroot)]) {
      for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o755);
    }
    renameSync(goroot, finalDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return goBinary;
}

function toolDirs(goroot: string): string[] {
  const pkgTool = join(goroot, 'pkg', 'tool');
  return existsSync(pkgTool) ? readdirSync(pkgTool).map((d) => join(pkgTool, d)) : [];
}
