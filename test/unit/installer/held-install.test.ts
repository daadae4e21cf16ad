// A held istioctl install through the real process runner: a stand-in program that asks as istioctl's Confirm does
// (the prompt with no newline, then one line read from stdin) shows when the answer is given and what a timeout counts.
// The real istioctl answered this way runs in every rig install (test/e2e/lifecycle.test.ts).
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IstioctlError, TimeoutError } from '../../../src/errors.js';
import { execaRunner, istioctl } from '../../../src/installer/istioctl/runner.js';

/**
 * Prints the prompt (and, when given `argv[3]`, writes that file once it has), reads the answer; on "y" prints a
 * progress line and sleeps `argv[2]` ms, else "Cancelled.". Given `argv[4]`, its first run fails before the prompt.
 */
const STAND_IN = `
const fs = await import('node:fs');
if (process.argv[4] && !fs.existsSync(process.argv[4])) {
  fs.writeFileSync(process.argv[4], 'failed once');
  console.error('Error: check minimum supported Kubernetes version: the server is currently unable to handle the request');
  process.exit(1);
}
process.stdout.write('This will install the Istio 1.31.0 profile "default" into the cluster. Proceed? (y/N) ');
if (process.argv[3]) fs.writeFileSync(process.argv[3], 'asked');
let input = '';
process.stdin.on('data', (chunk) => {
  input += chunk;
  if (!input.includes('\\n')) return;
  if (input.trim() !== 'y') { console.log('Cancelled.'); process.exit(1); }
  console.log('✔ Istio core installed');
  setTimeout(() => process.exit(0), Number(process.argv[2] ?? 0));
});
`;

function standIn(lines: string[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'held-install-'));
  const script = path.join(dir, 'istioctl.mjs');
  writeFileSync(script, STAND_IN);
  const tool = istioctl(process.execPath, execaRunner(), { PATH: process.env.PATH }, (line) =>
    lines.push(line),
  );
  return { tool, script };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(file: string): Promise<void> {
  while (!existsSync(file)) await sleep(20);
}

/** A held stand-in that installs at once when answered yes, once it has printed its prompt. */
async function heldAtPrompt(lines: string[]) {
  const { tool, script } = standIn(lines);
  const asked = `${script}.asked`;
  const held = tool.hold([script, '0', asked], 10_000);
  await until(asked);
  return held;
}

test('nothing goes past the prompt until proceed answers yes; the prompt is logged apart from what follows', async () => {
  const lines: string[] = [];
  const held = await heldAtPrompt(lines);
  await sleep(300);
  expect(lines).toEqual([]);
  await expect(held.proceed()).resolves.toContain('✔ Istio core installed');
  expect(lines).toEqual([
    'istioctl: This will install the Istio 1.31.0 profile "default" into the cluster. Proceed? (y/N) (answered by the installer)',
    'istioctl: ✔ Istio core installed',
  ]);
  held.cancel(); // harmless once answered
});

test('cancel answers no: the process ends without going on', async () => {
  const lines: string[] = [];
  const held = await heldAtPrompt(lines);
  held.cancel();
  expect(lines.join('\n')).not.toContain('Istio core installed');
  await expect(held.proceed()).rejects.toBeInstanceOf(IstioctlError);
});

test('the timeout counts from the answer: time spent waiting at the prompt is not the install’s', async () => {
  const { tool, script } = standIn([]);
  const waited = tool.hold([script, '0'], 2_000);
  await sleep(3_000);
  await expect(waited.proceed()).resolves.toContain('installed');
  const slow = tool.hold([script, '8000'], 2_000);
  await expect(slow.proceed()).rejects.toBeInstanceOf(TimeoutError);
});

test("proceed's signal stops the install, as run's does", async () => {
  const { tool, script } = standIn([]);
  const held = tool.hold([script, '5000'], 10_000);
  const stop = new AbortController();
  const running = held.proceed(stop.signal);
  await sleep(300);
  stop.abort();
  await expect(running).rejects.toBeInstanceOf(IstioctlError);
});

test('one that ended before its answer (it failed before its prompt) runs again when answered, answered at once', async () => {
  const lines: string[] = [];
  const { tool, script } = standIn(lines);
  const failedOnce = `${script}.failed`;
  const held = tool.hold([script, '0', '', failedOnce], 10_000);
  await until(failedOnce);
  await sleep(300);
  await expect(held.proceed()).resolves.toContain('✔ Istio core installed');
  expect(lines).toContainEqual(
    expect.stringMatching(
      /^istioctl: .* ended before it was answered \(check minimum supported Kubernetes version: .*\); running it again$/,
    ),
  );
});
