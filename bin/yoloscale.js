#!/usr/bin/env node
// The `yoloscale` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import { setFlagsFromString } from 'node:v8';
import { clusterV8Flags } from '../dist/protocol/v8-flags.js';

// V8 flags of every cluster process (see protocol/v8-flags.ts), set before anything
// else is loaded: V8 flags changed on a busy heap are undefined behaviour.
for (const flag of clusterV8Flags()) setFlagsFromString(flag);

await import('../dist/cli/entry.js');
