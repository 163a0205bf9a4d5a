// Scheduler process for the cluster benchmarks (free ports, warn-level logs).
import { createLogger } from '../../protocol/index.js';
// The process entry itself, not the scheduler's index (which holds the simulator, the notifier, …), as `yoloscale scheduler` does.
import { runScheduler } from '../../scheduler/main.js';
import type { RunSchedulerOptions } from '../../scheduler/main.js';
import { idleV8BackgroundThreads } from '../../protocol/thread-sched.js';

// V8's compiler threads yield to the frame path, as `yoloscale` does (cli/entry.ts, protocol/thread-sched.ts).
idleV8BackgroundThreads();

const opts = JSON.parse(process.env.YS_BENCH_OPTS ?? '{}') as Partial<RunSchedulerOptions>;
const handle = await runScheduler({ adminToken: 'bench-admin-token', host: '127.0.0.1', workerPort: 0, clientPort: 0, adminPort: 0, ...opts, logger: createLogger('scheduler', 'warn') });
process.stdout.write(`${JSON.stringify({ ready: true, workerPort: handle.workerPort, clientPort: handle.clientPort, adminUrl: handle.adminUrl })}\n`);
await handle.closed;
process.exit(0);
