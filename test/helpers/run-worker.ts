/**
 * Test/bench entry: runs `runWorker` with options from the JSON in
 * `YS_WORKER_OPTS` (echo-only unless `inference` is set) and prints one
 * JSON line `{"ready":true,"nodeId":...}` on stdout. Drains and stops on
 * SIGTERM; exits when retired.
 */
import { createLogger } from '../../protocol/index.js';
import { runWorker } from '../../worker/agent/index.js';
import type { RunWorkerOptions } from '../../worker/agent/index.js';

const opts = JSON.parse(process.env.YS_WORKER_OPTS ?? '{}') as RunWorkerOptions;
const handle = await runWorker({
  echo: true,
  inference: false,
  ...opts,
  logger: createLogger('worker', process.env.YOLOSCALE_LOG_LEVEL ?? 'warn'),
});
process.stdout.write(`${JSON.stringify({ ready: true, nodeId: handle.nodeId })}\n`);
await handle.closed;
process.exit(0);
