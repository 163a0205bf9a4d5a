// The cluster with real processes over real ZeroMQ: a scheduler process,
// echo worker processes, and a SchedulerClient in the test process.
import t from 'tap';
import { client, node, nodes, submit } from '../helpers/cluster.js';
import { admin, startScheduler, startWorker, waitFor } from '../helpers/processes.js';

t.test('cluster - workers register, serve frames, and a second worker joins and takes load', async (t) => {
  const s = await startScheduler(t);
  await startWorker(t, s.workerEndpoint, { nodeId: 'w1', echoDelayMs: 20, slots: 16 });
  const c = await client(t, s);
  const w1 = await node(s, 'w1');
  t.match(w1, { id: 'w1', state: 'ready', slots: 16, models: ['echo'] }, 'GET /v1/nodes lists the worker as ready with its slots and models');
  t.same(c.ready(), { scheduler: true, workers: 1 });
  t.same(c.models().map((m) => m.id), ['echo']);

  const first = await Promise.all(Array.from({ length: 40 }, () => submit(c)));
  t.equal(first.length, 40);
  t.same(first[0].image, { width: 768, height: 576 }, 'the echo model reports the real image size');
  t.same(first[0].detections, []);
  t.equal(first[0].model, 'echo');

  await startWorker(t, s.workerEndpoint, { nodeId: 'w2', echoDelayMs: 20, slots: 16 });
  await waitFor('w2 ready', async () => (await node(s, 'w2'))?.state === 'ready');
  await Promise.all(Array.from({ length: 120 }, () => submit(c)));
  const after = await nodes(s);
  const w2 = after.find((n) => n.id === 'w2');
  t.ok(w2 && w2.framesDone > 0, `the new worker took load without restarts (${w2?.framesDone} frames)`);
  t.equal(after.reduce((sum, n) => sum + n.framesDone, 0), 160, 'every frame ran exactly once');
  t.ok(after.every((n) => n.inFlight === 0), 'slots released');

  const metrics = String((await admin(s.adminUrl, 'GET', '/metrics', null)).body);
  t.match(metrics, /yoloscale_frames_total\{model="echo",outcome="ok"\} 160/);
  t.match(metrics, /yoloscale_nodes\{state="ready"\} 2/);
  t.match(metrics, /yoloscale_batch_size_count \d+/);
  const rate = await waitFor('tokens_used_per_second counts completed frames', async () => {
    const m = String((await admin(s.adminUrl, 'GET', '/metrics', null)).body);
    const v = Number(/tokens_used_per_second\{model="echo"\} ([\d.]+)/.exec(m)?.[1] ?? 0);
    return v > 0 ? v : null;
  });
  t.ok(rate > 0 && rate <= 160 / 9 + 1e-9, `tokens_used_per_second{model="echo"} = ${rate}`);
});

t.test('cluster - a cordoned node gets no new batches while the others serve', async (t) => {
  const s = await startScheduler(t);
  await Promise.all([startWorker(t, s.workerEndpoint, { nodeId: 'a', echoDelayMs: 10 }), startWorker(t, s.workerEndpoint, { nodeId: 'b', echoDelayMs: 10 })]);
  const c = await client(t, s);
  await waitFor('two ready', async () => c.ready().workers === 2);
  const cordon = await admin(s.adminUrl, 'POST', '/v1/nodes/a/cordon');
  t.equal(cordon.status, 200);
  t.match(cordon.body, { id: 'a', state: 'cordoned' });
  const before = (await node(s, 'a'))?.framesDone;
  await Promise.all(Array.from({ length: 60 }, () => submit(c)));
  t.equal((await node(s, 'a'))?.framesDone, before, 'the cordoned node ran nothing');
  t.equal((await node(s, 'b'))?.framesDone, 60, 'the other node ran everything');
  t.match((await admin(s.adminUrl, 'POST', '/v1/nodes/a/uncordon')).body, { state: 'ready' });
  await Promise.all(Array.from({ length: 200 }, () => submit(c)));
  t.ok(((await node(s, 'a'))?.framesDone ?? 0) > 0, 'uncordoned, it serves again');
});
