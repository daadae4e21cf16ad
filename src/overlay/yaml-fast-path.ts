// Reads the plain block YAML that values files and overlays are made of, in one pass and without js-yaml; any other YAML is left to js-yaml.
import { types } from 'js-yaml';
import type { Json, JsonObject } from './json.js';

/** What the fast path returns for text it does not read itself: js-yaml then parses it, with every check. */
export const NOT_PLAIN = Symbol('not plain block YAML');

/**
 * The subset read here, and nothing else: printable ASCII only (no tab, no carriage return); an optional `---` as
 * the first line; block maps and block lists; single-line plain, single-quoted and double-quoted scalars (the
 * double-quoted with JSON's escapes); `{}` and `[]`; comments. No anchors, aliases, tags, block scalars (`|`, `>`),
 * flow collections with items, multi-line scalars, keys that YAML reads as anything but a string, duplicate keys,
 * `__proto__`, or a second document. Text outside the subset, broken text included, returns NOT_PLAIN, so every
 * error still comes from js-yaml and `yaml` with its position.
 *
 * Scalars are resolved by js-yaml's own types in js-yaml's order (null, bool, int, float): the data is the same as
 * js-yaml's, which `test/unit/yaml-fast-path.test.ts` checks on the fixtures and on generated and mutated text.
 *
 * `keptAsWritten` names the keys whose numbers stay the text they were written as (`tag: 1.20`). Text nested deeper
 * than `maxDepth` maps and lists is left to js-yaml, which counts every node against its own limit.
 */
export function readPlainBlockYaml(
  text: string,
  keptAsWritten: ReadonlySet<string>,
  maxDepth: number,
): Json | typeof NOT_PLAIN {
  return readWith(new Reader(text, keptAsWritten, maxDepth, undefined));
}

/**
 * Where each node of plain block YAML starts, as offsets into the text: for a map, where each of its keys is
 * written; for a list, where each item's node starts (after its dash); and where the root node starts. The same
 * places the `yaml` library reports for them, so a message points at the same line and column either way.
 */
export interface PlainPositions {
  value: Json;
  root: number;
  /** By the maps and lists of `value` (an empty `{}` or `[]` has none). */
  of: Map<object, Map<string, number> | number[]>;
}

/** readPlainBlockYaml, also noting where each key and list item is written: only run when a message needs one. */
export function readPlainBlockYamlPositions(
  text: string,
  keptAsWritten: ReadonlySet<string>,
  maxDepth: number,
): PlainPositions | typeof NOT_PLAIN {
  const of: PlainPositions['of'] = new Map();
  const reader = new Reader(text, keptAsWritten, maxDepth, of);
  const value = readWith(reader);
  return value === NOT_PLAIN ? NOT_PLAIN : { value, root: reader.rootStart, of };
}

function readWith(reader: Reader): Json | typeof NOT_PLAIN {
  if (NOT_PRINTABLE_ASCII.test(reader.text)) return NOT_PLAIN;
  try {
    return reader.document();
  } catch (error) {
    if (error === BAIL) return NOT_PLAIN;
    throw error;
  }
}

/** Thrown (never as an Error: no stack to capture) when the text leaves the subset. */
const BAIL = Symbol('bail');

interface Search {
  readonly needle: string;
  from: number;
  at: number;
}

const NEWLINE = 10;
const SPACE = 32;
const HASH = 35;
const DASH = 45;
const COLON = 58;
const DOUBLE_QUOTE = 34;
const SINGLE_QUOTE = 39;
const BACKSLASH = 92;
/** A comment after content: YAML needs the space before its `#`. */
const SPACE_HASH = ' #';

/** Characters that may not start a plain scalar here (YAML's indicators; `-`, `?` and `:` are checked apart). */
const INDICATOR = new Uint8Array(128);
for (const c of '[]{},#&*!|>\'"%@`?:') INDICATOR[c.charCodeAt(0)] = 1;

const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
};

/** Longer keys are not implicit keys in YAML 1.2; left to js-yaml. */
const MAX_KEY_LENGTH = 1024;

/** One regular expression over the whole text: native code, where a loop over 2 MB of characters starts interpreted. */
const NOT_PRINTABLE_ASCII = /[^\n\x20-\x7e]/;

class Reader {
  /** Where reading is: the first character of a content line's node, or text.length at the end. */
  private pos = 0;
  /** Start of the line `pos` is on. */
  private lineStart = 0;
  /** The indentation of the current content line (its first non-space column). */
  private indent = 0;
  private depth = 0;
  // What `next` last found for each needle, and searching from where.
  private readonly nowhere: number;
  private readonly newline: Search = { needle: '\n', from: 0, at: -1 };
  private readonly colonSpace: Search = { needle: ': ', from: 0, at: -1 };
  private readonly spaceHash: Search = { needle: SPACE_HASH, from: 0, at: -1 };
  /** Past the document's first content line: a document marker now starts another document. */
  private started = false;
  /** Where the root node starts, once `document` has read it. */
  rootStart = 0;

  constructor(
    readonly text: string,
    private readonly keptAsWritten: ReadonlySet<string>,
    private readonly maxDepth: number,
    /** Where keys and items are written, when asked (PlainPositions.of); undefined on the fast path. */
    private readonly positions: Map<object, Map<string, number> | number[]> | undefined,
  ) {
    // A small integer, where Infinity would make every position a boxed double.
    this.nowhere = text.length + 1;
  }

  document(): Json {
    if (!this.nextContentLine()) throw BAIL; // empty: js-yaml says what that is
    this.started = true;
    if (this.indent === 0 && this.isMarker('...')) throw BAIL;
    if (this.indent === 0 && this.isMarker('---')) {
      const after = this.pos + 3;
      if (after < this.text.length && this.text.charCodeAt(after) !== NEWLINE) throw BAIL;
      this.pos = after;
      if (!this.nextLine()) throw BAIL;
    }
    this.rootStart = this.pos;
    const root = this.blockNode(this.indent);
    if (this.pos < this.text.length) throw BAIL;
    return root;
  }

  /** A map or a list starting at `pos`, whose column is `indent`. */
  private blockNode(indent: number): Json {
    if (++this.depth > this.maxDepth) throw BAIL;
    const node = this.isListEntry() ? this.list(indent) : this.map(indent);
    this.depth--;
    return node;
  }

  private map(indent: number): JsonObject {
    const map: JsonObject = {};
    const keyOffsets = this.positions && new Map<string, number>();
    if (keyOffsets) this.positions?.set(map, keyOffsets);
    for (;;) {
      const start = this.pos;
      const key = this.key();
      if (key === '__proto__' || Object.hasOwn(map, key)) throw BAIL;
      keyOffsets?.set(key, start);
      map[key] = this.valueAfterColon(indent, key);
      if (this.pos >= this.text.length || this.indent < indent) return map;
      if (this.indent > indent || this.isListEntry()) throw BAIL;
    }
  }

  private list(indent: number): Json[] {
    const list: Json[] = [];
    const itemOffsets: number[] | undefined = this.positions && [];
    if (itemOffsets) this.positions?.set(list, itemOffsets);
    for (;;) {
      this.pos++; // the dash
      list.push(this.listItem(indent, itemOffsets));
      if (this.pos >= this.text.length || this.indent < indent) return list;
      if (this.indent > indent) throw BAIL;
      // Same column, no dash: the key after a list written at its parent key's own column.
      if (!this.isListEntry()) return list;
    }
  }

  /** After the dash; `offsets` (when positions are noted) gets where the item's node starts. */
  private listItem(indent: number, offsets: number[] | undefined): Json {
    this.skipSpaces();
    if (this.atLineEnd()) {
      // A bare `-` with nothing below: js-yaml reads the lines after `- -` differently from YAML's spec (and `yaml`).
      if (!this.toNestedNode(indent, false)) throw BAIL;
      offsets?.push(this.pos);
      return this.blockNode(this.indent);
    }
    offsets?.push(this.pos);
    // `- - x` and `- key: value`: a list or map that starts on the dash's line, at this column.
    const column = this.pos - this.lineStart;
    if (this.isListEntry() || this.keyEnd() >= 0) return this.blockNode(column);
    return this.scalarLine(undefined);
  }

  /** After a key's colon: a scalar on the same line, or a node on the lines below, or null. */
  private valueAfterColon(indent: number, key: string): Json {
    this.skipSpaces();
    if (this.atLineEnd()) return this.toNestedNode(indent, true) ? this.blockNode(this.indent) : null;
    return this.scalarLine(key);
  }

  /**
   * Nothing more on this line: moves to the next content line, and says whether a node nested below starts there
   * (more indented, or a list at the key's own column); if not, the value was null.
   */
  private toNestedNode(indent: number, listAtSameColumn: boolean): boolean {
    if (!this.nextLine()) return false;
    return this.indent > indent || (listAtSameColumn && this.indent === indent && this.isListEntry());
  }

  /** A scalar that ends its line. (A more indented line after it would continue it: map and list refuse that.) */
  private scalarLine(key: string | undefined): Json {
    const value = this.inlineScalar(key);
    this.nextLine();
    return value;
  }

  private inlineScalar(key: string | undefined): Json {
    const { text } = this;
    const c = text.charCodeAt(this.pos);
    if (c === DOUBLE_QUOTE || c === SINGLE_QUOTE) {
      const value = c === DOUBLE_QUOTE ? this.doubleQuoted() : this.singleQuoted();
      this.expectLineEnd();
      return value;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) {
      if (text.charCodeAt(this.pos + 1) !== c + 2) throw BAIL; // only {} and []
      this.pos += 2;
      this.expectLineEnd();
      return c === 123 ? {} : [];
    }
    if ((c < 128 && INDICATOR[c] === 1) || (c === DASH && isBlankOrEnd(text, this.pos + 1))) throw BAIL;
    const start = this.pos;
    const lineEnd = this.lineEnd();
    const comment = this.next(this.spaceHash, start);
    let end = comment < lineEnd ? comment : lineEnd;
    while (text.charCodeAt(end - 1) === SPACE) end--;
    // `a: b` on one line, or a value that ends in a colon: a map where a scalar was expected.
    if (this.next(this.colonSpace, start) < end || text.charCodeAt(end - 1) === COLON) throw BAIL;
    this.pos = lineEnd;
    return this.resolve(text.slice(start, end), key);
  }

  /** A plain scalar's data, as js-yaml's core schema types read it. */
  private resolve(plain: string, key: string | undefined): Json {
    if (types.null.resolve(plain)) return null;
    if (types.bool.resolve(plain)) return types.bool.construct(plain) as boolean;
    if (!mayBeNumber(plain)) return plain;
    const type = types.int.resolve(plain) ? types.int : types.float.resolve(plain) ? types.float : undefined;
    if (type === undefined) return plain;
    return key !== undefined && this.keptAsWritten.has(key) ? plain : (type.construct(plain) as number);
  }

  /** Reads `key:` at `pos` and leaves `pos` after the colon. */
  private key(): string {
    const { text } = this;
    const c = text.charCodeAt(this.pos);
    let key: string;
    if (c === DOUBLE_QUOTE || c === SINGLE_QUOTE) {
      key = c === DOUBLE_QUOTE ? this.doubleQuoted() : this.singleQuoted();
      if (text.charCodeAt(this.pos) !== COLON || !isBlankOrEnd(text, this.pos + 1)) throw BAIL;
      this.pos++;
      return key;
    }
    const colon = this.keyEnd();
    if (colon < 0 || c === DASH || (c < 128 && INDICATOR[c] === 1)) throw BAIL;
    let end = colon;
    while (text.charCodeAt(end - 1) === SPACE) end--;
    key = text.slice(this.pos, end);
    // A key YAML reads as null, a boolean or a number becomes js-yaml's text for it, not the text written.
    if (key.length > MAX_KEY_LENGTH || typeof this.resolve(key, undefined) !== 'string') throw BAIL;
    this.pos = colon + 1;
    return key;
  }

  /** Where the plain key starting at `pos` ends (its colon), or -1 when the line holds no key. */
  private keyEnd(): number {
    const { text } = this;
    const c = text.charCodeAt(this.pos);
    if (c === DOUBLE_QUOTE || c === SINGLE_QUOTE) {
      const saved = this.pos;
      try {
        if (c === DOUBLE_QUOTE) this.doubleQuoted();
        else this.singleQuoted();
        return text.charCodeAt(this.pos) === COLON && isBlankOrEnd(text, this.pos + 1) ? this.pos : -1;
      } finally {
        this.pos = saved;
      }
    }
    const lineEnd = this.lineEnd();
    let colon = this.next(this.colonSpace, this.pos);
    if (colon >= lineEnd) colon = text.charCodeAt(lineEnd - 1) === COLON ? lineEnd - 1 : -1;
    if (colon < this.pos) return -1;
    return this.next(this.spaceHash, this.pos) < colon ? -1 : colon;
  }

  private doubleQuoted(): string {
    const { text } = this;
    let out = '';
    let runStart = this.pos + 1;
    for (let i = runStart; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === DOUBLE_QUOTE) {
        this.pos = i + 1;
        return out + text.slice(runStart, i);
      }
      if (ch === NEWLINE) throw BAIL;
      if (ch === BACKSLASH) {
        const escaped = ESCAPES[text.charAt(i + 1)];
        if (escaped === undefined) throw BAIL;
        out += text.slice(runStart, i) + escaped;
        i++;
        runStart = i + 1;
      }
    }
    throw BAIL;
  }

  private singleQuoted(): string {
    const { text } = this;
    let out = '';
    let runStart = this.pos + 1;
    for (let i = runStart; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === NEWLINE) throw BAIL;
      if (ch !== SINGLE_QUOTE) continue;
      if (text.charCodeAt(i + 1) !== SINGLE_QUOTE) {
        this.pos = i + 1;
        return out + text.slice(runStart, i);
      }
      out += text.slice(runStart, i + 1);
      i++;
      runStart = i + 1;
    }
    throw BAIL;
  }

  /** After a quoted scalar or `{}`: only spaces and a comment may follow on the line. */
  private expectLineEnd(): void {
    const before = this.pos;
    this.skipSpaces();
    if (this.atLineEnd()) return;
    if (this.text.charCodeAt(this.pos) === HASH && this.pos > before) {
      this.skipToLineEnd();
      return;
    }
    throw BAIL;
  }

  private skipSpaces(): void {
    while (this.text.charCodeAt(this.pos) === SPACE) this.pos++;
  }

  /** At a line's end, its end of text, or a comment (which only follows a space here). */
  private atLineEnd(): boolean {
    if (this.pos >= this.text.length) return true;
    const c = this.text.charCodeAt(this.pos);
    if (c === NEWLINE) return true;
    if (c === HASH && this.text.charCodeAt(this.pos - 1) === SPACE) {
      this.skipToLineEnd();
      return true;
    }
    return false;
  }

  private skipToLineEnd(): void {
    this.pos = this.lineEnd();
  }

  /** Where the line `pos` is on ends: its newline, or the end of the text. */
  private lineEnd(): number {
    const newline = this.next(this.newline, this.pos);
    return newline === this.nowhere ? this.text.length : newline;
  }

  /**
   * Where the search's needle next occurs at or after `from` (`nowhere`: past the end, so any `<` test with it is
   * false). Each answer is kept: reading only moves forward, so until it passes that place the answer stands, and
   * each needle's search crosses the text once rather than once per line. String search is native code from a
   * process's first call, and takes no copy of the line.
   */
  private next(search: Search, from: number): number {
    if (from < search.from || from > search.at) {
      const at =
        search.needle === SPACE_HASH ? spaceHashAt(this.text, from) : this.text.indexOf(search.needle, from);
      search.from = from;
      search.at = at < 0 ? this.nowhere : at;
    }
    return search.at;
  }

  /** Moves past the current line to the next content line; false at the end of the text. */
  private nextLine(): boolean {
    this.skipToLineEnd();
    if (this.pos >= this.text.length) return false;
    this.pos++;
    return this.nextContentLine();
  }

  /** From a line's start, skips blank and comment lines; false at the end of the text. */
  private nextContentLine(): boolean {
    const { text } = this;
    while (this.pos < text.length) {
      const start = this.pos;
      let i = start;
      while (text.charCodeAt(i) === SPACE) i++;
      const c = text.charCodeAt(i);
      if (i >= text.length) break;
      if (c === NEWLINE) {
        this.pos = i + 1;
        continue;
      }
      if (c === HASH) {
        this.pos = i;
        this.pos = this.lineEnd() + 1;
        continue;
      }
      this.lineStart = start;
      this.pos = i;
      this.indent = i - start;
      // A document marker after the first line (a second document, or an end) is left to js-yaml.
      if (this.indent === 0 && this.started && (this.isMarker('---') || this.isMarker('...'))) throw BAIL;
      return true;
    }
    this.pos = text.length;
    return false;
  }

  private isMarker(marker: string): boolean {
    return this.text.startsWith(marker, this.pos) && isBlankOrEnd(this.text, this.pos + 3);
  }

  private isListEntry(): boolean {
    return this.text.charCodeAt(this.pos) === DASH && isBlankOrEnd(this.text, this.pos + 1);
  }
}

/**
 * `text.indexOf(' #', from)`, found by its `#`. V8's string search stops at each occurrence of a needle's first
 * character, and indented YAML has a space on every line: over a 2 MB overlay without comments `indexOf(' #')` took
 * 4.5 ms, `indexOf('#')` 0.1 ms.
 */
function spaceHashAt(text: string, from: number): number {
  let hash = text.indexOf('#', from + 1);
  while (hash >= 0 && text.charCodeAt(hash - 1) !== SPACE) hash = text.indexOf('#', hash + 1);
  return hash < 0 ? -1 : hash - 1;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === NEWLINE;
}

function isBlankOrEnd(text: string, i: number): boolean {
  return i >= text.length || isBlank(text.charCodeAt(i));
}

/**
 * Every YAML 1.2 integer or float starts with a digit, a sign or a dot (`.5`, `.inf`, `.nan`): this one comparison
 * spares names and text js-yaml's number patterns.
 */
export function mayBeNumber(data: string | null): boolean {
  const first = data?.charCodeAt(0) ?? NaN;
  return (first >= 48 && first <= 57) || first === 45 || first === 43 || first === 46; // 0-9 - + .
}
