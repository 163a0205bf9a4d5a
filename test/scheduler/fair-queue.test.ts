// The fair queue alone: a pure data structure (SPEC.md §8).
import t from 'tap';
import fc from 'fast-check';
import { FairQueue } from '../../scheduler/fair-queue.js';
import { LaneQueues, type TenantQueue } from '../../scheduler/lanes.js';

/** Keeps every tenant backlogged (refilled after each pop) and counts served cost per tenant. */
function saturate(q: FairQueue<string>, weights: Record<string, number>, pops: number, cost: (tenant: string, i: number) => number = () => 1) {
  const served: Record<string, number> = Object.fromEntries(Object.keys(weights).map((k) => [k, 0]));
  let n = 0;
  for (const [tenant, w] of Object.entries(weights)) for (let i = 0; i < 20; i++) q.push(tenant, w, cost(tenant, n++), tenant);
  for (let i = 0; i < pops; i++) {
    const e = q.popEntry();
    if (!e) throw new Error('queue ran dry');
    served[e.tenant] += e.cost;
    q.push(e.tenant, weights[e.tenant], cost(e.tenant, n++), e.tenant);
  }
  return served;
}

function shares(served: Record<string, number>): Record<string, number> {
  const total = Object.values(served).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(served).map(([k, v]) => [k, v / total]));
}

t.test('fair-queue - options are validated with clear messages', async (t) => {
  t.throws(() => new FairQueue({ perTenantLimit: 0 }), { message: 'options.perTenantLimit must be a positive integer' });
  t.throws(() => new FairQueue({ perTenantLimit: 1.5 }), { message: 'options.perTenantLimit must be a positive integer' });
  const q = new FairQueue<number>();
  t.throws(() => q.push('a', 0, 1, 1), { message: 'weight must be a positive number' });
  t.throws(() => q.push('a', 1, Number.NaN, 1), { message: 'cost must be a positive number' });
  t.equal(q.size, 0);
  t.equal(q.pop(), undefined);
});

t.test('fair-queue - shares follow weights 1:2:3 under contention', async (t) => {
  const s = shares(saturate(new FairQueue<string>(), { a: 3600, b: 7200, c: 10800 }, 60_000));
  t.ok(Math.abs(s.a - 1 / 6) < 0.01, `a ${s.a}`);
  t.ok(Math.abs(s.b - 2 / 6) < 0.01, `b ${s.b}`);
  t.ok(Math.abs(s.c - 3 / 6) < 0.01, `c ${s.c}`);
});

t.test('fair-queue - shares are in tokens: frame costs count, not frame numbers', async (t) => {
  // Tenant a sends 2-token frames, b 1-token frames, equal weights: equal tokens, so a gets half as many frames.
  const q = new FairQueue<string>();
  const served = saturate(q, { a: 1000, b: 1000 }, 30_000, (tenant) => (tenant === 'a' ? 2 : 1));
  const s = shares(served);
  t.ok(Math.abs(s.a - 0.5) < 0.01, `a token share ${s.a}`);
  t.ok(Math.abs(s.b - 0.5) < 0.01, `b token share ${s.b}`);
});

t.test('fair-queue - an idle tenant’s share goes to the others, and it gets no credit for idling', async (t) => {
  const q = new FairQueue<string>();
  // c is idle: a and b split everything 1:2 (work-conserving).
  const s = shares(saturate(q, { a: 1, b: 2 }, 30_000));
  t.ok(Math.abs(s.a - 1 / 3) < 0.01 && Math.abs(s.b - 2 / 3) < 0.01, `a ${s.a} b ${s.b}`);
  // c returns with a backlog: from the first pops on it gets its 3/6, not a burst to catch up.
  for (let i = 0; i < 200; i++) q.push('c', 3, 1, 'c');
  const after: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 60; i++) {
    const e = q.popEntry();
    if (!e) throw new Error('empty');
    after[e.tenant]++;
    if (e.tenant !== 'c') q.push(e.tenant, e.tenant === 'a' ? 1 : 2, 1, e.tenant);
  }
  t.ok(after.c >= 28 && after.c <= 32, `c served ${after.c} of 60`);
  t.ok(after.a >= 8 && after.a <= 12, `a served ${after.a} of 60`);
});

t.test('fair-queue - a low-weight tenant is never starved', async (t) => {
  const q = new FairQueue<string>();
  // free (3,600/h) against enterprise (2,160,000/h): 1 : 600.
  const gaps: number[] = [];
  let last = -1;
  for (let i = 0; i < 5; i++) q.push('free', 3600, 1, 'free');
  for (let i = 0; i < 700; i++) q.push('big', 2_160_000, 1, 'big');
  for (let i = 0; i < 3000; i++) {
    const e = q.popEntry();
    if (!e) break;
    if (e.tenant === 'free') {
      gaps.push(i - last);
      last = i;
    } else {
      q.push('big', 2_160_000, 1, 'big');
    }
  }
  t.equal(gaps.length, 5, 'all five frames of the small tenant were served');
  t.ok(gaps[0] <= 2, `first served at once (gap ${gaps[0]})`);
  t.ok(gaps.slice(1).every((g) => g <= 602), `then once per ~600 big frames: ${gaps.join(',')}`);
});

t.test('fair-queue - per-tenant queues are bounded', async (t) => {
  const q = new FairQueue<number>({ perTenantLimit: 3 });
  t.same([1, 2, 3, 4].map((i) => q.push('a', 1, 1, i)), [true, true, true, false]);
  t.ok(q.push('b', 1, 1, 10), 'another tenant is not affected');
  t.equal(q.depth('a'), 3);
  t.equal(q.depth('b'), 1);
  t.equal(q.depth('nobody'), 0);
  t.equal(q.size, 4);
  t.same([...q.depths()], [['a', 3], ['b', 1]]);
  q.pop();
  t.ok(q.push('a', 1, 1, 5) || q.push('b', 1, 1, 11), 'room again after a pop');
});

t.test('fair-queue - cancelled items leave without being charged to their tenant', async (t) => {
  const q = new FairQueue<string>();
  for (let i = 0; i < 6; i++) q.push('a', 1, 1, `a${i}`);
  for (let i = 0; i < 3; i++) q.push('b', 1, 1, `b${i}`);
  const removed = q.remove((item) => item === 'a0' || item === 'a1' || item === 'a3');
  t.same(removed, ['a0', 'a1', 'a3']);
  t.equal(q.size, 6);
  t.equal(q.depth('a'), 3);
  const order: string[] = [];
  for (let x = q.pop(); x !== undefined; x = q.pop()) order.push(x);
  t.same(order.filter((x) => x.startsWith('a')), ['a2', 'a4', 'a5'], 'FIFO within a tenant');
  t.notOk(order.some((x) => removed.includes(x)), 'removed items are never served');
  // Equal weights: the two tenants alternate; a's cancelled frames cost it nothing.
  t.same(order.slice(0, 4).map((x) => x[0]).sort(), ['a', 'a', 'b', 'b']);
  t.same(q.remove(() => true), []);
  t.equal(q.size, 0);
});

t.test('fair-queue - the heap answers what a linear scan over tenants would (property)', async (t) => {
  type Op = { kind: 'push'; tenant: number; weight: number; cost: number } | { kind: 'pop' } | { kind: 'remove'; mod: number };
  const op = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), tenant: fc.integer({ min: 0, max: 5 }), weight: fc.integer({ min: 1, max: 5 }), cost: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('pop' as const) }),
    fc.record({ kind: fc.constant('remove' as const), mod: fc.integer({ min: 2, max: 7 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops: Op[]) => {
      const q = new FairQueue<number>({ perTenantLimit: 8 });
      // Reference: the same SFQ rule, choosing by scanning every tenant.
      const ref = new Map<number, { items: { id: number; w: number; c: number }[]; last: number; s: number; f: number }>();
      let v = 0;
      let maxF = 0;
      let id = 0;
      const size = () => [...ref.values()].reduce((n, r) => n + r.items.length, 0);
      const tag = (r: { items: { w: number; c: number }[]; last: number; s: number; f: number }) => {
        r.s = Math.max(v, r.last);
        r.f = r.s + r.items[0].c / r.items[0].w;
      };
      for (const o of ops) {
        if (o.kind === 'push') {
          const r = ref.get(o.tenant) ?? { items: [], last: 0, s: 0, f: 0 };
          ref.set(o.tenant, r);
          const ok = q.push(String(o.tenant), o.weight, o.cost, id);
          if (ok !== r.items.length < 8) return false;
          if (ok) {
            r.items.push({ id, w: o.weight, c: o.cost });
            if (r.items.length === 1) tag(r);
          }
          id++;
        } else if (o.kind === 'pop') {
          const got = q.pop();
          let best: (typeof ref extends Map<number, infer R> ? R : never) | undefined;
          for (const r of ref.values()) {
            if (r.items.length === 0) continue;
            if (!best || r.s < best.s || (r.s === best.s && (r.f < best.f || (r.f === best.f && r.items[0].id < best.items[0].id)))) best = r;
          }
          if (!best) {
            if (got !== undefined) return false;
            continue;
          }
          const want = best.items.shift();
          if (got !== want?.id) return false;
          v = best.s;
          maxF = Math.max(maxF, best.f);
          best.last = best.f;
          if (best.items.length > 0) tag(best);
          if (size() === 0) v = Math.max(v, maxF);
        } else {
          q.remove((item) => item % o.mod === 0);
          for (const r of ref.values()) {
            const head = r.items[0];
            r.items = r.items.filter((x) => x.id % o.mod !== 0);
            if (r.items.length > 0 && r.items[0] !== head) tag(r);
          }
          if (size() === 0) v = Math.max(v, maxF);
        }
        if (q.size !== size()) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('heap order equals the reference order');
});

t.test('fair-queue - idle tenants are kept without churning the map, and dropped in bulk', async (t) => {
  const q = new FairQueue<string>();
  // 5,000 tenants come and go, one frame each: the queue runs empty after every frame.
  let inOrder = 0;
  for (let i = 0; i < 5000; i++) {
    q.push(`t${i}`, 1, 1, `t${i}`);
    if (q.popEntry()?.item === `t${i}`) inOrder++;
  }
  t.equal(inOrder, 5000, 'each frame served as it came');
  t.ok(q.tenantStates <= 1024, `states held: ${q.tenantStates}`);
  t.ok(q.tenantStates > 1, 'idle tenants are kept between prunes');
  // A prune while a tenant is backlogged keeps it and its items.
  const size = q.tenantStates;
  for (let i = 0; i < 3; i++) q.push('stay', 1, 1, `stay-${i}`);
  for (let i = 0; i < 1024 - size + 5; i++) q.push(`new${i}`, 1, 1, `new${i}`);
  t.ok(q.tenantStates < 1024, `pruned while backlogged: ${q.tenantStates} states`);
  const served: string[] = [];
  for (let e = q.popEntry(); e; e = q.popEntry()) served.push(e.item);
  t.same(served.filter((x) => x.startsWith('stay')), ['stay-0', 'stay-1', 'stay-2'], 'the backlogged tenant kept its items through the prune');
  t.equal(served.length, 3 + 1024 - size + 5, 'nothing lost');
});

t.test('fair-queue - a tenant returning after the queue ran empty starts afresh', async (t) => {
  const q = new FairQueue<string>();
  // A heavy user's finish tag is far ahead; once everyone is idle, it is forgotten.
  q.push('heavy', 1, 1000, 'h1');
  t.equal(q.popEntry()?.finishTag, 1000);
  q.push('light', 1, 1, 'l1');
  q.push('heavy', 1, 1, 'h2');
  const a = q.popEntry();
  const b = q.popEntry();
  t.same([a?.item, b?.item], ['l1', 'h2'], 'equal start tags: the smaller finish tag (then arrival) first');
  t.equal(b?.startTag, a?.startTag, 'heavy starts at the virtual time, carrying no debt from the last busy period');
});

t.test('fair-queue - serves as the lanes’ tenant queue', async (t) => {
  const asTenantQueue: TenantQueue<string> = new FairQueue<string>({ perTenantLimit: 2 });
  t.ok(asTenantQueue.push('a', 1, 1, 'x'));
  const lanes = new LaneQueues<string>({ perTenantLimit: 4, createQueue: (n) => new FairQueue<string>({ perTenantLimit: n }) });
  for (let i = 0; i < 4; i++) lanes.push('standard', 'heavy', 3, 1, `h${i}`);
  lanes.push('standard', 'light', 1, 1, 'l0');
  t.notOk(lanes.push('standard', 'heavy', 3, 1, 'h4'), 'bounded per tenant through the lane');
  lanes.push('realtime', 'light', 1, 1, 'rt');
  const order: string[] = [];
  for (let x = lanes.pop(); x !== undefined; x = lanes.pop()) order.push(x);
  t.equal(order[0], 'rt', 'lanes in strict order');
  t.same(order.slice(1), ['h0', 'l0', 'h1', 'h2', 'h3'], 'weighted fair order within the lane');
});

t.test('fair-queue - a lane drops any number of stale items at once, and the rest keep their fair order', async (t) => {
  // More items than a function call takes arguments: a spread into push() would throw RangeError.
  const lanes = new LaneQueues<number>({ perTenantLimit: 400_000 });
  for (let i = 0; i < 300_000; i++) lanes.push('standard', i % 2 === 0 ? 'even' : 'odd', 1, 1, i);
  const stale = lanes.removeWhere((i) => i < 299_990);
  t.equal(stale.length, 299_990, 'every stale item comes back');
  t.equal(lanes.size, 10);
  const order: number[] = [];
  for (let x = lanes.pop(); x !== undefined; x = lanes.pop()) order.push(x);
  t.same(order, [299_990, 299_991, 299_992, 299_993, 299_994, 299_995, 299_996, 299_997, 299_998, 299_999], 'the two tenants still alternate, each in arrival order');
});
