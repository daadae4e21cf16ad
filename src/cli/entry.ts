// The process entry point bundled into dist/bundle/entry.mjs: runs the CLI and sets the exit code.
import { config as zodConfig } from 'zod';
import { COMMANDS } from './commands.js';
import { main } from './main.js';
import { processIO } from './io.js';

// zod compiles each object schema into a function on its first parse; a run parses a handful of documents, so that
// compile cost more than it saved (chart values rendered with 20-30 ms less CPU without it, `npm run bench:render-ab`).
zodConfig({ jitless: true });

void main(process.argv.slice(2), processIO(), COMMANDS).then((code) => {
  process.exitCode = code;
});
