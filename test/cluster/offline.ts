// Runs a command in a network namespace of its own that has only loopback: `npm run test:cluster` runs its jest
// here, so nothing the tier starts (tests, helm, istioctl, every rig) can reach an address off this machine.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describeRoutes, readRoutes, routesOffMachine } from './netns.js';

/** Set in the child, so the guard (offline-guard.ts) can tell a tier that runs here from one that does not. */
export const OFFLINE_ENV = 'RANCHER_ISTIO_OFFLINE';

function runInherited(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(program, args, { stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1))),
  );
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write('usage: tsx test/cluster/offline.ts COMMAND [ARG]...\n');
    return 2;
  }
  if (process.env[OFFLINE_ENV] !== '1') {
    if (process.getuid?.() !== 0) {
      process.stderr.write('offline: needs root (unshare --net); the rig needs it too\n');
      return 1;
    }
    const self = fileURLToPath(import.meta.url);
    return runInherited('unshare', ['--net', '--', process.execPath, ...process.execArgv, self, ...argv], {
      ...process.env,
      [OFFLINE_ENV]: '1',
    });
  }
  await execa('ip', ['link', 'set', 'lo', 'up']);
  const leaving = routesOffMachine(readRoutes('self'));
  if (leaving.length > 0) {
    process.stderr.write(`offline: this namespace has routes off the machine: ${describeRoutes(leaving)}\n`);
    return 1;
  }
  const [program = '', ...args] = argv;
  return runInherited(program, args, process.env);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`offline: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
