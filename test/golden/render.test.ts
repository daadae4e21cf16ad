// Golden renderings: each folder under test/fixtures/render is one case; UPDATE_GOLDEN=1 rewrites the expected output.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../helpers/run-cli.js';

const root = path.resolve('test/fixtures/render');
const update = process.env.UPDATE_GOLDEN === '1';

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
    const stderrFile = path.join(dir, 'expected.stderr');
    if (update && run.stderr !== '') writeFileSync(stderrFile, run.stderr);
    expect(run.stderr).toBe(existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8') : '');
    if (update) writeFileSync(expectedFile, run.stdout);
    expect(run.stdout).toBe(readFileSync(expectedFile, 'utf8'));
  });

  test('is deterministic', async () => {
    const stdin = spec.stdin ? readFileSync(path.join(dir, spec.stdin), 'utf8') : undefined;
    const first = await runCli(['render', ...spec.args], { cwd: dir, stdin });
    const second = await runCli(['render', ...spec.args], { cwd: dir, stdin });
    expect(second.stdout).toBe(first.stdout);
  });
});
