// `istio-installer schema`: prints the values JSON Schema generated from the zod schema (the chart's values.schema.json).
import type { Command } from 'commander';
import { valuesJsonSchema } from '../overlay/index.js';
import type { CommandContext } from './main.js';

export function registerSchema(program: Command, context: CommandContext): void {
  program
    .command('schema')
    .description('print the JSON Schema of the chart values')
    .action(() => {
      context.io.stdout.write(JSON.stringify(valuesJsonSchema(), null, 2) + '\n');
    });
}
