// Deep merge with the semantics users expect from overlays: maps merge, named lists merge by key, other lists are replaced, null deletes.
import { isObject, type DocPath, type Json, type JsonObject } from './json.js';

/** Returns the identity of a list element at `listPath`, or undefined when that list is not merged by key. */
export type ListKeyOf = (listPath: DocPath) => ((element: Json) => string | undefined) | undefined;

const byName = (element: Json): string | undefined =>
  isObject(element) && typeof element.name === 'string' ? `name:${element.name}` : undefined;
const byNameOrPort = (element: Json): string | undefined =>
  byName(element) ??
  (isObject(element) && typeof element.port === 'number' ? `port:${element.port}` : undefined);
const byKindAndName = (element: Json): string | undefined =>
  isObject(element) && typeof element.name === 'string'
    ? `${String(element.kind ?? '')}/${element.name}`
    : undefined;

function endsWith(path: DocPath, tail: readonly string[]): boolean {
  if (path.length < tail.length) return false;
  return tail.every((segment, i) => path[path.length - tail.length + i] === segment);
}

/**
 * The IstioOperator lists that merge element by element: gateways by name (as Rancher documented and istioctl
 * did before 1.24), and a component's service ports, env and k8s overlays.
 */
export const istioOperatorListKeys: ListKeyOf = (path) => {
  if (path.length === 3 && path[0] === 'spec' && path[1] === 'components')
    return path[2] === 'ingressGateways' || path[2] === 'egressGateways' ? byName : undefined;
  if (endsWith(path, ['k8s', 'service', 'ports'])) return byNameOrPort;
  if (endsWith(path, ['k8s', 'env'])) return byName;
  if (endsWith(path, ['k8s', 'overlays'])) return byKindAndName;
  return undefined;
};

/** Helm's rule for several values files: every list is replaced. */
export const noListKeys: ListKeyOf = () => undefined;

/** The marker, borrowed from strategic merge patch, that removes a keyed list element: `{name: x, $patch: delete}`. */
export const PATCH_DIRECTIVE = '$patch';

/** Merges `overlay` onto `base` without mutating either. */
export function mergeDocuments(
  base: Json | undefined,
  overlay: Json | undefined,
  listKeys: ListKeyOf,
  path: DocPath = [],
): Json | undefined {
  return mergeAt(base, overlay, listKeys, [...path]);
}

/** `path` is one stack shared by the whole walk (pushed and popped), since copying it per key dominated large merges. */
function mergeAt(
  base: Json | undefined,
  overlay: Json | undefined,
  listKeys: ListKeyOf,
  path: (string | number)[],
): Json | undefined {
  if (overlay === undefined) return base;
  if (overlay === null) return undefined;
  if (isObject(overlay)) {
    const out: JsonObject = isObject(base) ? { ...base } : {};
    for (const key of Object.keys(overlay)) {
      if (key === PATCH_DIRECTIVE) continue;
      path.push(key);
      const merged = mergeAt(out[key], overlay[key], listKeys, path);
      path.pop();
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    }
    return out;
  }
  if (Array.isArray(overlay)) {
    const keyOf = listKeys(path);
    if (keyOf && Array.isArray(base)) return mergeKeyedList(base, overlay, keyOf, listKeys, path);
    return overlay.map((element, i) => stripNulls(element, listKeys, path, i));
  }
  return overlay;
}

function mergeKeyedList(
  base: readonly Json[],
  overlay: readonly Json[],
  keyOf: (element: Json) => string | undefined,
  listKeys: ListKeyOf,
  path: (string | number)[],
): Json[] {
  const out: (Json | undefined)[] = [...base];
  const indexByKey = new Map<string, number>();
  out.forEach((element, i) => {
    const key = element === undefined ? undefined : keyOf(element);
    if (key !== undefined && !indexByKey.has(key)) indexByKey.set(key, i);
  });
  for (const element of overlay) {
    const key = keyOf(element);
    const index = key === undefined ? undefined : indexByKey.get(key);
    if (isObject(element) && element[PATCH_DIRECTIVE] === 'delete') {
      if (index !== undefined && key !== undefined) {
        out[index] = undefined;
        indexByKey.delete(key);
      }
      continue;
    }
    if (index !== undefined) {
      path.push(index);
      out[index] = mergeAt(out[index], element, listKeys, path);
      path.pop();
    } else {
      if (key !== undefined) indexByKey.set(key, out.length);
      out.push(stripNulls(element, listKeys, path, out.length));
    }
  }
  return out.filter((element): element is Json => element !== undefined);
}

/**
 * New data carries no deletions: its nulls and delete markers have nothing to delete, so they are dropped.
 * Data without any is returned as it is, not copied: nothing downstream mutates a document (changes are copy
 * on write), and copying the 500 new gateways of a 2 MB overlay cost more than checking them.
 */
function stripNulls(value: Json, listKeys: ListKeyOf, path: (string | number)[], index: number): Json {
  if (!hasDeletions(value)) return value;
  path.push(index);
  const out = mergeAt(undefined, value, listKeys, path) ?? null;
  path.pop();
  return out;
}

/** Whether a null or a `$patch` key occurs anywhere in `value`: what merging new data would have to drop. */
export function hasDeletions(value: Json): boolean {
  if (value === null) return true;
  if (typeof value !== 'object') return false;
  // Indexed loops, as in the YAML writer: this walks every new gateway of a large overlay once, cold.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasDeletions(value[i] as Json)) return true;
    return false;
  }
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === PATCH_DIRECTIVE || hasDeletions(value[key] as Json)) return true;
  }
  return false;
}
