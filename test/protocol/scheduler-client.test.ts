// SchedulerClient against a scheduler played by the test over a real
// ZeroMQ ROUTER: replies, typed errors, readiness and local deadlines.
import t from 'tap';
import type { Test } from 'tap';
import { RouterSocket, SchedulerClient, YoloscaleError } from '../../protocol/index.js';
import type { Message, ReplyOutcome, SubmitFrame, SubmitFrameHeader } from '../../protocol/index.js';

async function setup(t: Test, onMessage: (router: RouterSocket, peer: Buffer, m: Message, images: Buffer[]) => void, clientOpts = {}) {
  const router = new RouterSocket();
  router.onMessage((peer, m, images) => onMessage(router, peer, m, images));
  const endpoint = await router.bind('tcp://127.0.0.1:0');
  const client = new SchedulerClient({ endpoint, pingIntervalMs: 100, ...clientOpts });
  t.teardown(async () => {
    await client.close();
    await router.close();
  });
  return client;
}

const frame = (over: Partial<SubmitFrame> = {}): SubmitFrame => ({
  image: Buffer.from([1, 2, 3]),
  model: 'echo',
  params: { conf: 0.4 },
  tenant: 'acme',
  weight: 3600,
  cost: 2,
  lane: 'realtime',
  deadlineMs: Date.now() + 1000,
  frameId: 'f1',
  ...over,
});

const status: Message = { kind: 'status', readyNodes: 2, models: [{ id: 'echo', tokensPerFrame: 1 }] };

t.test('scheduler-client - frames carry tenant, weight, cost, lane and budget; replies and errors settle them', async (t) => {
  const seen: SubmitFrameHeader[] = [];
  let messages = 0;
  const client = await setup(t, (router, peer, m, images) => {
    if (m.kind === 'ping') return void router.send(peer, status);
    if (m.kind !== 'submit') return;
    messages++;
    seen.push(...m.frames);
    t.same([...images[0]], [1, 2, 3], 'the image travels as its own frame');
    const outcomes: ReplyOutcome[] = m.frames.map((h) => {
      if (h.frameId === 'bad') return { seq: h.seq, error: { code: 'bad_image', message: 'cannot decode' } };
      if (h.frameId === 'busy') return { seq: h.seq, error: { code: 'overloaded', message: 'full', retryAfterS: 2 } };
      return { seq: h.seq, result: { model: 'echo', image: { width: 1, height: 1 }, detections: [], timing: { queueMs: 1, inferMs: 0, totalMs: 1 } } };
    });
    router.send(peer, { kind: 'reply', outcomes });
  });
  t.same(client.ready(), { scheduler: false, workers: 0 }, 'not ready before connecting');
  client.connect();
  await client.waitReady(5000);
  t.same(client.ready(), { scheduler: true, workers: 2 });
  t.same(client.models(), [{ id: 'echo', tokensPerFrame: 1 }]);
  const r = await client.submit(frame());
  t.equal(r.model, 'echo');
  t.match(seen[0], { frameId: 'f1', model: 'echo', params: { conf: 0.4 }, tenant: 'acme', weight: 3600, cost: 2, lane: 'realtime' });
  t.ok(seen[0].budgetMs > 900 && seen[0].budgetMs <= 1000, 'the deadline travels as a relative budget');
  const [ok, bad, busy] = await Promise.allSettled([client.submit(frame({ frameId: 'ok' })), client.submit(frame({ frameId: 'bad' })), client.submit(frame({ frameId: 'busy' }))]);
  t.equal(messages, 2, 'frames submitted in the same tick travel in one message');
  t.equal(ok.status, 'fulfilled');
  t.ok(bad.status === 'rejected' && bad.reason instanceof YoloscaleError);
  t.match(bad, { reason: { code: 'bad_image', httpStatus: 400 } });
  t.match(busy, { reason: { code: 'overloaded', retryAfterS: 2 } });
  t.equal(client.pending, 0);
});

t.test('scheduler-client - a scheduler that never answers still settles every frame after its deadline', async (t) => {
  const client = await setup(t, () => {}, { graceMs: 100 });
  client.connect();
  const started = Date.now();
  await t.rejects(client.submit(frame({ deadlineMs: Date.now() + 300 })), { code: 'deadline_exceeded' });
  t.ok(Date.now() - started >= 300, 'not before the deadline');
  t.same(client.ready(), { scheduler: false, workers: 0 }, 'a silent scheduler is not ready');
});

t.test('scheduler-client - bad frames and closed clients are refused with typed errors', async (t) => {
  const client = await setup(t, () => {});
  await t.rejects(client.submit(frame()), { code: 'no_capacity' }, 'not connected');
  client.connect();
  await t.rejects(client.submit(frame({ image: new Uint8Array(0) })), { code: 'bad_request' });
  await t.rejects(client.submit(frame({ lane: 'vip' as never })), { code: 'bad_request' });
  await t.rejects(client.submit(frame({ weight: 0 })), { code: 'bad_request' });
  await t.rejects(client.submit(frame({ deadlineMs: Date.now() - 1 })), { code: 'deadline_exceeded' });
  const pending = client.submit(frame({ deadlineMs: Date.now() + 60_000 }));
  await client.close();
  await t.rejects(pending, { code: 'no_capacity' }, 'close settles pending frames');
  t.throws(() => new SchedulerClient({ endpoint: 'http://x' }), /options\.endpoint must look like tcp:\/\/HOST:PORT/);
});
