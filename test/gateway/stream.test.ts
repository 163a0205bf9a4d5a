import t from 'tap';
import { readFileSync } from 'node:fs';
import { image } from '../helpers/env.js';
import { EngineBackend, gatewayApp, ledgerWithTenant, listen, netCharged, sharedEngine, videoFrames } from './helpers.js';
import { connect } from './ws-client.js';
import type { StreamMessage } from './ws-client.js';

const bus = readFileSync(image('bus.jpg'));
// Real models on a shared 2-core machine: allow for a loaded host (typical run well under a minute).
t.setTimeout(300_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('gateway streaming', async (t) => {
  const engine = await sharedEngine(t);
  const backend = new EngineBackend(engine);
  const frames = videoFrames(t, 300, { startS: 25 });
  t.equal(frames.length, 300, '300 real frames extracted');

  async function ticketFor(app: Awaited<ReturnType<typeof gatewayApp>>['app'], key: string): Promise<string> {
    const res = await app.inject({ method: 'POST', url: '/v1/stream-tickets', headers: { 'x-auth-token': key } });
    t.equal(res.statusCode, 200);
    const body = res.json() as { ticket: string; expiresAt: string };
    const ttl = Date.parse(body.expiresAt) - Date.now();
    t.ok(ttl > 55_000 && ttl <= 60_000, 'ticket lives 60 s');
    return body.ticket;
  }

  t.test('stream - 300 real frames at 30 fps: one result or dropped notice per frame, in order, charged = delivered', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const base = await listen(app);
    const ticket = await ticketFor(app, key);
    const c = await connect(`${base.replace('http', 'ws')}/v1/stream?ticket=${ticket}&model=yolox-nano`);
    t.equal(c.ws.readyState, 1, 'open');
    const started = Date.now();
    for (let i = 0; i < frames.length; i++) {
      c.ws.send(frames[i]);
      const wait = started + (i + 1) * (1000 / 30) - Date.now();
      if (wait > 0) await sleep(wait);
    }
    await c.until((m) => m.filter((x) => x.frame !== undefined).length >= frames.length, 30_000);
    const perFrame = c.messages.filter((m) => m.frame !== undefined);
    t.same(perFrame.map((m) => m.frame), Array.from({ length: 300 }, (_, i) => i + 1), 'every frame answered exactly once, in order');
    const results = perFrame.filter((m) => m.type === 'detections');
    const dropped = perFrame.filter((m) => m.type === 'dropped');
    t.equal(results.length + dropped.length, 300, 'only detections and dropped notices');
    t.ok(dropped.every((m) => m.reason === 'replaced' || m.reason === 'stale'), 'drop reasons are replaced or stale');
    // How many frames get through depends on the CPU; that figure belongs in bench/, not here.
    t.ok(results.length > 0, `frames answered (${results.length} results, ${dropped.length} dropped)`);
    const persons = results.filter((m) => (m.detections as Array<{ class: string }>).some((d) => d.class === 'person'));
    t.ok(persons.length > results.length / 2, `people found in most results (${persons.length}/${results.length})`);
    const chargedInMessages = results.reduce((s, m) => s + (m.tokens as { charged: number }).charged, 0);
    t.equal(chargedInMessages, results.length, 'each result says one token');
    t.ok(results.every((m) => (m.tokens as { lane: string }).lane === 'realtime'), 'streams use the realtime lane');
    await sleep(100);
    const { net } = await netCharged(ledger, tenantId);
    t.equal(net, results.length, `ledger: charged − refunded = results delivered (${net})`);
    t.ok(backend.submitted.filter((f) => f.tenant === tenantId).length <= results.length + 2, 'only frames actually sent to the backend were charged');
    c.ws.close();
    await c.closed;
  });

  t.test('stream - tickets are single-use; bad or missing auth closes with 4001; the key header works', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const ws = (await listen(app)).replace('http', 'ws');
    const ticket = await ticketFor(app, key);
    const first = await connect(`${ws}/v1/stream?ticket=${ticket}`);
    first.ws.send(bus);
    await first.until((m) => m.some((x) => x.type === 'detections'));
    t.equal(first.messages[0].type, 'detections');
    const again = await connect(`${ws}/v1/stream?ticket=${ticket}`);
    const closed = await again.closed;
    t.equal(closed.code, 4001, 'a used ticket is refused with 4001');
    t.equal(again.messages[0]?.code, 'unauthorized', 'with an error message first');
    t.equal((await (await connect(`${ws}/v1/stream`)).closed).code, 4001, 'no auth: 4001');
    t.equal((await (await connect(`${ws}/v1/stream`, { 'x-auth-token': 'ys_nope' })).closed).code, 4001, 'wrong key: 4001');
    const byKey = await connect(`${ws}/v1/stream`, { authorization: `Bearer ${key}` });
    byKey.ws.send(bus);
    await byKey.until((m) => m.length > 0);
    t.equal(byKey.messages[0].type, 'detections', 'non-browser clients may send the key header');
    const plain = await app.inject({ method: 'GET', url: '/v1/stream' });
    t.equal(plain.statusCode, 426, 'a plain GET is told to upgrade');
    first.ws.close();
    byKey.ws.close();
  });

  t.test('stream - plan and parameter checks: 4003 model not in plan, 1008 unknown model, config messages', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t, { models: ['yolov10n'] });
    const { app } = await gatewayApp(t, backend, ledger);
    const ws = (await listen(app)).replace('http', 'ws');
    const notInPlan = await connect(`${ws}/v1/stream?model=yolox-nano`, { 'x-auth-token': key });
    t.equal((await notInPlan.closed).code, 4003);
    t.equal(notInPlan.messages[0]?.code, 'model_not_in_plan');
    const unknown = await connect(`${ws}/v1/stream?model=nope`, { 'x-auth-token': key });
    t.equal((await unknown.closed).code, 1008);
    t.equal(unknown.messages[0]?.code, 'unknown_model');

    const ok = await ledgerWithTenant(t);
    const { app: app2 } = await gatewayApp(t, backend, ok.ledger);
    const ws2 = (await listen(app2)).replace('http', 'ws');
    const c = await connect(`${ws2}/v1/stream?conf=0.1`, { 'x-auth-token': ok.key });
    c.ws.send(bus);
    await c.until((m) => m.some((x) => x.frame === 1));
    c.ws.send(JSON.stringify({ type: 'config', conf: 0.85 }));
    await c.until((m) => m.some((x) => x.type === 'config'));
    t.match(c.messages.find((m) => m.type === 'config'), { model: 'yolox-nano', conf: 0.85 }, 'config acknowledged');
    c.ws.send(bus);
    await c.until((m) => m.some((x) => x.frame === 2));
    const [a, b] = [1, 2].map((n) => c.messages.find((m) => m.frame === n) as StreamMessage & { detections: Array<{ score: number }> });
    t.ok(a.detections.length > b.detections.length, 'a higher conf from the config message keeps fewer boxes');
    t.ok(b.detections.every((d) => d.score >= 0.85));
    c.ws.send(JSON.stringify({ type: 'config', conf: 2 }));
    c.ws.send('not json');
    await c.until((m) => m.filter((x) => x.type === 'error').length >= 2);
    t.same(c.messages.filter((m) => m.type === 'error').map((m) => m.code), ['bad_request', 'bad_request'], 'bad config and text get errors');
    c.ws.send(bus);
    await c.until((m) => m.some((x) => x.frame === 3));
    t.equal(c.messages.find((m) => m.frame === 3)?.type, 'detections', 'the stream keeps working');
    c.ws.close();
  });

  t.test('stream - exhausted tokens close with 4029 unless the plan allows best-effort', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t, { tokensPerHour: 2 });
    const { app } = await gatewayApp(t, backend, ledger);
    const ws = (await listen(app)).replace('http', 'ws');
    const c = await connect(`${ws}/v1/stream`, { 'x-auth-token': key });
    for (let n = 1; n <= 3; n++) {
      c.ws.send(bus);
      await c.until((m) => m.some((x) => x.frame === n));
    }
    const closed = await c.closed;
    t.equal(closed.code, 4029, 'closed with 4029');
    t.same(c.messages.map((m) => m.type), ['detections', 'detections', 'error']);
    t.equal(c.messages[2].code, 'insufficient_tokens', 'the reason comes first');
    t.ok(Number(c.messages[2].retryAfterS) > 0, 'with retryAfterS');
    t.equal((await netCharged(ledger, tenantId)).net, 2);

    const be = await ledgerWithTenant(t, { tokensPerHour: 1, overflow: 'best-effort' });
    const { app: app2 } = await gatewayApp(t, backend, be.ledger);
    const ws2 = (await listen(app2)).replace('http', 'ws');
    const c2 = await connect(`${ws2}/v1/stream`, { 'x-auth-token': be.key });
    for (let n = 1; n <= 3; n++) {
      c2.ws.send(bus);
      await c2.until((m) => m.some((x) => x.frame === n));
    }
    t.same(c2.messages.map((m) => (m.tokens as { lane: string } | undefined)?.lane), ['realtime', 'best-effort', 'best-effort']);
    t.same(c2.messages.map((m) => (m.tokens as { charged: number } | undefined)?.charged), [1, 0, 0], 'best-effort frames are not charged');
    c2.ws.close();
  });

  t.test('stream - limits: 1009 for a message too big, 1008 beyond the per-tenant stream limit', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger, { streamMaxPayloadBytes: 100_000, maxStreamsPerTenant: 1 });
    const ws = (await listen(app)).replace('http', 'ws');
    const big = await connect(`${ws}/v1/stream`, { 'x-auth-token': key });
    big.ws.send(bus);
    t.equal((await big.closed).code, 1009, 'message too big: 1009');
    await sleep(50);
    const one = await connect(`${ws}/v1/stream`, { 'x-auth-token': key });
    const two = await connect(`${ws}/v1/stream`, { 'x-auth-token': key });
    t.equal((await two.closed).code, 1008, 'a second stream of the tenant is refused');
    t.equal(two.messages[0]?.code, 'rate_limited');
    t.equal(one.ws.readyState, 1, 'the first stays open');
    one.ws.close();
    await one.closed;
    await sleep(50);
    const three = await connect(`${ws}/v1/stream`, { 'x-auth-token': key });
    t.equal(three.ws.readyState, 1, 'a slot frees when a stream closes');
    three.ws.close();
  });
});
