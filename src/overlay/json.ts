// Plain JSON-like data as parsed from YAML, and the small predicates the merge and validation code share.

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** A path into a document: map keys and list indexes, outermost first. */
export type DocPath = readonly (string | number)[];

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `a.b[2].c`: the form users see in error messages. */
export function formatPath(path: DocPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

/** The value at `path`, or undefined when any step is missing. */
export function getAt(root: unknown, path: DocPath): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(node)) return undefined;
      node = node[segment];
    } else {
      if (!isObject(node)) return undefined;
      node = node[segment];
    }
  }
  return node;
}

/** Returns a deep copy with map keys sorted, so renderings are byte-for-byte deterministic. */
export function sortKeysDeep(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of sortedKeys(value)) out[key] = sortKeysDeep(value[key] as Json);
  return out;
}

/**
 * A map's own keys in the order `Object.keys(map).sort()` gives (by UTF-16 code units). Maps hold a handful of keys,
 * and for those an insertion sort in place is several times faster than V8's general sort, which sets up its merge
 * state at every call: sorting was a third of the time to write a 2 MB overlay.
 */
export function sortedKeys(map: object): string[] {
  const keys = Object.keys(map);
  if (keys.length > INSERTION_SORT_MAX) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}
const INSERTION_SORT_MAX = 16;

/** Removes keys whose value is an empty map, recursively, so the output has no dangling `key: {}` entries. */
export function pruneEmptyMaps(value: Json): Json {
  if (Array.isArray(value)) return value.map(pruneEmptyMaps);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    const pruned = pruneEmptyMaps(child);
    if (isObject(pruned) && Object.keys(pruned).length === 0) continue;
    out[key] = pruned;
  }
  return out;
}
