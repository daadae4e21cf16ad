// Renders an IstioOperator as YAML or JSON, with sorted keys so the same inputs always give the same bytes.
import { isObject, sortedKeys, sortKeysDeep, type Json, type JsonObject } from './json.js';

export type OutputFormat = 'yaml' | 'json';

export function renderDocument(document: Json, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(sortKeysDeep(document), null, 2) + '\n';
  if (!isCollection(document)) return inline(document) + '\n';
  const lines = new Lines();
  emitBlock(document, '', '', lines);
  return lines.text();
}

/**
 * The lines written so far, joined into one string every few thousand: the collector then keeps a few hundred flat
 * strings alive while the rest is written, not tens of thousands of small ones it would copy at every collection.
 */
class Lines {
  private pending: string[] = [];
  private readonly joined: string[] = [];

  push(line: string): void {
    this.pending.push(line);
    if (this.pending.length === LINES_PER_JOIN) {
      this.joined.push(this.pending.join('\n'));
      this.pending = [];
    }
  }

  text(): string {
    if (this.pending.length > 0) this.joined.push(this.pending.join('\n'));
    return this.joined.join('\n') + '\n';
  }
}
const LINES_PER_JOIN = 2048;

/**
 * A YAML emitter for plain data only (maps, lists, strings, numbers, booleans, null). The `yaml` library's
 * general one was most of the render time of a 2 MB overlay; data this simple needs none of its generality.
 * Strings are written plain only when no YAML 1.1 or 1.2 reader could take them for anything but a string,
 * otherwise as JSON double-quoted strings, which are valid YAML.
 *
 * `first` prefixes the block's first line and `indent` the others: a list item's first line follows its dash.
 * Writing each line once in its place, rather than re-indenting a nested item's lines, keeps a 2 MB document
 * to one pass.
 */
function emitBlock(value: Json[] | JsonObject, indent: string, first: string, lines: Lines): void {
  let prefix = first;
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    // Indexed loops: `for…of` runs the iterator protocol, which costs until the optimizer has compiled it away, and a
    // render is over by then.
    for (let i = 0; i < value.length; i++) {
      const item = value[i] as Json;
      if (isCollection(item)) emitBlock(item, inner, `${prefix}- `, lines);
      else lines.push(`${prefix}- ${inline(item)}`);
      prefix = indent;
    }
    return;
  }
  // Keys are sorted here rather than in a sorted copy: a 2 MB document is then walked once.
  const keys = sortedKeys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const child = value[key] as Json;
    if (isCollection(child)) {
      lines.push(`${prefix}${keyText(key)}:`);
      emitBlock(child, inner, inner, lines);
    } else lines.push(`${prefix}${keyText(key)}: ${inline(child)}`);
    prefix = indent;
  }
}

/** The same few keys recur thousands of times in a large document; each is checked for quoting once. */
const KEY_TEXT = new Map<string, string>();

function keyText(key: string): string {
  let text = KEY_TEXT.get(key);
  if (text === undefined) {
    text = scalar(key);
    if (KEY_TEXT.size < 10_000) KEY_TEXT.set(key, text);
  }
  return text;
}

/** Non-empty maps and lists are written as blocks; empty ones inline as {} and []. */
function isCollection(value: Json): value is Json[] | JsonObject {
  if (Array.isArray(value)) return value.length > 0;
  if (!isObject(value)) return false;
  for (const key in value) if (Object.hasOwn(value, key)) return true;
  return false;
}

function inline(value: Json): string {
  if (Array.isArray(value)) return '[]';
  if (isObject(value)) return '{}';
  return scalar(value);
}

const PLAIN = /^[A-Za-z_/][\w./@%=+-]*(?::[\w./@%=+-]+)*$/;
/** Words that some YAML reader takes for a boolean or null (YAML 1.1's yes/no/on/off included). */
const RESERVED = /^(?:y|n|yes|no|on|off|true|false|null|~)$/i;

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '.nan';
    if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
    return String(value);
  }
  return PLAIN.test(value) && !RESERVED.test(value) ? value : JSON.stringify(value);
}
