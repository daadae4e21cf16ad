// Accessors of an IstioOperator's spec that every step shares: its `spec` object, a nested object, the version asked for. Pure.
import { isObject, type JsonObject } from '../../overlay/json.js';
import { parseIstioVersion, type IstioVersion } from './istio-version.js';

/** `istioOperator.spec`, or an empty object when the document has none. */
export function specOf(istioOperator: JsonObject): JsonObject {
  return objectAt(istioOperator, 'spec');
}

/** `parent[key]` when it is an object, else an empty one. */
export function objectAt(parent: JsonObject, key: string): JsonObject {
  const value = parent[key];
  return isObject(value) ? value : {};
}

/** The Istio version and revision a spec asks for. */
export function desiredOf(istioOperator: JsonObject): {
  version: IstioVersion | undefined;
  revision: string;
  tag: string;
} {
  const spec = specOf(istioOperator);
  const tag = typeof spec.tag === 'string' ? spec.tag : '';
  return {
    version: parseIstioVersion(tag),
    revision: typeof spec.revision === 'string' ? spec.revision : '',
    tag,
  };
}
