// Deadlines through real processes: frames that cannot make their deadline
// are answered deadline_exceeded; per-frame errors come back typed.
import t from 'tap';
import { isYoloscaleError } from '../../protocol/index.js';
import { PHOTO, client, submit } from '../helpers/cluster.js';
import { startScheduler, startWorker } from '../helpers/processes.js';

t.test('deadlines - realtime frames: stale frames are answered deadline_exceeded, fresh ones served', async (t) => {
  const s = await startScheduler(t, { maxBatch: 1 });
  await startWorker(t, s.workerEndpoint, { nodeId: 'slow', echoDelayMs: 400, slots: 1 });
  const c = await client(t, s);
  const started = Date.now();
  const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => submit(c, { deadlineMs: 600, lane: 'realtime' })));
  const elapsed = Date.now() - started;
  t.equal(outcomes[0].status, 'fulfilled', 'the first frame fits its deadline');
  const rest = outcomes.slice(1);
  t.ok(
    rest.every((o) => o.status === 'rejected' && isYoloscaleError(o.reason, 'deadline_exceeded')),
    'the frames that cannot make it are answered deadline_exceeded',
  );
  t.ok(elapsed < 2_500, `answered soon after the deadline (${elapsed} ms)`);
  await t.rejects(submit(c, { deadlineMs: -5 }), { code: 'deadline_exceeded' }, 'a frame already late is refused');
  const ok = await submit(c, { deadlineMs: 5_000 });
  t.equal(ok.model, 'echo', 'the scheduler keeps serving');
  await t.rejects(
    c.submit({ image: PHOTO, model: 'no-such-model', params: {}, tenant: 't', weight: 1, cost: 1, lane: 'standard', deadlineMs: Date.now() + 1000, frameId: 'x' }),
    { code: 'unknown_model' },
  );
  await t.rejects(
    c.submit({ image: Buffer.from('not an image'), model: 'echo', params: {}, tenant: 't', weight: 1, cost: 1, lane: 'standard', deadlineMs: Date.now() + 2000, frameId: 'y' }),
    { code: 'bad_image' },
    'per-frame errors come back typed',
  );
});
