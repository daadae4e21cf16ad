#!/usr/bin/env node
// Entry point of the `istio-installer` bin: runs the compiled CLI and exits with its code.
import { main } from '../dist/cli/main.js';
import { processIO } from '../dist/cli/io.js';

process.exitCode = await main(process.argv.slice(2), processIO());
