// istioctl's `--set PATH=VALUE` syntax: parsing paths (`a.b`, `a.[0].b`, `a.[name:foo].b`, `\.` escapes) and applying them.
import type { Issue } from '../errors.js';
import { isObject, type Json, type JsonObject } from './json.js';
import { MAX_DEPTH } from './yaml-source.js';

export type PathSegment =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'match'; field: string; value: string };

export interface SetFlag {
  /** What the user wrote, for messages. */
  text: string;
  path: PathSegment[];
  value: Json;
}

/**
 * Paths whose values stay strings whatever they look like: image tags and versions, and maps Kubernetes
 * requires to hold strings (labels, annotations, env values, proxy metadata).
 */
function keepsString(path: readonly PathSegment[]): boolean {
  const keys = path.flatMap((segment) => (segment.kind === 'key' ? [segment.key] : []));
  const last = keys[keys.length - 1];
  if (last === 'tag' || last === 'compatibilityVersion' || last === 'revision') return true;
  const parent = keys[keys.length - 2];
  if (
    parent &&
    ['proxyMetadata', 'label', 'nodeSelector', 'podAnnotations', 'serviceAnnotations'].includes(parent)
  )
    return true;
  return parent === 'env' || (keys.includes('env') && last === 'value');
}

/** istioctl's inference: integer, then float, then boolean, else the string itself. */
export function inferScalar(text: string): Json {
  if (/^[-+]?\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

/** Splits on unescaped dots; `\.` stands for a literal dot inside a key. */
function splitPath(path: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i];
    if (char === '\\' && path[i + 1] === '.') {
      current += '.';
      i++;
    } else if (char === '.') {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

export type SetParseResult = { ok: true; flag: SetFlag } | { ok: false; issue: Issue };

/** Parses one `--set` argument; the label says where it came from (e.g. `--set[2]`). */
export function parseSetFlag(text: string, label: string): SetParseResult {
  // A path thousands of segments long is shown cut short: the message must stay one readable line.
  const shown = text.length > 200 ? `${text.slice(0, 60)}...` : text;
  const fail = (message: string): SetParseResult => ({
    ok: false,
    issue: { file: label, path: shown, message },
  });
  const equals = text.indexOf('=');
  if (equals <= 0) return fail('expected PATH=VALUE');
  const rawPath = text.slice(0, equals).replace(/^spec\./, '');
  const rawValue = text.slice(equals + 1);
  const path: PathSegment[] = [];
  for (const part of splitPath(rawPath)) {
    if (part === '') return fail('empty path segment');
    // istioctl takes both `list.[0]` and `list[0]`: a key with a selector attached is the key, then the selector.
    const attached = /^([^[\]]+)(\[.*\])$/.exec(part);
    if (attached) path.push({ kind: 'key', key: attached[1] ?? '' });
    const bracket = /^\[(.*)\]$/.exec(attached ? (attached[2] ?? '') : part);
    if (!bracket) {
      path.push({ kind: 'key', key: part });
      continue;
    }
    const inner = bracket[1] ?? '';
    if (/^\d+$/.test(inner)) path.push({ kind: 'index', index: Number(inner) });
    else {
      const colon = inner.indexOf(':');
      if (colon <= 0) return fail(`list selector [${inner}] must be [N] or [field:value]`);
      path.push({ kind: 'match', field: inner.slice(0, colon), value: inner.slice(colon + 1) });
    }
  }
  if (path[0]?.kind !== 'key') return fail('a path starts with a field name');
  // Counted as js-yaml counts an overlay file's nesting (the document, `spec`, then each key), so the same
  // path is refused in both.
  if (path.length + 2 > MAX_DEPTH) return fail(`nested deeper than ${MAX_DEPTH} levels`);
  return { ok: true, flag: { text, path, value: keepsString(path) ? rawValue : inferScalar(rawValue) } };
}

/**
 * Writes `flag.value` into `spec` at `flag.path`, creating maps on the way and a list element for a
 * `[field:value]` selector that matches nothing (so `--set components.ingressGateways.[name:x].enabled=true`
 * adds gateway x). Returns the new spec or the reason it cannot.
 */
export function applySetFlag(
  spec: JsonObject,
  flag: SetFlag,
): { ok: true; spec: JsonObject } | { ok: false; message: string } {
  // Copy on write along the path only: the rest of a large spec is shared, never mutated.
  const copy = (value: Json | undefined, fresh: () => Json): Json =>
    Array.isArray(value)
      ? [...value]
      : isObject(value)
        ? { ...value }
        : value === undefined || value === null
          ? fresh()
          : value;
  const root: JsonObject = { ...spec };
  let node: Json = root;
  for (let i = 0; i < flag.path.length; i++) {
    const segment = flag.path[i] as PathSegment;
    const last = i === flag.path.length - 1;
    const next = flag.path[i + 1];
    const fresh = (): Json => (next && next.kind !== 'key' ? [] : {});
    if (segment.kind === 'key') {
      if (!isObject(node))
        return { ok: false, message: `"${segment.key}" is inside a ${describe(node)}, not a map` };
      if (last) node[segment.key] = flag.value;
      else node = node[segment.key] = copy(node[segment.key], fresh);
      continue;
    }
    if (!Array.isArray(node)) return { ok: false, message: `list selector used on a ${describe(node)}` };
    let index: number;
    if (segment.kind === 'index') {
      if (segment.index > node.length)
        return { ok: false, message: `index ${segment.index} is past the end of a list of ${node.length}` };
      index = segment.index;
    } else {
      index = node.findIndex(
        (element) => isObject(element) && String(element[segment.field]) === segment.value,
      );
      if (index < 0) {
        node.push({ [segment.field]: segment.value });
        index = node.length - 1;
      }
    }
    if (last) node[index] = flag.value;
    else node = node[index] = copy(node[index], fresh);
  }
  return { ok: true, spec: root };
}

function describe(value: Json): string {
  if (Array.isArray(value)) return 'list';
  if (isObject(value)) return 'map';
  return `${typeof value} value`;
}
