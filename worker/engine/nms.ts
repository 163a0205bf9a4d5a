/**
 * Greedy non-maximum suppression (pure). Candidates are visited once in
 * descending score order and compared only with the boxes already kept in
 * their class (or all kept boxes when class-agnostic), so the cost is
 * O(n log n + n·kept) and stops as soon as `maxDet` boxes are kept.
 */
import type { Candidates } from './candidates.js';

/** Options of {@link nms}. */
export interface NmsOptions {
  /** Suppress a box whose IoU with a kept box exceeds this. */
  iou: number;
  /** Compare boxes of every class with each other. */
  agnostic: boolean;
  /** Keep at most this many boxes. */
  maxDet: number;
}

/** Intersection over union of boxes i and j of a flat `x1,y1,x2,y2` array. */
export function iouAt(boxes: Float32Array, i: number, j: number): number {
  const a = i * 4;
  const b = j * 4;
  const ix1 = Math.max(boxes[a]!, boxes[b]!);
  const iy1 = Math.max(boxes[a + 1]!, boxes[b + 1]!);
  const ix2 = Math.min(boxes[a + 2]!, boxes[b + 2]!);
  const iy2 = Math.min(boxes[a + 3]!, boxes[b + 3]!);
  const iw = ix2 - ix1;
  const ih = iy2 - iy1;
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const areaA = (boxes[a + 2]! - boxes[a]!) * (boxes[a + 3]! - boxes[a + 1]!);
  const areaB = (boxes[b + 2]! - boxes[b]!) * (boxes[b + 3]! - boxes[b + 1]!);
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

/** Candidate indices ordered by descending score (ties by index, so results are deterministic). */
export function scoreOrder(c: Candidates): Uint32Array {
  const order = new Uint32Array(c.count);
  for (let i = 0; i < c.count; i++) order[i] = i;
  const s = c.scores;
  order.sort((a, b) => s[b]! - s[a]! || a - b);
  return order;
}

/**
 * Returns the indices of the kept candidates, highest score first.
 * Class-aware unless `agnostic`.
 */
export function nms(c: Candidates, opts: NmsOptions): number[] {
  const order = scoreOrder(c);
  const kept: number[] = [];
  const byClass = new Map<number, number[]>();
  for (let k = 0; k < order.length && kept.length < opts.maxDet; k++) {
    const i = order[k]!;
    let bucket: number[];
    if (opts.agnostic) {
      bucket = kept;
    } else {
      const cls = c.classIds[i]!;
      let b = byClass.get(cls);
      if (!b) {
        b = [];
        byClass.set(cls, b);
      }
      bucket = b;
    }
    let suppressed = false;
    for (let m = 0; m < bucket.length; m++) {
      if (iouAt(c.boxes, i, bucket[m]!) > opts.iou) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    if (!opts.agnostic) bucket.push(i);
    kept.push(i);
  }
  return kept;
}

/** The top `maxDet` candidates by score with no suppression (end-to-end models). */
export function topK(c: Candidates, maxDet: number): number[] {
  const order = scoreOrder(c);
  return Array.from(order.subarray(0, Math.min(maxDet, order.length)));
}
