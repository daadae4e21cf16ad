// The fast YAML path gives exactly what js-yaml gives, or steps aside: on the project's YAML files, on generated documents and on mutated ones.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { bigOverlay } from '../../bench/big-overlay.js';
import { NOT_PLAIN, readPlainBlockYaml } from '../../src/overlay/yaml-fast-path.js';
import { formatPath, type DocPath } from '../../src/overlay/json.js';
import {
  parseAnyYaml,
  parseYamlSource,
  type ParsedSource,
  type ParseResult,
} from '../../src/overlay/yaml-source.js';

const KEPT = new Set(['tag', 'compatibilityVersion']);
const readsFast = (text: string) => readPlainBlockYaml(text, KEPT, 50) !== NOT_PLAIN;

/**
 * What a caller sees: the data, or the issues. Data is spelled out with its key order, its prototypes and each
 * number's exact value (-0 and NaN included), which Jest's own equality would not all compare.
 */
function outcome(result: ParseResult): unknown {
  return result.ok ? { value: spelled(result.source.value) } : { issues: result.issues };
}

function spelled(value: unknown): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? 'number -0' : `number ${value}`;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return ['list', ...value.map(spelled)];
  const prototype = Object.getPrototypeOf(value) === Object.prototype ? 'Object' : 'other';
  return [
    'map',
    prototype,
    ...Object.keys(value).map((key) => [key, spelled((value as Record<string, unknown>)[key])]),
  ];
}

/**
 * The contract: parseYamlSource (fast path first) and the general path agree on every text, on the data and on
 * where each key and list item is written (the fast path's own positions against the `yaml` library's).
 */
function expectSameAsGeneral(text: string): void {
  const fast = parseYamlSource(text, 't.yaml');
  const general = parseAnyYaml(text, 't.yaml');
  expect(outcome(fast)).toStrictEqual(outcome(general));
  if (!fast.ok || !general.ok) return;
  const paths = pathsOf(fast.source.value, MAX_PATHS_COMPARED);
  const located = (source: ParsedSource) => paths.map((p) => [formatPath(p), source.locate(p)]);
  expect(located(fast.source)).toStrictEqual(located(general.source));
}

/** Positions of at most this many paths per document: the benchmark overlay has 80 000. */
const MAX_PATHS_COMPARED = 3000;

/**
 * Every path to a node of `value` (evenly thinned to at most `limit`), and under each map and list a key and an
 * index that are not there, which locate to the deepest part that is.
 */
function pathsOf(value: unknown, limit: number): DocPath[] {
  const paths: DocPath[] = [[]];
  const walk = (node: unknown, at: DocPath) => {
    if (node === null || typeof node !== 'object') return;
    paths.push([...at, 'no-such-key'], [...at, 99_999], [...at, 0, 'below']);
    const entries: [string | number, unknown][] = Array.isArray(node)
      ? node.map((item, i) => [i, item])
      : Object.entries(node);
    for (const [key, child] of entries) {
      paths.push([...at, key]);
      walk(child, [...at, key]);
    }
  };
  walk(value, []);
  const step = Math.max(1, Math.ceil(paths.length / limit));
  return paths.filter((_, i) => i % step === 0);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return yamlFiles(file);
    return /\.ya?ml$/.test(name) ? [file] : [];
  });
}

describe('the fast YAML path', () => {
  const files = [...yamlFiles('test/fixtures'), ...yamlFiles('examples'), 'charts/rancher-istio/values.yaml'];

  test('every YAML file of the project parses as js-yaml parses it, most of them on the fast path', () => {
    let fast = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expectSameAsGeneral(text);
      if (readsFast(text)) fast++;
    }
    expect(files.length).toBeGreaterThan(50);
    expect(fast).toBeGreaterThan(files.length / 2);
  });

  test('reads the benchmark overlay and the example values itself', () => {
    const big = bigOverlay();
    expect(readsFast(big)).toBe(true);
    expectSameAsGeneral(big);
    expect(readsFast(readFileSync('examples/values.yaml', 'utf8'))).toBe(true);
  });

  test.each([
    ['plain maps and lists', 'a: 1\nb:\n  - x\n  - y: 2\n    z: [] # c\nc: {}\n', true],
    ["a list at its key's column", 'a:\n- 1\n- two\nb: true\n', true],
    ['a first-line document marker', '---\na: b\n', true],
    ['comments and blank lines', '# head\n\na: 1 # one\n\n  # indented comment\nb: 2\n', true],
    ['quoted keys and values', "\"a b\": 'it''s'\n'c': \"x\\ty\\\"z\"\n", true],
    ['numbers kept as written under tag', 'tag: 1.20\nx:\n  tag: 010\n  v: 1.20\n', true],
    ['YAML 1.1 words stay strings', 'a: yes\nb: on\nc: Off\nd: y\n', true],
    ['js-yaml number forms', 'a: 0x1F\nb: .inf\nc: -.5\nd: +1\ne: 1_000\nf: 0o17\ng: 1e3\nh: .NaN\n', true],
    ['a colon or hash inside a plain scalar', 'a: http://x:80/y#z\nb: a#b\n', true],
    ['multi-line plain scalar', 'a: one\n  two\n', false],
    ['block scalar', 'a: |\n  text\n', false],
    ['anchor and alias', 'a: &x 1\nb: *x\n', false],
    ['tag', 'a: !!str 1\n', false],
    ['flow map with items', 'a: {b: 1}\n', false],
    ['duplicate key', 'a: 1\na: 2\n', false],
    ['a number as a key', '1: a\n', false],
    ['a boolean as a key', 'true: a\n', false],
    ['__proto__', '__proto__: {}\n', false],
    ['a second document', 'a: 1\n---\nb: 2\n', false],
    ['a tab', 'a:\tb\n', false],
    ['CRLF', 'a: b\r\n', false],
    ['non-ASCII', 'a: é\n', false],
    ['a scalar document', 'just text\n', false],
    ['an empty document', '# nothing\n', false],
    ['a map on a value line', 'a: b: c\n', false],
    ['a list on a value line', 'a: - b\n', false],
    ['nested lists on one line', '- - a\n  - - b\n    - c\n- d\n', true],
    ['list items whose node starts on the next line', 'a:\n  -\n    b: 1\n  - # note\n\n    - c\n', true],
    ['bad indentation', 'a:\n    b: 1\n  c: 2\n', false],
    ['a YAML directive', '%YAML 1.2\n---\na: 1\n', false],
  ])('%s: fast path %s', (_name, text, fast) => {
    expect(readsFast(text)).toBe(fast);
    expectSameAsGeneral(text);
  });

  test('documents nested beyond its depth are left to js-yaml and its limit', () => {
    const deep = Array.from({ length: 120 }, (_, i) => `${' '.repeat(i * 2)}k${i}:`).join('\n') + ' 1\n';
    expect(readsFast(deep)).toBe(false);
    expectSameAsGeneral(deep);
    expect(parseYamlSource(deep, 'deep.yaml').ok).toBe(false);
  });

  test('a problem is still located at its line and column', () => {
    const result = parseYamlSource('a: 1\nb:\n  c: 2\n', 'f.yaml');
    if (!result.ok) throw new Error('parse failed');
    expect(result.source.locate(['b', 'c'])).toEqual({ file: 'f.yaml', line: 3, col: 3 });
  });

  // Scalars chosen to sit on YAML's edges: words some reader takes for booleans or null, number forms, indicators.
  const trickyScalar = fc.constantFrom(
    'a',
    'yes',
    'No',
    'on',
    'true',
    'True',
    'FALSE',
    'null',
    'Null',
    '~',
    '1',
    '-1',
    '+1',
    '0x1F',
    '0o17',
    '010',
    '1.20',
    '.5',
    '-.5',
    '1e3',
    '1_000',
    '.inf',
    '-.Inf',
    '.nan',
    '1.0',
    'a b',
    'a:b',
    'a#b',
    'a #b',
    'http://x/y',
    '*a',
    '&a',
    '!t',
    '|',
    '>',
    '- x',
    '-x',
    '? x',
    ': x',
    '"q"',
    "'s'",
    '{}',
    '[]',
    '{a}',
    '[a]',
    'a, b',
    '%x',
    '@x',
    '`x',
    'a: b',
    'x:',
    '',
    ' lead',
    'trail ',
    '---',
    '...',
    '-',
    '#',
    "it's",
    'back\\slash',
    'tab\there',
    'é',
  );
  const trickyKey = fc.constantFrom(
    'a',
    'b',
    'tag',
    'compatibilityVersion',
    'name',
    '1',
    'true',
    'null',
    '~',
    'a b',
    'a:b',
    '-a',
    '? a',
    '__proto__',
    'constructor',
    '"q"',
    '',
    'x#y',
    'x #y',
    '<<',
  );
  type Tree = string | number | boolean | null | Tree[] | { [key: string]: Tree };
  const tree = fc.letrec<{ node: Tree }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      trickyScalar,
      fc.integer(),
      fc.double({ noNaN: false }),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(trickyKey, tie('node'), { maxKeys: 4 }),
    ),
  })).node;

  /** Writes a tree by hand in a randomly chosen style, quoting only sometimes: much of it is not valid YAML at all. */
  function writeWild(
    node: Tree,
    style: { indent: number; listAtKey: boolean; quote: number; comment: number },
  ): string {
    const lines: string[] = [];
    const scalar = (value: Tree, salt: number): string => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if ((salt + style.quote) % 3 === 0) return JSON.stringify(text);
      if ((salt + style.quote) % 3 === 1) return `'${text.replace(/'/g, "''")}'`;
      return text;
    };
    const walk = (value: Tree, column: number, first: string): void => {
      const pad = ' '.repeat(column);
      const comment = (lines.length + style.comment) % 5 === 0 ? ' # note' : '';
      if (Array.isArray(value) && value.length > 0) {
        value.forEach((item, i) => {
          const lead = i === 0 ? first : pad;
          if (item !== null && typeof item === 'object' && Object.keys(item).length > 0)
            walk(item, column + 2, `${lead}- `);
          else lines.push(`${lead}- ${scalar(item, i)}${comment}`);
        });
      } else if (
        value !== null &&
        typeof value === 'object' &&
        !Array.isArray(value) &&
        Object.keys(value).length > 0
      ) {
        Object.entries(value).forEach(([key, child], i) => {
          const lead = i === 0 ? first : pad;
          const written = i % 2 === 0 ? key : scalar(key, i);
          if (
            child !== null &&
            typeof child === 'object' &&
            (Array.isArray(child) ? child.length : Object.keys(child).length) > 0
          ) {
            lines.push(`${lead}${written}:${comment}`);
            const inner = Array.isArray(child) && style.listAtKey ? column : column + style.indent;
            walk(child, inner, ' '.repeat(inner));
          } else
            lines.push(
              `${lead}${written}: ${Array.isArray(child) ? '[]' : child !== null && typeof child === 'object' ? '{}' : scalar(child, i)}${comment}`,
            );
        });
      } else lines.push(`${first}${scalar(value, 0)}`);
    };
    walk(node, 0, '');
    return lines.join('\n') + '\n';
  }

  test('generated documents, written in many styles: whatever the fast path reads, it reads as js-yaml does', () => {
    let fast = 0;
    fc.assert(
      fc.property(
        tree,
        fc.record({
          indent: fc.constantFrom(1, 2, 4),
          listAtKey: fc.boolean(),
          quote: fc.nat(2),
          comment: fc.nat(4),
        }),
        (node, style) => {
          const text = writeWild(node, style);
          if (readsFast(text)) fast++;
          expectSameAsGeneral(text);
        },
      ),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(300);
  });

  test('documents the `yaml` library writes are read on the fast path, as js-yaml reads them', () => {
    const plainKey = fc.stringMatching(/^[a-z][a-zA-Z0-9_./-]{0,11}$/);
    const printable = fc.string({
      unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)),
    });
    const leaf = fc.oneof(printable, fc.integer(), fc.boolean(), fc.constant(null));
    const doc = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(plainKey, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    let fast = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.dictionary(plainKey, doc, { minKeys: 1, maxKeys: 5 }), (root) => {
        const text = stringify(root, { lineWidth: 0 });
        runs++;
        if (readsFast(text)) fast++;
        expectSameAsGeneral(text);
      }),
      { numRuns: 1500 },
    );
    // Some of what `yaml` writes is left to js-yaml (a plain scalar starting with ":", escapes beyond JSON's).
    expect(fast).toBeGreaterThan(runs * 0.6);
  });

  test('mutated project files: whatever the fast path reads, it reads as js-yaml does', () => {
    const seeds = [
      readFileSync('examples/values.yaml', 'utf8'),
      bigOverlay().slice(0, 6000),
      ...files.slice(0, 12).map((file) => readFileSync(file, 'utf8').slice(0, 4000)),
    ];
    const edit = fc.record({
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      kind: fc.constantFrom(
        'insert',
        'delete',
        'replace',
        'indent',
        'dedent',
        'duplicate-line',
        'join-lines',
      ),
      char: fc.constantFrom(
        ' ',
        ':',
        '#',
        '-',
        '\n',
        '"',
        "'",
        '{',
        '}',
        '[',
        ']',
        '&',
        '*',
        '!',
        '|',
        '>',
        '%',
        '@',
        '`',
        '?',
        ',',
        '\\',
        '\t',
        'x',
        '1',
        '.',
        '~',
        '\r',
      ),
    });
    let fast = 0;
    fc.assert(
      fc.property(fc.nat(seeds.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 }), (seed, edits) => {
        let text = seeds[seed] as string;
        for (const { at, kind, char } of edits) {
          const i = Math.floor(at * text.length);
          const lineStart = text.lastIndexOf('\n', i - 1) + 1;
          const lineEnd = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
          if (kind === 'insert') text = text.slice(0, i) + char + text.slice(i);
          else if (kind === 'delete') text = text.slice(0, i) + text.slice(i + 1);
          else if (kind === 'replace') text = text.slice(0, i) + char + text.slice(i + 1);
          else if (kind === 'indent') text = text.slice(0, lineStart) + ' ' + text.slice(lineStart);
          else if (kind === 'dedent')
            text = text.slice(0, lineStart) + text.slice(lineStart).replace(/^ /, '');
          else if (kind === 'duplicate-line')
            text = text.slice(0, lineEnd) + '\n' + text.slice(lineStart, lineEnd) + text.slice(lineEnd);
          else text = text.slice(0, lineEnd) + text.slice(lineEnd + 1);
        }
        if (readsFast(text)) fast++;
        expectSameAsGeneral(text);
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(300);
  });
});
