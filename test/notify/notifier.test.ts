// Tenant webhooks end to end: debits through the gateway, the outbox in the ledger (SQLite and a real
// Redis), the notifier POSTing signed JSON to real local HTTP receivers (one failing, one down, one slow).
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import sharp from 'sharp';
import { RedisLedger, SqliteLedger, type Ledger } from '../../ledger/index.js';
import { Notifier, SIGNATURE_HEADER, retryDelayMs, signWebhook, verifyWebhook } from '../../scheduler/index.js';
import { buildApp } from '../../gateway/index.js';
import { Engine } from '../../worker/engine/engine.js';
import { MODELS_DIR, image } from '../helpers/env.js';
import { freePort } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';
import { EngineBackend } from '../gateway/helpers.js';
import { startReceiver } from './helpers.js';

const redis = await startRedis(t);
const engine = await Engine.create({ modelsDir: MODELS_DIR, device: 'cpu', threads: 1, models: [], echo: true });
t.teardown(() => engine.close());
const backend = new EngineBackend(engine);
const small = await sharp(readFileSync(image('bus.jpg'))).resize(64).jpeg().toBuffer();
let prefixSeq = 0;

async function openLedger(t: Test, kind: 'sqlite' | 'redis'): Promise<Ledger> {
  if (kind === 'redis') {
    const ledger = await RedisLedger.open({ url: redis.url, keyPrefix: `notify${++prefixSeq}:`, commandTimeoutMs: 10_000 });
    t.teardown(() => ledger.close());
    return ledger;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ys-notify-'));
  const ledger = SqliteLedger.open({ path: join(dir, 'ledger.sqlite') });
  t.teardown(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return ledger;
}

/** A tenant on its own small plan with a key. */
async function tenantOn(ledger: Ledger, tokensPerHour: number): Promise<{ tenantId: string; key: string }> {
  await ledger.putPlan('small', { tokensPerHour });
  const tenant = await ledger.createTenant({ name: 'acme', plan: 'small' });
  return { tenantId: tenant.id, key: (await ledger.createApiKey(tenant.id)).key };
}

function startNotifier(t: Test, ledger: Ledger, registry: Registry, opts: { maxAttempts?: number; timeoutMs?: number } = {}): Notifier {
  const n = new Notifier({ ledger, metricsRegistry: registry, pollMs: 20, backoffBaseMs: 50, backoffMaxMs: 400, timeoutMs: opts.timeoutMs ?? 2000, maxAttempts: opts.maxAttempts ?? 5 });
  n.start();
  t.teardown(() => n.stop());
  return n;
}

const metric = async (registry: Registry, name: string, labels: Record<string, string>): Promise<number> => {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v ? Number(v.value) : 0;
};

for (const kind of ['sqlite', 'redis'] as const) {
  t.test(`notify (${kind}) - threshold then exhaustion through the gateway: both events once each, signed, despite a failed first attempt`, async (t) => {
    const ledger = await openLedger(t, kind);
    const { tenantId, key } = await tenantOn(ledger, 5);
    const receiver = await startReceiver(t, (_r, nth) => (nth === 1 ? 500 : 204));
    const hook = await ledger.setWebhook(tenantId, { url: receiver.url, events: ['balance_low', 'budget_exhausted'], threshold: 2 });
    const gatewayRegistry = new Registry();
    const app = await buildApp({ backend, ledger, registry: gatewayRegistry, topupUrl: 'https://billing.example/topup?tenant={tenant}' });
    t.teardown(() => app.close());
    const schedulerRegistry = new Registry();
    startNotifier(t, ledger, schedulerRegistry);

    const req = { method: 'POST' as const, url: '/v1/detect?model=echo', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: small };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await app.inject(req)).statusCode);
    t.same(statuses, [200, 200, 200, 200, 200, 429, 429]);

    await until(() => receiver.accepted().length >= 2, 15_000);
    await new Promise((r) => setTimeout(r, 300)); // time for any extra (wrong) delivery to show up
    const accepted = receiver.accepted();
    t.same(accepted.map((r) => r.json.type).sort(), ['balance_low', 'budget_exhausted'], 'each event accepted exactly once');
    t.equal(receiver.received.length, 4, 'every event was tried twice: refused once, then accepted');
    for (const r of receiver.received) {
      t.ok(verifyWebhook(hook.secret, r.body, r.headers[SIGNATURE_HEADER] as string), `${r.json.type} attempt carries a valid signature`);
      t.notOk(verifyWebhook(hook.secret, `${r.body} `, r.headers[SIGNATURE_HEADER] as string), 'which a changed body fails');
      t.equal(r.json.tenant, tenantId);
      t.equal(r.headers['x-yoloscale-event'], r.json.type);
    }
    const low = accepted.find((r) => r.json.type === 'balance_low')!;
    t.same(low.json.data.remaining, 2);
    t.same(low.json.data.threshold, 2);
    t.equal(receiver.received.filter((r) => r.json.id === low.json.id).length, 2, 'a retry carries the same event id');
    t.equal(low.headers['x-yoloscale-attempt'], '2');
    t.same(await ledger.pendingEvents(tenantId), [], 'the outbox is empty');

    // The tenant sees its own delivery log through the gateway.
    const own = await app.inject({ method: 'GET', url: '/v1/webhook/deliveries', headers: { 'x-auth-token': key } });
    t.equal(own.statusCode, 200);
    const log = own.json().deliveries as { type: string; outcome: string; status: number; attempt: number }[];
    t.same(log.map((d) => d.outcome).sort(), ['delivered', 'delivered', 'retrying', 'retrying']);
    t.ok(log.filter((d) => d.outcome === 'retrying').every((d) => d.status === 500 && d.attempt === 1));

    // Audit: notifications and refusals in /metrics and in the usage report.
    t.equal(await metric(schedulerRegistry, 'yoloscale_notifications_total', { event: 'balance_low', outcome: 'delivered' }), 1);
    t.equal(await metric(schedulerRegistry, 'yoloscale_notifications_total', { event: 'budget_exhausted', outcome: 'retrying' }), 1);
    t.equal(await metric(gatewayRegistry, 'yoloscale_refusals_total', { tenant: tenantId, reason: 'insufficient_tokens' }), 2);
    const usage = await ledger.usage(tenantId);
    t.match(usage.refusals, [{ reason: 'insufficient_tokens', count: 2 }]);
    t.same(usage.notifications.map((n) => [n.type, n.outcome, n.count]), [
      ['balance_low', 'delivered', 1], ['balance_low', 'retrying', 1], ['budget_exhausted', 'delivered', 1], ['budget_exhausted', 'retrying', 1],
    ]);
  });
}

t.test('notify - a 429 carries the reset time, the top-up URL and the lane hint; the page renders them', async (t) => {
  const ledger = await openLedger(t, 'sqlite');
  const { tenantId, key } = await tenantOn(ledger, 1);
  const app = await buildApp({ backend, ledger, registry: new Registry(), topupUrl: 'https://billing.example/topup?tenant={tenant}' });
  t.teardown(() => app.close());
  const req = { method: 'POST' as const, url: '/v1/detect?model=echo', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: small };
  t.equal((await app.inject(req)).statusCode, 200);
  const refused = await app.inject(req);
  t.equal(refused.statusCode, 429);
  const err = refused.json().error as Record<string, unknown>;
  const resetInS = Math.ceil((Math.ceil(Date.now() / 3_600_000) * 3_600_000 - Date.now()) / 1000);
  t.match(err, { code: 'insufficient_tokens', topupUrl: `https://billing.example/topup?tenant=${tenantId}`, bestEffortAvailable: false, resetAt: /T\d\d:00:00\.000Z$/ });
  t.ok(Math.abs(Number(err.resetInS) - resetInS) <= 2, 'seconds until the budget resets');
  t.equal(Number(refused.headers['retry-after']), err.resetInS);
  t.match(err.hint, /best-effort/);

  // The page's render function (gateway/web/refusal.js, DOM-free part) turns it into what the user reads.
  const { refusalHelp } = await import('../../gateway/web/refusal.js');
  const help = refusalHelp(err)!;
  t.match(help.reset, new RegExp(`comes back at ${String(err.resetAt).slice(11, 16)} UTC \\(in \\d+ min \\d+ s\\)|comes back at ${String(err.resetAt).slice(11, 16)} UTC \\(in \\d+ s\\)`));
  t.equal(help.topupUrl, err.topupUrl);
  t.match(help.lane, /no best-effort lane/);
  t.equal(refusalHelp({ code: 'bad_image', message: 'x' }), null, 'other errors keep the plain message');
  t.equal(refusalHelp({ ...err, topupUrl: 'javascript:alert(1)' })!.topupUrl, null, 'only http(s) links are rendered');
});

t.test('notify - the stream sends the self-service fields before closing with 4029 and a short reason', async (t) => {
  const ledger = await openLedger(t, 'sqlite');
  const { key } = await tenantOn(ledger, 1);
  const app = await buildApp({ backend, ledger, registry: new Registry(), topupUrl: 'https://billing.example/{tenant}' });
  t.teardown(() => app.close());
  await app.listen({ port: await freePort(), host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const { connect } = await import('../gateway/ws-client.js');
  const c = await connect(`ws://127.0.0.1:${port}/v1/stream?model=echo`, { 'x-auth-token': key });
  c.ws.send(small);
  await c.until((m) => m.length >= 1);
  c.ws.send(small);
  const closed = await c.closed;
  t.equal(closed.code, 4029);
  t.ok(Buffer.byteLength(closed.reason) <= 123, `close reason fits a WebSocket close frame: ${closed.reason}`);
  const error = c.messages.find((m) => m.type === 'error');
  t.match(error, { code: 'insufficient_tokens', topupUrl: /^https:\/\/billing\.example\//, bestEffortAvailable: false, resetInS: Number, resetAt: String });
});

t.test('notify - a receiver that is down: retried with backoff, then marked failed and logged', async (t) => {
  const ledger = await openLedger(t, 'sqlite');
  const { tenantId } = await tenantOn(ledger, 1);
  const downUrl = `http://127.0.0.1:${await freePort()}/hook`;
  await ledger.setWebhook(tenantId, { url: downUrl, events: ['budget_exhausted'] });
  const registry = new Registry();
  startNotifier(t, ledger, registry, { maxAttempts: 3 });
  await ledger.debit(tenantId, { cost: 1, model: 'echo', frameId: 'a' });
  await until(async () => (await ledger.deliveries(tenantId)).some((d) => d.outcome === 'failed'), 15_000);
  const log = (await ledger.deliveries(tenantId)).reverse();
  t.same(log.map((d) => [d.attempt, d.outcome, d.status]), [[1, 'retrying', null], [2, 'retrying', null], [3, 'failed', null]]);
  t.ok(log.every((d) => d.error === 'ECONNREFUSED'), `errors: ${log.map((d) => d.error).join(', ')}`);
  const gaps = [Date.parse(log[1].at) - Date.parse(log[0].at), Date.parse(log[2].at) - Date.parse(log[1].at)];
  t.ok(gaps[0] >= 50 && gaps[1] >= 100, `backoff doubles between attempts: ${gaps.join(', ')} ms`);
  t.same(await ledger.pendingEvents(tenantId), []);
  t.equal(await metric(registry, 'yoloscale_notifications_total', { event: 'budget_exhausted', outcome: 'failed' }), 1);
});

t.test('notify - a slow receiver times out and is retried with the same event id until it answers in time', async (t) => {
  const ledger = await openLedger(t, 'sqlite');
  const { tenantId } = await tenantOn(ledger, 10);
  const receiver = await startReceiver(t, async (_r, nth) => {
    if (nth <= 2) await new Promise((r) => setTimeout(r, 3000));
    return 200;
  });
  await ledger.setWebhook(tenantId, { url: receiver.url, events: ['plan_changed'] });
  startNotifier(t, ledger, new Registry(), { timeoutMs: 800 });
  await ledger.setPlan(tenantId, 'starter', { actor: 'ops' });
  await until(async () => (await ledger.deliveries(tenantId)).some((d) => d.outcome === 'delivered'), 15_000);
  const log = (await ledger.deliveries(tenantId)).reverse();
  t.same(log.map((d) => [d.attempt, d.outcome, d.error ?? null]), [[1, 'retrying', 'timeout'], [2, 'retrying', 'timeout'], [3, 'delivered', null]]);
  t.ok(log[0].durationMs >= 700 && log[0].durationMs < 3000, `a slow answer is cut at the timeout (${log[0].durationMs} ms)`);
  t.equal(new Set(receiver.received.map((r) => r.json.id)).size, 1, 'every attempt carries the same id, so the receiver can drop repeats');
  t.same(receiver.received[0].json.data, { fromPlan: 'small', toPlan: 'starter', actor: 'ops' });
});

t.test('notify - signatures: HMAC-SHA256 over "t.body", constant-time check, stale timestamps refused', async (t) => {
  const body = '{"id":"ev_1"}';
  const header = signWebhook('whsec_test', body, 1_800_000_000);
  t.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/);
  t.ok(verifyWebhook('whsec_test', body, header, { nowS: 1_800_000_100 }));
  t.notOk(verifyWebhook('whsec_other', body, header, { nowS: 1_800_000_100 }), 'another secret');
  t.notOk(verifyWebhook('whsec_test', body, header, { nowS: 1_800_000_400 }), 'older than 5 min');
  t.notOk(verifyWebhook('whsec_test', body, header.replace('t=1800000000', 't=1800000001'), { nowS: 1_800_000_000 }), 'timestamp is signed');
  t.notOk(verifyWebhook('whsec_test', body, undefined));
  t.same([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, 1000, 5000)), [1000, 2000, 4000, 5000, 5000], 'capped exponential backoff');
});
