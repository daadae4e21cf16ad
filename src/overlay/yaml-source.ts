// Parses one YAML text into plain data plus a locator that maps a key path back to its line and column.
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  Scalar,
  visit,
  type Document,
  type Node,
} from 'yaml';
import type { Issue } from '../errors.js';
import { formatPath, type DocPath, type Json } from './json.js';

/** Inputs larger than this are refused before parsing: a values file or overlay is never megabytes of YAML by accident. */
export const MAX_INPUT_BYTES = 8 * 1024 * 1024;
/** Aliases expanded beyond this count are treated as an alias bomb ("billion laughs"). */
export const MAX_ALIAS_COUNT = 100;

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

/** Parses exactly one YAML document; every syntax problem, duplicate key or limit breach is reported with its position. */
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

  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number): { line: number; col: number } => lines.linePos(offset);
  const issues: Issue[] = [];
  for (const document of documents) {
    for (const error of document.errors) {
      const { line, col } = at(error.pos[0]);
      const message = error.code === 'DUPLICATE_KEY' ? 'duplicate key' : firstLine(error.message);
      issues.push({ file: label, line, col, path: '', message });
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  if (documents.length > 1) {
    const { line, col } = at(documents[1]?.range[0] ?? 0);
    return {
      ok: false,
      issues: [
        {
          file: label,
          line,
          col,
          path: '',
          message: `expected one YAML document, found ${documents.length}`,
        },
      ],
    };
  }

  const document = documents[0];
  if (!document || document.contents === null)
    return {
      ok: true,
      source: { label, value: undefined, locate: () => ({ file: label, line: 1, col: 1 }) },
    };

  keepTagsAsWritten(document);
  let value: Json;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Json;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      issues: [{ file: label, path: '', message: `refused: ${firstLine(reason)} (aliases expand too much)` }],
    };
  }
  return { ok: true, source: { label, value, locate: locatorFor(document, label, at) } };
}

/**
 * `tag: 1.20` is a float to YAML, which would become "1.2". Istio tags are strings, so every `tag` (and
 * `compatibilityVersion`) scalar keeps the exact text the user wrote.
 */
function keepTagsAsWritten(document: Document): void {
  visit(document, {
    Pair(_, pair) {
      if (!isScalar(pair.key) || !isScalar(pair.value)) return;
      const key = String(pair.key.value);
      if ((key === 'tag' || key === 'compatibilityVersion') && typeof pair.value.value === 'number') {
        const written = pair.value.source ?? String(pair.value.value);
        const replacement = new Scalar(written);
        replacement.range = pair.value.range;
        pair.value = replacement;
      }
    },
  });
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
