// The same random run against SQLite and against Redis gives the same results (property test).
import t from 'tap';
import fc from 'fast-check';
import { RedisLedger, SqliteLedger, type Ledger } from '../../ledger/index.js';
import { startRedis } from '../helpers/redis.js';

type Op =
  | { kind: 'debit'; cost: number; model: string; frame: number; idem: string | null; lane: 'standard' | 'realtime' }
  | { kind: 'refund'; frame: number }
  | { kind: 'topup'; tokens: number }
  | { kind: 'setPlan'; plan: string }
  | { kind: 'putPlan'; tokensPerHour: number; overflow: 'reject' | 'best-effort' }
  | { kind: 'advance'; minutes: number }
  | { kind: 'record'; idem: string; result: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant('debit' as const), cost: fc.integer({ min: 1, max: 5 }), model: fc.constantFrom('yolox-nano', 'yolov10n'),
    frame: fc.integer({ min: 0, max: 15 }), idem: fc.constantFrom(null, null, 'k1', 'k 2'), lane: fc.constantFrom('standard' as const, 'realtime' as const),
  }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), frame: fc.integer({ min: 0, max: 15 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('topup' as const), tokens: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setPlan' as const), plan: fc.constantFrom('p5', 'p10', 'p20') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('putPlan' as const), tokensPerHour: fc.integer({ min: 1, max: 25 }), overflow: fc.constantFrom('reject' as const, 'best-effort' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), minutes: fc.integer({ min: 0, max: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('record' as const), idem: fc.constantFrom('k1', 'k 2'), result: fc.constantFrom('{"a":1}', '{"b":2}') }) },
);

async function apply(ledger: Ledger, o: Op, advance: (ms: number) => void): Promise<unknown> {
  try {
    switch (o.kind) {
      case 'debit':
        return await ledger.debit('ten', {
          cost: o.cost, model: o.model, frameId: `f${o.frame}`, lane: o.lane, ...(o.idem === null ? {} : { idempotencyKey: o.idem }),
        });
      case 'refund':
        return await ledger.refund('ten', `f${o.frame}`, 'failed');
      case 'topup':
        return await ledger.topup('ten', o.tokens);
      case 'setPlan':
        return await ledger.setPlan('ten', o.plan);
      case 'putPlan':
        return await ledger.putPlan('p10', { tokensPerHour: o.tokensPerHour, overflow: o.overflow });
      case 'advance':
        advance(o.minutes * 60_000);
        return await ledger.balance('ten');
      case 'record':
        await ledger.recordIdempotentResult('ten', o.idem, o.result);
        return 'recorded';
    }
  } catch (err) {
    return { error: (err as { code?: string }).code ?? String(err) };
  }
}

t.test('ledger - SQLite and Redis answer a random run identically', async (t) => {
  const redis = await startRedis(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
      let now = Date.UTC(2026, 2, 3, 9, 50, 0);
      const clock = () => now;
      const sqlite = SqliteLedger.open({ path: ':memory:', now: clock });
      const redisLedger = await RedisLedger.open({ url: redis.url, keyPrefix: `d${++run}:`, now: clock, commandTimeoutMs: 15_000 });
      try {
        const both = [sqlite, redisLedger];
        for (const l of both) {
          await l.putPlan('p5', { tokensPerHour: 5 });
          await l.putPlan('p10', { tokensPerHour: 10 });
          await l.putPlan('p20', { tokensPerHour: 20, overflow: 'best-effort' });
          await l.createTenant({ name: 'ten', id: 'ten', plan: 'p10' });
        }
        for (const o of ops) {
          const ra = await apply(sqlite, o, (ms) => (now += ms));
          const rb = await apply(redisLedger, o, () => {});
          if (JSON.stringify(ra) !== JSON.stringify(rb)) {
            t.same(rb, ra, `same answer to ${JSON.stringify(o)}`);
            return false;
          }
        }
        const [ua, ub] = [await sqlite.usage('ten'), await redisLedger.usage('ten')];
        if (JSON.stringify(ua) !== JSON.stringify(ub)) {
          t.same(ub, ua, 'same usage report');
          return false;
        }
        return ua.balance.remaining >= 0 && ua.balance.hourlyRemaining >= 0 && ua.balance.topupBalance >= 0;
      } finally {
        await sqlite.close();
        await redisLedger.close();
      }
    }),
    { numRuns: 40 },
  );
  t.pass('40 random runs answered identically');
});
