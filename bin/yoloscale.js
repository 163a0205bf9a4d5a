#!/usr/bin/env node
// Entry point of the `yoloscale` command: runs the compiled CLI.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`yoloscale: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
