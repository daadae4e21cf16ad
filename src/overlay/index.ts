// The overlay engine's public surface: values + overlays -> validated, merged IstioOperator.
export { buildIstioOperator, type BuildInput, type BuildResult } from './build.js';
export { loadSources, STDIN_PATH } from './load.js';
export { renderDocument, type OutputFormat } from './output.js';
export { valuesSchema, DEFAULT_ISTIO_TAG, type Values } from './values-schema.js';
export { valuesJsonSchema } from './json-schema.js';
