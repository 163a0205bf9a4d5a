import fc from 'fast-check';
import t from 'tap';
import { emptyPlannerMemory, plan, validatePlannerConfig } from '../../scheduler/autoscaler/index.js';
import type { NodeState, PlannerConfig, PlannerMemory, PlannerNode, PlannerState } from '../../scheduler/autoscaler/index.js';

const CONFIG: PlannerConfig = Object.freeze({
  min: 1,
  max: 10,
  nodeType: 'cpu',
  targetUtilisation: 0.8,
  idleTimeoutS: 300,
  cooldownS: 60,
  queueDrainS: 30,
});

function node(id: string, state: NodeState, inFlight = 0): PlannerNode {
  return { id, type: 'cpu', state, inFlight };
}

function state(over: Partial<PlannerState>): PlannerState {
  return {
    nowMs: 1_000_000,
    nodes: [],
    demandTokensPerS: 0,
    queueTokens: 0,
    utilisation: 0,
    capacity: { cpu: 100 },
    forecastUpperTokensPerS: 0,
    memory: emptyPlannerMemory(),
    ...over,
  };
}

/** A tiny pool that applies the planner's actions, with nodes ready after `leadS`. */
function runPool(demand: (s: number) => number, seconds: number, opts: { leadS?: number; config?: PlannerConfig; stepS?: number } = {}) {
  const config = opts.config ?? CONFIG;
  const leadS = opts.leadS ?? 60;
  const stepS = opts.stepS ?? 15;
  let nodes: { id: string; state: NodeState; readyAt: number; inFlight: number }[] = [{ id: 'n0', state: 'ready', readyAt: 0, inFlight: 0 }];
  let memory: PlannerMemory = emptyPlannerMemory();
  let seq = 1;
  const log: { t: number; kind: string; id?: string; count?: number }[] = [];
  const sizes: number[] = [];
  for (let s = 0; s < seconds; s += stepS) {
    for (const n of nodes) if (n.state === 'provisioning' && n.readyAt <= s) n.state = 'ready';
    const d = demand(s);
    const readyCap = nodes.filter((n) => n.state === 'ready').length * 100;
    const r = plan(
      state({
        nowMs: s * 1000,
        nodes: nodes.map((n) => node(n.id, n.state, n.inFlight)),
        demandTokensPerS: d,
        utilisation: readyCap > 0 ? Math.min(1, d / readyCap) : 0,
        memory,
      }),
      config,
    );
    memory = r.memory;
    for (const a of r.actions) {
      log.push({ t: s, kind: a.kind, id: 'id' in a ? a.id : undefined, count: 'count' in a ? a.count : undefined });
      if (a.kind === 'launch') for (let i = 0; i < a.count; i++) nodes.push({ id: `n${seq++}`, state: 'provisioning', readyAt: s + leadS, inFlight: 0 });
      else if (a.kind === 'drain') nodes.find((n) => n.id === a.id)!.state = 'draining';
      else nodes = nodes.filter((n) => n.id !== a.id);
    }
    sizes.push(nodes.filter((n) => n.state !== 'draining').length);
  }
  return { log, sizes, nodes };
}

t.test('planner - scales up at once for a forecast above capacity, counting pending nodes', async (t) => {
  const r = plan(state({ nodes: [node('a', 'ready')], forecastUpperTokensPerS: 400 }), CONFIG);
  const launch = r.actions.find((a) => a.kind === 'launch');
  t.ok(launch, 'launches');
  // 400 / 0.8 = 500 tok/s → 5 nodes of 100; one is ready.
  t.equal(launch && launch.kind === 'launch' ? launch.count : 0, 4);
  t.match(launch?.reason, /forecast upper bound 400/);
  const again = plan(
    state({ nodes: [node('a', 'ready'), node('b', 'provisioning'), node('c', 'booting'), node('d', 'provisioning'), node('e', 'booting')], forecastUpperTokensPerS: 400, memory: r.memory }),
    CONFIG,
  );
  t.same(again.actions, [], 'pending and booting nodes count toward the capacity being built');
});

t.test('planner - keeps min warm nodes and never exceeds max', async (t) => {
  const idle = plan(state({ nodes: [], demandTokensPerS: 0 }), { ...CONFIG, min: 2 });
  t.same(idle.actions, [{ kind: 'launch', type: 'cpu', count: 2, reason: 'keep min 2 warm nodes (have 0)' }]);
  const huge = plan(state({ nodes: [node('a', 'ready'), node('b', 'cordoned'), node('c', 'draining', 3)], forecastUpperTokensPerS: 1e6 }), CONFIG);
  const l = huge.actions.find((a) => a.kind === 'launch');
  t.equal(l && l.kind === 'launch' ? l.count : 0, 7, 'cordoned and draining nodes still count toward max');
  t.match(l?.reason, /capped by max 10/);
  const full = plan(state({ nodes: Array.from({ length: 10 }, (_, i) => node(`n${i}`, 'ready')), forecastUpperTokensPerS: 1e6 }), CONFIG);
  t.same(full.actions.filter((a) => a.kind === 'launch'), [], 'nothing launched at max');
});

t.test('planner - property: never above max, never drains below min, never retires a node with work in flight', async () => {
  const states: NodeState[] = ['provisioning', 'booting', 'ready', 'cordoned', 'draining', 'retired', 'failed'];
  fc.assert(
    fc.property(
      fc.array(fc.record({ state: fc.constantFrom(...states), inFlight: fc.nat(5) }), { maxLength: 14 }),
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 4, max: 12 }),
      fc.double({ min: 0, max: 5000, noNaN: true }),
      fc.double({ min: 0, max: 5000, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 3_600_000 }),
      (ns, min, max, demand, forecast, util, sinceAgo) => {
        const nodes = ns.map((n, i) => node(`n${i}`, n.state, n.inFlight));
        const config = { ...CONFIG, min, max };
        const now = 10_000_000;
        const r = plan(
          state({ nowMs: now, nodes, demandTokensPerS: demand, forecastUpperTokensPerS: forecast, utilisation: util, memory: { needs: [], sinceMs: now - sinceAgo } }),
          config,
        );
        const held = nodes.filter((n) => !['retired', 'failed'].includes(n.state)).length;
        const launched = r.actions.reduce((s, a) => s + (a.kind === 'launch' ? a.count : 0), 0);
        if (launched > 0 && held + launched > max) return false;
        const active = nodes.filter((n) => ['provisioning', 'booting', 'ready'].includes(n.state)).length;
        const drained = r.actions.filter((a) => a.kind === 'drain').length;
        if (drained > 0 && active - drained < min) return false;
        for (const a of r.actions) {
          const target = 'id' in a ? nodes.find((n) => n.id === a.id) : undefined;
          if (a.kind === 'retire' && (!target || target.inFlight > 0 || !['draining', 'failed'].includes(target.state))) return false;
          if (a.kind === 'drain' && target?.state !== 'ready') return false;
          if (a.reason === '') return false;
        }
        return true;
      },
    ),
    { numRuns: 2000, seed: 42 },
  );
});

t.test('planner - drains before retiring, and retires only once nothing is in flight', async (t) => {
  const busy = plan(state({ nodes: [node('a', 'ready'), node('b', 'draining', 2)] }), CONFIG);
  t.same(busy.actions.filter((a) => a.kind === 'retire'), [], 'a draining node with work in flight is kept');
  const idle = plan(state({ nodes: [node('a', 'ready'), node('b', 'draining', 0), node('c', 'failed')] }), CONFIG);
  t.same(
    idle.actions.filter((a) => a.kind === 'retire').map((a) => ('id' in a ? a.id : '')),
    ['b', 'c'],
  );
  // A surplus ready node is drained, never retired directly.
  const surplus = runPool((s) => (s < 600 ? 450 : 10), 1800);
  const firstDrain = surplus.log.find((e) => e.kind === 'drain');
  t.ok(firstDrain, 'surplus nodes are drained');
  for (const e of surplus.log.filter((x) => x.kind === 'retire')) {
    const drainedAt = surplus.log.find((x) => x.kind === 'drain' && x.id === e.id)?.t;
    t.ok(drainedAt !== undefined && drainedAt < e.t, `${e.id} drained (at ${drainedAt}) before it was retired (at ${e.t})`);
  }
});

t.test('planner - scales down only after the idle timeout and the cooldown', async (t) => {
  const r = runPool((s) => (s < 600 ? 450 : 10), 1800);
  const lastLaunch = Math.max(...r.log.filter((e) => e.kind === 'launch').map((e) => e.t));
  const firstDrain = Math.min(...r.log.filter((e) => e.kind === 'drain').map((e) => e.t));
  // The last high-demand observation is at 585 s (15 s steps); the need must stay low for the idle timeout after it.
  t.ok(firstDrain >= 585 + CONFIG.idleTimeoutS, `first drain at ${firstDrain}s, last high demand at 585s, idle timeout ${CONFIG.idleTimeoutS}s`);
  t.ok(firstDrain <= 585 + CONFIG.idleTimeoutS + 15, 'and not much later');
  t.ok(firstDrain - lastLaunch >= CONFIG.cooldownS, 'cooldown after the last launch');
  t.equal(r.sizes.at(-1), 1, 'back to min once demand has gone');
  // With a long cooldown, the drains after the first wait for it.
  const slow = runPool((s) => (s < 600 ? 950 : s < 1500 ? 500 : 10), 3600, { config: { ...CONFIG, max: 20, cooldownS: 600 } });
  const drains = [...new Set(slow.log.filter((e) => e.kind === 'drain').map((e) => e.t))];
  t.ok(drains.length >= 2, 'two scale-down steps');
  for (let i = 1; i < drains.length; i++) t.ok(drains[i] - drains[i - 1] >= 600, 'scale-down steps are a cooldown apart');
});

t.test('planner - no flapping on noisy demand', async (t) => {
  // Demand noisy around a node boundary: 330 ± 60 tok/s (needs 4–5 nodes at 80 %), seeded.
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const noise = Array.from({ length: 1000 }, () => 330 + (rand() - 0.5) * 120);
  const r = runPool((s) => noise[Math.floor(s / 15)], 4 * 3600);
  const afterWarmup = r.log.filter((e) => e.t > 1200);
  const directionChanges = afterWarmup.reduce(
    (acc, e) => {
      const dir = e.kind === 'launch' ? 1 : e.kind === 'drain' ? -1 : 0;
      if (dir !== 0 && acc.last !== 0 && dir !== acc.last) acc.changes += 1;
      if (dir !== 0) acc.last = dir;
      return acc;
    },
    { last: 0, changes: 0 },
  );
  t.ok(directionChanges.changes <= 1, `at most one change of direction in 3 h of stationary noise (saw ${directionChanges.changes})`);
  t.ok(afterWarmup.filter((e) => e.kind === 'drain').length <= 1, 'no repeated drains');
  // Without hysteresis (no idle timeout, no cooldown) the same demand flaps: the test can fail.
  const naive = runPool((s) => noise[Math.floor(s / 15)], 4 * 3600, { config: { ...CONFIG, idleTimeoutS: 0, cooldownS: 0 } });
  t.ok(naive.log.filter((e) => e.kind === 'drain').length > 10, 'a planner without hysteresis would flap');
});

t.test('planner - launches that never come up are given up after the boot timeout and replaced', async (t) => {
  const config = { ...CONFIG, bootTimeoutS: 600 };
  const nodes: PlannerNode[] = [
    { ...node('a', 'ready'), stateSinceMs: 0 },
    { ...node('b', 'booting'), stateSinceMs: 1_000_000 - 601_000 },
    { ...node('c', 'provisioning'), stateSinceMs: 1_000_000 - 100_000 },
  ];
  const r = plan(state({ nodes, forecastUpperTokensPerS: 240 }), config);
  t.match(r.actions, [
    { kind: 'retire', id: 'b', reason: /still booting after the 600s boot timeout/ },
    { kind: 'launch', count: 1 },
  ], 'b is retired and no longer counts: one node launched in its place (need 300 tok/s, a + c give 200)');
  const off = plan(state({ nodes, forecastUpperTokensPerS: 240 }), CONFIG);
  t.same(off.actions, [], 'without a boot timeout, the booting node still counts');
});

t.test('planner - utilisation above target adds nodes when capacity is overestimated', async (t) => {
  const r = plan(state({ nodes: [node('a', 'ready'), node('b', 'ready')], capacity: { cpu: 1000 }, demandTokensPerS: 180, utilisation: 1 }), CONFIG);
  const l = r.actions.find((a) => a.kind === 'launch');
  t.ok(l, 'launches on utilisation alone');
  t.match(l?.reason, /utilisation 100%/);
});

t.test('planner - rejects bad config with messages naming the field', async (t) => {
  t.throws(() => validatePlannerConfig({ ...CONFIG, min: -1 }), /config\.min must be a non-negative integer/);
  t.throws(() => validatePlannerConfig({ ...CONFIG, max: 0 }), /config\.max must be a positive integer/);
  t.throws(() => validatePlannerConfig({ ...CONFIG, min: 5, max: 3 }), /config\.max must be at least config\.min/);
  t.throws(() => validatePlannerConfig({ ...CONFIG, targetUtilisation: 1.5 }), /targetUtilisation/);
});

t.test('planner - is pure: same input, same output, input untouched', async (t) => {
  const s = state({ nodes: [node('a', 'ready'), node('b', 'draining')], demandTokensPerS: 300, memory: { needs: [{ atMs: 999_000, tokensPerS: 100 }] } });
  const copy = structuredClone(s);
  const a = plan(s, CONFIG);
  const b = plan(s, CONFIG);
  t.same(a, b);
  t.same(s, copy);
});
