#!/usr/bin/env node
// The `yoloscale` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import '../dist/cli/entry.js';
