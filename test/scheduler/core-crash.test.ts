// What `yoloscale scheduler` does when its core thread fails (an exception
// nothing caught; `SchedulerHost.crash()` throws one there as a drill): the
// thread logs it, closes its ZeroMQ sockets (a worker thread that exits with
// one open aborts the whole process) and exits with code 1; the scheduler
// says so, stops its admin API, fails what waited on the core with
// `no_capacity` and leaves exit code 1 for the process, which lives on to
// report it.
import t from 'tap';
import { YoloscaleError } from '../../protocol/index.js';
import { runScheduler } from '../../scheduler/index.js';
import { captureLogger } from '../helpers/log-capture.js';
import type { LogLine } from '../helpers/log-capture.js';

t.test('a core thread that dies stops the scheduler with exit code 1 and a clear line', async (t) => {
  const lines: LogLine[] = [];
  const exitCodeBefore = process.exitCode;
  t.teardown(() => {
    process.exitCode = exitCodeBefore;
  });
  const handle = await runScheduler({ adminToken: 'test-admin-token', host: '127.0.0.1', workerPort: 0, clientPort: 0, adminPort: 0, handleSignals: false, logger: captureLogger(lines) });
  t.teardown(() => handle.close());
  const health = await fetch(`${handle.adminUrl}/healthz`);
  t.equal(health.status, 200, 'admin API up before the crash');
  t.same(await handle.scheduler.nodes(), [], 'the core answers before the crash');

  t.equal(await handle.scheduler.crash(), 1, 'the thread exited with code 1');
  await Promise.race([handle.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('scheduler did not close after its core died')), 10_000))]);

  const own = lines.find((l) => l.level === 'error' && /core thread failed/.test(l.msg ?? ''));
  t.match(String((own?.obj.err as Error | undefined)?.message), /crash drill/, 'the thread logged the error it died of');
  const line = lines.find((l) => l.level === 'error' && /core thread stopped unexpectedly/.test(l.msg ?? ''));
  t.ok(line, 'an error line says the core stopped and the scheduler stops');
  t.equal(line?.obj.code, 1, 'with the exit code');
  t.equal(process.exitCode, 1, 'the process will exit with code 1');
  await t.rejects(fetch(`${handle.adminUrl}/healthz`), 'the admin API is closed');
  const after = await handle.scheduler.nodes().catch((err: unknown) => err);
  t.ok(after instanceof YoloscaleError && after.code === 'no_capacity', 'requests to a dead core fail with no_capacity instead of hanging');
});

t.test('an orderly close ends the thread with code 0, and a drill after it does nothing', async (t) => {
  const handle = await runScheduler({ adminToken: 'test-admin-token', host: '127.0.0.1', workerPort: 0, clientPort: 0, adminPort: 0, handleSignals: false });
  const exitCodeBefore = process.exitCode;
  t.teardown(() => {
    process.exitCode = exitCodeBefore;
  });
  await handle.close();
  t.equal(await handle.scheduler.exited, 0, 'an orderly close ends the thread with code 0');
  t.equal(await handle.scheduler.crash(), 0, 'no drill on a stopped core');
  await handle.close();
  t.equal(process.exitCode, exitCodeBefore, 'an orderly close leaves the exit code alone');
});
