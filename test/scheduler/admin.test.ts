// The admin API's auth and node routes through app.inject.
import t from 'tap';
import type { Test } from 'tap';
import { Registry as MetricsRegistry } from 'prom-client';
import type { FastifyPluginAsync } from 'fastify';
import type { RegisterMessage } from '../../protocol/index.js';
import { Scheduler, SchedulerMetrics, buildAdminApp, nodesRoutes } from '../../scheduler/index.js';

const TOKEN = 'correct-horse-battery';

async function setup(t: Test, extra: FastifyPluginAsync[] = []) {
  const metricsRegistry = new MetricsRegistry();
  const ref: { s?: Scheduler } = {};
  const metrics = new SchedulerMetrics(metricsRegistry, { queueDepth: (l) => ref.s?.queueDepth(l) ?? 0, nodeCounts: () => ref.s!.registry.counts() });
  const scheduler = new Scheduler({ metrics });
  ref.s = scheduler;
  const reg: RegisterMessage = { kind: 'register', nodeId: 'n1', device: 'cpu', threads: 2, slots: 8, loaded: [], models: [{ id: 'echo', tokensPerFrame: 1 }], host: 'h', pid: 3, inFlight: 0, draining: false };
  scheduler.registry.register(Buffer.from('peer'), reg, 0, Date.now());
  const app = await buildAdminApp({
    adminToken: TOKEN,
    metricsRegistry,
    authFailuresPerMinute: 5,
    plugins: [{ plugin: nodesRoutes, opts: { admin: scheduler } }, ...extra.map((plugin) => ({ plugin }))],
  });
  t.teardown(async () => {
    await app.close();
    await scheduler.close();
  });
  return app;
}

const auth = { authorization: `Bearer ${TOKEN}` };

t.test('admin - node routes need the admin token', async (t) => {
  const app = await setup(t);
  const none = await app.inject({ method: 'GET', url: '/v1/nodes' });
  t.equal(none.statusCode, 401);
  t.equal(none.json().error.code, 'unauthorized');
  t.equal((await app.inject({ method: 'GET', url: '/v1/nodes', headers: { authorization: 'Bearer wrong-token' } })).statusCode, 401);
  t.equal((await app.inject({ method: 'GET', url: '/v1/nodes', headers: { authorization: TOKEN } })).statusCode, 401, 'the Bearer scheme is required');
  t.equal((await app.inject({ method: 'POST', url: '/v1/nodes/n1/cordon' })).statusCode, 401, 'no action without the token');
  const ok = await app.inject({ method: 'GET', url: '/v1/nodes', headers: auth });
  t.equal(ok.statusCode, 200);
  t.match(ok.json(), { nodes: [{ id: 'n1', state: 'ready', slots: 8, threads: 2, models: ['echo'] }] });
});

t.test('admin - healthz and metrics are public', async (t) => {
  const app = await setup(t);
  t.match((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  const m = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(m.statusCode, 200);
  t.match(m.body, /yoloscale_nodes\{state="ready"\} 1/);
  t.match(m.body, /yoloscale_queue_depth\{lane="realtime"\} 0/);
});

t.test('admin - node actions, unknown nodes, conflicts and the queue view', async (t) => {
  const app = await setup(t);
  t.match((await app.inject({ method: 'POST', url: '/v1/nodes/n1/cordon', headers: auth })).json(), { id: 'n1', state: 'cordoned' });
  t.match((await app.inject({ method: 'GET', url: '/v1/nodes/n1', headers: auth })).json(), { state: 'cordoned' });
  const missing = await app.inject({ method: 'GET', url: '/v1/nodes/ghost', headers: auth });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().error.code, 'not_found');
  t.equal((await app.inject({ method: 'POST', url: '/v1/nodes/ghost/drain', headers: auth })).statusCode, 404);
  t.equal((await app.inject({ method: 'POST', url: '/v1/nodes/n1/explode', headers: auth })).statusCode, 400, 'unknown actions are bad requests');
  t.match((await app.inject({ method: 'POST', url: '/v1/nodes/n1/retire', headers: auth })).json(), { state: 'retired' });
  const conflict = await app.inject({ method: 'POST', url: '/v1/nodes/n1/uncordon', headers: auth });
  t.equal(conflict.statusCode, 409);
  t.equal(conflict.json().error.code, 'conflict');
  t.match((await app.inject({ method: 'GET', url: '/v1/queue', headers: auth })).json(), { lanes: { realtime: 0, standard: 0, 'best-effort': 0 }, inFlight: 0, maxBatch: 16 });
});

t.test('admin - repeated auth failures are rate-limited', async (t) => {
  const app = await setup(t);
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ method: 'GET', url: '/v1/nodes', headers: { authorization: `Bearer guess-${i}` } })).statusCode, 401);
  const limited = await app.inject({ method: 'GET', url: '/v1/nodes', headers: auth });
  t.equal(limited.statusCode, 429, 'even the right token waits once the address is blocked');
  t.ok(Number(limited.headers['retry-after']) > 0);
});

t.test('admin - route plugins registered by others sit behind the same token', async (t) => {
  const tenants: FastifyPluginAsync = async (app) => {
    app.get('/v1/tenants', async () => ({ tenants: [] }));
  };
  const app = await setup(t, [tenants]);
  t.equal((await app.inject({ method: 'GET', url: '/v1/tenants' })).statusCode, 401);
  t.same((await app.inject({ method: 'GET', url: '/v1/tenants', headers: auth })).json(), { tenants: [] });
});

t.test('admin - options are validated', async (t) => {
  await t.rejects(buildAdminApp({ adminToken: 'short', metricsRegistry: new MetricsRegistry() }), /options\.adminToken must be a string of at least 8 characters/);
});
