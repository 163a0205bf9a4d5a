// One contract suite, run against both ledger backends (SQLite and a real Redis).
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import {
  LedgerInputError,
  LedgerNotFoundError,
  RedisLedger,
  SqliteLedger,
  hashApiKey,
  isLedgerError,
  type DebitResult,
  type Ledger,
} from '../../ledger/index.js';
import { startRedis } from '../helpers/redis.js';

/** A mutable clock, starting 10:20:00 UTC. */
class FakeClock {
  ms = Date.UTC(2026, 0, 15, 10, 20, 0);
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

interface Fixture {
  ledger: Ledger;
  clock: FakeClock;
  /** Every byte the store holds, as text, to inspect what is kept. */
  dump(): Promise<string>;
  /** A second ledger on the same store, with its own connection. */
  reopen(): Promise<Ledger>;
}

const redis = await startRedis(t);
let prefixSeq = 0;

const BACKENDS: { name: string; make(t: Test): Promise<Fixture> }[] = [
  {
    name: 'sqlite',
    async make(t) {
      const dir = mkdtempSync(join(tmpdir(), 'ys-ledger-'));
      const path = join(dir, 'ledger.sqlite');
      const clock = new FakeClock();
      const ledger = SqliteLedger.open({ path, now: clock.now });
      t.teardown(async () => {
        await ledger.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return {
        ledger,
        clock,
        async reopen() {
          const other = SqliteLedger.open({ path, now: clock.now });
          t.teardown(() => other.close());
          return other;
        },
        async dump() {
          const db = new Database(path, { readonly: true });
          try {
            const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
            return tables.map((tb) => JSON.stringify(db.prepare(`SELECT * FROM "${tb.name}"`).all())).join('\n');
          } finally {
            db.close();
          }
        },
      };
    },
  },
  {
    name: 'redis',
    async make(t) {
      const clock = new FakeClock();
      const keyPrefix = `test${++prefixSeq}:`;
      // A generous command timeout: on this shared 2-core machine a burst of 1,000 scripts can
      // stall past the production 1 s; the outage test below keeps the short one.
      const open = () => RedisLedger.open({ url: redis.url, keyPrefix, now: clock.now, commandTimeoutMs: 15_000 });
      const ledger = await open();
      const raw = new Redis(redis.url);
      t.teardown(async () => {
        await ledger.close();
        await raw.quit();
      });
      return {
        ledger,
        clock,
        async reopen() {
          const other = await open();
          t.teardown(() => other.close());
          return other;
        },
        async dump() {
          const out: string[] = [];
          for (const k of await raw.keys(`${keyPrefix}*`)) {
            const type = await raw.type(k);
            if (type === 'string') out.push(k, String(await raw.get(k)));
            else if (type === 'hash') out.push(k, JSON.stringify(await raw.hgetall(k)));
            else if (type === 'list') out.push(k, JSON.stringify(await raw.lrange(k, '0', '-1')));
            else if (type === 'zset') out.push(k, JSON.stringify(await raw.zrange(k, '0', '-1')));
          }
          return out.join('\n');
        },
      };
    },
  },
];

let frameSeq = 0;
const frame = (): string => `f${++frameSeq}`;

async function debitN(ledger: Ledger, tenant: string, n: number, cost = 1, model = 'yolox-nano'): Promise<DebitResult[]> {
  const out: DebitResult[] = [];
  for (let i = 0; i < n; i++) out.push(await ledger.debit(tenant, { cost, model, frameId: frame() }));
  return out;
}

function usageTotal(u: { hourly: { tokens: number; refunded: number }[] }): { tokens: number; refunded: number } {
  return u.hourly.reduce((a, b) => ({ tokens: a.tokens + b.tokens, refunded: a.refunded + b.refunded }), { tokens: 0, refunded: 0 });
}

for (const backend of BACKENDS) {
  t.test(`ledger contract (${backend.name})`, async (t) => {
    t.test('ledger - default plans follow SPEC §7 and are editable', async (t) => {
      const { ledger } = await backend.make(t);
      const plans = await ledger.listPlans();
      t.same(
        plans.map((p) => [p.name, p.tokensPerHour, p.overflow]),
        [['free', 3600, 'reject'], ['starter', 108000, 'reject'], ['pro', 540000, 'reject'], ['enterprise', 2160000, 'reject']],
      );
      const edited = await ledger.putPlan('starter', { tokensPerHour: 200_000, models: ['yolox-nano'], overflow: 'best-effort' });
      t.same(edited, { name: 'starter', tokensPerHour: 200_000, models: ['yolox-nano'], overflow: 'best-effort' });
      t.same(await ledger.getPlan('starter'), edited);
      t.equal(await ledger.getPlan('nope'), null);
      await t.rejects(ledger.putPlan('brand-new', { overflow: 'reject' }), LedgerInputError);
      await t.rejects(ledger.putPlan('free', { tokensPerHour: -3 }), { code: 'bad_request', message: /tokensPerHour must be a positive integer/ });
      await t.rejects(ledger.putPlan('free', { overflow: 'sometimes' as 'reject' }), { code: 'bad_request' });
    });

    t.test('ledger - tenants are created, listed and fetched', async (t) => {
      const { ledger } = await backend.make(t);
      const a = await ledger.createTenant({ name: 'Acme', plan: 'pro' });
      const b = await ledger.createTenant({ name: 'Beta', id: 'beta' });
      t.match(a, { name: 'Acme', plan: 'pro', elastic: null, balance: { remaining: 540000, topupBalance: 0 } });
      t.equal(b.id, 'beta');
      t.equal(b.plan, 'free');
      t.same((await ledger.listTenants()).map((x) => x.id).sort(), [a.id, 'beta'].sort());
      t.equal((await ledger.getTenant(a.id))?.name, 'Acme');
      t.equal(await ledger.getTenant('missing'), null);
      await t.rejects(ledger.createTenant({ name: 'Dup', id: 'beta' }), { code: 'conflict' });
      await t.rejects(ledger.createTenant({ name: 'X', plan: 'nope' }), LedgerNotFoundError);
      await t.rejects(ledger.createTenant({ name: '' }), LedgerInputError);
      await t.rejects(ledger.debit('missing', { cost: 1, model: 'm', frameId: 'x' }), LedgerNotFoundError);
    });

    t.test('ledger - a 10-token plan allows exactly 10 debits, then insufficient with Retry-After to the next hour', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('ten', { tokensPerHour: 10 });
      await ledger.putPlan('twenty', { tokensPerHour: 20 });
      await ledger.putPlan('five', { tokensPerHour: 5 });
      const tenant = await ledger.createTenant({ name: 'small', plan: 'ten' });
      const results = await debitN(ledger, tenant.id, 10);
      t.same(results.map((r) => r.ok && r.charged), Array(10).fill(1));
      t.same(results.map((r) => r.remaining), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      t.ok(results.every((r) => r.ok && r.lane === 'standard' && r.resetAt === '2026-01-15T11:00:00.000Z'));
      const denied = await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: frame() });
      t.same(denied, { ok: false, reason: 'insufficient_tokens', remaining: 0, resetAt: '2026-01-15T11:00:00.000Z', retryAfterS: 40 * 60 });
      clock.advance(1500);
      const again = await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: frame() });
      t.equal(!again.ok && again.retryAfterS, 40 * 60 - 1, 'Retry-After counts down to the hour (whole seconds, rounded up)');

      // Upgrade: continues at once with remaining = 20 − 10.
      const up = await ledger.setPlan(tenant.id, 'twenty');
      t.match(up.balance, { plan: 'twenty', usedThisHour: 10, hourlyRemaining: 10, remaining: 10 });
      const more = await debitN(ledger, tenant.id, 11);
      t.equal(more.filter((r) => r.ok).length, 10);
      t.equal(more[10].ok, false);

      // Downgrade below what was used: remaining is 0, never negative.
      const down = await ledger.setPlan(tenant.id, 'five');
      t.match(down.balance, { plan: 'five', usedThisHour: 20, hourlyRemaining: 0, remaining: 0 });
      t.equal((await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: frame() })).ok, false);

      const usage = await ledger.usage(tenant.id);
      t.same(usage.hourly, [{ hour: '2026-01-15T10:00:00.000Z', model: 'yolox-nano', tokens: 20, refunded: 0, frames: 20 }], 'usage shows every token');
      t.same(
        usage.changes.map((c) => [c.kind, c.fromPlan, c.toPlan, c.actor]),
        [['plan', 'ten', 'twenty', 'admin'], ['plan', 'twenty', 'five', 'admin']],
      );
    });

    t.test('ledger - the hourly budget resets at the start of each UTC hour', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('three', { tokensPerHour: 3 });
      const tenant = await ledger.createTenant({ name: 'h', plan: 'three' });
      t.equal((await debitN(ledger, tenant.id, 4)).filter((r) => r.ok).length, 3);
      clock.ms = Date.UTC(2026, 0, 15, 10, 59, 59, 999);
      t.equal((await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: frame() })).ok, false);
      clock.ms = Date.UTC(2026, 0, 15, 11, 0, 0);
      const b = await ledger.balance(tenant.id);
      t.match(b, { usedThisHour: 0, hourlyRemaining: 3, resetAt: '2026-01-15T12:00:00.000Z' });
      t.equal((await debitN(ledger, tenant.id, 4, 1, 'yolo11n-320')).filter((r) => r.ok).length, 3);
      const usage = await ledger.usage(tenant.id);
      t.same(
        usage.hourly.map((h) => [h.hour, h.model, h.tokens]),
        [['2026-01-15T10:00:00.000Z', 'yolox-nano', 3], ['2026-01-15T11:00:00.000Z', 'yolo11n-320', 3]],
      );
      clock.advance(30 * 3_600_000);
      t.same((await ledger.usage(tenant.id)).hourly, [], 'usage keeps 24 hours');
    });

    t.test('ledger - top-ups do not expire and are spent after the hourly budget', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('ten', { tokensPerHour: 10 });
      const tenant = await ledger.createTenant({ name: 'top', plan: 'ten' });
      const b0 = await ledger.topup(tenant.id, 5);
      t.match(b0, { hourlyRemaining: 10, topupBalance: 5, remaining: 15 });
      await debitN(ledger, tenant.id, 4);
      t.match(await ledger.balance(tenant.id), { hourlyRemaining: 6, topupBalance: 5 }, 'hourly budget first');
      const rest = await debitN(ledger, tenant.id, 12);
      t.equal(rest.filter((r) => r.ok).length, 11);
      t.match(await ledger.balance(tenant.id), { hourlyRemaining: 0, topupBalance: 0, remaining: 0 });
      await ledger.topup(tenant.id, 3, { actor: 'ops' });
      clock.advance(5 * 3_600_000);
      t.match(await ledger.balance(tenant.id), { hourlyRemaining: 10, topupBalance: 3, remaining: 13 }, 'top-up survives the hour');
      const big = await ledger.debit(tenant.id, { cost: 12, model: 'yolox-nano', frameId: frame() });
      t.match(big, { ok: true, charged: 12, remaining: 1 }, 'one debit may span budget and top-up');
      t.same((await ledger.audit(tenant.id)).map((a) => [a.kind, a.tokens, a.actor]), [['topup', 5, 'admin'], ['topup', 3, 'ops']]);
      await t.rejects(ledger.topup(tenant.id, 0), { code: 'bad_request' });
    });

    t.test('ledger - best-effort plans overflow uncharged in the best-effort lane', async (t) => {
      const { ledger } = await backend.make(t);
      await ledger.putPlan('be', { tokensPerHour: 2, overflow: 'best-effort' });
      const tenant = await ledger.createTenant({ name: 'be', plan: 'be' });
      const r = await debitN(ledger, tenant.id, 4);
      t.same(r.map((x) => x.ok && [x.charged, x.lane]), [[1, 'standard'], [1, 'standard'], [0, 'best-effort'], [0, 'best-effort']]);
      const rt = await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: frame(), lane: 'realtime' });
      t.match(rt, { ok: true, charged: 0, lane: 'best-effort' });
      t.equal(usageTotal(await ledger.usage(tenant.id)).tokens, 2);
      t.same(await ledger.refund(tenant.id, r[2].ok ? r[2].frameId : '', 'failed'), { refunded: 0, remaining: 0 }, 'uncharged frames refund nothing');
    });

    t.test('ledger - plan models are enforced', async (t) => {
      const { ledger } = await backend.make(t);
      await ledger.putPlan('nano-only', { tokensPerHour: 100, models: ['yolox-nano'] });
      const tenant = await ledger.createTenant({ name: 'm', plan: 'nano-only' });
      t.match(await ledger.debit(tenant.id, { cost: 2, model: 'yolov10n', frameId: frame() }), { ok: false, reason: 'model_not_in_plan', remaining: 100 });
      t.match(await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: frame() }), { ok: true, charged: 1 });
    });

    t.test('ledger - 1,000 concurrent debits never overdraw a nearly exhausted balance', async (t) => {
      const { ledger, reopen } = await backend.make(t);
      const second = await reopen();
      await ledger.putPlan('k', { tokensPerHour: 1000 });
      const tenant = await ledger.createTenant({ name: 'c', plan: 'k' });
      t.match(await ledger.debit(tenant.id, { cost: 963, model: 'yolox-nano', frameId: frame() }), { ok: true, remaining: 37 });
      await ledger.topup(tenant.id, 20);
      const all = await Promise.all(
        // Two connections, 500 each, all in flight at once.
        Array.from({ length: 1000 }, (_, i) => (i % 2 ? second : ledger).debit(tenant.id, { cost: 1 + (i % 3), model: 'yolox-nano', frameId: `c${i}` })),
      );
      const charged = all.reduce((s, r) => s + (r.ok ? r.charged : 0), 0);
      const b = await ledger.balance(tenant.id);
      t.ok(charged <= 57, `charged ${charged} of 57`);
      t.equal(b.remaining, 57 - charged, 'the balance matches what was charged exactly');
      t.ok(b.remaining < 3, 'the balance was drained down to less than one largest debit');
      t.ok(b.usedThisHour <= 1000 && b.topupBalance >= 0);
      t.equal(usageTotal(await ledger.usage(tenant.id)).tokens, 963 + charged);
      t.ok(all.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'insufficient_tokens'));
    });

    t.test('ledger - a repeated frame id or Idempotency-Key is charged once', async (t) => {
      const { ledger, clock } = await backend.make(t);
      const tenant = await ledger.createTenant({ name: 'i' });
      const first = await ledger.debit(tenant.id, { cost: 2, model: 'yolox-nano', frameId: 'a1', idempotencyKey: 'K-1' });
      t.match(first, { ok: true, charged: 2, frameId: 'a1' });
      const repeat = await ledger.debit(tenant.id, { cost: 2, model: 'yolox-nano', frameId: 'a2', idempotencyKey: 'K-1' });
      t.match(repeat, { ok: true, charged: 0, duplicate: 'idempotency', frameId: 'a1', storedResult: null });
      await ledger.recordIdempotentResult(tenant.id, 'K-1', '{"detections":[]}');
      const third = await ledger.debit(tenant.id, { cost: 2, model: 'yolox-nano', frameId: 'a3', idempotencyKey: 'K-1' });
      t.match(third, { ok: true, charged: 0, duplicate: 'idempotency', storedResult: '{"detections":[]}' });
      t.match(await ledger.debit(tenant.id, { cost: 2, model: 'yolox-nano', frameId: 'a1' }), { ok: true, charged: 0, duplicate: 'frame' });
      t.equal((await ledger.balance(tenant.id)).usedThisHour, 2);
      clock.advance(24 * 3_600_000 + 1000);
      t.match(
        await ledger.debit(tenant.id, { cost: 2, model: 'yolox-nano', frameId: 'a4', idempotencyKey: 'K-1' }),
        { ok: true, charged: 2 },
        'after 24 h the key is new again',
      );
      const parallel = await Promise.all(
        Array.from({ length: 50 }, (_, i) => ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: `p${i}`, idempotencyKey: 'order 42 (retry)' })),
      );
      t.equal(parallel.filter((r) => r.ok && r.charged === 1).length, 1, 'concurrent retries: exactly one charge');
    });

    t.test('ledger - refunds are idempotent: charged − refunded = delivered', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('ten', { tokensPerHour: 10 });
      const tenant = await ledger.createTenant({ name: 'r', plan: 'ten' });
      const frames = await debitN(ledger, tenant.id, 6);
      const ids = frames.map((f) => (f.ok ? f.frameId : ''));
      const failed = [ids[1], ids[4]];
      const refunds = await Promise.all([...failed, ...failed, ...failed].map((id) => ledger.refund(tenant.id, id, 'failed')));
      t.equal(refunds.reduce((s, r) => s + r.refunded, 0), 2, 'each failed frame refunded once');
      t.same(await ledger.refund(tenant.id, 'never-charged', 'dropped'), { refunded: 0, remaining: 6 });
      const u = usageTotal(await ledger.usage(tenant.id));
      t.equal(u.tokens - u.refunded, 4, 'charged − refunded = delivered');
      t.match(await ledger.balance(tenant.id), { usedThisHour: 4, remaining: 6 });

      // A refunded idempotent request may be retried and is then served (and charged) once more.
      const k = await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: 'k1', idempotencyKey: 'R' });
      t.match(k, { ok: true, charged: 1 });
      t.equal((await ledger.refund(tenant.id, 'k1', 'timeout')).refunded, 1);
      t.match(await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: 'k2', idempotencyKey: 'R' }), { ok: true, charged: 1 });

      // Charged in one hour, refunded in the next: the hourly part comes back as top-up.
      clock.ms = Date.UTC(2026, 0, 15, 10, 59, 50);
      await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: 'late' });
      clock.ms = Date.UTC(2026, 0, 15, 11, 0, 5);
      t.same(await ledger.refund(tenant.id, 'late', 'failed'), { refunded: 1, remaining: 11 });
      t.match(await ledger.balance(tenant.id), { usedThisHour: 0, topupBalance: 1 });
      await t.rejects(ledger.refund(tenant.id, 'late', ''), { code: 'bad_request' });
    });

    t.test('ledger - API keys are stored only as hashes and authenticate their tenant', async (t) => {
      const { ledger, dump } = await backend.make(t);
      const tenant = await ledger.createTenant({ name: 'k', plan: 'starter' });
      const created = await ledger.createApiKey(tenant.id);
      t.match(created, { tenantId: tenant.id, key: /^ys_[A-Za-z0-9_-]{43}$/ });
      const second = await ledger.createApiKey(tenant.id);
      t.not(second.key, created.key);
      const auth = await ledger.authenticate(created.key);
      t.match(auth, { tenantId: tenant.id, keyId: created.id, plan: { name: 'starter', tokensPerHour: 108000 } });
      t.equal(await ledger.authenticate(created.key.slice(0, -1) + (created.key.endsWith('A') ? 'B' : 'A')), null);
      t.equal(await ledger.authenticate(''), null);
      t.same((await ledger.listApiKeys(tenant.id)).map((k) => k.id).sort(), [created.id, second.id].sort());
      const stored = await dump();
      t.notOk(stored.includes(created.key), 'the plaintext key is nowhere in the store');
      t.notOk(stored.includes(created.key.slice(3)), 'not even without its prefix');
      t.ok(stored.includes(hashApiKey(created.key)), 'its SHA-256 is');
      await t.rejects(ledger.createApiKey('missing'), LedgerNotFoundError);
    });

    t.test('ledger - elastic plans move up at once and down after three low hours', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('e-small', { tokensPerHour: 10 });
      await ledger.putPlan('e-mid', { tokensPerHour: 100 });
      await ledger.putPlan('e-big', { tokensPerHour: 1000 });
      const tenant = await ledger.createTenant({ name: 'e', plan: 'e-small', elastic: { minPlan: 'e-small', maxPlan: 'e-mid' } });
      t.match(tenant.elastic, { minPlan: 'e-small', maxPlan: 'e-mid', belowHours: 0 });
      clock.ms = Date.UTC(2026, 0, 15, 10, 30, 0);
      await ledger.debit(tenant.id, { cost: 8, model: 'yolox-nano', frameId: frame() });
      const peek = await ledger.evaluateElastic(tenant.id);
      t.match(peek, { action: 'up', fromPlan: 'e-small', toPlan: 'e-mid', forecast: 16 });
      t.equal((await ledger.getTenant(tenant.id))?.plan, 'e-small', 'evaluate does not apply');
      t.match(await ledger.applyElastic(tenant.id), { action: 'up', toPlan: 'e-mid' });
      t.match(await ledger.balance(tenant.id), { plan: 'e-mid', usedThisHour: 8, hourlyRemaining: 92 });
      const seen: string[] = [];
      for (const h of [11, 12, 13, 14]) {
        clock.ms = Date.UTC(2026, 0, 15, h, 5, 0);
        const d = await ledger.applyElastic(tenant.id);
        await ledger.applyElastic(tenant.id); // twice in one hour counts once
        seen.push(`${d.action}:${d.belowHours}`);
      }
      t.same(seen, ['stay:0', 'stay:1', 'stay:2', 'down:0']);
      t.equal((await ledger.getTenant(tenant.id))?.plan, 'e-small');
      t.same(
        (await ledger.audit(tenant.id)).map((a) => [a.fromPlan, a.toPlan, a.actor]),
        [['e-small', 'e-mid', 'elastic'], ['e-mid', 'e-small', 'elastic']],
      );
      const fixed = await ledger.setPlan(tenant.id, 'e-big', { elastic: null });
      t.equal(fixed.elastic, null);
      t.match(await ledger.applyElastic(tenant.id), { action: 'stay', toPlan: 'e-big' });
      await t.rejects(ledger.setPlan(tenant.id, 'e-big', { elastic: { minPlan: 'e-big', maxPlan: 'e-small' } }), { code: 'bad_request' });
    });

    t.test('ledger - bad input is a typed error', async (t) => {
      const { ledger } = await backend.make(t);
      const tenant = await ledger.createTenant({ name: 'b' });
      for (const bad of [
        { cost: 0, model: 'm', frameId: 'f' },
        { cost: 1.5, model: 'm', frameId: 'f' },
        { cost: 1, model: '', frameId: 'f' },
        { cost: 1, model: 'm', frameId: 'has space' },
        { cost: 1, model: 'm', frameId: 'f', lane: 'best-effort' as 'standard' },
      ]) {
        await t.rejects(ledger.debit(tenant.id, bad), LedgerInputError, JSON.stringify(bad));
      }
      const err = await ledger.setPlan(tenant.id, 'nope').catch((e: unknown) => e);
      t.ok(isLedgerError(err, 'not_found'));
    });
  });
}

const types = (events: { type: string }[]): string[] => events.map((e) => e.type);

for (const backend of BACKENDS) {
  t.test(`ledger notifications (${backend.name})`, async (t) => {
    t.test('notify - a webhook is validated, its secret generated once and kept for the notifier', async (t) => {
      const { ledger } = await backend.make(t);
      const tenant = await ledger.createTenant({ name: 'w' });
      await t.rejects(ledger.setWebhook(tenant.id, { url: 'http://example.com/hook' }), { code: 'bad_request', message: /https/ });
      await t.rejects(ledger.setWebhook(tenant.id, { url: 'https://x.test/h', events: ['nope' as 'balance_low'] }), { code: 'bad_request', message: /unknown event/ });
      await t.rejects(ledger.setWebhook(tenant.id, { url: 'https://x.test/h', events: ['balance_low'] }), { code: 'bad_request', message: /threshold/ });
      await t.rejects(ledger.setWebhook('missing', { url: 'https://x.test/h' }), { code: 'not_found' });
      const set = await ledger.setWebhook(tenant.id, { url: 'http://127.0.0.1:9/hook', threshold: 5 });
      t.match(set, { tenantId: tenant.id, url: 'http://127.0.0.1:9/hook', threshold: 5, secret: /^whsec_[A-Za-z0-9_-]{43}$/ });
      t.same(set.events, ['balance_low', 'budget_exhausted', 'plan_changed', 'best_effort_entered', 'best_effort_left']);
      t.same(await ledger.getWebhook(tenant.id), set);
      const again = await ledger.setWebhook(tenant.id, { url: 'https://hooks.example/x', events: ['plan_changed'] });
      t.not(again.secret, set.secret, 'a new secret on every set');
      t.equal(again.threshold, null);
      t.equal(await ledger.deleteWebhook(tenant.id), true);
      t.equal(await ledger.getWebhook(tenant.id), null);
      t.equal(await ledger.deleteWebhook(tenant.id), false);
    });

    t.test('notify - crossing the threshold and running out append one event each, refusals are counted', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('tiny', { tokensPerHour: 10 });
      const tenant = await ledger.createTenant({ name: 'n', plan: 'tiny' });
      await ledger.setWebhook(tenant.id, { url: 'http://localhost:1/h', threshold: 3 });
      await debitN(ledger, tenant.id, 6);
      t.same(await ledger.pendingEvents(tenant.id), [], 'remaining 4: above the threshold');
      await debitN(ledger, tenant.id, 1);
      t.same(types(await ledger.pendingEvents(tenant.id)), ['balance_low']);
      await debitN(ledger, tenant.id, 3);
      const denied = await debitN(ledger, tenant.id, 3);
      t.ok(denied.every((r) => !r.ok), 'then refused');
      await ledger.refund(tenant.id, 'f-none', 'failed');
      const events = await ledger.pendingEvents(tenant.id);
      t.same(types(events), ['balance_low', 'budget_exhausted'], 'exactly once each');
      const resetAt = new Date(Date.UTC(2026, 0, 15, 11)).toISOString();
      t.match(events[0], { id: /^ev_/, tenantId: tenant.id, at: new Date(clock.ms).toISOString(), attempts: 0 });
      t.same(events[0].data, { remaining: 3, threshold: 3, resetAt });
      t.same(events[1].data, { remaining: 0, resetAt, plan: 'tiny', bestEffort: false });
      t.not(events[0].id, events[1].id);
      const u = await ledger.usage(tenant.id);
      t.same(u.refusals, [{ hour: new Date(Date.UTC(2026, 0, 15, 10)).toISOString(), reason: 'insufficient_tokens', count: 3 }]);

      // A new budget period (next hour) may notify again; a top-up too.
      clock.advance(3_600_000);
      await debitN(ledger, tenant.id, 10);
      t.same(types(await ledger.pendingEvents(tenant.id)), ['balance_low', 'budget_exhausted', 'balance_low', 'budget_exhausted']);
      await ledger.topup(tenant.id, 2);
      await debitN(ledger, tenant.id, 2);
      t.same(types(await ledger.pendingEvents(tenant.id)).slice(4), ['balance_low', 'budget_exhausted']);
    });

    t.test('notify - concurrent debits from two connections never duplicate an event', async (t) => {
      const { ledger, reopen } = await backend.make(t);
      const other = await reopen();
      await ledger.putPlan('tiny', { tokensPerHour: 40 });
      const tenant = await ledger.createTenant({ name: 'c', plan: 'tiny' });
      await ledger.setWebhook(tenant.id, { url: 'http://localhost:1/h', threshold: 20 });
      const all = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? ledger : other).debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: `cc${i}` })),
      );
      t.equal(all.filter((r) => r.ok).length, 40);
      t.same(types(await ledger.pendingEvents(tenant.id)), ['balance_low', 'budget_exhausted']);
    });

    t.test('notify - plan changes by an operator or the elastic rule, only for subscribed events', async (t) => {
      const { ledger } = await backend.make(t);
      const tenant = await ledger.createTenant({ name: 'p' });
      await ledger.setPlan(tenant.id, 'starter');
      t.same(await ledger.pendingEvents(tenant.id), [], 'no webhook: nothing kept');
      await ledger.setWebhook(tenant.id, { url: 'http://localhost:1/h', events: ['plan_changed'] });
      await ledger.setPlan(tenant.id, 'pro', { actor: 'ops' });
      await ledger.setPlan(tenant.id, 'pro');
      await ledger.setPlan(tenant.id, 'pro', { elastic: { minPlan: 'starter', maxPlan: 'enterprise' } });
      const decision = await ledger.applyElastic(tenant.id);
      t.equal(decision.action, 'stay', 'no usage yet');
      await ledger.setPlan(tenant.id, 'free', { actor: 'ops' });
      const moved = await ledger.applyElastic(tenant.id);
      t.match(moved, { action: 'up', toPlan: 'starter' });
      const events = await ledger.pendingEvents(tenant.id);
      t.same(events.map((e) => e.data), [
        { fromPlan: 'starter', toPlan: 'pro', actor: 'ops' },
        { fromPlan: 'pro', toPlan: 'free', actor: 'ops' },
        { fromPlan: 'free', toPlan: 'starter', actor: 'elastic' },
      ]);
      await debitN(ledger, tenant.id, 5000);
      t.same(types(await ledger.pendingEvents(tenant.id)), ['plan_changed', 'plan_changed', 'plan_changed'], 'balance events not subscribed');
    });

    t.test('notify - best-effort lane entered once and left on the next charged frame', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('be', { tokensPerHour: 2, overflow: 'best-effort' });
      const tenant = await ledger.createTenant({ name: 'b', plan: 'be' });
      await ledger.setWebhook(tenant.id, { url: 'http://localhost:1/h', events: ['budget_exhausted', 'best_effort_entered', 'best_effort_left'] });
      const r = await debitN(ledger, tenant.id, 5);
      t.same(r.map((x) => x.ok && x.lane), ['standard', 'standard', 'best-effort', 'best-effort', 'best-effort']);
      clock.advance(3_600_000);
      await debitN(ledger, tenant.id, 2);
      const events = await ledger.pendingEvents(tenant.id);
      t.same(types(events), ['budget_exhausted', 'best_effort_entered', 'best_effort_left', 'budget_exhausted']);
      t.match(events[0].data, { plan: 'be', bestEffort: true });
    });

    t.test('notify - claim hides events for a lease; attempts are logged, counted, retried and settled', async (t) => {
      const { ledger, clock } = await backend.make(t);
      await ledger.putPlan('tiny', { tokensPerHour: 2 });
      const a = await ledger.createTenant({ name: 'a', plan: 'tiny' });
      const b = await ledger.createTenant({ name: 'b', plan: 'tiny' });
      for (const x of [a, b]) await ledger.setWebhook(x.id, { url: 'http://localhost:1/h', threshold: 1 });
      await debitN(ledger, a.id, 2);
      clock.advance(10);
      await debitN(ledger, b.id, 2);
      const first = await ledger.claimEvents({ limit: 3, leaseMs: 5000 });
      t.same(first.map((e) => [e.tenantId, e.type]), [[a.id, 'balance_low'], [a.id, 'budget_exhausted'], [b.id, 'balance_low']], 'oldest first');
      t.same(types(await ledger.claimEvents({ limit: 10, leaseMs: 5000 })), ['budget_exhausted'], 'claimed ones are hidden');
      t.same(await ledger.claimEvents({ limit: 10, leaseMs: 5000 }), []);

      await ledger.completeEvent(first[0], { outcome: 'retrying', status: 500, error: 'HTTP 500', durationMs: 12, nextAttemptAt: clock.ms + 1000 });
      await ledger.completeEvent(first[1], { outcome: 'delivered', status: 204, durationMs: 3 });
      await ledger.completeEvent(first[1], { outcome: 'delivered', status: 204, durationMs: 3 });
      t.same(await ledger.claimEvents({ limit: 10, leaseMs: 5000 }), [], 'the retry is not due yet');
      clock.advance(1000);
      const retried = await ledger.claimEvents({ limit: 10, leaseMs: 5000 });
      t.same(retried.map((e) => [e.id, e.attempts]), [[first[0].id, 1]]);
      await ledger.completeEvent(retried[0], { outcome: 'failed', status: null, error: 'timeout', durationMs: 300 });
      t.same(await ledger.pendingEvents(a.id), [], 'settled events leave the outbox');

      const log = await ledger.deliveries(a.id);
      t.same(log.map((d) => [d.type, d.attempt, d.outcome, d.status]), [
        ['balance_low', 2, 'failed', null],
        ['budget_exhausted', 1, 'delivered', 204],
        ['balance_low', 1, 'retrying', 500],
      ], 'newest first; a repeated completion of a settled event is ignored');
      t.match(log[0], { eventId: first[0].id, error: 'timeout', durationMs: 300 });
      t.notOk('error' in log[1]);
      t.same((await ledger.usage(a.id)).notifications, [
        { type: 'balance_low', outcome: 'failed', count: 1 },
        { type: 'balance_low', outcome: 'retrying', count: 1 },
        { type: 'budget_exhausted', outcome: 'delivered', count: 1 },
      ]);
      t.same(await ledger.deliveries(b.id), []);
      t.equal(await ledger.deleteWebhook(b.id), true);
      t.same(await ledger.pendingEvents(b.id), [], 'removing the webhook drops its pending events');
      clock.advance(10_000);
      t.same(await ledger.claimEvents({ limit: 10, leaseMs: 5000 }), []);
      await t.rejects(ledger.completeEvent(first[0], { outcome: 'retrying', status: 500, durationMs: 1 }), { code: 'bad_request' });
    });
  });
}

t.test('ledger - Redis outage: LedgerUnavailableError quickly, nothing charged, recovery after restart', async (t) => {
  const own = await startRedis(t);
  const clock = new FakeClock();
  const ledger = await RedisLedger.open({ url: own.url, now: clock.now, commandTimeoutMs: 500 });
  t.teardown(() => ledger.close());
  await ledger.putPlan('big', { tokensPerHour: 100_000 });
  const tenant = await ledger.createTenant({ name: 'o', plan: 'big' });
  t.equal((await debitN(ledger, tenant.id, 20)).filter((r) => r.ok).length, 20);

  // Fire debits while the server is killed under them.
  let granted = 0;
  let unavailable = 0;
  const inflight = Array.from({ length: 300 }, (_, i) =>
    ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: `o${i}` }).then(
      (r) => {
        if (r.ok) granted += r.charged;
      },
      (err: unknown) => {
        if (isLedgerError(err, 'ledger_unavailable')) unavailable++;
        else throw err;
      },
    ),
  );
  await own.kill();
  await Promise.all(inflight);
  t.equal(granted + unavailable, 300);
  t.comment(`during the kill: ${granted} granted, ${unavailable} unavailable`);

  const started = Date.now();
  const err = await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: 'down' }).catch((e: unknown) => e);
  t.ok(isLedgerError(err, 'ledger_unavailable'), 'a debit while down is ledger_unavailable');
  t.ok(Date.now() - started < 5000, 'and fails fast rather than hanging');
  await t.rejects(ledger.balance(tenant.id), { code: 'ledger_unavailable' });

  await own.restart();
  let balance = null;
  for (let i = 0; i < 100 && balance === null; i++) {
    balance = await ledger.balance(tenant.id).catch(() => null);
    if (balance === null) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(balance, 'the ledger recovers by itself');
  // Debits whose outcome was unknown are refunded on reconnect: only granted ones stay charged.
  for (let i = 0; i < 50 && (await ledger.balance(tenant.id)).usedThisHour !== 20 + granted; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal((await ledger.balance(tenant.id)).usedThisHour, 20 + granted, 'nothing charged for refused debits');
  t.match(await ledger.debit(tenant.id, { cost: 1, model: 'yolox-nano', frameId: 'after' }), { ok: true, charged: 1 });
});
