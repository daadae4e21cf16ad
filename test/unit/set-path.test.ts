// istioctl's --set syntax: path parsing, type inference, and writing into a spec.
import { applySetFlag, inferScalar, parseSetFlag } from '../../src/overlay/set-path.js';
import { MAX_DEPTH } from '../../src/overlay/yaml-source.js';
import { runCli } from '../helpers/run-cli.js';

const parse = (text: string) => {
  const result = parseSetFlag(text, '--set');
  if (!result.ok) throw new Error(result.issue.message);
  return result.flag;
};

describe('parseSetFlag', () => {
  test('splits keys, indexes, selectors and escaped dots', () => {
    expect(
      parse('components.ingressGateways.[0].k8s.podAnnotations.prometheus\\.io/port=15020').path,
    ).toEqual([
      { kind: 'key', key: 'components' },
      { kind: 'key', key: 'ingressGateways' },
      { kind: 'index', index: 0 },
      { kind: 'key', key: 'k8s' },
      { kind: 'key', key: 'podAnnotations' },
      { kind: 'key', key: 'prometheus.io/port' },
    ]);
    expect(parse('components.ingressGateways.[name:foo].enabled=true').path[2]).toEqual({
      kind: 'match',
      field: 'name',
      value: 'foo',
    });
  });

  test('a selector may be attached to its key, as istioctl accepts: list[0] is list.[0]', () => {
    expect(parse('components.ingressGateways[0].k8s.replicaCount=2').path).toEqual(
      parse('components.ingressGateways.[0].k8s.replicaCount=2').path,
    );
    expect(parse('components.ingressGateways[name:x].enabled=true').path).toEqual(
      parse('components.ingressGateways.[name:x].enabled=true').path,
    );
  });

  test('a leading spec. is accepted, as paths are relative to spec', () => {
    expect(parse('spec.profile=demo').path).toEqual([{ kind: 'key', key: 'profile' }]);
  });

  test('the value keeps everything after the first =', () => {
    expect(parse('meshConfig.extensionProviders.[0].name=a=b').value).toBe('a=b');
  });

  test('tags, revisions and string maps stay strings', () => {
    expect(parse('tag=1.30').value).toBe('1.30');
    expect(parse('components.pilot.tag=2').value).toBe('2');
    expect(parse('meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE=true').value).toBe('true');
    expect(parse('components.pilot.k8s.env.[name:X].value=100').value).toBe('100');
    expect(parse('components.pilot.k8s.podAnnotations.a=1').value).toBe('1');
  });

  test.each(['=x', 'a..b=1', 'a.[x].b=1', '[0].a=1'])('rejects %s', (text) => {
    expect(parseSetFlag(text, '--set').ok).toBe(false);
  });
});

describe('inferScalar', () => {
  test.each([
    ['3', 3],
    ['-3', -3],
    ['1.5', 1.5],
    ['1e3', 1000],
    ['true', true],
    ['false', false],
    ['True', 'True'],
    ['1.2.3', '1.2.3'],
    ['', ''],
    ['99999999999999999999', 1e20], // too big for an integer, a float as in istioctl
  ])('%s', (text, expected) => {
    expect(inferScalar(text)).toBe(expected);
  });
});

describe('applySetFlag', () => {
  test('creates maps and lists on the way', () => {
    const result = applySetFlag({}, parse('components.pilot.k8s.env.[name:A].value=1'));
    expect(result).toEqual({
      ok: true,
      spec: { components: { pilot: { k8s: { env: [{ name: 'A', value: '1' }] } } } },
    });
  });

  test('index equal to the length appends', () => {
    const result = applySetFlag({ a: [1] }, parse('a.[1]=2'));
    expect(result).toEqual({ ok: true, spec: { a: [1, 2] } });
  });

  test('does not mutate its input', () => {
    const spec = { a: { b: 1 } };
    applySetFlag(spec, parse('a.b=2'));
    expect(spec).toEqual({ a: { b: 1 } });
  });

  test('refuses to index a map', () => {
    expect(applySetFlag({ a: { b: 1 } }, parse('a.[0]=1')).ok).toBe(false);
  });
});

test('a --set through a YAML alias changes only the path it names', async () => {
  const { parseYamlSource } = await import('../../src/overlay/yaml-source.js');
  const parsed = parseYamlSource('a: &x {b: 1}\nc: *x\n', 'f');
  if (
    !parsed.ok ||
    !parsed.source.value ||
    typeof parsed.source.value !== 'object' ||
    Array.isArray(parsed.source.value)
  )
    throw new Error('parse');
  const result = applySetFlag(parsed.source.value, parse('a.b=2'));
  expect(result).toEqual({ ok: true, spec: { a: { b: 2 }, c: { b: 1 } } });
});

describe('depth', () => {
  const overlay = (keys: number) =>
    [
      'apiVersion: install.istio.io/v1alpha1',
      'kind: IstioOperator',
      'spec:',
      '  values:',
      ...Array.from({ length: keys }, (_, i) => `${'  '.repeat(i + 2)}k:`),
      `${'  '.repeat(keys + 2)}x: 1`,
    ].join('\n') + '\n';
  const setFlag = (keys: number) => `values.${Array(keys).fill('k').join('.')}.x=1`;

  test('a --set path of 5,000 segments is refused with exit 2, like a YAML overlay as deep', async () => {
    const run = await runCli(['render', '--set', setFlag(5000)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `--set[0]  values.${'k.'.repeat(26)}k...: nested deeper than ${MAX_DEPTH} levels\n`,
    );
    const flow = `apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {values: ${'{k: '.repeat(5000)}1${'}'.repeat(5001)}\n`;
    const yaml = await runCli(['render', '--overlay', '-'], { stdin: flow });
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(new RegExp(`^<stdin>:\\d+:\\d+  nested deeper than ${MAX_DEPTH} levels\n$`));
  });

  test('the limit is the same for --set and for overlays, at the exact boundary', async () => {
    const deepest = MAX_DEPTH - 4;
    for (const keys of [deepest, deepest + 1]) {
      const set = await runCli(['render', '-o', 'json', '--set', setFlag(keys)]);
      const yaml = await runCli(['render', '-o', 'json', '--overlay', '-'], { stdin: overlay(keys) });
      expect([keys, set.code, set.stdout]).toEqual([keys, yaml.code, yaml.stdout]);
      expect(set.code).toBe(keys === deepest ? 0 : 2);
    }
  });
});
