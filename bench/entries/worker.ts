// Worker process for the cluster benchmarks (echo-only unless `inference`).
import { createLogger } from '../../protocol/index.js';
import { runWorker } from '../../worker/agent/main.js';
import { idleV8BackgroundThreads } from '../../protocol/thread-sched.js';

// V8's compiler threads yield to the frame path, as `yoloscale` does (cli/entry.ts, protocol/thread-sched.ts).
idleV8BackgroundThreads();

type Opts = Parameters<typeof runWorker>[0];
const opts = JSON.parse(process.env.YS_BENCH_OPTS ?? '{}') as Opts;
const handle = await runWorker({ echo: true, inference: false, ...opts, logger: createLogger('worker', 'warn') });
process.stdout.write(`${JSON.stringify({ ready: true, nodeId: handle.nodeId })}\n`);
await handle.closed;
process.exit(0);
