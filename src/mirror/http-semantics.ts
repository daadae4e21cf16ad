// Pure HTTP rules the mirror follows: byte ranges, conditional requests and content types (RFC 9110).

export type RangeDecision =
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

const RANGE_SPEC = /^(\d*)-(\d*)$/;

/**
 * Decides what to send for a `Range` header on a representation of `size` bytes. One range is honoured;
 * a list of several is answered with the whole file, which RFC 9110 allows and spares multipart bodies.
 * Another unit is ignored; a malformed or unsatisfiable bytes range is refused (416).
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const eq = header.indexOf('=');
  if (eq === -1) return { kind: 'unsatisfiable' };
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'full' };
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((spec) => spec.trim());
  if (specs.length > 1)
    return specs.every((spec) => RANGE_SPEC.test(spec)) ? { kind: 'full' } : { kind: 'unsatisfiable' };
  const match = RANGE_SPEC.exec(specs[0]!);
  if (!match) return { kind: 'unsatisfiable' };
  const [, first, last] = match;
  if (first === '' && last === '') return { kind: 'unsatisfiable' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || (last !== '' && Number(last) < start))
    return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

/** The entity tags in an If-None-Match / If-Match list, weakness stripped; `*` stays `*`. */
function entityTags(header: string): string[] {
  return header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '')
    .map((tag) => (tag.startsWith('W/') ? tag.slice(2) : tag));
}

export interface Validators {
  etag: string;
  lastModified: Date;
}

/** Whether a GET/HEAD may be answered 304: If-None-Match (weak comparison) wins over If-Modified-Since. */
export function notModified(
  headers: { ifNoneMatch?: string; ifModifiedSince?: string },
  validators: Validators,
): boolean {
  if (headers.ifNoneMatch !== undefined) {
    const tags = entityTags(headers.ifNoneMatch);
    return tags.includes('*') || tags.includes(validators.etag);
  }
  if (headers.ifModifiedSince !== undefined) {
    const since = Date.parse(headers.ifModifiedSince);
    if (Number.isNaN(since)) return false;
    return Math.floor(validators.lastModified.getTime() / 1000) * 1000 <= since;
  }
  return false;
}

/** Whether `If-Range` still matches, so the range applies; a strong ETag or an exact date is required. */
export function ifRangeMatches(ifRange: string | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === validators.etag;
  if (value.startsWith('W/')) return false;
  const date = Date.parse(value);
  return !Number.isNaN(date) && Math.floor(validators.lastModified.getTime() / 1000) * 1000 === date;
}

/** Content types by what the file is; binaries are never sniffed into something executable by a browser. */
export function contentTypeOf(name: string): string {
  if (name.endsWith('.tar.gz')) return 'application/gzip';
  if (name.endsWith('.zip')) return 'application/zip';
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.sha256')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
