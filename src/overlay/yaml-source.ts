// Parses one YAML text into plain data plus a locator that maps a key path back to its line and column.
import { FAILSAFE_SCHEMA, loadAll, Type, types, YAMLException } from 'js-yaml';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import type { Issue } from '../errors.js';
import { formatPath, isObject, type DocPath, type Json } from './json.js';
import {
  mayBeNumber,
  NOT_PLAIN,
  readPlainBlockYaml,
  readPlainBlockYamlPositions,
  type PlainPositions,
} from './yaml-fast-path.js';

/** Inputs larger than this are refused before parsing: a values file or overlay is never megabytes of YAML by accident. */
export const MAX_INPUT_BYTES = 8 * 1024 * 1024;
/**
 * How deeply maps and lists may nest, in a document and in a `--set` path alike. The deepest real IstioOperator
 * paths (k8s overlays, affinity terms) stay under 20 levels; the limit stops input that would exhaust the stack
 * of the recursive steps that follow (merge, validation, output) long before it does.
 */
export const MAX_DEPTH = 100;
/** A document may never expand (through aliases) to more nodes than this, or than its own length in characters. */
export const MIN_NODE_BUDGET = 100_000;

export interface Position {
  file: string;
  line: number;
  col: number;
}

/** Finds where a path is written; falls back to the deepest ancestor that exists. */
export type Locator = (path: DocPath) => Position | undefined;

export interface ParsedSource {
  /** Label used in messages: a file path, `<stdin>`, or `values.yaml#overlayFile`. */
  label: string;
  /** undefined for an empty document. */
  value: Json | undefined;
  locate: Locator;
}

export type ParseResult = { ok: true; source: ParsedSource } | { ok: false; issues: Issue[] };

/**
 * Parses exactly one YAML document. Plain block YAML, what values files and overlays are, is read by the fast path
 * (`yaml-fast-path.ts`); anything else by js-yaml (about ten times faster than `yaml` on a 2 MB overlay). `yaml`,
 * which keeps source positions, runs only when something must be located: a syntax error or a key that an error
 * message points at.
 */
export function parseYamlSource(
  text: string,
  label: string,
  maxBytes: number = MAX_INPUT_BYTES,
): ParseResult {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes)
    return {
      ok: false,
      issues: [{ file: label, path: '', message: `input is ${size} bytes, over the limit of ${maxBytes}` }],
    };

  const plain = readPlainBlockYaml(text, KEYS_KEPT_AS_WRITTEN, MAX_DEPTH / 2);
  if (plain === NOT_PLAIN) return parseAnyYaml(text, label);
  return {
    ok: true,
    source: { label, value: plain, locate: lazyLocator(() => plainPositionsOf(text, label)) },
  };
}

/** The general path: any YAML js-yaml reads, each problem located by `yaml`. Also what the fast path is tested against. */
export function parseAnyYaml(text: string, label: string): ParseResult {
  let documents: unknown[];
  try {
    documents = loadAll(text, undefined, {
      schema: SOURCE_KEEPING_SCHEMA,
      filename: label,
      maxDepth: MAX_DEPTH,
    });
  } catch (error) {
    return { ok: false, issues: preciseIssues(text, label, error) };
  }
  if (documents.length > 1) return { ok: false, issues: preciseIssues(text, label, undefined) };
  const locate = lazyLocator(() => positionsOf(text, label));
  if (documents.length === 0 || documents[0] === null || documents[0] === undefined)
    return { ok: true, source: { label, value: undefined, locate } };

  // An alias is written `*name`: text without a `*` has none, so its data is a tree no bigger than the text.
  const value = text.includes('*')
    ? toPlainData(documents[0], Math.max(MIN_NODE_BUDGET, text.length))
    : unwrapNumbers(documents[0]);
  if (value === undefined)
    return {
      ok: false,
      issues: [
        { file: label, path: '', message: 'refused: aliases expand too much (a "billion laughs" document)' },
      ],
    };
  return { ok: true, source: { label, value, locate } };
}

/** Positions are found only when a message needs one: `find` then reads the text again, keeping them. */
function lazyLocator(find: () => Locator): Locator {
  let cached: Locator | undefined;
  return (path) => (cached ??= find())(path);
}

/**
 * For text the fast path read: the fast path reads it again, noting positions, at the places `yaml` gives (see
 * `locatorFor`). For Rancher's values, whose installer keys always warn, this spares every run `yaml`'s parse.
 */
function plainPositionsOf(text: string, label: string): Locator {
  const read = readPlainBlockYamlPositions(text, KEYS_KEPT_AS_WRITTEN, MAX_DEPTH / 2);
  // The fast path read this very text before; should it ever not, `yaml` still knows.
  if (read === NOT_PLAIN) return positionsOf(text, label);
  const at = lineAndColumn(text);
  return (path) => ({ file: label, ...at(plainOffset(read, path)) });
}

/** Where `path` is written, as locatorFor finds it: the deepest key or item of the path that exists. */
function plainOffset(read: PlainPositions, path: DocPath): number {
  let node: Json | undefined = read.value;
  let offset = read.root;
  for (const segment of path) {
    const offsets: Map<string, number> | number[] | undefined =
      node === null || typeof node !== 'object' ? undefined : read.of.get(node);
    let next: number | undefined;
    if (isObject(node) && offsets instanceof Map) {
      const key = String(segment);
      next = offsets.get(key);
      node = next === undefined ? undefined : node[key];
    } else if (Array.isArray(node) && Array.isArray(offsets) && typeof segment === 'number') {
      next = offsets[segment];
      node = next === undefined ? undefined : node[segment];
    }
    if (next === undefined) break;
    offset = next;
  }
  return offset;
}

/** An offset's 1-based line and column by `yaml`'s own LineCounter, fed the line starts `yaml`'s lexer would give it. */
function lineAndColumn(text: string): (offset: number) => { line: number; col: number } {
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
  return (offset) => lines.linePos(offset);
}

/** A number as js-yaml read it, with the text it was written as, so `tag: 1.20` can stay "1.20". */
class WrittenNumber {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}

  // js-yaml turns a key into a string with String(key) unless it looks like a plain object: a number written as a
  // key (`1: a`) must become "1", as with js-yaml's own numbers, not "[object Object]" (which made `1:` and `2:`
  // duplicates of each other).
  get [Symbol.toStringTag](): string {
    return 'WrittenNumber';
  }

  toString(): string {
    return String(this.value);
  }
}

function keepingSource(type: Type): Type {
  return new Type(type.tag, {
    kind: 'scalar',
    resolve: (data: string | null) => mayBeNumber(data) && type.resolve(data),
    construct: (data: string) => new WrittenNumber(data, type.construct(data) as number),
  });
}

/** YAML 1.2's core schema (as `yaml` uses it), with numbers that remember how they were written. */
const SOURCE_KEEPING_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [types.null, types.bool, keepingSource(types.int), keepingSource(types.float)],
});

/** Image tags and versions are strings to Istio, whatever YAML thinks they look like. */
const KEYS_KEPT_AS_WRITTEN = new Set(['tag', 'compatibilityVersion']);

function scalarOf(node: WrittenNumber, key: string | undefined): Json {
  return key !== undefined && KEYS_KEPT_AS_WRITTEN.has(key) ? node.text : node.value;
}

/**
 * Turns js-yaml's result into plain JSON data in place: numbers unwrapped (or kept as written under `tag`).
 * Aliases stay shared objects, but their expanded size is counted (memoised per object); a document that would
 * expand beyond the budget is an alias bomb and yields undefined. In place, because a copy of a 2 MB overlay
 * cost as much as parsing it.
 */
function toPlainData(root: unknown, budget: number): Json | undefined {
  const sizes = new Map<object, number>();
  const inProgress = new Set<object>();
  const expandedSize = (node: object): number => {
    const known = sizes.get(node);
    if (known !== undefined) return known;
    if (inProgress.has(node)) return Infinity;
    inProgress.add(node);
    let total = 1;
    const container = node as Record<string, unknown>;
    for (const key of Object.keys(container)) {
      const child = container[key];
      if (child instanceof WrittenNumber) {
        container[key] = scalarOf(child, Array.isArray(node) ? undefined : key);
        total += 1;
      } else if (child !== null && typeof child === 'object') total += expandedSize(child);
      else total += 1;
      if (total > budget) break;
    }
    inProgress.delete(node);
    sizes.set(node, total);
    return total;
  };
  if (root instanceof WrittenNumber) return root.value;
  if (root === null || typeof root !== 'object') return root as Json;
  return expandedSize(root) > budget ? undefined : (root as Json);
}

/** toPlainData for a tree without aliases: only the numbers are unwrapped, in place, with nothing to count. */
function unwrapNumbers(root: unknown): Json {
  if (root instanceof WrittenNumber) return root.value;
  if (root === null || typeof root !== 'object') return root as Json;
  const isList = Array.isArray(root);
  const container = root as Record<string, unknown>;
  for (const key of Object.keys(container)) {
    const child = container[key];
    if (child instanceof WrittenNumber) container[key] = scalarOf(child, isList ? undefined : key);
    else if (child !== null && typeof child === 'object') unwrapNumbers(child);
  }
  return root as Json;
}

/** The error path: `yaml` finds every problem, each with its line and column. */
function preciseIssues(text: string, label: string, fastPathError: unknown): Issue[] {
  // Too deep for js-yaml is too deep for `yaml` too, which would only exhaust the stack trying: answer here.
  if (fastPathError instanceof YAMLException && fastPathError.reason.startsWith('nesting exceeded maxDepth'))
    return [
      {
        file: label,
        line: fastPathError.mark.line + 1,
        col: fastPathError.mark.column + 1,
        path: '',
        message: `nested deeper than ${MAX_DEPTH} levels`,
      },
    ];
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const issues: Issue[] = [];
  for (const document of documents)
    for (const error of document.errors) {
      const { line, col } = lines.linePos(error.pos[0]);
      issues.push({
        file: label,
        line,
        col,
        path: '',
        message: error.code === 'DUPLICATE_KEY' ? 'duplicate key' : firstLine(error.message),
      });
    }
  if (issues.length > 0) return issues;
  if (documents.length > 1) {
    const { line, col } = lines.linePos(documents[1]?.range[0] ?? 0);
    return [
      { file: label, line, col, path: '', message: `expected one YAML document, found ${documents.length}` },
    ];
  }
  // The two parsers disagree: report js-yaml's own finding, which carries a position too.
  if (fastPathError instanceof YAMLException)
    return [
      {
        file: label,
        line: fastPathError.mark.line + 1,
        col: fastPathError.mark.column + 1,
        path: '',
        message: fastPathError.reason,
      },
    ];
  return [{ file: label, path: '', message: `cannot parse: ${String(fastPathError)}` }];
}

/** Builds the position index with `yaml`; only called when an issue needs a location. */
function positionsOf(text: string, label: string): Locator {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  return locatorFor(document, label, (offset) => lines.linePos(offset));
}

function locatorFor(
  document: Document,
  label: string,
  at: (offset: number) => { line: number; col: number },
): Locator {
  return (path) => {
    let node: Node | null | undefined = document.contents as Node | null;
    let offset = node?.range?.[0] ?? 0;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (!pair) break;
        offset = (pair.key as Node).range?.[0] ?? offset;
        node = pair.value as Node | null;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment] as Node | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else break;
    }
    return { file: label, ...at(offset) };
  };
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? text).replace(/ at line \d+, column \d+:?$/, '');
}

/** Attaches a position to an issue given a path inside a source. */
export function issueAt(
  source: Pick<ParsedSource, 'locate' | 'label'>,
  path: DocPath,
  message: string,
): Issue {
  const position = source.locate(path);
  return { ...(position ?? { file: source.label }), path: formatPath(path), message };
}

/** A locator for data nested at `prefix` inside another source (an overlay written inline in a values file). */
export function nestedLocator(parent: Locator, prefix: DocPath): Locator {
  return (path) => parent([...prefix, ...path]);
}
