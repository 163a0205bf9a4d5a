// The micro-batcher alone: size and delay limits, per-model batches,
// restore and removal. Pure: the test drives the clock.
import t from 'tap';
import { MicroBatcher } from '../../scheduler/index.js';

t.test('batcher - a batch closes when it holds maxBatch frames', async (t) => {
  const b = new MicroBatcher<number>({ maxBatch: 3, maxDelayMs: 5 });
  t.equal(b.add('m', 1, 0), null);
  t.equal(b.add('m', 2, 1), null);
  const full = b.add('m', 3, 2);
  t.same(full, { model: 'm', items: [1, 2, 3], openedAt: 0 });
  t.equal(b.size, 0);
  t.equal(b.nextDueAt(), null, 'nothing open after the full batch left');
});

t.test('batcher - a batch becomes due maxDelayMs after its first frame', async (t) => {
  const b = new MicroBatcher<string>({ maxBatch: 8, maxDelayMs: 5 });
  b.add('m', 'a', 100);
  b.add('m', 'b', 103);
  t.equal(b.nextDueAt(), 105);
  t.same(b.takeDue(104.9), [], 'not due before maxDelayMs');
  t.same(b.takeDue(105), [{ model: 'm', items: ['a', 'b'], openedAt: 100 }]);
  t.equal(b.size, 0);
});

t.test('batcher - models batch separately and frames of many tenants share a batch', async (t) => {
  const b = new MicroBatcher<{ tenant: string }>({ maxBatch: 2, maxDelayMs: 1 });
  t.equal(b.add('x', { tenant: 't1' }, 0), null);
  t.equal(b.add('y', { tenant: 't1' }, 0), null);
  const full = b.add('x', { tenant: 't2' }, 0);
  t.same(full?.items.map((i) => i.tenant), ['t1', 't2']);
  t.same(b.models(), ['y']);
  t.equal(b.pending('y'), 1);
});

t.test('batcher - maxDelayMs 0 makes every open batch due at once', async (t) => {
  const b = new MicroBatcher<number>({ maxBatch: 4, maxDelayMs: 0 });
  b.add('m', 1, 7);
  t.ok(b.isDue('m', 7));
});

t.test('batcher - restored frames go back to the front and keep their age', async (t) => {
  const b = new MicroBatcher<number>({ maxBatch: 10, maxDelayMs: 5 });
  b.add('m', 1, 0);
  const taken = b.take('m');
  b.add('m', 2, 3);
  b.restore({ model: 'm', items: taken?.items ?? [], openedAt: 0 });
  t.equal(b.size, 2);
  t.same(b.takeDue(5)[0]?.items, [1, 2]);
});

t.test('batcher - removeWhere drops matching frames and empty batches', async (t) => {
  const b = new MicroBatcher<number>({ maxBatch: 10, maxDelayMs: 5 });
  for (const n of [1, 2, 3]) b.add('m', n, 0);
  b.add('k', 4, 0);
  t.same(b.removeWhere((n) => n % 2 === 0).sort(), [2, 4]);
  t.equal(b.size, 2);
  t.same(b.models(), ['m']);
  t.same(b.take('m')?.items, [1, 3]);
});

t.test('batcher - options are validated with clear messages', async (t) => {
  t.throws(() => new MicroBatcher({ maxBatch: 0 }), /options\.maxBatch must be a positive integer/);
  t.throws(() => new MicroBatcher({ maxBatch: 1.5 }), /options\.maxBatch must be a positive integer/);
  t.throws(() => new MicroBatcher({ maxDelayMs: -1 }), /options\.maxDelayMs must be a number ≥ 0/);
});

t.test('batcher - models stay listed oldest batch first when their entries are reused', async (t) => {
  const b = new MicroBatcher<number>({ maxBatch: 8, maxDelayMs: 5 });
  b.add('a', 1, 0);
  b.add('b', 2, 1);
  t.same(b.take('a')?.items, [1]);
  b.add('a', 3, 2);
  t.same(b.models(), ['b', 'a'], 'a reopened after b: b first');
  t.equal(b.nextDueAt(), 6);
  t.equal(b.pending('a'), 1);
  t.equal(b.take('c'), null, 'no batch for an unknown model');
  t.same(b.removeWhere(() => true).sort(), [2, 3]);
  t.same(b.models(), [], 'emptied batches are closed');
  t.equal(b.nextDueAt(), null);
  t.equal(b.size, 0);
});

t.test('batcher - hundreds of models come and go; open batches survive the clean-up of closed ones', async (t) => {
  const b = new MicroBatcher<string>({ maxBatch: 4, maxDelayMs: 5 });
  b.add('keep-1', 'k1', 0);
  b.add('keep-2', 'k2', 0);
  for (let i = 0; i < 600; i++) {
    b.add(`m${i}`, `x${i}`, 1);
    if (b.take(`m${i}`)?.items[0] !== `x${i}`) t.fail(`model m${i} lost its frame`);
  }
  t.same(b.models(), ['keep-1', 'keep-2']);
  t.equal(b.size, 2);
  t.same(b.take('keep-2')?.items, ['k2']);
  t.same(b.take('keep-1')?.items, ['k1']);
});
