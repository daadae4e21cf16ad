// Turns zod's validation errors on index.json into the project's located issues.
import type { z } from 'zod';
import type { Issue } from '../errors.js';

export function issuesFromZod(error: z.ZodError, file: string): Issue[] {
  return error.issues.map((issue) => ({
    file,
    path: issue.path
      .map((segment) => (typeof segment === 'number' ? `[${segment}]` : String(segment)))
      .join('.')
      .replace(/\.\[/g, '['),
    message: issue.message,
  }));
}
