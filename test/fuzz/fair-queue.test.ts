// Property tests of the fair queue under arbitrary operation sequences, with
// weights and costs anywhere in the positive finite range (the scheduler
// takes them from message headers).
import t from 'tap';
import fc from 'fast-check';
import { FairQueue } from '../../scheduler/fair-queue.js';

type Op = { op: 'push'; tenant: number; weight: number; cost: number } | { op: 'pop' } | { op: 'remove'; tenant: number };

const positive = fc.oneof(fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 1, max: 2_160_000 }), fc.constantFrom(Number.MIN_VALUE, 1e-300, 1e300, Number.MAX_VALUE));
const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('push' as const), tenant: fc.nat({ max: 4 }), weight: positive, cost: positive }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('pop' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), tenant: fc.nat({ max: 4 }) }) },
  ),
  { maxLength: 200 },
);

t.test('fuzz fair-queue - every item comes out exactly once, in start-tag order, with finite tags', async (t) => {
  fc.assert(
    fc.property(ops, (list) => {
      const q = new FairQueue<number>({ perTenantLimit: 50 });
      const waiting = new Set<number>();
      let next = 0;
      let lastStart = -Infinity;
      for (const o of list) {
        if (o.op === 'push') {
          const id = next++;
          if (q.push(`t${o.tenant}`, o.weight, o.cost, id)) waiting.add(id);
        } else if (o.op === 'pop') {
          const e = q.popEntry();
          if (e === undefined) {
            if (waiting.size !== 0) throw new Error('empty pop while items wait');
            continue;
          }
          if (!waiting.delete(e.item)) throw new Error(`item ${e.item} served twice or never queued`);
          if (!Number.isFinite(e.startTag) || !Number.isFinite(e.finishTag) || e.finishTag < e.startTag) throw new Error(`bad tags ${e.startTag}..${e.finishTag}`);
          // SFQ serves in start-tag order and virtual time never goes back: served start tags never decrease.
          if (e.startTag < lastStart) throw new Error(`start tag ${e.startTag} served after ${lastStart}`);
          lastStart = e.startTag;
        } else {
          for (const id of q.remove((_item, tenant) => tenant === `t${o.tenant}`)) if (!waiting.delete(id)) throw new Error(`removed ${id} twice`);
        }
        if (q.size !== waiting.size) throw new Error(`size ${q.size}, expected ${waiting.size}`);
        if (!Number.isFinite(q.virtualTime)) throw new Error('virtual time is no longer finite');
      }
      for (let e = q.popEntry(); e; e = q.popEntry()) if (!waiting.delete(e.item)) throw new Error('drained an unknown item');
      if (waiting.size !== 0) throw new Error(`${waiting.size} items lost`);
    }),
    { numRuns: 2000 },
  );
  t.pass('2,000 random operation sequences');
});

t.test('fuzz fair-queue - one frame with an extreme weight does not break fairness for the others', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(Number.MIN_VALUE, 1e-300, 1e-12), fc.double({ min: 1, max: 1e12, noNaN: true }), (weight, cost) => {
      const q = new FairQueue<string>();
      q.push('odd', weight, cost, 'odd');
      q.pop(); // served alone: its finish tag becomes the virtual time when the queue empties
      for (let i = 0; i < 30; i++) {
        q.push('a', 1, 1, 'a');
        q.push('b', 2, 1, 'b');
      }
      const served = { a: 0, b: 0 };
      for (let i = 0; i < 30; i++) {
        const item = q.pop();
        if (item === 'a' || item === 'b') served[item]++;
      }
      // Weights 1:2 over 30 served frames of a and b: 10 and 20, give or take one.
      if (Math.abs(served.a - 10) > 1 || Math.abs(served.b - 20) > 1) throw new Error(`served a ${served.a}, b ${served.b}`);
    }),
    { numRuns: 200 },
  );
  t.pass('shares 1:2 hold after a frame with a denormal weight');
});
