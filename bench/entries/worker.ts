// Worker process for the cluster benchmarks (echo-only unless `inference`).
import { createLogger } from '../../protocol/index.js';
import { runWorker } from '../../worker/agent/main.js';

type Opts = Parameters<typeof runWorker>[0];
const opts = JSON.parse(process.env.YS_BENCH_OPTS ?? '{}') as Opts;
const handle = await runWorker({ echo: true, inference: false, ...opts, logger: createLogger('worker', 'warn') });
process.stdout.write(`${JSON.stringify({ ready: true, nodeId: handle.nodeId })}\n`);
await handle.closed;
process.exit(0);
