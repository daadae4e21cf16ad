// The values JSON Schema, generated from the zod schema; the chart's values.schema.json and docs/values.md are made from it.
import { z } from 'zod';
import { valuesSchema } from './values-schema.js';

export function valuesJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(valuesSchema, { io: 'input', unrepresentable: 'any', target: 'draft-7' });
  return { ...schema, title: 'rancher-istio values' };
}
