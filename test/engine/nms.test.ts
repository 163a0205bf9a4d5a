import t from 'tap';
import fc from 'fast-check';
import { Candidates } from '../../worker/engine/candidates.js';
import { iouAt, nms, topK } from '../../worker/engine/nms.js';

function cands(rows: Array<[number, number, number, number, number, number]>): Candidates {
  const c = new Candidates(2);
  for (const r of rows) c.push(...r);
  return c;
}

t.test('nms - IoU of known boxes', async (t) => {
  const c = cands([
    [0, 0, 10, 10, 1, 0],
    [5, 0, 15, 10, 1, 0],
    [20, 20, 30, 30, 1, 0],
    [0, 0, 10, 10, 1, 0],
  ]);
  t.equal(iouAt(c.boxes, 0, 1), 50 / 150);
  t.equal(iouAt(c.boxes, 0, 2), 0);
  t.equal(iouAt(c.boxes, 0, 3), 1);
});

t.test('nms - suppresses overlapping boxes of the same class only', async (t) => {
  const c = cands([
    [0, 0, 100, 100, 0.9, 0],
    [2, 2, 102, 102, 0.8, 0], // same class, IoU ≈ 0.92 → suppressed
    [2, 2, 102, 102, 0.7, 1], // other class → kept (class-aware)
    [200, 200, 300, 300, 0.6, 0], // far away → kept
  ]);
  t.same(nms(c, { iou: 0.45, agnostic: false, maxDet: 100 }), [0, 2, 3]);
  t.same(nms(c, { iou: 0.45, agnostic: true, maxDet: 100 }), [0, 3], 'agnostic suppresses across classes');
  t.same(nms(c, { iou: 0.95, agnostic: false, maxDet: 100 }), [0, 1, 2, 3], 'a high IoU threshold keeps all');
  t.same(nms(c, { iou: 0.45, agnostic: false, maxDet: 2 }), [0, 2], 'maxDet stops early');
});

t.test('nms - output is ordered by score whatever the input order', async (t) => {
  const c = cands([
    [200, 200, 300, 300, 0.2, 3],
    [0, 0, 10, 10, 0.9, 1],
    [50, 50, 60, 60, 0.5, 2],
  ]);
  t.same(nms(c, { iou: 0.5, agnostic: false, maxDet: 10 }), [1, 2, 0]);
  t.same(topK(c, 2), [1, 2]);
  t.same(nms(new Candidates(), { iou: 0.5, agnostic: false, maxDet: 10 }), [], 'empty input');
});

t.test('nms - invariants hold on random boxes', async (t) => {
  const box = fc.tuple(
    fc.integer({ min: 0, max: 200 }),
    fc.integer({ min: 0, max: 200 }),
    fc.integer({ min: 1, max: 80 }),
    fc.integer({ min: 1, max: 80 }),
    fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }),
    fc.integer({ min: 0, max: 3 }),
  );
  fc.assert(
    fc.property(fc.array(box, { maxLength: 60 }), fc.double({ min: 0.1, max: 0.9, noNaN: true }), fc.boolean(), fc.integer({ min: 1, max: 30 }), (rows, iou, agnostic, maxDet) => {
      const c = cands(rows.map(([x, y, w, h, s, k]) => [x, y, x + w, y + h, s, k]));
      const keep = nms(c, { iou, agnostic, maxDet });
      if (keep.length > maxDet) return false;
      for (let i = 1; i < keep.length; i++) if (c.scores[keep[i - 1]!]! < c.scores[keep[i]!]!) return false;
      for (let i = 0; i < keep.length; i++) {
        for (let j = i + 1; j < keep.length; j++) {
          const same = agnostic || c.classIds[keep[i]!] === c.classIds[keep[j]!];
          if (same && iouAt(c.boxes, keep[i]!, keep[j]!) > iou) return false;
        }
      }
      // Every dropped box (before the cap was reached) overlaps a kept, better box.
      if (keep.length < maxDet) {
        const kept = new Set(keep);
        for (let i = 0; i < c.count; i++) {
          if (kept.has(i)) continue;
          const covered = keep.some(
            (k) => (agnostic || c.classIds[k] === c.classIds[i]) && iouAt(c.boxes, k, i) > iou && c.scores[k]! >= c.scores[i]!,
          );
          if (!covered) return false;
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('properties held');
});
