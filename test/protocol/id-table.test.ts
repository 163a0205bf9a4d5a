// IdTable: a Map's behaviour for sequential integer ids (checked against a
// Map by fast-check), growth, the overflow past maxCapacity, and the reason
// it exists: churning entries of a long-lived table promotes nothing, where
// a long-lived Map promotes its discarded hash tables and what they hold.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import t from 'tap';
import { IdTable } from '../../protocol/index.js';
import { REPO_ROOT } from '../helpers/env.js';

const CHURN_SCRIPT = fileURLToPath(new URL('../helpers/id-table-churn.ts', import.meta.url));

t.test('id table - set, get, has, delete and size', async (t) => {
  const tb = new IdTable<string>({ initialCapacity: 4 });
  t.equal(tb.size, 0);
  tb.set(7, 'a');
  tb.set(8, 'b');
  t.equal(tb.get(7), 'a');
  t.ok(tb.has(8));
  t.equal(tb.get(3), undefined, 'an id that shares a slot with 7 but is not there');
  t.equal(tb.size, 2);
  tb.set(7, 'c');
  t.equal(tb.get(7), 'c', 'set replaces');
  t.equal(tb.size, 2);
  t.ok(tb.delete(7));
  t.notOk(tb.delete(7), 'a second delete finds nothing');
  t.equal(tb.get(7), undefined);
  t.equal(tb.size, 1);
  tb.clear();
  t.equal(tb.size, 0);
  t.equal(tb.get(8), undefined);
});

t.test('id table - an old entry far behind the rest grows the table instead of being lost', async (t) => {
  const tb = new IdTable<number>({ initialCapacity: 8 });
  tb.set(1, 1);
  for (let id = 2; id < 5000; id++) {
    tb.set(id, id);
    if (id > 10) tb.delete(id - 8);
  }
  t.equal(tb.get(1), 1, 'the stuck entry is still there');
  t.ok(tb.capacity >= 4096 && tb.capacity <= 8192, `capacity ${tb.capacity} spans the window`);
  t.equal(tb.size, 1 + 8 + 1, 'the stuck entries (1 and 2) and the window of 8');
  for (let id = 4992; id < 5000; id++) t.equal(tb.get(id), id);
  t.equal(tb.get(4991), undefined, 'deleted');
});

t.test('id table - past maxCapacity colliding ids go to the overflow and behave the same', async (t) => {
  const tb = new IdTable<string>({ initialCapacity: 2, maxCapacity: 4 });
  tb.set(0, 'zero');
  tb.set(4, 'four');
  tb.set(8, 'eight');
  t.equal(tb.capacity, 4, 'capped');
  t.same([tb.get(0), tb.get(4), tb.get(8)], ['zero', 'four', 'eight']);
  t.equal(tb.size, 3);
  t.same(new Map(tb.entries()), new Map([[0, 'zero'], [4, 'four'], [8, 'eight']]), 'entries include the overflow');
  t.ok(tb.delete(4));
  t.equal(tb.get(4), undefined);
  tb.delete(0);
  tb.set(8, 'eight again');
  t.equal(tb.get(8), 'eight again', 'a free slot takes the id back from the overflow');
  t.equal(tb.size, 1, 'and it is not counted twice');
});

t.test('id table - entries may be deleted while iterating', async (t) => {
  const tb = new IdTable<number>();
  for (let id = 0; id < 100; id++) tb.set(id, id);
  for (const [id] of tb.entries()) if (id % 2 === 0) tb.delete(id);
  t.equal(tb.size, 50);
  t.same([...tb.values()].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => 2 * i + 1));
});

t.test('id table - bad ids, values and options are refused', async (t) => {
  const tb = new IdTable<number>();
  t.throws(() => tb.set(-1, 1), /non-negative safe integer/);
  t.throws(() => tb.set(1.5, 1), /non-negative safe integer/);
  t.throws(() => tb.set(2 ** 53, 1), /non-negative safe integer/);
  t.throws(() => tb.set(1, undefined as unknown as number), /must not be undefined/);
  t.throws(() => new IdTable({ initialCapacity: 0 }), /options.initialCapacity/);
  t.throws(() => new IdTable({ maxCapacity: 2 ** 25 }), /options.maxCapacity/);
  t.throws(() => new IdTable({ initialCapacity: 8, maxCapacity: 4 }), /at least options.initialCapacity/);
  t.equal(tb.size, 0);
});

t.test('id table - behaves like a Map under any sequence of operations', async (t) => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('set' as const), id: fc.nat(300), v: fc.integer() }),
    fc.record({ k: fc.constant('delete' as const), id: fc.nat(300) }),
    fc.record({ k: fc.constant('clear' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 16, max: 64 }), (ops, initialCapacity, maxCapacity) => {
      const tb = new IdTable<number>({ initialCapacity, maxCapacity });
      const ref = new Map<number, number>();
      for (const o of ops) {
        if (o.k === 'set') {
          tb.set(o.id, o.v);
          ref.set(o.id, o.v);
        } else if (o.k === 'delete') {
          if (tb.delete(o.id) !== ref.delete(o.id)) return false;
        } else {
          tb.clear();
          ref.clear();
        }
        if (tb.size !== ref.size) return false;
      }
      for (let id = 0; id <= 300; id++) if (tb.get(id) !== ref.get(id)) return false;
      return [...tb.entries()].sort((a, b) => a[0] - b[0]).join() === [...ref.entries()].sort((a, b) => a[0] - b[0]).join();
    }),
  );
  t.pass('matches a Map');
});

t.test('id table - churn on a long-lived table promotes nothing; on a long-lived Map it promotes every frame', async (t) => {
  // Each in a fresh process: a collection cycle left running by the other (or by the test runner) would change what survives.
  const churn = (kind: 'map' | 'table'): number => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', CHURN_SCRIPT, kind], { encoding: 'utf8', cwd: REPO_ROOT });
    if (r.status !== 0) throw new Error(`churn ${kind} failed: ${r.stderr}`);
    return Number(r.stdout);
  };
  const mapGrowth = churn('map');
  const tableGrowth = churn('table');
  t.ok(mapGrowth > 2_000_000, `a churned Map promoted ${Math.round(mapGrowth / 1024)} KB (the V8 behaviour id-table.ts works around)`);
  t.ok(tableGrowth < 500_000, `the IdTable promoted ${Math.round(tableGrowth / 1024)} KB`);
});
