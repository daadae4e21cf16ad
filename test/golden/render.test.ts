// Golden renderings: each folder under test/fixtures/render is one case; UPDATE_GOLDEN=1 rewrites the expected output
// (and fails where it changed it, so that a rewrite is never what a run checks against); refused under CI.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../helpers/run-cli.js';
import { golden, goldenMode } from './golden.js';

const root = path.resolve('test/fixtures/render');
const mode = goldenMode(process.env);

interface CaseFile {
  description: string;
  args: string[];
  output?: 'yaml' | 'json';
  stdin?: string;
}

const cases = readdirSync(root).filter((name) => existsSync(path.join(root, name, 'case.yaml')));

test('there are at least 20 golden cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(20);
});

describe.each(cases)('render %s', (name) => {
  const dir = path.join(root, name);
  const spec = parse(readFileSync(path.join(dir, 'case.yaml'), 'utf8')) as CaseFile;
  const expectedFile = path.join(dir, spec.output === 'json' ? 'expected.json' : 'expected.yaml');

  test(spec.description, async () => {
    const stdin = spec.stdin ? readFileSync(path.join(dir, spec.stdin), 'utf8') : undefined;
    const run = await runCli(['render', ...spec.args], { cwd: dir, stdin });
    expect(run.code).toBe(0);
    // Warnings (Rancher's string booleans, its installer image keys) are part of the expected output.
    expect(run.stderr).toBe(golden(path.join(dir, 'expected.stderr'), run.stderr, mode, true));
    expect(run.stdout).toBe(golden(expectedFile, run.stdout, mode));
  });

  test('is deterministic', async () => {
    const stdin = spec.stdin ? readFileSync(path.join(dir, spec.stdin), 'utf8') : undefined;
    const first = await runCli(['render', ...spec.args], { cwd: dir, stdin });
    const second = await runCli(['render', ...spec.args], { cwd: dir, stdin });
    expect(second.stdout).toBe(first.stdout);
  });
});
