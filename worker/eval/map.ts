/**
 * COCO-style detection metrics (SPEC.md §4), pure: the semantics of
 * pycocotools' `COCOeval` for `iouType='bbox'` with one area range (all) and
 * no crowd annotations.
 *
 * - Per image and class, detections are taken in descending score order
 *   (at most `maxDetsPerClass`), each matched greedily to the unmatched
 *   ground-truth box of highest IoU at or above the threshold.
 * - Per class, detections of all images are merged by score (stable), giving
 *   cumulative precision and recall; precision is made monotone from the
 *   right (the envelope); it is sampled at 101 recall thresholds 0, 0.01 … 1
 *   with a left `searchsorted` (0 past the highest recall reached) and averaged.
 * - IoU thresholds 0.50, 0.55 … 0.95; mAP@0.5 is the first, mAP@0.5:0.95 the
 *   mean over all ten. Classes count only when they have ground truth.
 */
import type { Box } from '../../protocol/index.js';

/** A ground-truth box. */
export interface GroundTruthBox {
  classId: number;
  box: Box;
}

/** A detected box with its confidence. */
export interface ScoredBox {
  classId: number;
  score: number;
  box: Box;
}

/** Ground truth and detections of one image. */
export interface EvalImage {
  gt: GroundTruthBox[];
  dets: ScoredBox[];
}

/** Options of {@link evaluate}. */
export interface EvalOptions {
  /** Detections kept per image and class, highest scores first (pycocotools' maxDets; default 100). */
  maxDetsPerClass?: number;
}

/** The summary SPEC.md §4 prints. */
export interface EvalSummary {
  /** Images evaluated. */
  images: number;
  /** Ground-truth boxes. */
  boxes: number;
  /** mAP at IoU 0.5. */
  map50: number;
  /** mAP averaged over IoU 0.50:0.05:0.95. */
  map50_95: number;
}

/** Average precision of one class. */
export interface ClassAp {
  classId: number;
  /** Ground-truth boxes of this class. */
  gt: number;
  ap50: number;
  ap50_95: number;
}

/** `numpy.linspace(start, stop, num)` with numpy's float arithmetic (so thresholds compare bit-identically). */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const y = Array.from({ length: num }, (_, i) => i * step + start);
  y[num - 1] = stop;
  return y;
}

/** IoU thresholds 0.50:0.05:0.95, as pycocotools' `np.linspace(.5, 0.95, 10)`. */
export const IOU_THRESHOLDS: readonly number[] = Object.freeze(linspace(0.5, 0.95, 10));

/** Recall thresholds 0:0.01:1 (101 points), as pycocotools' `np.linspace(.0, 1.00, 101)`. */
export const RECALL_THRESHOLDS: readonly number[] = Object.freeze(linspace(0, 1, 101));

/** IoU of two boxes in pixels (area = width × height, as pycocotools). */
export function boxIou(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/** Per class: matched flags per IoU threshold for every kept detection, in merge order. */
interface ClassRecords {
  gt: number;
  scores: number[];
  /** matches[t][k]: detection k is a true positive at threshold t. */
  matches: boolean[][];
}

function validateBox(b: Box, where: string): void {
  if (![b.x1, b.y1, b.x2, b.y2].every(Number.isFinite)) throw new TypeError(`${where}.box must have finite coordinates`);
}

/** 101-point interpolated AP from scores-ordered match flags (pycocotools' accumulate for one class and threshold). */
function averagePrecision(tp: readonly boolean[], nGt: number): number {
  const nd = tp.length;
  const rc = new Float64Array(nd);
  const pr = new Float64Array(nd);
  let tps = 0;
  let fps = 0;
  for (let i = 0; i < nd; i++) {
    if (tp[i]) tps++;
    else fps++;
    rc[i] = tps / nGt;
    pr[i] = tps / (tps + fps + Number.EPSILON);
  }
  for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
  let sum = 0;
  let j = 0;
  for (const r of RECALL_THRESHOLDS) {
    // searchsorted(rc, r, side='left'): first index with rc[index] >= r.
    while (j < nd && rc[j] < r) j++;
    if (j < nd) sum += pr[j];
  }
  return sum / RECALL_THRESHOLDS.length;
}

/**
 * Average precision of every class that has ground truth, sorted by class id.
 * Detections of classes without ground truth are ignored.
 */
export function classAps(images: readonly EvalImage[], opts: EvalOptions = {}): ClassAp[] {
  const maxDets = opts.maxDetsPerClass ?? 100;
  if (!Number.isInteger(maxDets) || maxDets < 1) throw new TypeError('options.maxDetsPerClass must be a positive integer');
  const T = IOU_THRESHOLDS.length;
  const classes = new Map<number, ClassRecords>();
  const recordsOf = (c: number): ClassRecords => {
    let r = classes.get(c);
    if (r === undefined) {
      r = { gt: 0, scores: [], matches: Array.from({ length: T }, () => []) };
      classes.set(c, r);
    }
    return r;
  };
  // Per-class detection lists of every image, gathered first so the final merge is by (score, image, rank).
  const perClassDets = new Map<number, { score: number; flags: boolean[] }[]>();

  images.forEach((img, i) => {
    const gtByClass = new Map<number, Box[]>();
    img.gt.forEach((g, k) => {
      validateBox(g.box, `images[${i}].gt[${k}]`);
      const list = gtByClass.get(g.classId) ?? [];
      list.push(g.box);
      gtByClass.set(g.classId, list);
      recordsOf(g.classId).gt++;
    });
    const detByClass = new Map<number, ScoredBox[]>();
    img.dets.forEach((d, k) => {
      validateBox(d.box, `images[${i}].dets[${k}]`);
      if (!Number.isFinite(d.score)) throw new TypeError(`images[${i}].dets[${k}].score must be finite`);
      const list = detByClass.get(d.classId) ?? [];
      list.push(d);
      detByClass.set(d.classId, list);
    });
    for (const [c, dets] of detByClass) {
      const sorted = [...dets].sort((a, b) => b.score - a.score).slice(0, maxDets);
      const gts = gtByClass.get(c) ?? [];
      const ious = sorted.map((d) => gts.map((g) => boxIou(d.box, g)));
      const flagsPerDet = sorted.map(() => new Array<boolean>(T).fill(false));
      for (let t = 0; t < T; t++) {
        const taken = new Array<boolean>(gts.length).fill(false);
        for (let di = 0; di < sorted.length; di++) {
          let best = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10);
          let m = -1;
          for (let gi = 0; gi < gts.length; gi++) {
            if (taken[gi] || ious[di][gi] < best) continue;
            best = ious[di][gi];
            m = gi;
          }
          if (m >= 0) {
            taken[m] = true;
            flagsPerDet[di][t] = true;
          }
        }
      }
      const list = perClassDets.get(c) ?? [];
      sorted.forEach((d, di) => list.push({ score: d.score, flags: flagsPerDet[di] }));
      perClassDets.set(c, list);
    }
  });

  const out: ClassAp[] = [];
  for (const [c, rec] of [...classes].sort((a, b) => a[0] - b[0])) {
    if (rec.gt === 0) continue;
    // Stable sort keeps image order, then per-image rank, among equal scores (numpy mergesort).
    const dets = (perClassDets.get(c) ?? []).slice().sort((a, b) => b.score - a.score);
    const aps = IOU_THRESHOLDS.map((_, t) => averagePrecision(dets.map((d) => d.flags[t]), rec.gt));
    out.push({ classId: c, gt: rec.gt, ap50: aps[0], ap50_95: aps.reduce((s, v) => s + v, 0) / aps.length });
  }
  return out;
}

/**
 * COCO-style mAP@0.5 and mAP@0.5:0.95 over `images`, averaged over the classes
 * present in the ground truth (0 when there is none).
 */
export function evaluate(images: readonly EvalImage[], opts: EvalOptions = {}): EvalSummary {
  const aps = classAps(images, opts);
  const boxes = images.reduce((s, img) => s + img.gt.length, 0);
  const mean = (f: (a: ClassAp) => number) => (aps.length === 0 ? 0 : aps.reduce((s, a) => s + f(a), 0) / aps.length);
  return { images: images.length, boxes, map50: mean((a) => a.ap50), map50_95: mean((a) => a.ap50_95) };
}
