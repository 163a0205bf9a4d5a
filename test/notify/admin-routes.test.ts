// The webhook routes of the admin API (scheduler/admin/tenants.ts) over a real SQLite ledger, through app.inject().
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { SqliteLedger } from '../../ledger/index.js';
import { tenantRoutes } from '../../scheduler/index.js';

t.test('admin - webhook set (secret once), show, deliveries, usage audit and removal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-webhook-routes-'));
  const ledger = SqliteLedger.open({ path: join(dir, 'ledger.sqlite') });
  const app = Fastify();
  await app.register(tenantRoutes, { ledger });
  t.teardown(async () => {
    await app.close();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await ledger.putPlan('tiny', { tokensPerHour: 1 });
  const tenant = await ledger.createTenant({ name: 'a', plan: 'tiny' });
  const url = `/v1/tenants/${tenant.id}/webhook`;

  const set = await app.inject({ method: 'PUT', url, payload: { url: 'https://hooks.example/a', events: ['budget_exhausted'], threshold: 0 } });
  t.equal(set.statusCode, 200);
  t.match(set.json(), { tenantId: tenant.id, url: 'https://hooks.example/a', events: ['budget_exhausted'], threshold: 0, secret: /^whsec_/ });
  const shown = await app.inject({ method: 'GET', url });
  t.equal(shown.statusCode, 200);
  t.notOk('secret' in shown.json(), 'the secret is never shown again');

  for (const [payload, why] of [
    [{ url: 'https://hooks.example/a', events: ['sometimes'] }, 'unknown event'],
    [{ url: 'http://hooks.example/a' }, 'plain http to a remote host'],
    [{ url: 'https://hooks.example/a', threshold: -1 }, 'negative threshold'],
  ] as const) {
    const r = await app.inject({ method: 'PUT', url, payload });
    t.equal(r.statusCode, 400, why);
    t.equal(r.json().error.code, 'bad_request');
  }
  t.equal((await app.inject({ method: 'PUT', url: '/v1/tenants/nobody/webhook', payload: { url: 'https://x.example/' } })).statusCode, 404);

  await ledger.debit(tenant.id, { cost: 1, model: 'm', frameId: 'f1' });
  await ledger.debit(tenant.id, { cost: 1, model: 'm', frameId: 'f2' });
  const [event] = await ledger.claimEvents({ limit: 5, leaseMs: 1000 });
  await ledger.completeEvent(event, { outcome: 'delivered', status: 200, durationMs: 7 });
  const log = await app.inject({ method: 'GET', url: `${url}/deliveries` });
  t.match(log.json(), { deliveries: [{ eventId: event.id, type: 'budget_exhausted', attempt: 1, outcome: 'delivered', status: 200, durationMs: 7 }] });
  const usage = (await app.inject({ method: 'GET', url: `/v1/tenants/${tenant.id}/usage` })).json();
  t.match(usage.refusals, [{ reason: 'insufficient_tokens', count: 1 }], 'refusals survive the response schema');
  t.same(usage.notifications, [{ type: 'budget_exhausted', outcome: 'delivered', count: 1 }]);

  t.same((await app.inject({ method: 'DELETE', url })).json(), { tenantId: tenant.id, removed: true });
  t.equal((await app.inject({ method: 'GET', url })).statusCode, 404);
  t.same((await app.inject({ method: 'DELETE', url })).json(), { tenantId: tenant.id, removed: false });
});
