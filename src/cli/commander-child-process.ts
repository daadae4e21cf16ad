// commander's `node:child_process` in the start-up snapshot's bundle (an esbuild alias): loaded only if commander ever spawns.
import type { spawn as Spawn } from 'node:child_process';

/**
 * commander requires `node:child_process` when it loads, for executable subcommands, which this CLI never declares.
 * Node does not vouch for that module inside a user snapshot (its build warns), and the commands that spawn
 * (istioctl) run outside the snapshot's modules anyway; so the snapshot holds this stand-in, which loads the real
 * module on first use.
 */
export const spawn: typeof Spawn = ((...args: Parameters<typeof Spawn>) =>
  process.getBuiltinModule('node:child_process').spawn(...args)) as typeof Spawn;
