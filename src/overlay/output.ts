// Renders an IstioOperator as YAML or JSON, with sorted keys so the same inputs always give the same bytes.
import { stringify } from 'yaml';
import { sortKeysDeep, type Json } from './json.js';

export type OutputFormat = 'yaml' | 'json';

export function renderDocument(document: Json, format: OutputFormat): string {
  const sorted = sortKeysDeep(document);
  if (format === 'json') return JSON.stringify(sorted, null, 2) + '\n';
  // lineWidth 0: never fold long strings, so overlays and annotations round-trip byte for byte.
  return stringify(sorted, { lineWidth: 0, minContentWidth: 0 });
}
