#!/usr/bin/env node
// The `yoloscale` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';

// Every image a cluster process receives is an external buffer, and V8 starts a major
// collection for each 64 MB of them. On machines with few cores the background marking
// threads compete with the cluster's own processes: marking on the main thread instead
// measured about a quarter less CPU per frame in `bench scheduler` on 2 cores. Set here,
// before anything is loaded (V8 flags changed on a busy heap are undefined behaviour);
// YOLOSCALE_V8_CONCURRENT_MARKING=1 keeps V8's default.
if (availableParallelism() <= 4 && process.env.YOLOSCALE_V8_CONCURRENT_MARKING !== '1') setFlagsFromString('--no-concurrent-marking');

await import('../dist/cli/entry.js');
