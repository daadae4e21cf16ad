// Generated documentation and schema must match their source (run `npm run docs` after changing the values schema),
// and the README keeps its first commands and its index of docs/.
import { readdirSync, readFileSync } from 'node:fs';
import { renderValuesDoc } from '../../scripts/values-doc.js';
import { runCli } from '../helpers/run-cli.js';

test('docs/values.md is up to date with the values schema', () => {
  expect(readFileSync('docs/values.md', 'utf8')).toBe(renderValuesDoc());
});

test('every values key is documented with a description', () => {
  const undocumented = renderValuesDoc()
    .split('\n')
    .filter((line) => line.startsWith('| `') && line.endsWith('|  |') && !line.includes('[].'));
  expect(undocumented).toEqual([]);
});

test('`schema` prints the JSON Schema with strict sections and pass-through subchart keys', async () => {
  const run = await runCli(['schema']);
  expect(run.code).toBe(0);
  const schema = JSON.parse(run.stdout) as {
    additionalProperties: unknown;
    properties: Record<string, { additionalProperties?: unknown }>;
  };
  expect(schema.additionalProperties).toBe(false);
  expect(schema.properties.pilot?.additionalProperties).toBe(false);
  expect(schema.properties.kiali?.additionalProperties).toEqual({});
  expect(schema.properties.global?.additionalProperties).toEqual({});
});

test('the version constant matches package.json', async () => {
  const { VERSION } = await import('../../src/version.js');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  expect(VERSION).toBe(pkg.version);
});

test("README opens with the newcomer's two commands and links every page under docs/", () => {
  const readme = readFileSync('README.md', 'utf8');
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  expect(firstBlock).toContain('npm ci && npm run demo');
  expect(firstBlock).toContain('npm ci && npm test');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(['demo', 'test']));
  const pages = readdirSync('docs').filter((f) => f.endsWith('.md'));
  expect(pages.filter((page) => !readme.includes(`](docs/${page})`))).toEqual([]);
});
