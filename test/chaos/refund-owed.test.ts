// Regression (found by the chaos suite's Redis restart): a refund that could
// not reach the ledger was given up after about 2 s, so a frame that failed
// during a longer outage stayed charged. Now it stays owed until Redis is back.
import t from 'tap';
import type { Test } from 'tap';
import { Registry } from 'prom-client';
import { openLedger } from '../../ledger/index.js';
import { GatewayMetrics } from '../../gateway/index.js';
import { Admission } from '../../gateway/admission.js';
import { startRedis } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

t.test('admission - a refund owed during a Redis outage longer than its retries is applied once Redis is back', async (t: Test) => {
  const redis = await startRedis(t);
  const ledger = await openLedger({ redisUrl: redis.url, dataDir: '/nonexistent' });
  t.teardown(() => ledger.close());
  const tenant = await ledger.createTenant({ name: 'acme', plan: 'starter' });
  const { key } = await ledger.createApiKey(tenant.id);
  const admission = new Admission({ ledger, metrics: new GatewayMetrics(new Registry()) });
  const principal = await admission.authenticate(key, '127.0.0.1');
  const admitted = await admission.admit({ principal, model: 'echo', modelTokens: 1, width: 640, height: 480, lane: 'standard', frameId: 'r-owed-1' });
  t.equal(admitted.charged, 1);
  const before = (await ledger.balance(tenant.id)).remaining;

  await redis.kill();
  await admission.refund(admitted, 'failed'); // gives up its quick retries while Redis is down
  t.equal(admission.owedRefunds, 1, 'the refund is owed, not forgotten');
  await new Promise((r) => setTimeout(r, 3_000)); // longer than the old 2 s of retries
  await redis.restart();
  await until(() => admission.owedRefunds === 0, 20_000);
  t.equal((await ledger.balance(tenant.id)).remaining, before + 1, 'the token came back');
  const usage = await ledger.usage(tenant.id);
  t.same(usage.hourly.map((b) => [b.tokens, b.refunded]), [[1, 1]], 'charged once, refunded once');
  await admission.refund(admitted, 'failed');
  t.equal((await ledger.balance(tenant.id)).remaining, before + 1, 'a second refund of the same frame gives nothing');
  t.equal(await admission.flushRefunds(1_000), 0);
});
