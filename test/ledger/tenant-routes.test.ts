// The tenant admin routes (scheduler/admin/tenants.ts) over a real SQLite ledger, through app.inject().
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { openLedger, type Ledger } from '../../ledger/index.js';
import { buildAdminApp, tenantRoutes } from '../../scheduler/admin/index.js';

async function setup(t: Test): Promise<{ app: ReturnType<typeof Fastify>; ledger: Ledger }> {
  const dir = mkdtempSync(join(tmpdir(), 'ys-tenant-routes-'));
  const ledger = await openLedger({ dataDir: join(dir, 'data') });
  const app = Fastify();
  await app.register(tenantRoutes, { ledger });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, ledger };
}

t.test('tenant routes - create, list, show, keys, top-up, plan change and usage', async (t) => {
  const { app, ledger } = await setup(t);
  const created = await app.inject({ method: 'POST', url: '/v1/tenants', payload: { name: 'Acme', plan: 'starter' } });
  t.equal(created.statusCode, 201);
  const tenant = created.json();
  t.match(tenant, { id: /^t_/, name: 'Acme', plan: 'starter', elastic: null, balance: { tokensPerHour: 108000, remaining: 108000 } });

  const list = await app.inject({ method: 'GET', url: '/v1/tenants' });
  t.same(list.json().tenants.map((x: { id: string }) => x.id), [tenant.id]);

  const key = await app.inject({ method: 'POST', url: `/v1/tenants/${tenant.id}/keys` });
  t.equal(key.statusCode, 201);
  t.match(key.json(), { key: /^ys_/, tenantId: tenant.id, id: /^k_/ });
  t.match(await ledger.authenticate(key.json().key), { tenantId: tenant.id }, 'the answered key authenticates');

  const shown = await app.inject({ method: 'GET', url: `/v1/tenants/${tenant.id}` });
  t.equal(shown.statusCode, 200);
  t.equal(shown.json().keys.length, 1);
  t.notOk(JSON.stringify(shown.json()).includes(key.json().key), 'the plaintext key is never shown again');

  const top = await app.inject({ method: 'POST', url: `/v1/tenants/${tenant.id}/topup`, payload: { tokens: 500 } });
  t.match(top.json(), { tenantId: tenant.id, balance: { topupBalance: 500, remaining: 108500 } });

  await ledger.debit(tenant.id, { cost: 3, model: 'yolox-nano', frameId: 'f1' });
  const plan = await app.inject({ method: 'PUT', url: `/v1/tenants/${tenant.id}/plan`, payload: { plan: 'pro', elastic: true, minPlan: 'starter', maxPlan: 'enterprise' } });
  t.equal(plan.statusCode, 200);
  t.match(plan.json(), { plan: 'pro', elastic: { minPlan: 'starter', maxPlan: 'enterprise', belowHours: 0 }, balance: { usedThisHour: 3, hourlyRemaining: 539997 } });
  const off = await app.inject({ method: 'PUT', url: `/v1/tenants/${tenant.id}/plan`, payload: { plan: 'pro', elastic: false } });
  t.equal(off.json().elastic, null);

  const usage = await app.inject({ method: 'GET', url: `/v1/tenants/${tenant.id}/usage` });
  t.equal(usage.statusCode, 200);
  const u = usage.json();
  t.match(u.hourly, [{ model: 'yolox-nano', tokens: 3, refunded: 0, frames: 1 }]);
  t.same(u.changes.map((c: { kind: string }) => c.kind), ['topup', 'plan', 'plan']);
});

t.test('tenant routes - plans are listed and edited', async (t) => {
  const { app } = await setup(t);
  const plans = (await app.inject({ method: 'GET', url: '/v1/plans' })).json().plans;
  t.same(plans.map((p: { name: string; tokensPerHour: number }) => [p.name, p.tokensPerHour]), [['free', 3600], ['starter', 108000], ['pro', 540000], ['enterprise', 2160000]]);
  const put = await app.inject({ method: 'PUT', url: '/v1/plans/free', payload: { tokensPerHour: 7200, models: ['yolox-nano'], overflow: 'best-effort' } });
  t.equal(put.statusCode, 200);
  t.same(put.json(), { name: 'free', tokensPerHour: 7200, models: ['yolox-nano'], overflow: 'best-effort' });
  const created = await app.inject({ method: 'PUT', url: '/v1/plans/team', payload: { tokensPerHour: 20000 } });
  t.same(created.json(), { name: 'team', tokensPerHour: 20000, models: null, overflow: 'reject' });
  const missing = await app.inject({ method: 'PUT', url: '/v1/plans/other', payload: { overflow: 'reject' } });
  t.equal(missing.statusCode, 400);
  t.equal(missing.json().error.code, 'bad_request');
});

t.test('tenant routes - bad input and unknown ids answer typed JSON errors', async (t) => {
  const { app, ledger } = await setup(t);
  const cases: Array<[string, string, unknown, number, string]> = [
    ['POST', '/v1/tenants', { plan: 'free' }, 400, 'bad_request'],
    ['POST', '/v1/tenants', { name: 'x', plan: 'gold' }, 404, 'not_found'],
    ['POST', '/v1/tenants', { name: '' }, 400, 'bad_request'],
    ['GET', '/v1/tenants/nobody', undefined, 404, 'not_found'],
    ['GET', '/v1/tenants/bad%20id', undefined, 400, 'bad_request'],
    ['POST', '/v1/tenants/nobody/keys', undefined, 404, 'not_found'],
    ['POST', '/v1/tenants/nobody/topup', { tokens: 5 }, 404, 'not_found'],
    ['GET', '/v1/tenants/nobody/usage', undefined, 404, 'not_found'],
    ['PUT', '/v1/plans/free', { tokensPerHour: 0 }, 400, 'bad_request'],
  ];
  for (const [method, url, payload, status, code] of cases) {
    const res = await app.inject({ method: method as 'GET', url, payload: payload as object });
    t.equal(res.statusCode, status, `${method} ${url}`);
    t.equal(res.json().error.code, code, `${method} ${url}`);
  }
  const id = (await app.inject({ method: 'POST', url: '/v1/tenants', payload: { name: 'y', id: 'yy' } })).json().id;
  t.equal(id, 'yy');
  t.equal((await app.inject({ method: 'POST', url: '/v1/tenants', payload: { name: 'y', id: 'yy' } })).statusCode, 409);
  t.equal((await app.inject({ method: 'POST', url: '/v1/tenants/yy/topup', payload: { tokens: -1 } })).statusCode, 400);
  const noRange = await app.inject({ method: 'PUT', url: '/v1/tenants/yy/plan', payload: { plan: 'pro', elastic: true } });
  t.equal(noRange.statusCode, 400);
  t.match(noRange.json().error.message, /minPlan and body.maxPlan are required/);
  const inverted = await app.inject({ method: 'PUT', url: '/v1/tenants/yy/plan', payload: { plan: 'pro', elastic: true, minPlan: 'pro', maxPlan: 'free' } });
  t.equal(inverted.statusCode, 400);

  await ledger.close();
  const down = await app.inject({ method: 'GET', url: '/v1/tenants' });
  t.equal(down.statusCode, 503);
  t.equal(down.json().error.code, 'ledger_unavailable');
  t.ok(down.headers['retry-after']);
});

t.test('tenant routes - behind the admin app they need the admin token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-tenant-admin-'));
  const ledger = await openLedger({ dataDir: dir });
  const app = await buildAdminApp({ adminToken: 'secret-admin-token', metricsRegistry: new Registry(), plugins: [{ plugin: tenantRoutes, opts: { ledger } }] });
  t.teardown(async () => {
    await app.close();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  t.equal((await app.inject({ method: 'GET', url: '/v1/plans' })).statusCode, 401);
  const ok = await app.inject({ method: 'GET', url: '/v1/plans', headers: { authorization: 'Bearer secret-admin-token' } });
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().plans.length, 4);
});
