import t, { type Test } from 'tap';
import type { Box } from '../../protocol/index.js';
import { IOU_THRESHOLDS, RECALL_THRESHOLDS, boxIou, classAps, evaluate } from '../../worker/eval/index.js';
import type { EvalImage } from '../../worker/eval/index.js';

const box = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });
/** A 100x100 box at grid cell i (cells never overlap). */
const cell = (i: number): Box => box(i * 200, 0, i * 200 + 100, 100);
const close = (t: Test, got: number, want: number, msg: string) => t.ok(Math.abs(got - want) < 1e-12, `${msg}: got ${got}, want ${want}`);

t.test('map - thresholds are numpy linspace values', async (t) => {
  t.equal(IOU_THRESHOLDS.length, 10);
  t.equal(IOU_THRESHOLDS[0], 0.5);
  t.equal(IOU_THRESHOLDS[8], 0.8999999999999999, 'np.linspace(.5, .95, 10)[8]');
  t.equal(IOU_THRESHOLDS[9], 0.95);
  t.equal(RECALL_THRESHOLDS.length, 101);
  t.equal(RECALL_THRESHOLDS[100], 1);
  t.equal(boxIou(box(0, 0, 100, 100), box(0, 0, 100, 72)), 0.72);
  t.equal(boxIou(box(0, 0, 10, 10), box(10, 0, 20, 10)), 0, 'touching boxes do not overlap');
});

t.test('map - perfect detections give 1.0', async (t) => {
  const images: EvalImage[] = [
    { gt: [{ classId: 0, box: cell(0) }, { classId: 2, box: cell(1) }], dets: [{ classId: 0, score: 0.9, box: cell(0) }, { classId: 2, score: 0.4, box: cell(1) }] },
    { gt: [{ classId: 0, box: cell(3) }], dets: [{ classId: 0, score: 0.2, box: cell(3) }] },
  ];
  const r = evaluate(images);
  t.same({ images: r.images, boxes: r.boxes }, { images: 2, boxes: 3 });
  // Like pycocotools, precision is tp / (tp + fp + eps), so "1" is 1 - 2e-16.
  close(t, r.map50, 1, 'map50');
  close(t, r.map50_95, 1, 'map50_95');
});

t.test('map - a false positive above the true one halves AP; below it costs nothing', async (t) => {
  const above: EvalImage[] = [
    { gt: [{ classId: 0, box: cell(0) }], dets: [{ classId: 0, score: 0.8, box: cell(0) }] },
    { gt: [], dets: [{ classId: 0, score: 0.9, box: cell(0) }] },
  ];
  // Order FP, TP: precision [0, .5] -> envelope [.5, .5]; every recall threshold reads .5.
  const r = evaluate(above);
  close(t, r.map50, 0.5, 'FP first');
  close(t, r.map50_95, 0.5, 'FP first, all IoUs');
  const below: EvalImage[] = [{ gt: [{ classId: 0, box: cell(0) }], dets: [{ classId: 0, score: 0.9, box: cell(0) }, { classId: 0, score: 0.8, box: cell(1) }] }];
  close(t, evaluate(below).map50, 1, 'FP after the only TP');
});

t.test('map - missed ground truth: recall 0.5 gives 51/101', async (t) => {
  const images: EvalImage[] = [{ gt: [{ classId: 7, box: cell(0) }, { classId: 7, box: cell(1) }], dets: [{ classId: 7, score: 0.9, box: cell(0) }] }];
  close(t, evaluate(images).map50, 51 / 101, 'thresholds 0..0.50 read precision 1, the rest 0');
});

t.test('map - hand-computed ranking T F T F T over 3 boxes', async (t) => {
  // Cumulative precision 1, 1/2, 2/3, 1/2, 3/5 at recall 1/3, 1/3, 2/3, 2/3, 1.
  // Envelope 1, 2/3, 2/3, 3/5, 3/5. Recall thresholds 0..0.33 -> 1 (34 points),
  // 0.34..0.66 -> 2/3 (33 points), 0.67..1 -> 3/5 (34 points).
  const gt = [0, 1, 2].map((i) => ({ classId: 1, box: cell(i) }));
  const dets = [
    { classId: 1, score: 0.9, box: cell(0) },
    { classId: 1, score: 0.8, box: cell(5) },
    { classId: 1, score: 0.7, box: cell(1) },
    { classId: 1, score: 0.6, box: cell(6) },
    { classId: 1, score: 0.5, box: cell(2) },
  ];
  const want = (34 + 33 * (2 / 3) + 34 * 0.6) / 101;
  const r = evaluate([{ gt, dets }]);
  close(t, r.map50, want, 'AP50');
  close(t, r.map50_95, want, 'exact boxes: the same at every IoU');
  // Spread over two images (same scores), the merged ranking and AP are unchanged.
  const split = evaluate([
    { gt: gt.slice(0, 2), dets: dets.slice(0, 3) },
    { gt: gt.slice(2), dets: dets.slice(3) },
  ]);
  close(t, split.map50, want, 'across images');
  t.equal(split.boxes, 3);
});

t.test('map - IoU decides the thresholds a match counts at', async (t) => {
  const images: EvalImage[] = [{ gt: [{ classId: 0, box: box(0, 0, 100, 100) }], dets: [{ classId: 0, score: 0.9, box: box(0, 0, 100, 72) }] }];
  const r = evaluate(images);
  close(t, r.map50, 1, 'map50');
  close(t, r.map50_95, 0.5, 'IoU 0.72 is a hit at 0.50..0.70 (5 of 10 thresholds)');
});

t.test('map - greedy matching by score takes the best-overlapping free box', async (t) => {
  // det A (score .9, IoU .62) and det B (score .8, IoU .96) on one box.
  // IoU .50-.60: A matches, B is a duplicate after it -> AP 1.
  // IoU .65-.95: A misses (FP first), B matches -> AP .5.
  const images: EvalImage[] = [{
    gt: [{ classId: 3, box: box(0, 0, 100, 100) }],
    dets: [{ classId: 3, score: 0.9, box: box(0, 0, 100, 62) }, { classId: 3, score: 0.8, box: box(0, 0, 100, 96) }],
  }];
  const r = evaluate(images);
  close(t, r.map50, 1, 'map50');
  close(t, r.map50_95, (3 * 1 + 7 * 0.5) / 10, 'mean over thresholds');
  // Two ground-truth boxes; the top detection overlaps both and takes the one it overlaps more.
  const two: EvalImage[] = [{
    gt: [{ classId: 0, box: box(0, 0, 100, 100) }, { classId: 0, box: box(50, 0, 150, 100) }],
    dets: [{ classId: 0, score: 0.9, box: box(40, 0, 140, 100) }, { classId: 0, score: 0.8, box: box(0, 0, 100, 100) }],
  }];
  // det1 IoU: gt1 60/140=.43, gt2 90/110=.82 -> takes gt2 at .5; det2 takes gt1. Both TP at 0.5.
  close(t, evaluate(two).map50, 1, 'both matched');
});

t.test('map - classes: only those with ground truth count; a missed class scores 0', async (t) => {
  const images: EvalImage[] = [{
    gt: [{ classId: 0, box: cell(0) }, { classId: 5, box: cell(1) }],
    dets: [{ classId: 0, score: 0.9, box: cell(0) }, { classId: 9, score: 0.99, box: cell(1) }],
  }];
  const aps = classAps(images);
  t.same(aps.map((a) => [a.classId, a.gt, Number(a.ap50.toFixed(12))]), [[0, 1, 1], [5, 1, 0]], 'class 9 (no ground truth) is left out');
  close(t, evaluate(images).map50, 0.5, 'mean of 1 and 0');
  t.same(evaluate([]), { images: 0, boxes: 0, map50: 0, map50_95: 0 });
  t.same(evaluate([{ gt: [], dets: [{ classId: 1, score: 1, box: cell(0) }] }]), { images: 1, boxes: 0, map50: 0, map50_95: 0 });
});

t.test('map - maxDetsPerClass keeps only the top-scored detections per image and class', async (t) => {
  const gt = [0, 1, 2].map((i) => ({ classId: 0, box: cell(i) }));
  const dets = gt.map((g, i) => ({ classId: 0, score: 0.9 - i * 0.1, box: g.box }));
  close(t, evaluate([{ gt, dets }], { maxDetsPerClass: 1 }).map50, 34 / 101, 'recall capped at 1/3');
  close(t, evaluate([{ gt, dets }]).map50, 1, 'all kept');
  t.throws(() => evaluate([], { maxDetsPerClass: 0 }), /maxDetsPerClass must be a positive integer/);
  t.throws(() => evaluate([{ gt: [], dets: [{ classId: 0, score: NaN, box: cell(0) }] }]), /score must be finite/);
});
