// The values JSON Schema, generated from the zod schema; the chart's values.schema.json and docs/values.md are made from it.
import * as z from 'zod';
import { isRancherStringScalar, valuesSchema } from './values-schema.js';

export function valuesJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(valuesSchema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-7',
    // zod leaves out the default of a type with a transform when describing input; Rancher's string-or-boolean keys
    // have one, and values.yaml, the docs and Helm's defaults need it.
    override: (ctx) => {
      const def = ctx.zodSchema._zod.def as z.core.$ZodTypeDef & {
        innerType?: z.core.$ZodType;
        defaultValue?: unknown;
      };
      if (def.type === 'default' && def.innerType && isRancherStringScalar(def.innerType))
        ctx.jsonSchema.default = def.defaultValue;
    },
  });
  return { ...schema, title: 'rancher-istio values' };
}
