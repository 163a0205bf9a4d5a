/**
 * Test/bench entry: runs `runScheduler` with options from the JSON in
 * `YS_SCHEDULER_OPTS` and prints one JSON line `{"ready":true,...ports}` on
 * stdout. Stops on SIGTERM.
 */
import { createLogger } from '../../protocol/index.js';
import { runScheduler } from '../../scheduler/index.js';
import type { RunSchedulerOptions } from '../../scheduler/index.js';

const opts = JSON.parse(process.env.YS_SCHEDULER_OPTS ?? '{}') as Partial<RunSchedulerOptions>;
const handle = await runScheduler({
  adminToken: 'test-admin-token',
  host: '127.0.0.1',
  workerPort: 0,
  clientPort: 0,
  adminPort: 0,
  ...opts,
  logger: createLogger('scheduler', process.env.YOLOSCALE_LOG_LEVEL ?? 'warn'),
});
process.stdout.write(`${JSON.stringify({ ready: true, workerPort: handle.workerPort, clientPort: handle.clientPort, adminPort: handle.adminPort, adminUrl: handle.adminUrl })}\n`);
await handle.closed;
process.exit(0);
