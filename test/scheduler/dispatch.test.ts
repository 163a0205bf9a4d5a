// Dispatch without batching delay (issue #3): a frame goes to a worker with a
// free slot at once, even while that worker still runs another batch, instead
// of waiting out the batch window.
import t from 'tap';
import { client, node, submit } from '../helpers/cluster.js';
import { startScheduler, startWorker, waitFor } from '../helpers/processes.js';

t.test('dispatch - a worker with a free slot gets the next frame while its first batch still runs', async (t) => {
  // A batch window far longer than the test: only immediate dispatch puts both frames on the worker together.
  const s = await startScheduler(t, { maxDelayMs: 60_000 });
  await startWorker(t, s.workerEndpoint, { nodeId: 'slow', echoDelayMs: 4_000, slots: 8 });
  const c = await client(t, s);
  const first = submit(c, { deadlineMs: 30_000 });
  await waitFor('the first frame on the worker', async () => (await node(s, 'slow'))?.inFlight === 1);
  const second = submit(c, { deadlineMs: 30_000 });
  await waitFor('both frames on the worker', async () => (await node(s, 'slow'))?.inFlight === 2, 3_500);
  const [a, b] = await Promise.all([first, second]);
  t.ok(b.timing.queueMs < 4_000, `the second frame did not wait for the first batch (queued ${b.timing.queueMs.toFixed(1)} ms)`);
  t.equal(a.model, 'echo');
});
