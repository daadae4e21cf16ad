// The bad-input corpus: every broken input exits 2 with a located one-line message per problem, no stack trace, no stdout.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { MAX_INPUT_BYTES } from '../../src/overlay/yaml-source.js';
import { runCli } from '../helpers/run-cli.js';

const dir = path.resolve('test/fixtures/bad-input');

interface BadCase {
  name: string;
  args: string[];
  exit: number;
  stderr: string[];
}

const cases = parse(readFileSync(path.join(dir, 'cases.yaml'), 'utf8')) as BadCase[];

test('the corpus has at least 25 cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(25);
});

test.each(cases)('$name', async ({ args, exit, stderr }) => {
  const run = await runCli(['render', ...args], { cwd: dir, stdin: '' });
  expect(run.code).toBe(exit);
  expect(run.stdout).toBe('');
  for (const line of stderr) expect(run.stderr).toContain(line);
  expect(run.stderr).not.toMatch(/\n\s+at /);
});

test('a file over the size limit is refused before parsing', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'big-'));
  writeFileSync(path.join(tmp, 'big.yaml'), `a: "${'x'.repeat(MAX_INPUT_BYTES)}"\n`);
  const run = await runCli(['render', '-f', 'big.yaml'], { cwd: tmp });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(
    `big.yaml  file is ${MAX_INPUT_BYTES + 6} bytes, over the limit of ${MAX_INPUT_BYTES}`,
  );
});

test('stdin over the size limit is refused too', async () => {
  const run = await runCli(['render', '--overlay', '-'], { stdin: 'x'.repeat(MAX_INPUT_BYTES + 1) });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('<stdin>  input is');
});
