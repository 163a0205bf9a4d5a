// Node lifecycle with real processes over real ZeroMQ: admin drain and
// retire, and a restarted scheduler found again by workers and clients.
import t from 'tap';
import { client, node, submit } from '../helpers/cluster.js';
import { admin, startScheduler, startWorker, waitFor } from '../helpers/processes.js';

t.test('cluster - admin drain then retire stops the worker process', async (t) => {
  const s = await startScheduler(t);
  const w = await startWorker(t, s.workerEndpoint, { nodeId: 'old' });
  await startWorker(t, s.workerEndpoint, { nodeId: 'new' });
  const c = await client(t, s);
  await waitFor('two ready', async () => c.ready().workers === 2);
  t.match((await admin(s.adminUrl, 'POST', '/v1/nodes/old/drain')).body, { state: 'draining' });
  await Promise.all(Array.from({ length: 30 }, () => submit(c)));
  t.equal((await node(s, 'old'))?.framesDone, 0);
  t.equal((await node(s, 'old'))?.state, 'draining', 'an admin drain keeps the node until it is retired');
  t.equal((await admin(s.adminUrl, 'POST', '/v1/nodes/old/uncordon')).status, 409, 'a draining node cannot be uncordoned');
  t.match((await admin(s.adminUrl, 'POST', '/v1/nodes/old/retire')).body, { state: 'retired' });
  t.same(await w.exited, { code: 0, signal: null }, 'the retired worker stopped');
});

t.test('cluster - a restarted scheduler is found again by its workers and clients', async (t) => {
  const s1 = await startScheduler(t);
  await startWorker(t, s1.workerEndpoint, { nodeId: 'sticky' });
  const c = await client(t, s1);
  t.equal((await submit(c)).model, 'echo');
  s1.kill('SIGTERM');
  await s1.exited;
  const s2 = await startScheduler(t, { workerPort: Number(s1.workerEndpoint.split(':').pop()), clientPort: Number(s1.clientEndpoint.split(':').pop()) });
  await waitFor('the worker registered again', async () => (await node(s2, 'sticky'))?.state === 'ready');
  await waitFor('the client sees it', () => c.ready().workers === 1);
  t.equal((await submit(c)).model, 'echo', 'frames flow again without restarting worker or client');
});
