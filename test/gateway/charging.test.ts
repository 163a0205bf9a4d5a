import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { Engine } from '../../worker/engine/engine.js';
import { MODELS_DIR, image } from '../helpers/env.js';
import { EngineBackend, gatewayApp, ledgerWithTenant, netCharged } from './helpers.js';

t.test('gateway charging under concurrency (echo model: the cluster path without inference)', async (t) => {
  const engine = await Engine.create({ modelsDir: MODELS_DIR, device: 'cpu', threads: 1, models: [], echo: true });
  t.teardown(() => engine.close());
  const backend = new EngineBackend(engine);
  const small = await sharp(readFileSync(image('bus.jpg'))).resize(64).jpeg().toBuffer();

  t.test('1,000 concurrent requests against a 10-token balance: exactly 10 served, never overdrawn', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t, { tokensPerHour: 10 });
    const { app } = await gatewayApp(t, backend, ledger);
    const req = { method: 'POST' as const, url: '/v1/detect?model=echo', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' }, payload: small };
    const answers = await Promise.all(Array.from({ length: 1000 }, () => app.inject(req)));
    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.statusCode, (byStatus.get(a.statusCode) ?? 0) + 1);
    t.same(Object.fromEntries(byStatus), { 200: 10, 429: 990 }, 'ten 200s and 990 429s');
    t.ok(answers.filter((a) => a.statusCode === 429).every((a) => a.json().error.code === 'insufficient_tokens' && Number(a.headers['retry-after']) > 0));
    const usage = await ledger.usage(tenantId);
    t.equal(usage.balance.usedThisHour, 10, 'used exactly the budget');
    t.equal(usage.balance.remaining, 0);
    t.equal((await netCharged(ledger, tenantId)).net, 10);
  });

  t.test('50 concurrent retries with one Idempotency-Key are charged once and get one result', async (t) => {
    const { ledger, key, tenantId } = await ledgerWithTenant(t);
    const { app } = await gatewayApp(t, backend, ledger);
    const req = { method: 'POST' as const, url: '/v1/detect?model=echo', headers: { 'x-auth-token': key, 'content-type': 'image/jpeg', 'idempotency-key': 'retry-me' }, payload: small };
    const answers = await Promise.all(Array.from({ length: 50 }, () => app.inject(req)));
    t.ok(answers.every((a) => a.statusCode === 200), 'all answered');
    t.equal(new Set(answers.map((a) => a.body)).size, 1, 'one and the same result');
    t.equal((await netCharged(ledger, tenantId)).charged, 1, 'charged once');
  });
});
