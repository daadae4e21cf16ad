// `istio-installer render`: prints the merged IstioOperator for the given values, overlays and --set flags.
import type { Command } from 'commander';
import { renderDocument, type OutputFormat } from '../overlay/index.js';
import { resolveInputs, withInputOptions, type InputOptions } from './inputs.js';
import { oneOf, type CommandContext } from './main.js';

export function registerRender(program: Command, context: CommandContext): void {
  withInputOptions(program.command('render'))
    .description('print the merged IstioOperator that install would hand to istioctl')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .action(async (options: InputOptions & { output: string }) => {
      const format = oneOf<OutputFormat>('--output', options.output, ['yaml', 'json']);
      const { istioOperator } = await resolveInputs(options, context);
      context.io.stdout.write(renderDocument(istioOperator, format));
    });
}
