// Issue #9 across processes: a real `yoloscale scheduler` process (whose notifier delivers the
// outbox) and a gateway (`runGateway`, echo engine in-process) share one SQLite ledger; a tenant
// configured through the CLI runs out of tokens; both events arrive signed; the 429 carries the
// deployment's top-up URL; `usage` and both /metrics show the refusals and notifications.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createGatewayLogger, runGateway } from '../../gateway/index.js';
import { verifyWebhook } from '../../scheduler/index.js';
import { Engine } from '../../worker/engine/engine.js';
import { runCli } from '../helpers/cli.js';
import { startCliScheduler } from '../helpers/cli-scheduler.js';
import { MODELS_DIR, image } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { EngineBackend } from '../gateway/helpers.js';
import { startReceiver } from './helpers.js';

t.test('notify - scheduler process and gateway: CLI webhook, refusals with self-service, events delivered by the scheduler', async (t) => {
  t.setTimeout(240_000);
  const receiver = await startReceiver(t, (_r, nth) => (nth === 1 ? 503 : 200));
  const { adminPort, dataDir, env, adminToken } = await startCliScheduler(t, 'notify-test-admin-token');
  const info = { adminToken };
  const engine = await Engine.create({ modelsDir: MODELS_DIR, device: 'cpu', threads: 1, models: [], echo: true });
  t.teardown(() => engine.close());
  const gateway = await runGateway({
    port: 0, host: '127.0.0.1', dataDir, backend: new EngineBackend(engine), logger: createGatewayLogger('warn'), topupUrl: 'https://billing.example/topup/{tenant}',
  });
  t.teardown(() => gateway.close());
  const port = gateway.port;
  const cli = (args: string[]) => runCli(args, { env });

  // Setup through the admin API (the CLI is exercised below where issue #9 adds to it).
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, {
      method, headers: { authorization: `Bearer ${info.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  t.equal((await api('PUT', '/v1/plans/tiny', { tokensPerHour: 3 })).status, 200);
  const tenant = (await api('POST', '/v1/tenants', { name: 'notified', plan: 'tiny' })).body as { id: string };
  const key = (await api('POST', `/v1/tenants/${tenant.id}/keys`)).body.key as string;
  const bad = await api('PUT', `/v1/tenants/${tenant.id}/webhook`, { url: 'http://example.com/hook' });
  t.match(bad, { status: 400, body: { error: { code: 'bad_request', message: /https/ } } }, 'plain http to a remote host is refused');
  const set = await cli(['tenants', 'webhook', 'set', tenant.id, receiver.url, '--events', 'balance_low,budget_exhausted', '--threshold', '1']);
  t.equal(set.code, 0, set.stderr);
  const secret = /signing secret: (whsec_\S+)/.exec(set.stdout)?.[1];
  t.ok(secret, 'the secret is shown once');
  const shown = await api('GET', `/v1/tenants/${tenant.id}/webhook`);
  t.match(shown.body, { url: receiver.url, threshold: 1, events: ['balance_low', 'budget_exhausted'] });
  t.notOk(JSON.stringify(shown.body).includes(secret!), 'and never again');

  const photo = readFileSync(image('bus.jpg'));
  const statuses: number[] = [];
  let refusal: Record<string, unknown> = {};
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/detect?model=echo`, { method: 'POST', body: photo, headers: { 'x-auth-token': key, 'content-type': 'image/jpeg' } });
    statuses.push(res.status);
    const body = (await res.json()) as { error?: Record<string, unknown> };
    if (body.error) refusal = body.error;
  }
  t.same(statuses, [200, 200, 200, 429]);
  t.match(refusal, { code: 'insufficient_tokens', topupUrl: `https://billing.example/topup/${tenant.id}`, bestEffortAvailable: false, resetInS: Number });

  await until(() => receiver.accepted().length >= 2, 30_000);
  t.same(receiver.accepted().map((r) => r.json.type).sort(), ['balance_low', 'budget_exhausted']);
  t.ok(receiver.received.every((r) => verifyWebhook(secret!, r.body, r.headers['x-yoloscale-signature'] as string)), 'every attempt is signed with the secret');

  const deliveries = await cli(['tenants', 'webhook', 'deliveries', tenant.id]);
  t.match(deliveries.stdout, /^AT\s+EVENT\s+TYPE\s+ATTEMPT\s+OUTCOME\s+STATUS/m);
  t.match(deliveries.stdout, /budget_exhausted\s+2\s+delivered\s+200/);
  t.match(deliveries.stdout, /balance_low\s+1\s+retrying\s+503/);
  const usage = await cli(['usage', tenant.id]);
  t.match(usage.stdout, /insufficient_tokens\s+1/, 'usage shows the refusal');
  t.match(usage.stdout, /budget_exhausted\s+delivered\s+1/, 'and the notifications');

  const adminMetrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  t.match(adminMetrics, /yoloscale_notifications_total\{event="balance_low",outcome="delivered"\} 1/);
  const gatewayMetrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.match(gatewayMetrics, new RegExp(`yoloscale_refusals_total\\{tenant="${tenant.id}",reason="insufficient_tokens"\\} 1`));
});
