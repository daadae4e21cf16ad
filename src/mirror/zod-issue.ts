// Turns zod's validation errors on index.json into the project's located issues.
import type * as z from 'zod';
import type { Issue } from '../errors.js';
import { formatPath } from '../overlay/json.js';

export function issuesFromZod(error: z.ZodError, file: string): Issue[] {
  return error.issues.map((issue) => ({
    file,
    path: formatPath(issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol')),
    message: issue.message,
  }));
}
