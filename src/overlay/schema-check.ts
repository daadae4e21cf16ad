// Compiles a zod schema into a yes/no check of whether zod would accept a value, without building zod's output or its issues.
import type * as z from 'zod';

export type Accepts = (value: unknown) => boolean;

/**
 * Why: a process that renders once runs zod's general parser cold, and on a 2 MB overlay that cost more than
 * everything but parsing the YAML. Most inputs are valid, and for them only the verdict matters (the spec is used as
 * it was merged, not zod's copy of it). So the structure (objects strict or loose, records, arrays, optional fields)
 * is walked here with plain type tests; the checks of strings, numbers and booleans (lengths, patterns, integers) are
 * zod's own check functions; and any schema with transforms, defaults, checks on anything else or a type not listed
 * below is handed to zod's `safeParse` for that value alone. When the answer is no, the caller runs zod on the whole
 * value for its issues.
 *
 * The semantics follow zod 4's `$ZodObject`, `$ZodRecord`, `$ZodArray` and `$ZodOptional`;
 * `test/unit/schema-check.test.ts` compares the verdict with zod's on fixtures and on many mutated documents.
 */
export function compileAccepts(schema: z.ZodType): Accepts {
  return compile(schema, new Map());
}

interface Def {
  type: string;
  checks?: unknown[];
  coerce?: boolean;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

function compile(schema: z.ZodType, compiled: Map<z.ZodType, Accepts>): Accepts {
  const known = compiled.get(schema);
  if (known) return known;
  // A schema used in several places is compiled once; the indirection lets a node refer to one still compiling.
  let body: Accepts = () => false;
  const accepts: Accepts = (value) => body(value);
  compiled.set(schema, accepts);
  body = compileBody(schema, defOf(schema), compiled);
  return accepts;
}

/** The types whose value zod's checks see unchanged: zod parses them without building anything. */
const LEAF_TYPES: Record<string, Accepts> = {
  string: (value) => typeof value === 'string',
  boolean: (value) => typeof value === 'boolean',
  number: (value) => typeof value === 'number' && Number.isFinite(value),
};

interface ZodCheck {
  _zod: {
    def: { when?: (payload: CheckPayload) => boolean };
    check: (payload: CheckPayload) => unknown;
  };
}
interface CheckPayload {
  value: unknown;
  issues: unknown[];
}

/**
 * A leaf with checks (lengths, patterns, integers, refinements): zod's own check functions run, as zod's `runChecks`
 * runs them on a value of the right type with no issue yet, so lengths, patterns and every other rule are zod's.
 */
function withChecks(leaf: Accepts, checks: readonly ZodCheck[]): Accepts {
  return (value) => {
    if (!leaf(value)) return false;
    const payload: CheckPayload = { value, issues: [] };
    for (let i = 0; i < checks.length; i++) {
      const check = (checks[i] as ZodCheck)._zod;
      if (check.def.when && !check.def.when(payload)) continue;
      // An asynchronous check is zod's to report (it refuses one in a synchronous parse).
      if (check.check(payload) instanceof Promise || payload.issues.length > 0) return false;
    }
    return true;
  };
}

function compileBody(schema: z.ZodType, def: Def, compiled: Map<z.ZodType, Accepts>): Accepts {
  const byZod: Accepts = (value) => schema.safeParse(value).success;
  if (def.coerce === true) return byZod;
  if ((def.checks?.length ?? 0) > 0) {
    const leaf = LEAF_TYPES[def.type];
    return leaf ? withChecks(leaf, def.checks as ZodCheck[]) : byZod;
  }
  switch (def.type) {
    case 'unknown':
    case 'any':
      return () => true;
    case 'never':
      return () => false;
    case 'string':
    case 'boolean':
    case 'number':
      return LEAF_TYPES[def.type] as Accepts;
    case 'enum':
    case 'literal': {
      // The very set zod's own parse asks.
      const allowed = (schema as unknown as { _zod: { values?: Set<unknown> } })._zod.values;
      if (!allowed) return byZod;
      return (value) => allowed.has(value);
    }
    case 'optional': {
      const inner = def.innerType;
      if (!inner || defOf(inner).type === 'default') return byZod;
      const innerAccepts = compile(inner, compiled);
      return (value) => value === undefined || innerAccepts(value);
    }
    case 'array': {
      if (!def.element) return byZod;
      const element = compile(def.element, compiled);
      return (value) => {
        if (!Array.isArray(value)) return false;
        // By index, as zod walks it: a hole is checked as undefined.
        for (let i = 0; i < value.length; i++) if (!element(value[i])) return false;
        return true;
      };
    }
    case 'record':
      return compileRecord(def, compiled, byZod) ?? byZod;
    case 'object':
      return compileObject(def, compiled) ?? byZod;
    default:
      return byZod;
  }
}

/** `z.record(z.string(), V)`: a plain object whose own enumerable string keys all hold a V. */
function compileRecord(def: Def, compiled: Map<z.ZodType, Accepts>, byZod: Accepts): Accepts | undefined {
  if (!def.keyType || !def.valueType) return undefined;
  const keyDef = defOf(def.keyType);
  if (keyDef.type !== 'string' || (keyDef.checks?.length ?? 0) > 0) return undefined;
  const valueAccepts = compile(def.valueType, compiled);
  return (value) => {
    if (!isPlainJsonObject(value)) return byZod(value);
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) if (!valueAccepts(value[keys[i] as string])) return false;
    return true;
  };
}

interface Field {
  key: string;
  optional: boolean;
  accepts: Accepts;
}

/**
 * A strict or loose object: each declared field, then (strict) no other key. The checks that run for every value
 * loop by index: `for…of` runs the iterator protocol until the optimizer compiles it away, and a render is over by
 * then.
 */
function compileObject(def: Def, compiled: Map<z.ZodType, Accepts>): Accepts | undefined {
  const shape = def.shape ?? {};
  const catchallType = def.catchall ? defOf(def.catchall).type : 'unknown';
  if (catchallType !== 'never' && catchallType !== 'unknown') return undefined;
  const strict = catchallType === 'never';
  const fields: Field[] = [];
  for (const [key, field] of Object.entries(shape)) {
    if (key === '__proto__') return undefined;
    const fieldType = defOf(field).type;
    if (fieldType === 'default' || fieldType === 'prefault') return undefined;
    fields.push({ key, optional: fieldType === 'optional', accepts: compile(field, compiled) });
  }
  const declared = new Set(Object.keys(shape));
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const input = value as Record<string, unknown>;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i] as Field;
      // zod asks `key in input`: an absent field is fine only when it is optional.
      if (!(field.key in input)) {
        if (!field.optional) return false;
      } else if (!field.accepts(input[field.key])) return false;
    }
    if (strict) for (const key in input) if (!declared.has(key)) return false;
    return true;
  };
}

/**
 * An object as YAML or JSON data is: Object's prototype (or none), no symbol keys, no own `__proto__` or
 * `constructor` key. Only for these do zod's plain-object test and its key walk plainly agree with `Object.keys`;
 * anything else is left to zod.
 */
function isPlainJsonObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return false;
  return (
    !Object.hasOwn(value, '__proto__') &&
    !Object.hasOwn(value, 'constructor') &&
    Object.getOwnPropertySymbols(value).length === 0
  );
}
