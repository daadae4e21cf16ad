// Turns zod's validation issues into our located, human-worded issues, with "did you mean" for unknown keys.
import type * as z from 'zod';
import type { Issue } from '../errors.js';
import { getAt, isObject, type DocPath } from './json.js';
import { closest } from './suggest.js';
import { issueAt, type Locator } from './yaml-source.js';

export interface LocatedData {
  label: string;
  locate: Locator;
  data: unknown;
}

/** Maps every zod issue to one or more of ours; an unknown-keys issue yields one issue per key, located at the key. */
export function toIssues(
  zodIssues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  where: LocatedData,
): Issue[] {
  const issues: Issue[] = [];
  for (const zodIssue of zodIssues) {
    const path = zodIssue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
    if (zodIssue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, path);
      for (const key of zodIssue.keys) {
        const suggestion = closest(key, known);
        issues.push(
          issueAt(
            where,
            [...path, key],
            suggestion
              ? `unknown key; did you mean "${suggestion}"?`
              : `unknown key; allowed: ${known.join(', ')}`,
          ),
        );
      }
      continue;
    }
    issues.push(issueAt(where, path, messageFor(zodIssue, getAt(where.data, path))));
  }
  return issues;
}

function messageFor(issue: z.core.$ZodIssue, actual: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return actual === undefined
        ? `required ${issue.expected} is missing`
        : `expected ${issue.expected}, got ${describeValue(actual)}`;
    case 'invalid_value':
      if (actual === undefined)
        return `required; must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${describeValue(actual)}${
        // A schema's own message says what to do instead; zod's default ones start with "Invalid".
        issue.message.startsWith('Invalid') ? '' : `; ${issue.message}`
      }`;
    case 'invalid_union': {
      // A string-or-boolean key of Rancher's: name what each form accepts ("expected boolean or "true"/"false"").
      const forms = issue.errors.flatMap((branch) =>
        branch.length !== 1
          ? []
          : branch.map((inner) =>
              inner.code === 'invalid_type'
                ? inner.expected
                : inner.code === 'invalid_value'
                  ? inner.values.map((v) => JSON.stringify(v)).join('/')
                  : inner.code === 'invalid_format'
                    ? inner.message
                    : '',
            ),
      );
      return forms.length > 0 && forms.every((form) => form !== '')
        ? `expected ${forms.join(' or ')}, got ${describeValue(actual)}`
        : `got ${describeValue(actual)}, which matches none of the allowed forms`;
    }
    case 'invalid_format':
      return issue.message.startsWith('Invalid')
        ? `${issue.message.toLowerCase()}; got ${describeValue(actual)}`
        : issue.message;
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'a map';
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** The keys an object schema accepts at `path`, looking through defaults, optionals and arrays. */
export function knownKeys(schema: z.ZodType, path: DocPath): string[] {
  let node: z.core.$ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (!node) return [];
    const def: z.core.$ZodTypeDef = node._zod.def;
    if (def.type === 'object' && typeof segment === 'string')
      node = unwrap((def as z.core.$ZodObjectDef).shape[segment]);
    else if (def.type === 'array') node = unwrap((def as z.core.$ZodArrayDef).element);
    else if (def.type === 'union')
      node = unwrap((def as z.core.$ZodUnionDef).options.find((o) => o._zod.def.type === 'object'));
    else return [];
  }
  if (!node) return [];
  if (node._zod.def.type === 'union')
    node = unwrap((node._zod.def as z.core.$ZodUnionDef).options.find((o) => o._zod.def.type === 'object'));
  return node && node._zod.def.type === 'object'
    ? Object.keys((node._zod.def as z.core.$ZodObjectDef).shape)
    : [];
}

/** A schema node without its default, optional and similar wrappers. */
export function unwrap(node: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let current = node;
  while (current) {
    const def = current._zod.def as z.core.$ZodTypeDef & {
      innerType?: z.core.$ZodType;
      in?: z.core.$ZodType;
    };
    if (
      def.innerType &&
      ['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(def.type)
    )
      current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
  return current;
}
