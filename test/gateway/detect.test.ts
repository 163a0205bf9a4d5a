import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { probeImageHeader } from '../../protocol/index.js';
import type { DetectionResult } from '../../protocol/index.js';
import { image } from '../helpers/env.js';
import { EngineBackend, gatewayApp, ledgerWithTenant, netCharged, sharedEngine } from './helpers.js';

// Real models on a shared 2-core machine: allow for a loaded host (typical run well under a minute).
t.setTimeout(300_000);

const bus = readFileSync(image('bus.jpg'));
const zidane = readFileSync(image('zidane.jpg'));

function multipart(fields: Record<string, string>, file: Buffer, name = 'image'): { body: Buffer; type: string } {
  const boundary = `----ys${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`));
  parts.push(file, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

t.test('gateway REST', async (t) => {
  const engine = await sharedEngine(t);
  const backend = new EngineBackend(engine);
  const local = await engine.detect(bus, 'yolox-nano', {});

  t.test('detect - raw, multipart and base64 JSON bodies give the same detections as the local engine', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const raw = await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: bus });
    const mp = multipart({}, bus);
    const form = await app.inject({ method: 'POST', url: '/v1/detect', headers: { authorization: `Bearer ${key}`, 'content-type': mp.type }, payload: mp.body });
    const json = await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key }, payload: { image: bus.toString('base64') } });
    const results: DetectionResult[] = [];
    for (const [name, res] of [['raw', raw], ['multipart', form], ['json', json]] as const) {
      t.equal(res.statusCode, 200, `${name} answers 200`);
      const body = res.json() as DetectionResult;
      results.push(body);
      t.same(body.image, local.image, `${name}: image size`);
      t.same(body.detections, local.detections, `${name}: same detections as the engine`);
      t.same(body.tokens?.charged, 1, `${name}: one token charged`);
      t.equal(body.tokens?.lane, 'standard');
      t.equal(res.headers['x-tokens-remaining'], String(body.tokens?.remaining), `${name}: X-Tokens-Remaining`);
      t.match(res.headers['x-tokens-reset'], /^\d{10}$/, `${name}: X-Tokens-Reset in epoch seconds`);
    }
    t.ok(local.detections.some((d) => d.class === 'bus'), 'the bus is found');
    t.equal(results[2].tokens!.remaining, results[0].tokens!.remaining - 2, 'each request debits its token');
    t.same((await netCharged(ledger, tenantId)).net, 3, 'the ledger charged three tokens');
  });

  t.test('detect - parameters in the query or in fields change the answer', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const headers = { 'x-auth-token': key, 'content-type': 'image/jpeg' };
    const all = (await app.inject({ method: 'POST', url: '/v1/detect?conf=0.1', headers, payload: zidane })).json() as DetectionResult;
    const strict = (await app.inject({ method: 'POST', url: '/v1/detect?conf=0.8', headers, payload: zidane })).json() as DetectionResult;
    const persons = (await app.inject({ method: 'POST', url: '/v1/detect?conf=0.1&classes=person', headers, payload: zidane })).json() as DetectionResult;
    const one = (await app.inject({ method: 'POST', url: '/v1/detect?conf=0.1&maxDet=1', headers, payload: zidane })).json() as DetectionResult;
    t.ok(all.detections.length > strict.detections.length, 'a higher conf keeps fewer boxes');
    t.ok(strict.detections.every((d) => d.score >= 0.8));
    t.ok(persons.detections.length > 0 && persons.detections.every((d) => d.class === 'person'), 'classes=person keeps only persons');
    t.ok(all.detections.some((d) => d.class !== 'person'), 'without the filter other classes appear');
    t.equal(one.detections.length, 1, 'maxDet=1 keeps one box');
    const mp = multipart({ conf: '0.8', model: 'yolox-nano' }, zidane);
    const fields = (await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key, 'content-type': mp.type }, payload: mp.body })).json() as DetectionResult;
    t.same(fields.detections, strict.detections, 'multipart fields work like the query');
    const js = (await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key }, payload: { image: zidane.toString('base64'), classes: ['person'], conf: 0.1 } })).json() as DetectionResult;
    t.same(js.detections, persons.detections, 'JSON fields work like the query');
  });

  t.test('detect - Accept: image/jpeg returns the annotated image', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/detect',
      headers: { 'x-auth-token': key, 'content-type': 'image/jpeg', accept: 'image/jpeg' },
      payload: bus,
    });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^image\/jpeg/);
    t.ok(res.headers['x-tokens-remaining'], 'token headers on the image answer too');
    const header = probeImageHeader(res.rawPayload);
    t.same({ w: header.width, h: header.height, f: header.format }, { w: local.image.width, h: local.image.height, f: 'jpeg' }, 'same size as the input');
    const meta = await sharp(res.rawPayload).stats();
    t.ok(meta.channels.length >= 3, 'the JPEG decodes');
    // The boxes change the pixels inside the first detection's outline.
    const d = local.detections[0];
    const region = { left: Math.round(d.box.x1), top: Math.round(d.box.y1), width: 4, height: Math.round(d.box.y2 - d.box.y1) };
    const before = await sharp(bus).extract(region).raw().toBuffer();
    const after = await sharp(res.rawPayload).extract(region).raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < before.length; i++) diff += Math.abs(before[i] - after[i]);
    t.ok(diff / before.length > 20, `box outline drawn (mean difference ${(diff / before.length).toFixed(1)})`);
  });

  t.test('detect - an Idempotency-Key repeat returns the first result and is charged once', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const req = { method: 'POST' as const, url: '/v1/detect', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg', 'idempotency-key': 'order-42' }, payload: bus };
    const [a, b] = await Promise.all([app.inject(req), app.inject(req)]);
    const c = await app.inject(req);
    t.equal(a.statusCode, 200);
    t.equal(b.statusCode, 200, 'a concurrent repeat waits for the first');
    t.equal(c.statusCode, 200);
    t.same(b.json(), a.json(), 'same result');
    t.same(c.json(), a.json(), 'same result later');
    t.equal((await netCharged(ledger, tenantId)).charged, 1, 'charged once');
    const other = await app.inject({ ...req, headers: { ...req.headers, 'idempotency-key': 'order-43' } });
    t.equal(other.statusCode, 200);
    t.equal((await netCharged(ledger, tenantId)).charged, 2, 'a new key is a new charge');
  });

  t.test('auth - missing and wrong keys get 401, repeated failures 429 with Retry-After', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger, { authFailuresPerMinute: 3 });
    const none = await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'image/jpeg' }, payload: bus });
    t.equal(none.statusCode, 401);
    t.equal(none.json().error.code, 'unauthorized');
    t.notOk(none.headers['x-tokens-remaining'], 'no token headers for strangers');
    for (let i = 0; i < 2; i++) {
      const bad = await app.inject({ method: 'GET', url: '/v1/usage', headers: { authorization: 'Bearer ys_wrong' } });
      t.equal(bad.statusCode, 401);
    }
    const blocked = await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-auth-token': key } });
    t.equal(blocked.statusCode, 429, 'the address is blocked even with a good key');
    t.equal(blocked.json().error.code, 'rate_limited');
    t.ok(Number(blocked.headers['retry-after']) > 0, 'Retry-After set');
    const elsewhere = await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-auth-token': key }, remoteAddress: '10.1.2.3' });
    t.equal(elsewhere.statusCode, 200, 'other addresses are not affected');
  });

  t.test('charging - an exhausted plan answers 429 with Retry-After; usage shows every token', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t, { tokensPerHour: 3 });
    const { app } = await gatewayApp(t, backend, ledger);
    const headers = { 'x-auth-token': key, 'content-type': 'image/jpeg' };
    for (let i = 0; i < 3; i++) {
      const ok = await app.inject({ method: 'POST', url: '/v1/detect', headers, payload: zidane });
      t.equal(ok.statusCode, 200);
      t.equal(ok.headers['x-tokens-remaining'], String(2 - i));
    }
    const before = backend.submitted.length;
    const no = await app.inject({ method: 'POST', url: '/v1/detect', headers, payload: zidane });
    t.equal(no.statusCode, 429);
    t.equal(no.json().error.code, 'insufficient_tokens');
    const retry = Number(no.headers['retry-after']);
    const toHour = Math.ceil((3_600_000 - (Date.now() % 3_600_000)) / 1000);
    t.ok(retry > 0 && Math.abs(retry - toHour) <= 2, `Retry-After ${retry} s is the time to the next UTC hour (${toHour} s)`);
    t.equal(no.headers['x-tokens-remaining'], '0');
    t.equal(backend.submitted.length, before, 'nothing served free');
    const usage = await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-auth-token': key } });
    t.equal(usage.statusCode, 200);
    t.equal(usage.json().tenantId, tenantId);
    t.equal(usage.json().balance.usedThisHour, 3);
    t.equal((await netCharged(ledger, tenantId)).net, 3);
  });

  t.test('charging - best-effort overflow serves exhausted tenants uncharged in the best-effort lane', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t, { tokensPerHour: 1, overflow: 'best-effort' });
    const { app } = await gatewayApp(t, backend, ledger);
    const headers = { 'x-auth-token': key, 'content-type': 'image/jpeg' };
    const first = (await app.inject({ method: 'POST', url: '/v1/detect', headers, payload: bus })).json() as DetectionResult;
    t.same(first.tokens, { charged: 1, remaining: 0, lane: 'standard' });
    const second = await app.inject({ method: 'POST', url: '/v1/detect', headers, payload: bus });
    t.equal(second.statusCode, 200);
    t.same((second.json() as DetectionResult).tokens, { charged: 0, remaining: 0, lane: 'best-effort' });
    t.equal(backend.submitted.at(-1)?.lane, 'best-effort', 'the frame goes in the best-effort lane');
    t.equal((await netCharged(ledger, tenantId)).charged, 1);
  });

  t.test('charging - a model outside the plan is refused with 403', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t, { models: ['yolov10n'] });
    const { app } = await gatewayApp(t, backend, ledger);
    const res = await app.inject({ method: 'POST', url: '/v1/detect?model=yolox-nano', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: bus });
    t.equal(res.statusCode, 403);
    t.equal(res.json().error.code, 'model_not_in_plan');
  });

  t.test('usage - a tenant sees only its own usage', async (t) => {
    const a = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, a.ledger);
    const other = await a.ledger.createTenant({ name: 'other', plan: 'free' });
    const otherKey = (await a.ledger.createApiKey(other.id)).key;
    await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': a.key, 'content-type': 'image/jpeg' }, payload: bus });
    const mine = (await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-auth-token': otherKey } })).json();
    t.equal(mine.tenantId, other.id);
    t.equal(mine.balance.usedThisHour, 0, "the other tenant's usage is not visible");
    const foreign = await app.inject({ method: 'GET', url: `/v1/usage?tenant=${a.tenantId}`, headers: { 'x-auth-token': otherKey } });
    t.equal(foreign.json().tenantId, other.id, 'a tenant parameter cannot select another tenant');
  });

  t.test('ops - models, health, readiness, metrics, OpenAPI and docs', async (t) => {
    const { ledger, key } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: bus });
    const models = (await app.inject({ method: 'GET', url: '/v1/models' })).json();
    t.same(models.models.map((m: { id: string }) => m.id), ['yolox-nano']);
    t.equal(models.models[0].default, true);
    t.equal(models.models[0].tokensPerFrame, 1);
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 200);
    t.same(ready.json(), { status: 'ready', scheduler: true, workers: 1 });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    t.match(metrics, /yoloscale_request_seconds_bucket\{[^}]*route="\/v1\/detect"/);
    t.match(metrics, /yoloscale_tokens_charged_total\{tenant="[^"]+",model="yolox-nano",lane="standard"\} 1/);
    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    t.equal(spec.openapi, '3.0.3');
    for (const path of ['/v1/detect', '/v1/stream-tickets', '/v1/stream', '/v1/usage', '/v1/models', '/healthz', '/readyz']) {
      t.ok(spec.paths[path], `OpenAPI documents ${path}`);
    }
    t.ok(spec.paths['/v1/detect'].post.requestBody.content['image/jpeg'], 'raw JPEG body documented');
    t.ok(spec.paths['/v1/detect'].post.responses['200'].content['application/json'].schema.properties.detections, 'result schema documented');
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    t.equal(docs.statusCode, 200);
    t.match(docs.body, /swagger/i);
    const page = await app.inject({ method: 'GET', url: '/' });
    t.equal(page.statusCode, 200);
    t.match(page.headers['content-type'], /text\/html/);
    t.match(page.body, /<script src="\/app.js"/);
    t.equal((await app.inject({ method: 'GET', url: '/app.js' })).statusCode, 200);
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    t.equal(missing.statusCode, 404);
    t.equal(missing.json().error.code, 'not_found');
  });
});
