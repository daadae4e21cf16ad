// The compiled yes/no check answers as zod does: on every golden rendering, the benchmark overlay, and many mutations of them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as fc from 'fast-check';
import { load } from 'js-yaml';
import * as zod from 'zod';
import type * as z from 'zod';
import { bigOverlay } from '../../bench/big-overlay.js';
import { istioOperatorSchema } from '../../src/overlay/iop-schema.js';
import { compileAccepts } from '../../src/overlay/schema-check.js';
import { valuesSchema } from '../../src/overlay/values-schema.js';

const RENDER = 'test/fixtures/render';
const cases = readdirSync(RENDER).filter((name) => existsSync(path.join(RENDER, name, 'expected.yaml')));
const renderings = cases.map(
  (name) => load(readFileSync(path.join(RENDER, name, 'expected.yaml'), 'utf8')) as unknown,
);
const valuesFiles = [
  ...cases.map((name) => path.join(RENDER, name, 'values.yaml')).filter((file) => existsSync(file)),
  ...readdirSync('test/fixtures/rancher')
    .filter((name) => name.endsWith('-values.yaml'))
    .map((name) => path.join('test/fixtures/rancher', name)),
].map((file) => (load(readFileSync(file, 'utf8')) as unknown) ?? {});

/** Every path to a node of a JSON document, the root included. */
function pathsOf(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const here = [at];
  if (Array.isArray(value)) return [...here, ...value.flatMap((item, i) => pathsOf(item, [...at, i]))];
  if (value !== null && typeof value === 'object')
    return [...here, ...Object.entries(value).flatMap(([key, child]) => pathsOf(child, [...at, key]))];
  return here;
}

// Values that sit on the schema's edges: wrong types, numbers zod refuses, labels just too long, prototype keys.
const REPLACEMENTS: unknown[] = [
  'x',
  '',
  'Exists',
  'NoSchedule',
  'IfNotPresent',
  'a'.repeat(63),
  'a'.repeat(64),
  'Bad_Label',
  'docker.io/istio',
  '1.31.0',
  'not a tag!',
  'default',
  'ambient',
  'nope',
  0,
  -1,
  1.5,
  3,
  NaN,
  Infinity,
  -Infinity,
  2 ** 53,
  true,
  false,
  null,
  undefined,
  [],
  [{}],
  {},
  { name: 'x' },
  { unknownKey: 1 },
  'install.istio.io/v1alpha1',
  'IstioOperator',
];
const NEW_KEYS = [
  'unknownKey',
  'name',
  'enabled',
  'k8s',
  'value',
  'tag',
  '__proto__',
  'constructor',
  'toString',
];

const mutation = fc.record({
  at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  kind: fc.constantFrom('replace', 'delete', 'add-key', 'wrap-in-list', 'proto-key'),
  replacement: fc.constantFrom(...REPLACEMENTS),
  key: fc.constantFrom(...NEW_KEYS),
});

interface Mutation {
  at: number;
  kind: string;
  replacement: unknown;
  key: string;
}

/** Applies one mutation to a copy of the document. */
function mutate(document: unknown, { at, kind, replacement, key }: Mutation): unknown {
  const copy = structuredClone(document);
  const paths = pathsOf(copy);
  const target = paths[Math.floor(at * paths.length)] ?? [];
  if (target.length === 0) return kind === 'replace' ? replacement : copy;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any JSON node, indexed by its path
  const parent = target.slice(0, -1).reduce<any>((node, segment) => node[segment], copy);
  const last = target.at(-1) as string | number;
  if (kind === 'replace') parent[last] = replacement;
  else if (kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (kind === 'wrap-in-list') parent[last] = [parent[last]];
  else if (kind === 'proto-key') {
    const node = parent[last];
    if (node !== null && typeof node === 'object' && !Array.isArray(node))
      Object.defineProperty(node, key, { value: 1, enumerable: true });
  } else {
    const node = parent[last];
    if (node !== null && typeof node === 'object' && !Array.isArray(node))
      Object.defineProperty(node, key, {
        value: replacement,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return copy;
}

function expectSameVerdict(schema: z.ZodType, accepts: (value: unknown) => boolean, value: unknown): boolean {
  const zodSays = schema.safeParse(value).success;
  expect({ value, verdict: accepts(value) }).toEqual({ value, verdict: zodSays });
  return zodSays;
}

/** Mutates the seeds at random, expects the compiled check to answer as zod on each, and returns the verdicts seen. */
function verdictsOnMutations(
  schema: z.ZodType,
  seeds: unknown[],
  maxMutations: number,
  runs: number,
): boolean[] {
  const accepts = compileAccepts(schema);
  const verdicts = new Set<boolean>();
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(mutation, { minLength: 1, maxLength: maxMutations }),
      (seed, mutations) => {
        const document = mutations.reduce<unknown>((doc, m) => mutate(doc, m), seeds[seed]);
        verdicts.add(expectSameVerdict(schema, accepts, document));
      },
    ),
    { numRuns: runs },
  );
  return [...verdicts].sort();
}

describe('compileAccepts', () => {
  test.each<[string, z.ZodType, unknown[]]>([
    [
      'numbers',
      zod.strictObject({ n: zod.number() }),
      [{ n: 1 }, { n: NaN }, { n: Infinity }, { n: '1' }, {}],
    ],
    [
      'optional fields, absent, undefined and inherited',
      zod.strictObject({ a: zod.string().optional(), toString: zod.unknown() }),
      [{ toString: 1 }, {}, { a: undefined, toString: 1 }, Object.create({ a: 'x' })],
    ],
    [
      'records',
      zod.record(zod.string(), zod.string()),
      [
        { a: 'x' },
        { a: 1 },
        [],
        null,
        { constructor: 'x' },
        { [Symbol('s')]: 'x' },
        Object.create(null),
        new Date(),
      ],
    ],
    ['sparse lists', zod.array(zod.string()), [['a'], ['a', 1], new Array(2), 'a']],
    ['loose objects', zod.looseObject({ a: zod.boolean() }), [{ a: true, b: 1 }, { b: 1 }, { a: 'yes' }]],
    ['enums and literals', zod.enum(['a', 'b']).or(zod.literal(3)), ['a', 'c', 3, '3']],
    [
      'strings with lengths (counted in code points) and patterns',
      zod
        .string()
        .min(2)
        .max(3)
        .regex(/^[a-z😀é]+$/u),
      ['ab', 'a', 'abcd', 'AB', '😀', '😀😀', '😀😀😀😀', 'é', 'éé', 1, null],
    ],
    ['a pattern with the global flag', zod.string().regex(/a/g), ['a', 'a', 'b', 'ba', 'a']],
    ['integers with a floor', zod.number().int().min(0), [0, -1, 1.5, 2 ** 53, NaN, Infinity, '1']],
    ['refinements', zod.string().refine((text) => text.startsWith('x')), ['xa', 'a', 3]],
    ['booleans with a refinement', zod.boolean().refine((flag) => flag), [true, false, 'true']],
    ['a refinement whose `when` says no', zod.string().refine(() => false, { when: () => false }), ['a', 1]],
  ])('%s: the same verdict as zod', (_name, schema, values) => {
    const accepts = compileAccepts(schema);
    for (const value of values) expectSameVerdict(schema, accepts, value);
  });

  const acceptsIstioOperator = compileAccepts(istioOperatorSchema);

  test('accepts every golden rendering and the benchmark overlay, as zod does', () => {
    expect(renderings.length).toBeGreaterThan(20);
    for (const rendering of renderings)
      expect(expectSameVerdict(istioOperatorSchema, acceptsIstioOperator, rendering)).toBe(true);
    const big = load(bigOverlay());
    expect(expectSameVerdict(istioOperatorSchema, acceptsIstioOperator, big)).toBe(true);
  });

  test('mutated IstioOperators: the same verdict as zod, and both verdicts come up', () => {
    const bigPart = load(
      bigOverlay()
        .slice(0, 20000)
        .replace(/\n[^\n]*$/, '\n'),
    );
    const verdicts = verdictsOnMutations(istioOperatorSchema, [...renderings, bigPart], 3, 4000);
    expect(verdicts).toEqual([false, true]);
  });

  test('mutated values files (a schema with defaults, refinements and checks): the same verdict as zod', () => {
    expect(verdictsOnMutations(valuesSchema as z.ZodType, valuesFiles, 2, 1500)).toEqual([false, true]);
  });
});
