import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry as MetricsRegistry } from 'prom-client';
import t from 'tap';
import type { Test } from 'tap';
import { Autoscaler, LocalProvider, poolRoutes, schedulerClusterPort } from '../../scheduler/autoscaler/index.js';
import type { ClusterPort } from '../../scheduler/autoscaler/index.js';
import type { Logger } from '../../protocol/index.js';
import { Registry, Scheduler, SchedulerMetrics, buildAdminApp } from '../../scheduler/index.js';
import { alive, until } from '../helpers/wait.js';

/**
 * The reconcile loop against the scheduler's real node registry and real
 * worker processes from the local provider. The test stands in for the node
 * agent only: when a worker process is up it registers it (as the agent's
 * `register` message would) and sets its in-flight frames.
 */

const WORKER = `
const fs = require('node:fs');
fs.writeFileSync(process.argv[2] + '/' + process.env.YOLOSCALE_NODE_ID + '.pid', String(process.pid));
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1000);
`;

const ADMIN = 'admin-token-123';


async function setup(t: Test, metrics = new MetricsRegistry()) {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-reconcile-'));
  const script = join(dir, 'worker.cjs');
  await writeFile(script, WORKER);
  const provider = new LocalProvider({ command: [process.execPath, script, dir], types: { cpu: {} }, leadTimeS: 5, stopTimeoutMs: 2000 });
  const registry = new Registry();
  let clock = Date.UTC(2026, 0, 5, 9, 0, 0);
  const cluster: ClusterPort = {
    nodes: () => registry.list().map((n) => ({ id: n.id, type: n.type, state: n.state, inFlight: n.inFlight, slots: n.slots })),
    queueTokens: () => 0,
    expect: (id, type) => void registry.expect(id, type, clock),
    booting: (id) => registry.booting(id, clock),
    fail: (id) => void registry.fail(id, clock),
    drain: (id) => void registry.apply(id, 'drain', clock),
    retire: (id) => void registry.apply(id, 'retire', clock),
  };
  const autoscaler = new Autoscaler({
    provider,
    cluster,
    min: 1,
    max: 3,
    nodeType: 'cpu',
    capacityPriorTokensPerS: 100,
    targetUtilisation: 0.8,
    idleTimeoutS: 60,
    cooldownS: 30,
    intervalS: 15,
    sampleMs: 0,
    metricsRegistry: metrics,
    now: () => clock,
  });
  t.teardown(async () => {
    await autoscaler.stop();
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });
  /** What the node agent would do once its process is up: register with 4 slots. */
  const registerUp = async () => {
    await until(async () => (await provider.list()).every((i) => i.status !== 'pending'));
    await until(() => registry.list().every((n) => n.state !== 'provisioning' && n.state !== 'booting' ? true : existsSync(join(dir, `${n.id}.pid`))));
    for (const n of registry.list()) {
      if (n.state !== 'booting' && n.state !== 'provisioning') continue;
      registry.register(
        Buffer.from(n.id),
        { kind: 'register', nodeId: n.id, device: 'cpu', threads: 1, slots: 4, loaded: ['echo'], models: [{ id: 'echo', tokensPerFrame: 1 }], host: 'test', pid: 0, inFlight: 0, draining: false },
        0,
        clock,
      );
    }
  };
  const pidOf = (id: string) => Number(readFileSync(join(dir, `${id}.pid`), 'utf8'));
  return {
    dir,
    provider,
    registry,
    autoscaler,
    metrics,
    registerUp,
    pidOf,
    advance: (ms: number) => (clock += ms),
    now: () => clock,
  };
}

t.test('reconciler - launches for load beyond one worker, then drains and retires the extra one after the idle timeout', async (t) => {
  const s = await setup(t);
  const first = await s.autoscaler.reconcile();
  t.match(first.actions, [{ kind: 'launch', count: 1, reason: /keep min 1 warm nodes/ }]);
  t.equal(s.registry.list()[0].state, 'provisioning', 'the launched node is recorded in the registry');
  await s.registerUp();
  t.equal(s.registry.list()[0].state, 'ready');
  const [w1] = s.registry.list();

  // 15 s of 150 tok/s on a worker that serves ~100: saturated.
  for (let i = 0; i < 15; i++) {
    s.advance(1000);
    s.autoscaler.recordTokens('yolox-nano', 150);
  }
  w1.inFlight = 4;
  s.autoscaler.sample();
  const busy = await s.autoscaler.reconcile();
  const launch = busy.actions.find((a) => a.kind === 'launch');
  t.ok(launch, 'a second worker is launched within the planning interval');
  t.match(launch?.reason, /demand 150 tok\/s/);
  t.equal(s.registry.counts().provisioning, 1);
  await s.registerUp();
  t.equal(s.registry.counts().ready, 2);
  const w2 = s.registry.list()[1];
  t.ok(alive(s.pidOf(w2.id)));

  // The load stops; each worker still has a frame in flight. Ready workers finish theirs at once;
  // the one drained keeps its frame for 30 s more, and must not be retired before it completes.
  w1.inFlight = 1;
  w2.inFlight = 1;
  const retireAt: number[] = [];
  const drainAt: number[] = [];
  const stoppedAt = s.now();
  for (let k = 0; k < 16; k++) {
    s.advance(15_000);
    for (const n of s.registry.list()) {
      if (n.state === 'ready') n.inFlight = 0;
      if (n.state === 'draining' && drainAt.length > 0 && s.now() - drainAt[0] > 30_000) n.inFlight = 0;
    }
    s.autoscaler.sample();
    const r = await s.autoscaler.reconcile();
    for (const a of r.actions) {
      if (a.kind === 'drain') drainAt.push(s.now());
      if (a.kind === 'retire') {
        retireAt.push(s.now());
        t.equal(s.registry.get(a.id)?.inFlight, 0, 'retired with nothing in flight');
      }
      t.not(a.kind, 'launch', 'no launch while idle');
    }
    if (drainAt.length === 1 && s.now() === drainAt[0]) {
      const d = s.registry.list().find((n) => n.state === 'draining');
      if (d) d.inFlight = 1;
    }
  }
  t.equal(drainAt.length, 1, 'one node drained');
  t.ok(drainAt[0] - stoppedAt >= 60_000, `drained ${(drainAt[0] - stoppedAt) / 1000}s after the load stopped (idle timeout 60 s)`);
  t.equal(retireAt.length, 1, 'and retired once');
  t.ok(retireAt[0] - drainAt[0] > 30_000, `retired ${(retireAt[0] - drainAt[0]) / 1000}s after the drain, once its frame completed`);
  const retired = s.registry.list().find((n) => n.state === 'retired');
  t.ok(retired, 'the registry shows it retired');
  t.equal(s.registry.counts().ready, 1, 'min 1 stays warm');
  await until(() => !alive(s.pidOf(retired!.id)));
  t.equal((await s.provider.list()).find((i) => i.id === retired!.id)?.status, 'terminated', 'its process was terminated');

  const kinds = s.autoscaler.decisions().map((d) => d.kind);
  t.same(kinds, ['launch', 'launch', 'drain', 'retire'], 'every decision is kept with its reason');
  t.ok(s.autoscaler.decisions().every((d) => d.reason.length > 10 && !Number.isNaN(Date.parse(d.at))));

  const metrics = await s.metrics.metrics();
  t.match(metrics, /yoloscale_forecast_tokens_per_second\{model="yolox-nano"\} \d/);
  t.match(metrics, /yoloscale_nodes\{state="retired"\} 1/);
});

t.test('reconciler - provider errors are logged as decisions and failed launches are cleaned up', async (t) => {
  const s = await setup(t);
  // A worker binary that is missing: the provider reports spawn_failed.
  const broken = new LocalProvider({ command: [join(s.dir, 'missing-binary')], types: { cpu: {} } });
  const cluster: ClusterPort = {
    nodes: () => s.registry.list().map((n) => ({ id: n.id, type: n.type, state: n.state, inFlight: n.inFlight, slots: n.slots })),
    queueTokens: () => 0,
    expect: (id, type) => void s.registry.expect(id, type, s.now()),
    booting: (id) => s.registry.booting(id, s.now()),
    fail: (id) => void s.registry.fail(id, s.now()),
    drain: (id) => void s.registry.apply(id, 'drain', s.now()),
    retire: (id) => void s.registry.apply(id, 'retire', s.now()),
  };
  const a = new Autoscaler({ provider: broken, cluster, min: 1, max: 2, nodeType: 'cpu', sampleMs: 0, now: s.now });
  t.teardown(() => broken.close());
  await a.reconcile();
  await until(async () => (await broken.list())[0]?.status === 'failed');
  s.advance(15_000);
  const r = await a.reconcile();
  t.match(a.decisions(), [{ kind: 'launch' }, { kind: 'error', reason: /launch spawn_failed/ }]);
  t.match(r.actions, [{ kind: 'retire', reason: /failed node released/ }]);
  t.equal(s.registry.list()[0].state, 'retired');
});

t.test('reconciler - pool routes: GET|PUT /v1/pool, GET /v1/pool/forecast, POST /v1/nodes/provision', async (t) => {
  const metrics = new MetricsRegistry();
  // The scheduler's metrics register yoloscale_nodes first; the autoscaler must not register it again.
  const registry = new Registry();
  new SchedulerMetrics(metrics, { queueDepth: () => 0, nodeCounts: () => registry.counts() });
  const s = await setup(t, metrics);
  const app = await buildAdminApp({ adminToken: ADMIN, metricsRegistry: metrics, plugins: [{ plugin: poolRoutes, opts: { autoscaler: s.autoscaler } }] });
  t.teardown(() => app.close());
  const auth = { authorization: `Bearer ${ADMIN}` };

  t.equal((await app.inject({ method: 'GET', url: '/v1/pool' })).statusCode, 401, 'admin token required');
  await s.autoscaler.reconcile();
  const pool = (await app.inject({ method: 'GET', url: '/v1/pool', headers: auth })).json();
  t.match(pool, { provider: 'local', min: 1, max: 3, nodeType: 'cpu', leadTimeS: 5, nodes: { provisioning: 1, ready: 0 }, capacity: { cpu: 100 } });
  t.match(pool.decisions, [{ kind: 'launch', count: 1, reason: /keep min/ }]);

  t.match((await app.inject({ method: 'PUT', url: '/v1/pool', headers: auth, payload: { min: 1, colour: 'red' } })).json(), {
    error: { code: 'bad_request', message: /unknown field colour/ },
  });
  const bad = await app.inject({ method: 'PUT', url: '/v1/pool', headers: auth, payload: { min: 4 } });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: { code: 'bad_request', message: /max must be at least/ } });
  const ok = await app.inject({ method: 'PUT', url: '/v1/pool', headers: auth, payload: { min: 1, max: 2 } });
  t.equal(ok.statusCode, 200);
  t.match(ok.json(), { min: 1, max: 2 });
  t.match(ok.json().decisions.at(-1), { kind: 'pool', reason: /operator set min 1, max 2/ });

  for (let i = 0; i < 120; i++) {
    s.advance(1000);
    s.autoscaler.recordTokens('yolox-nano', 30);
  }
  const f = await app.inject({ method: 'GET', url: '/v1/pool/forecast', headers: auth });
  t.equal(f.statusCode, 200);
  const fj = f.json();
  t.match(fj, { horizonS: 20, method: 'holt', models: { 'yolox-nano': { method: 'holt', last: 30 } } });
  t.ok(fj.total.buckets.length >= 1 && fj.total.peakUpper >= fj.total.peakPoint);

  const prov = await app.inject({ method: 'POST', url: '/v1/nodes/provision', headers: auth, payload: { type: 'cpu', count: 1, requestId: 'op-1' } });
  t.equal(prov.statusCode, 200);
  t.match(prov.json(), { requestId: 'op-1', ids: [/^local-/] });
  const again = await app.inject({ method: 'POST', url: '/v1/nodes/provision', headers: auth, payload: { type: 'cpu', count: 1, requestId: 'op-1' } });
  t.equal(again.statusCode, 409, 'the pool is at max 2 now');
  const tooMany = await app.inject({ method: 'POST', url: '/v1/nodes/provision', headers: auth, payload: { type: 'cpu', count: 0 } });
  t.equal(tooMany.statusCode, 400);
  const text = await metrics.metrics();
  t.equal(text.match(/# TYPE yoloscale_nodes gauge/g)?.length, 1, 'yoloscale_nodes exported once');
  t.match(text, /yoloscale_forecast_tokens_per_second\{model="yolox-nano"\}/);
});

t.test('reconciler - the loop runs on its own timer and logs every decision with its reason', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-loop-'));
  const script = join(dir, 'worker.cjs');
  await writeFile(script, WORKER);
  const provider = new LocalProvider({ command: [process.execPath, script, dir], types: { cpu: {} }, stopTimeoutMs: 2000 });
  const registry = new Registry();
  const lines: { level: string; msg: string | undefined; obj: object | string }[] = [];
  const logger: Logger = {
    debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
    child: () => logger,
  };
  const cluster: ClusterPort = {
    nodes: () => registry.list().map((n) => ({ id: n.id, type: n.type, state: n.state, inFlight: n.inFlight, slots: n.slots })),
    queueTokens: () => 0,
    expect: (id, type) => void registry.expect(id, type, Date.now()),
    booting: (id) => registry.booting(id, Date.now()),
    fail: (id) => void registry.fail(id, Date.now()),
    drain: (id) => void registry.apply(id, 'drain', Date.now()),
    retire: (id) => void registry.apply(id, 'retire', Date.now()),
  };
  const a = new Autoscaler({ provider, cluster, min: 2, max: 2, nodeType: 'cpu', intervalS: 0.05, sampleMs: 10, logger });
  t.teardown(async () => {
    await a.stop();
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });
  a.start();
  await until(() => registry.list().length === 2);
  await until(() => registry.list().every((n) => n.state === 'booting'));
  await a.stop();
  t.equal(registry.list().length, 2, 'min 2 launched once, not on every tick');
  const launch = lines.find((l) => l.level === 'info' && /autoscaler launch ×2: keep min 2 warm nodes/.test(l.msg ?? ''));
  t.ok(launch, 'the decision is logged with its reason');
  t.match(launch?.obj, { kind: 'launch', count: 2, type: 'cpu' });
  t.throws(() => new Autoscaler({ provider, cluster, intervalS: 0 }), /options\.intervalS must be a positive number/);
  t.throws(() => new Autoscaler({ provider, cluster, min: 3, max: 2 }), /config\.max must be at least config\.min/);
});

t.test('reconciler - schedulerClusterPort adapts the real Scheduler; refused actions are logged, not thrown', async (t) => {
  const scheduler = new Scheduler({});
  t.teardown(() => scheduler.close());
  const warned: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (_o, m) => void warned.push(m ?? ''), error() {}, child: () => logger };
  const port = schedulerClusterPort(scheduler, { tokensPerFrame: 2, logger });
  port.expect('n1', 'cpu');
  t.match(port.nodes(), [{ id: 'n1', type: 'cpu', state: 'provisioning', inFlight: 0 }]);
  t.equal(port.queueTokens(), 0);
  port.booting('n1');
  t.equal(port.nodes()[0].state, 'booting');
  port.drain('n1'); // a booting node cannot drain: the scheduler refuses with `conflict`
  t.match(warned, [/could not drain node n1/]);
  port.retire('n1');
  t.equal(port.nodes()[0].state, 'retired');
  port.fail('nope');
  t.equal(port.nodes().length, 1);
});
