// Tenant isolation at the gateway, beyond the `?tenant=` case of
// test/gateway/detect.test.ts: no header, query, body field, form field,
// stream message or Idempotency-Key lets one tenant read or spend another's
// tokens, keys are not accepted in URLs, and the SQLite file holds no key.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Engine } from '../../worker/engine/engine.js';
import { MODELS_DIR, image } from '../helpers/env.js';
import { SqliteLedger } from '../../ledger/index.js';
import { EngineBackend, gatewayApp, listen, netCharged } from '../gateway/helpers.js';
import { connect } from '../gateway/ws-client.js';

t.test('security - tenants', async (t) => {
  const engine = await Engine.create({ modelsDir: MODELS_DIR, device: 'cpu', threads: 1, models: [], echo: true });
  t.teardown(() => engine.close());
  const backend = new EngineBackend(engine);
  const dir = mkdtempSync(join(tmpdir(), 'ys-sec-ledger-'));
  const ledger = SqliteLedger.open({ path: join(dir, 'ledger.db') });
  t.teardown(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tenantA = await ledger.createTenant({ name: 'acme', plan: 'starter' });
  const a = { tenantId: tenantA.id, key: (await ledger.createApiKey(tenantA.id)).key };
  const tenantB = await ledger.createTenant({ name: 'beta', plan: 'starter' });
  const b = { tenantId: tenantB.id, key: (await ledger.createApiKey(tenantB.id)).key };
  const { app } = await gatewayApp(t, backend, ledger);
  const photo = readFileSync(image('bus.jpg'));
  const wide = await sharp(photo).resize(64, 32, { fit: 'fill' }).jpeg().toBuffer();
  const tall = await sharp(photo).resize(32, 64, { fit: 'fill' }).jpeg().toBuffer();
  const charged = async (id: string) => (await netCharged(ledger, id)).net;

  t.test('B cannot charge A through headers, query, JSON or form fields', async (t) => {
    const aBefore = await charged(a.tenantId);
    const bBefore = await charged(b.tenantId);
    const auth = { 'x-auth-token': b.key };
    const attempts = [
      { name: 'X-Tenant-Id header', req: { headers: { ...auth, 'content-type': 'image/jpeg', 'x-tenant-id': a.tenantId, 'x-tenant': a.tenantId }, payload: wide } },
      { name: 'tenant in the query', req: { url: `/v1/detect?model=echo&tenant=${a.tenantId}`, headers: { ...auth, 'content-type': 'image/jpeg' }, payload: wide } },
      { name: 'tenantId in the JSON body', req: { headers: auth, payload: { image: wide.toString('base64'), tenantId: a.tenantId } } },
      { name: 'tenant in a form field', req: { headers: { ...auth, 'content-type': 'multipart/form-data; boundary=zz' }, payload: Buffer.concat([Buffer.from(`--zz\r\nContent-Disposition: form-data; name="tenant"\r\n\r\n${a.tenantId}\r\n--zz\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), wide, Buffer.from('\r\n--zz--\r\n')]) } },
      { name: 'both keys: X-Auth-Token wins', req: { headers: { ...auth, authorization: `Bearer ${a.key}`, 'content-type': 'image/jpeg' }, payload: wide } },
    ];
    let served = 0;
    for (const { name, req } of attempts) {
      const res = await app.inject({ method: 'POST', url: '/v1/detect?model=echo', ...req });
      t.ok(res.statusCode === 200 || res.statusCode === 400, `${name}: ${res.statusCode}`);
      if (res.statusCode === 200) served += (res.json() as { tokens: { charged: number } }).tokens.charged;
      else t.equal(res.json().error.code, 'bad_request', `${name}: refused as an unknown parameter`);
    }
    t.ok(served > 0, 'some of them were served');
    t.equal(await charged(a.tenantId), aBefore, "A's tokens untouched");
    t.equal((await charged(b.tenantId)) - bBefore, served, 'B paid for everything it was served');
    t.same(new Set(backend.submitted.slice(-attempts.length).map((f) => f.tenant)), new Set([b.tenantId]), 'every frame reached the cluster as B');
  });

  t.test('an Idempotency-Key is per tenant: B reusing A’s key gets its own result and pays for it', async (t) => {
    const aBefore = await charged(a.tenantId);
    const bBefore = await charged(b.tenantId);
    const post = (key: string, payload: Buffer) => app.inject({ method: 'POST', url: '/v1/detect?model=echo', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg', 'idempotency-key': 'order-1' }, payload });
    const first = await post(a.key, wide);
    t.equal(first.statusCode, 200);
    t.same(first.json().image, { width: 64, height: 32 });
    const other = await post(b.key, tall);
    t.equal(other.statusCode, 200);
    t.same(other.json().image, { width: 32, height: 64 }, "B gets a result for its own image, not A's stored one");
    t.equal((await charged(a.tenantId)) - aBefore, 1);
    t.equal((await charged(b.tenantId)) - bBefore, 1, 'B is charged for it');
    const replay = await post(a.key, tall);
    t.same(replay.json().image, { width: 64, height: 32 }, "A's own repeat still replays A's first result");
  });

  t.test('usage and ops routes show only the caller’s own data, whatever it asks for', async (t) => {
    const variants = [
      { url: '/v1/usage', headers: { 'x-tenant-id': a.tenantId } },
      { url: `/v1/usage?tenantId=${a.tenantId}`, headers: {} },
      { url: `/v1/usage?tenant=${a.tenantId}&tenant=${a.tenantId}`, headers: {} },
      { url: `/v1/usage?tenant[id]=${a.tenantId}`, headers: {} },
    ];
    for (const v of variants) {
      const res = await app.inject({ method: 'GET', url: v.url, headers: { ...v.headers, 'x-auth-token': b.key } });
      t.equal(res.statusCode, 200, v.url);
      t.equal(res.json().tenantId, b.tenantId, `${v.url}: B's own report`);
      t.notOk(res.body.includes(a.tenantId), `${v.url}: nothing of A in it`);
    }
    for (const url of [`/v1/usage/${a.tenantId}`, `/v1/tenants/${a.tenantId}`, '/v1/tenants', `/v1/tenants/${a.tenantId}/keys`]) {
      const res = await app.inject({ method: 'GET', url, headers: { 'x-auth-token': b.key } });
      t.equal(res.statusCode, 404, `${url}: the gateway has no such route`);
      t.notOk(res.body.includes(a.key), 'no key in the answer');
    }
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    t.notOk(metrics.body.includes(a.key) || metrics.body.includes(b.key), 'no key in the metrics');
  });

  t.test('keys are not accepted in URLs: streams use tickets, tickets belong to their tenant', async (t) => {
    for (const q of ['key', 'api_key', 'token', 'apiKey', 'x-auth-token']) {
      const res = await app.inject({ method: 'GET', url: `/v1/usage?${q}=${encodeURIComponent(b.key)}` });
      t.equal(res.statusCode, 401, `?${q}= is not a way to authenticate`);
    }
    const base = (await listen(app)).replace('http', 'ws');
    const inUrl = await connect(`${base}/v1/stream?model=echo&key=${encodeURIComponent(b.key)}`);
    const refusedCode = (await inUrl.closed).code;
    // Refused before the upgrade (400: not a known query parameter, the socket never opens: 1006) or after it (4001).
    t.ok([1006, 4001, 1008].includes(refusedCode) && inUrl.messages.every((m) => m.type === 'error'), `a key in the stream URL is refused (${refusedCode})`);
    const ticket = (await app.inject({ method: 'POST', url: '/v1/stream-tickets', headers: { 'x-auth-token': a.key } })).json().ticket as string;
    const bBefore = await charged(b.tenantId);
    const aBefore = await charged(a.tenantId);
    // The ticket is A's; B's header beside it and a tenant field in a config message change nothing.
    const s = await connect(`${base}/v1/stream?model=echo&ticket=${ticket}`, { 'x-auth-token': b.key });
    s.ws.send(JSON.stringify({ type: 'config', tenant: b.tenantId }));
    s.ws.send(wide);
    await s.until((m) => m.some((x) => x.type === 'detections'), 15_000);
    s.ws.close();
    await s.closed;
    t.ok(s.messages.some((m) => m.type === 'error' && m.code === 'bad_request'), 'the tenant field is refused');
    t.equal((await charged(a.tenantId)) - aBefore, 1, 'the frame is charged to the ticket’s tenant');
    t.equal(await charged(b.tenantId), bBefore, 'not to B');
    const web = readFileSync(new URL('../../gateway/web/app.js', import.meta.url), 'utf8');
    t.match(web, /\/v1\/stream-tickets/, 'the web page trades the key for a ticket');
    t.notMatch(web, /URLSearchParams\(\{[^}]*key/, 'and never puts the key in the stream URL');
  });

  t.test('the SQLite file (and its journal) holds no API key, only hashes', async (t) => {
    const files = readdirSync(dir);
    t.ok(files.includes('ledger.db'), `ledger files: ${files.join(', ')}`);
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
    for (const key of [a.key, b.key]) {
      t.notOk(bytes.includes(Buffer.from(key)), 'the raw key is not in the file');
      t.notOk(bytes.includes(Buffer.from(key.slice(3))), 'nor without its prefix');
    }
  });
});
