// The process entry point bundled into dist/bundle/entry.mjs: runs the CLI and sets the exit code.
import { main } from './main.js';
import { processIO } from './io.js';

void main(process.argv.slice(2), processIO()).then((code) => {
  process.exitCode = code;
});
