// YAML loading: positions, limits, and tags kept exactly as written.
import { load } from 'js-yaml';
import { parseYamlSource } from '../../src/overlay/yaml-source.js';
import { closest } from '../../src/overlay/suggest.js';

describe('parseYamlSource', () => {
  test('locates nested keys and list items', () => {
    const result = parseYamlSource('a:\n  b:\n    - x: 1\n    - y: 2\n', 'f.yaml');
    if (!result.ok) throw new Error('parse failed');
    expect(result.source.locate(['a', 'b', 1, 'y'])).toEqual({ file: 'f.yaml', line: 4, col: 7 });
    expect(result.source.locate(['a', 'missing'])).toEqual({ file: 'f.yaml', line: 1, col: 1 });
  });

  test('tags written as numbers keep their text', () => {
    const result = parseYamlSource('tag: 1.20\nother: 1.20\ncomponents: {pilot: {tag: 1.30}}\n', 'f');
    if (!result.ok) throw new Error('parse failed');
    expect(result.source.value).toEqual({ tag: '1.20', other: 1.2, components: { pilot: { tag: '1.30' } } });
  });

  test('numbers written as keys become the keys js-yaml makes of them', () => {
    const text = '1: a\n2.5: b\n0x1F: c\ntag:\n  1.20: d\n';
    const result = parseYamlSource(text, 'f');
    if (!result.ok) throw new Error('parse failed');
    expect(result.source.value).toEqual(load(text));
    expect(result.source.value).toEqual({ '1': 'a', '2.5': 'b', '31': 'c', tag: { '1.2': 'd' } });
  });

  test('an empty document has no value', () => {
    const result = parseYamlSource('# only a comment\n', 'f');
    expect(result.ok && result.source.value).toBeUndefined();
  });

  test('the size limit counts bytes', () => {
    const result = parseYamlSource('a: ééé\n', 'f', 8);
    expect(result.ok).toBe(false);
  });

  test('a few aliases are fine, an expanding tree is not', () => {
    expect(parseYamlSource('a: &x 1\nb: *x\n', 'f').ok).toBe(true);
    const bomb = [
      'a: &a [1,1,1,1,1,1,1,1,1,1]',
      ...Array.from(
        { length: 5 },
        (_, i) => `${'bcdef'[i]}: &${'bcdef'[i]} [${Array(10).fill(`*${'abcde'[i]}`).join(',')}]`,
      ),
    ].join('\n');
    expect(parseYamlSource(bomb, 'f').ok).toBe(false);
  });
});

describe('closest', () => {
  test.each([
    ['ingressGateway', ['ingressGateways', 'egressGateways'], 'ingressGateways'],
    ['hpa', ['hpaSpec', 'resources'], 'hpaSpec'],
    ['replicas', ['replicaCount', 'resources'], 'replicaCount'],
    ['componets', ['components', 'values'], 'components'],
    ['zzz', ['components', 'values'], undefined],
  ])('%s', (word, candidates, expected) => {
    expect(closest(word, candidates)).toBe(expected);
  });
});
