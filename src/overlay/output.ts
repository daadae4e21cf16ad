// Renders an IstioOperator as YAML or JSON, with sorted keys so the same inputs always give the same bytes.
import { isObject, sortKeysDeep, type Json } from './json.js';

export type OutputFormat = 'yaml' | 'json';

export function renderDocument(document: Json, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(sortKeysDeep(document), null, 2) + '\n';
  if (!isCollection(document)) return inline(document) + '\n';
  const lines: string[] = [];
  emitBlock(document, '', lines);
  return lines.join('\n') + '\n';
}

/**
 * A YAML emitter for plain data only (maps, lists, strings, numbers, booleans, null). The `yaml` library's
 * general one was most of the render time of a 2 MB overlay; data this simple needs none of its generality.
 * Strings are written plain only when no YAML 1.1 or 1.2 reader could take them for anything but a string,
 * otherwise as JSON double-quoted strings, which are valid YAML.
 */
function emitBlock(value: Json, indent: string, lines: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) emitListItem(item, indent, lines);
  } else if (isObject(value)) {
    // Keys are sorted here rather than in a sorted copy: a 2 MB document is then walked once.
    for (const key of Object.keys(value).sort()) {
      const child = value[key] as Json;
      const head = `${indent}${scalar(key)}:`;
      if (isCollection(child)) {
        lines.push(head);
        emitBlock(child, indent + '  ', lines);
      } else lines.push(`${head} ${inline(child)}`);
    }
  } else lines.push(indent + scalar(value));
}

function emitListItem(item: Json, indent: string, lines: string[]): void {
  if (!isCollection(item)) {
    lines.push(`${indent}- ${inline(item)}`);
    return;
  }
  // The item's first line goes after the dash; the rest is indented past it.
  const nested: string[] = [];
  emitBlock(item, indent + '  ', nested);
  const first = nested[0] ?? '';
  lines.push(`${indent}- ${first.slice(indent.length + 2)}`);
  for (let i = 1; i < nested.length; i++) lines.push(nested[i] as string);
}

/** Non-empty maps and lists are written as blocks; empty ones inline as {} and []. */
function isCollection(value: Json): value is Json[] | { [key: string]: Json } {
  if (Array.isArray(value)) return value.length > 0;
  return isObject(value) && Object.keys(value).length > 0;
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
