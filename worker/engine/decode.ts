/**
 * Output decoders for the four families of ../shared/models/README.md (pure).
 * Each reads one image's slice of the output tensor and appends scored boxes
 * in model-input pixels to a {@link Candidates} buffer.
 */
import { Candidates } from './candidates.js';
import { halfToFloatTable } from './float16.js';
import type { ModelFamily } from './models.js';

/** Score filtering shared by the decoders. */
export interface DecodeOptions {
  /** Keep candidates with score ≥ conf. */
  conf: number;
  /** `mask[c] === 1` keeps class c; null keeps all. */
  classMask: Uint8Array | null;
  /**
   * One candidate per class above `conf` (COCO evaluation style) instead of
   * the best class only (the YOLOX and Ultralytics default for predictions).
   */
  multiLabel: boolean;
}

/** One image's part of an output tensor. */
export interface OutputSlice {
  /** Whole output data (all images); halves when the model outputs float16. */
  data: Float32Array | Uint16Array;
  /** Element offset of this image's slice. */
  offset: number;
  /** Per-image dims: `[rows, cols]` (the batch dimension removed). */
  dims: readonly [number, number];
}

/** Thrown when an output does not have the shape its family implies. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const STRIDES = [8, 16, 32] as const;

/** Reads element i of a float32 or float16 array as a number. */
function reader(data: Float32Array | Uint16Array): Float32Array | ((i: number) => number) {
  if (data instanceof Float32Array) return data;
  const t = halfToFloatTable();
  return (i: number) => t[data[i]!]!;
}

function toFloat32(slice: OutputSlice): { d: Float32Array; o: number } {
  const r = reader(slice.data);
  if (r instanceof Float32Array) return { d: r, o: slice.offset };
  const [rows, cols] = slice.dims;
  const n = rows * cols;
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = r(slice.offset + i);
  return { d, o: 0 };
}

/** Objectness × class rows (`[cx,cy,w,h,obj,cls…]` after the box transform). */
function pushObjClassRow(
  d: Float32Array,
  base: number,
  classes: number,
  obj: number,
  cx: number,
  cy: number,
  w: number,
  h: number,
  opts: DecodeOptions,
  out: Candidates,
): void {
  const mask = opts.classMask;
  if (opts.multiLabel) {
    for (let c = 0; c < classes; c++) {
      const s = obj * d[base + 5 + c]!;
      if (s >= opts.conf && (mask === null || mask[c] === 1)) out.pushCentre(cx, cy, w, h, s, c);
    }
    return;
  }
  let best = -1;
  let bestC = 0;
  for (let c = 0; c < classes; c++) {
    const v = d[base + 5 + c]!;
    if (v > best) {
      best = v;
      bestC = c;
    }
  }
  const s = obj * best;
  if (s >= opts.conf && (mask === null || mask[bestC] === 1)) out.pushCentre(cx, cy, w, h, s, bestC);
}

/**
 * YOLOX raw head `[N, 5+C]`: rows for strides 8, 16, 32 in turn, row-major
 * cells; `cx=(tx+gx)·s`, `w=exp(tw)·s`, score `obj·cls`.
 */
export function decodeYolox(slice: OutputSlice, inputSize: number, opts: DecodeOptions, out: Candidates): void {
  const [rows, cols] = slice.dims;
  const classes = cols - 5;
  const grids = STRIDES.map((s) => Math.ceil(inputSize / s));
  const expected = grids.reduce((a, g) => a + g * g, 0);
  if (rows !== expected || classes < 1) {
    throw new DecodeError(`YOLOX output has ${rows}×${cols}; expected ${expected} rows for input ${inputSize}`);
  }
  const { d, o } = toFloat32(slice);
  let row = 0;
  for (let k = 0; k < STRIDES.length; k++) {
    const s = STRIDES[k]!;
    const g = grids[k]!;
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++, row++) {
        const base = o + row * cols;
        const obj = d[base + 4]!;
        if (obj < opts.conf) continue; // every class score is ≤ obj
        const cx = (d[base]! + gx) * s;
        const cy = (d[base + 1]! + gy) * s;
        const w = Math.exp(d[base + 2]!) * s;
        const h = Math.exp(d[base + 3]!) * s;
        pushObjClassRow(d, base, classes, obj, cx, cy, w, h, opts, out);
      }
    }
  }
}

/** Classic YOLOv5 `[N, 5+C]`: boxes already decoded, score `obj·cls`. */
export function decodeYolov5(slice: OutputSlice, opts: DecodeOptions, out: Candidates): void {
  const [rows, cols] = slice.dims;
  const classes = cols - 5;
  if (classes < 1) throw new DecodeError(`YOLOv5 output has ${cols} columns; expected 5 + classes`);
  const data = slice.data;
  if (data instanceof Float32Array) {
    for (let r = 0; r < rows; r++) {
      const base = slice.offset + r * cols;
      const obj = data[base + 4]!;
      if (obj < opts.conf) continue;
      pushObjClassRow(data, base, classes, obj, data[base]!, data[base + 1]!, data[base + 2]!, data[base + 3]!, opts, out);
    }
    return;
  }
  // float16: convert only the rows whose objectness passes.
  const t = halfToFloatTable();
  const row = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = slice.offset + r * cols;
    const obj = t[data[base + 4]!]!;
    if (obj < opts.conf) continue;
    for (let c = 0; c < cols; c++) row[c] = t[data[base + c]!]!;
    pushObjClassRow(row, 0, classes, obj, row[0]!, row[1]!, row[2]!, row[3]!, opts, out);
  }
}

/** Ultralytics v8/11 channel-major `[4+C, N]`: element (c,i) at `c·N+i`, score = class probability. */
export function decodeUltralytics(slice: OutputSlice, opts: DecodeOptions, out: Candidates): void {
  const [channels, n] = slice.dims;
  const classes = channels - 4;
  if (classes < 1) throw new DecodeError(`Ultralytics output has ${channels} channels; expected 4 + classes`);
  const { d, o } = toFloat32(slice);
  const mask = opts.classMask;
  if (opts.multiLabel) {
    for (let c = 0; c < classes; c++) {
      if (mask !== null && mask[c] !== 1) continue;
      const rowBase = o + (4 + c) * n;
      for (let i = 0; i < n; i++) {
        const s = d[rowBase + i]!;
        if (s >= opts.conf) out.pushCentre(d[o + i]!, d[o + n + i]!, d[o + 2 * n + i]!, d[o + 3 * n + i]!, s, c);
      }
    }
    return;
  }
  // Best class per column, walking rows in memory order.
  const best = new Float32Array(n).fill(-1);
  const arg = new Int32Array(n);
  for (let c = 0; c < classes; c++) {
    const rowBase = o + (4 + c) * n;
    for (let i = 0; i < n; i++) {
      const v = d[rowBase + i]!;
      if (v > best[i]!) {
        best[i] = v;
        arg[i] = c;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const s = best[i]!;
    const c = arg[i]!;
    if (s >= opts.conf && (mask === null || mask[c] === 1)) {
      out.pushCentre(d[o + i]!, d[o + n + i]!, d[o + 2 * n + i]!, d[o + 3 * n + i]!, s, c);
    }
  }
}

/** YOLOv10 end-to-end `[K, 6]`: rows `x1,y1,x2,y2,score,class`; no NMS needed. */
export function decodeYolov10(slice: OutputSlice, classCount: number, opts: DecodeOptions, out: Candidates): void {
  const [rows, cols] = slice.dims;
  if (cols !== 6) throw new DecodeError(`YOLOv10 output has ${cols} columns; expected 6`);
  const { d, o } = toFloat32(slice);
  const mask = opts.classMask;
  for (let r = 0; r < rows; r++) {
    const b = o + r * 6;
    const s = d[b + 4]!;
    if (!(s >= opts.conf)) continue;
    const c = Math.round(d[b + 5]!);
    if (c < 0 || c >= classCount) continue;
    if (mask !== null && mask[c] !== 1) continue;
    out.push(d[b]!, d[b + 1]!, d[b + 2]!, d[b + 3]!, s, c);
  }
}

/** Runs the decoder of `family` on one image's slice. */
export function decodeFamily(
  family: ModelFamily,
  slice: OutputSlice,
  inputSize: number,
  classCount: number,
  opts: DecodeOptions,
  out: Candidates = new Candidates(),
): Candidates {
  switch (family) {
    case 'yolox':
      decodeYolox(slice, inputSize, opts, out);
      break;
    case 'yolov5':
      decodeYolov5(slice, opts, out);
      break;
    case 'ultralytics':
      decodeUltralytics(slice, opts, out);
      break;
    case 'yolov10':
      decodeYolov10(slice, classCount, opts, out);
      break;
  }
  return out;
}

/** True for families whose output still needs NMS. */
export function familyNeedsNms(family: ModelFamily): boolean {
  return family !== 'yolov10';
}
