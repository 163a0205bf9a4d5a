// Failures and departures with real processes over real ZeroMQ: a worker
// killed mid-batch, and a worker drained by SIGTERM.
import t from 'tap';
import { client, node, submit } from '../helpers/cluster.js';
import { admin, startScheduler, startWorker, waitFor } from '../helpers/processes.js';

t.test('cluster - a worker killed mid-batch loses no frame: they are re-queued to the other worker', async (t) => {
  const s = await startScheduler(t, { maxBatch: 4 });
  const victim = await startWorker(t, s.workerEndpoint, { nodeId: 'victim', echoDelayMs: 400, slots: 8 });
  await startWorker(t, s.workerEndpoint, { nodeId: 'survivor', echoDelayMs: 400, slots: 8 });
  const c = await client(t, s);
  await waitFor('two ready', async () => c.ready().workers === 2);
  const started = Date.now();
  const frames = Array.from({ length: 40 }, () => submit(c, { deadlineMs: 10_000 }));
  await waitFor('frames in flight on the victim', async () => ((await node(s, 'victim'))?.inFlight ?? 0) > 0);
  victim.kill('SIGKILL');
  const settled = await Promise.allSettled(frames);
  const failed = settled.filter((r) => r.status === 'rejected');
  t.equal(failed.length, 0, `every frame completed (${failed.map((f) => String((f as PromiseRejectedResult).reason)).join(', ')})`);
  t.ok(Date.now() - started < 10_000, 'within the deadline');
  t.equal((await node(s, 'victim'))?.state, 'failed', 'the silent worker was declared failed');
  const metrics = String((await admin(s.adminUrl, 'GET', '/metrics', null)).body);
  const requeued = Number(/yoloscale_frames_requeued_total (\d+)/.exec(metrics)?.[1]);
  t.ok(requeued > 0, `${requeued} frames re-queued`);
  t.equal((await node(s, 'survivor'))?.framesDone, 40 - ((await node(s, 'victim'))?.framesDone ?? 0));
});

t.test('cluster - SIGTERM drains a worker: in-flight frames finish, new frames go elsewhere, then it retires', async (t) => {
  const s = await startScheduler(t, { maxBatch: 4 });
  const leaving = await startWorker(t, s.workerEndpoint, { nodeId: 'leaving', echoDelayMs: 500, slots: 4 });
  const c = await client(t, s);
  const early = Array.from({ length: 4 }, () => submit(c));
  await waitFor('in flight', async () => ((await node(s, 'leaving'))?.inFlight ?? 0) === 4);
  await startWorker(t, s.workerEndpoint, { nodeId: 'staying', echoDelayMs: 5 });
  await waitFor('staying ready', async () => (await node(s, 'staying'))?.state === 'ready');
  leaving.kill('SIGTERM');
  await waitFor('draining', async () => (await node(s, 'leaving'))?.state !== 'ready');
  const late = await Promise.all(Array.from({ length: 20 }, () => submit(c)));
  t.equal(late.length, 20);
  const results = await Promise.all(early);
  t.equal(results.length, 4, 'the in-flight frames of the draining worker completed');
  t.same(await leaving.exited, { code: 0, signal: null }, 'the drained worker exited cleanly');
  t.equal((await node(s, 'leaving'))?.framesDone, 4, 'it took no new work while draining');
  t.equal((await node(s, 'leaving'))?.state, 'retired');
  t.equal((await node(s, 'staying'))?.framesDone, 20);
});
