// Elastic plan decisions (pure, SPEC.md §7).
import t from 'tap';
import { SqliteLedger, applyElasticPlans, decideElastic, forecastNextHour, type ElasticInput, type Plan } from '../../ledger/index.js';

const plans: Plan[] = [
  { name: 'free', tokensPerHour: 3600, models: null, overflow: 'reject' },
  { name: 'starter', tokensPerHour: 108_000, models: null, overflow: 'reject' },
  { name: 'pro', tokensPerHour: 540_000, models: null, overflow: 'reject' },
  { name: 'enterprise', tokensPerHour: 2_160_000, models: null, overflow: 'reject' },
];
const H = 3_600_000;
const base = Date.UTC(2026, 0, 1, 12, 0, 0);

function input(over: Partial<ElasticInput>): ElasticInput {
  return {
    plans, currentPlan: 'starter', range: { minPlan: 'free', maxPlan: 'pro' }, previousHours: [0, 0], currentHourTokens: 0,
    now: base + 5 * 60_000, belowHours: 0, evaluatedHour: null, ...over,
  };
}

t.test('elastic - the forecast follows the last hours trend and the current hour', async (t) => {
  t.equal(forecastNextHour([100, 200], 0, base), 300, 'linear trend');
  t.equal(forecastNextHour([300, 100], 0, base), 0, 'never negative');
  t.equal(forecastNextHour([0, 0], 1000, base + 30 * 60_000), 2000, 'the current hour projected after 10 minutes');
  t.equal(forecastNextHour([0, 0], 1000, base + 5 * 60_000), 1000, 'not projected earlier, but never below what is used');
});

t.test('elastic - moves up at once to the smallest plan covering the forecast, within the range', async (t) => {
  t.match(decideElastic(input({ previousHours: [100_000, 150_000] })), { action: 'up', fromPlan: 'starter', toPlan: 'pro', forecast: 200_000 });
  t.match(decideElastic(input({ previousHours: [0, 2_000_000] })), { action: 'up', toPlan: 'pro' }, 'capped at the range maximum');
  t.match(decideElastic(input({ currentPlan: 'pro', previousHours: [0, 2_000_000] })), { action: 'stay', toPlan: 'pro' });
});

t.test('elastic - moves down one plan after three consecutive low hours', async (t) => {
  let belowHours = 0;
  let evaluatedHour: number | null = null;
  const actions: string[] = [];
  for (let h = 0; h < 3; h++) {
    const now = base + h * H + 60_000;
    const d = decideElastic(input({ previousHours: [50, 50], now, belowHours, evaluatedHour }));
    // A second look within the same hour does not count twice.
    const again = decideElastic(input({ previousHours: [50, 50], now: now + 60_000, belowHours: d.belowHours, evaluatedHour: d.hour }));
    t.equal(again.belowHours, d.belowHours);
    actions.push(`${d.action}:${d.toPlan}:${d.belowHours}`);
    belowHours = d.belowHours;
    evaluatedHour = d.hour;
  }
  t.same(actions, ['stay:starter:1', 'stay:starter:2', 'down:free:0']);
  t.match(decideElastic(input({ previousHours: [3000, 4000], belowHours: 2, evaluatedHour: null })), { action: 'stay', belowHours: 0 }, 'a busy hour resets the streak');
  t.match(decideElastic(input({ currentPlan: 'free', belowHours: 5 })), { action: 'stay', toPlan: 'free' }, 'never below the minimum');
});

t.test('elastic - a plan outside the range is brought back; unknown plans change nothing', async (t) => {
  t.match(decideElastic(input({ currentPlan: 'enterprise' })), { action: 'down', toPlan: 'pro' });
  t.match(decideElastic(input({ range: { minPlan: 'starter', maxPlan: 'pro' }, currentPlan: 'free' })), { action: 'up', toPlan: 'starter' });
  t.match(decideElastic(input({ range: { minPlan: 'gold', maxPlan: 'pro' } })), { action: 'stay', toPlan: 'starter' });
});

t.test('elastic - a sweep applies the rule to every elastic tenant only', async (t) => {
  let now = Date.UTC(2026, 0, 1, 12, 30, 0);
  const ledger = SqliteLedger.open({ path: ':memory:', now: () => now });
  t.teardown(() => ledger.close());
  const busy = await ledger.createTenant({ name: 'busy', plan: 'free', elastic: { minPlan: 'free', maxPlan: 'pro' } });
  const quiet = await ledger.createTenant({ name: 'quiet', plan: 'starter', elastic: { minPlan: 'free', maxPlan: 'pro' } });
  const fixed = await ledger.createTenant({ name: 'fixed', plan: 'free' });
  for (const id of [busy.id, fixed.id]) await ledger.debit(id, { cost: 3000, model: 'yolox-nano', frameId: `big-${id}` });
  const first = await applyElasticPlans(ledger);
  t.same(first.map((r) => [r.tenantId, r.decision.action, r.decision.toPlan]), [[busy.id, 'up', 'starter'], [quiet.id, 'stay', 'starter']]);
  t.equal((await ledger.getTenant(fixed.id))?.plan, 'free', 'fixed plans never move');
  for (const h of [13, 14, 15]) {
    now = Date.UTC(2026, 0, 1, h, 1, 0);
    await applyElasticPlans(ledger);
  }
  t.equal((await ledger.getTenant(quiet.id))?.plan, 'free', 'the quiet tenant moved down after three low hours');
});
