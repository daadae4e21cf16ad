// The YAML emitter must write data that every YAML reader reads back unchanged.
import fc from 'fast-check';
import { load } from 'js-yaml';
import { parse } from 'yaml';
import { sortedKeys, type Json } from '../../src/overlay/json.js';
import { renderDocument } from '../../src/overlay/output.js';

const tricky = fc.constantFrom(
  'yes',
  'No',
  'on',
  'null',
  '~',
  '1.20',
  '0x1F',
  '-1',
  '.5',
  '2001-12-14',
  'a: b',
  'a #b',
  '- x',
  '*x',
  '&a',
  '!tag',
  '@x',
  '`x',
  '"q"',
  "'q'",
  '',
  ' lead',
  'trail ',
  'multi\nline',
  'tab\there',
  'ünï',
  '{a}',
  '[a]',
  '%x',
  'a:',
  'http://x:80/y',
  '=',
  '<<',
);
const key = fc.oneof(fc.string({ maxLength: 8 }), tricky);
const leaf = fc.oneof(
  fc.string({ maxLength: 12 }),
  tricky,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const json = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

test('what renderDocument writes, yaml and js-yaml read back unchanged', () => {
  fc.assert(
    fc.property(fc.dictionary(key, json, { maxKeys: 5 }), (document) => {
      const text = renderDocument(document, 'yaml');
      const expected = JSON.parse(JSON.stringify(document)) as unknown; // -0 -> 0, as any reader sees it
      expect(JSON.parse(JSON.stringify(parse(text)))).toEqual(expected);
      expect(JSON.parse(JSON.stringify(load(text)))).toEqual(expected);
    }),
    { numRuns: 300 },
  );
});

test('keys are sorted and empty collections are inline', () => {
  expect(renderDocument({ b: [], a: { d: {}, c: [{ w: 1, v: [2] }] } }, 'yaml')).toBe(
    'a:\n  c:\n    - v:\n        - 2\n      w: 1\n  d: {}\nb: []\n',
  );
});

test('a document of many thousand lines is written whole, each line once and in order', () => {
  const items = Array.from({ length: 5000 }, (_, i) => ({ name: `item-${i}`, value: i }));
  const text = renderDocument({ items }, 'yaml');
  const expected = [
    'items:',
    ...items.flatMap(({ name, value }) => [`  - name: ${name}`, `    value: ${value}`]),
  ];
  expect(text).toBe(expected.join('\n') + '\n');
});

test('keys come in the order Object.keys(...).sort() gives, for maps small and large', () => {
  // Short keys from a few characters, so that orders, prefixes and integer-like keys (which Object.keys lists first)
  // all come up; up to 40 keys, past the size where sortedKeys hands over to Array.prototype.sort.
  const key = fc.string({
    unit: fc.constantFrom('a', 'B', '0', '1', '9', '-', '_', '.', 'é', '😀'),
    maxLength: 4,
  });
  fc.assert(
    fc.property(fc.uniqueArray(key, { maxLength: 40 }), (keys) => {
      const map = Object.fromEntries(keys.map((k, i) => [k, i]));
      expect(sortedKeys(map)).toEqual(Object.keys(map).sort());
    }),
    { numRuns: 2000 },
  );
});
