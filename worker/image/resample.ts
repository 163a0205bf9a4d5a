/**
 * The fused pass from decoded HWC uint8 pixels to a planar letterboxed
 * tensor: bilinear resize, channel order, padding, scaling and element type
 * in one loop, writing every tensor element exactly once.
 *
 * The bilinear resize reproduces OpenCV's `cv2.resize(..., INTER_LINEAR)`
 * for 8-bit images (the call both YOLOX and Ultralytics were trained with):
 * half-pixel centres, 11-bit fixed-point weights, a horizontal pass per
 * source row and a vertical blend rounded like OpenCV's SIMD path, so the
 * resized pixels are the integers OpenCV produces (off by one at most).
 *
 * The work is done by the WebAssembly SIMD kernel of `simd-kernel.ts`
 * (same arithmetic, about three times faster); the plain JS loops below
 * serve very large sources and runtimes without WebAssembly SIMD.
 */

import { HROW_TAP_BYTES, ensureKernelMemory, simdKernel } from './simd-kernel.js';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;
/** Largest decoded image (bytes) copied into the SIMD kernel's memory (which keeps its size); larger ones use the JS pass. */
const SIMD_MAX_SOURCE_BYTES = 32 * 1024 * 1024;

/** Decoded pixels as sharp's `raw()` hands them over. */
export interface RawPixels {
  /** Interleaved uint8 samples, `channels` per pixel, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA); alpha is ignored like OpenCV's IMREAD_COLOR. */
  channels: number;
}

/** Where and how the resized image goes in the tensor. */
export interface FillLayout {
  /** Side of the square tensor. */
  size: number;
  /** Resized image width and height inside the tensor. */
  newW: number;
  newH: number;
  /** Left and top pad. */
  padX: number;
  padY: number;
  /** Output plane (0, 1, 2) of the red, green and blue channels: [0, 1, 2] for RGB, [2, 1, 0] for BGR. */
  channelPlane: readonly [number, number, number];
  /** Divisor of pixel values (1 or 255); `lut[v]` is `v / scale` as the output type. */
  scale: number;
  /** Value written for pixel value v (0..255), already scaled and typed. */
  lut: Float32Array | Uint16Array;
  /** Value written for the pad (`lut[padValue]`). */
  padElement: number;
  /** Pad pixel value 0..255 before scaling. */
  padValue: number;
  /** Use the WebAssembly SIMD kernel when available (default true; false forces the JS loops). */
  simd?: boolean;
}

/** Per-axis tap table: first source index (times `step`), second index, and the two 11-bit weights. */
interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Int32Array;
  w1: Int32Array;
}

const f32 = new Float32Array(1);

/** Tap tables by source length, destination length and step: a stream repeats the same few geometries every frame. */
const tapCache = new Map<string, Taps>();
const TAP_CACHE_MAX = 32;

function taps(srcLen: number, dstLen: number, step: number): Taps {
  const key = `${srcLen}/${dstLen}/${step}`;
  let t = tapCache.get(key);
  if (t === undefined) {
    if (tapCache.size >= TAP_CACHE_MAX) tapCache.clear();
    t = computeTaps(srcLen, dstLen, step);
    tapCache.set(key, t);
  }
  return t;
}

function computeTaps(srcLen: number, dstLen: number, step: number): Taps {
  const i0 = new Int32Array(dstLen);
  const i1 = new Int32Array(dstLen);
  const w0 = new Int32Array(dstLen);
  const w1 = new Int32Array(dstLen);
  // OpenCV: scale = 1 / (dst / src); fx is computed in double then stored as float.
  const scale = 1 / (dstLen / srcLen);
  for (let d = 0; d < dstLen; d++) {
    f32[0] = (d + 0.5) * scale - 0.5;
    let f = f32[0];
    let s = Math.floor(f);
    f32[0] = f - s;
    f = f32[0];
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= srcLen - 1) {
      s = srcLen - 1;
      f = 0;
    }
    // saturate_cast<short>(x * 2048) rounds half away from zero for these positive values.
    const a0 = Math.round((1 - f) * COEF_SCALE);
    const a1 = Math.round(f * COEF_SCALE);
    i0[d] = s * step;
    i1[d] = Math.min(s + 1, srcLen - 1) * step;
    w0[d] = a0;
    w1[d] = a1;
  }
  return { i0, i1, w0, w1 };
}

/** Horizontal pass of one source row into `dst` (newW·3 ints: R, G, B scaled by 2048, then >> 4 as OpenCV's vertical pass takes them). */
function hpass(src: Uint8Array, rowStart: number, tx: Taps, dst: Int32Array, newW: number): void {
  const i0 = tx.i0;
  const i1 = tx.i1;
  const w0 = tx.w0;
  const w1 = tx.w1;
  for (let x = 0, o = 0; x < newW; x++, o += 3) {
    const p = rowStart + i0[x];
    const q = rowStart + i1[x];
    const a = w0[x];
    const b = w1[x];
    dst[o] = (src[p] * a + src[q] * b) >> 4;
    dst[o + 1] = (src[p + 1] * a + src[q + 1] * b) >> 4;
    dst[o + 2] = (src[p + 2] * a + src[q + 2] * b) >> 4;
  }
}

/**
 * Fills `out` (length 3·size·size, planar) from `px` per `layout`. When the
 * source already has the target size the resize degenerates to a copy.
 */
export function fillLetterbox(px: RawPixels, layout: FillLayout, out: Float32Array | Uint16Array): void {
  const { size, newW, newH, padX, padY, lut, padElement } = layout;
  const ch = px.channels;
  if (ch !== 3 && ch !== 4) throw new RangeError(`fillLetterbox needs 3 or 4 channels, got ${ch}`);
  const area = size * size;
  const pr = layout.channelPlane[0] * area;
  const pg = layout.channelPlane[1] * area;
  const pb = layout.channelPlane[2] * area;
  const src = px.data;
  const srcStride = px.width * ch;
  if (layout.simd !== false && src.length <= SIMD_MAX_SOURCE_BYTES && fillSimd(px, layout, out)) return;

  // Pad rows above and below, and the pad columns beside every image row.
  const below = (padY + newH) * size;
  for (let p = 0; p < 3 * area; p += area) {
    out.fill(padElement, p, p + padY * size);
    out.fill(padElement, p + below, p + area);
  }
  const right = size - padX - newW;
  const padRow = (rowOut: number) => {
    for (let p = 0; p < 3 * area; p += area) {
      if (padX > 0) out.fill(padElement, p + rowOut, p + rowOut + padX);
      if (right > 0) out.fill(padElement, p + rowOut + padX + newW, p + rowOut + size);
    }
  };

  if (px.width === newW && px.height === newH) {
    for (let y = 0; y < newH; y++) {
      const rowOut = (padY + y) * size;
      if (padX > 0 || right > 0) padRow(rowOut);
      let s = y * srcStride;
      const end = rowOut + padX + newW;
      for (let o = rowOut + padX; o < end; o++, s += ch) {
        out[pr + o] = lut[src[s]];
        out[pg + o] = lut[src[s + 1]];
        out[pb + o] = lut[src[s + 2]];
      }
    }
    return;
  }

  const tx = taps(px.width, newW, ch);
  const ty = taps(px.height, newH, 1);
  let rowA = new Int32Array(newW * 3);
  let rowB = new Int32Array(newW * 3);
  let idxA = -1;
  let idxB = -1;
  for (let y = 0; y < newH; y++) {
    const sy0 = ty.i0[y];
    const sy1 = ty.i1[y];
    // Keep the two most recent horizontal rows, as OpenCV's ring buffer does.
    if (idxA !== sy0) {
      if (idxB === sy0) {
        const t = rowA;
        rowA = rowB;
        rowB = t;
        idxA = sy0;
        idxB = -1;
      } else {
        hpass(src, sy0 * srcStride, tx, rowA, newW);
        idxA = sy0;
      }
    }
    if (idxB !== sy1 && sy1 !== sy0) {
      hpass(src, sy1 * srcStride, tx, rowB, newW);
      idxB = sy1;
    }
    const h0 = rowA;
    const h1 = sy1 === sy0 ? rowA : rowB;
    const b0 = ty.w0[y];
    const b1 = ty.w1[y];
    const rowOut = (padY + y) * size;
    if (padX > 0 || right > 0) padRow(rowOut);
    const end = rowOut + padX + newW;
    for (let o = rowOut + padX, k = 0; o < end; o++, k += 3) {
      // OpenCV's VResizeLinearVec_32s8u: mulhi(S >> 4, beta) summed, then (+2) >> 2.
      out[pr + o] = lut[(((h0[k] * b0) >> 16) + ((h1[k] * b1) >> 16) + 2) >> 2];
      out[pg + o] = lut[(((h0[k + 1] * b0) >> 16) + ((h1[k + 1] * b1) >> 16) + 2) >> 2];
      out[pb + o] = lut[(((h0[k + 2] * b0) >> 16) + ((h1[k + 2] * b1) >> 16) + 2) >> 2];
    }
  }
}

const align16 = (n: number) => (n + 15) & ~15;

/**
 * {@link fillLetterbox} through the WebAssembly SIMD kernel: same taps, same
 * integer arithmetic, same row cache. The source is copied into the kernel's
 * memory, the planes are produced there (each with a little slack for the
 * 4-wide tail) and copied into `out`: as floats directly, or as integer
 * pixel values mapped through `lut` for float16. Returns false when the
 * kernel is unavailable.
 */
function fillSimd(px: RawPixels, layout: FillLayout, out: Float32Array | Uint16Array): boolean {
  const k = simdKernel();
  if (k === null) return false;
  const { size, newW, newH, padX, padY, scale } = layout;
  const floats = out instanceof Float32Array;
  const padElement = floats ? layout.padElement : layout.padValue;
  const area = size * size;
  const ch = px.channels;
  const srcStride = px.width * ch;
  const tapsOff = align16(px.data.length);
  // hrow works four columns at a time: the tap table gets that many entries, the last ones zero.
  const tapCols = (newW + 3) & ~3;
  const rowStride = align16(newW * 4 + 16);
  const rowA0 = tapsOff + align16(tapCols * HROW_TAP_BYTES);
  const rowB0 = rowA0 + 3 * rowStride;
  const planeStride = align16(area * 4 + 16);
  const outOff = rowB0 + 3 * rowStride;
  ensureKernelMemory(k, outOff + 3 * planeStride);
  const buf = k.memory.buffer;
  new Uint8Array(buf, 0, px.data.length).set(px.data);
  const tx = taps(px.width, newW, ch);
  const ty = taps(px.height, newH, 1);
  const tapMem = new Int32Array(buf, tapsOff, (tapCols * HROW_TAP_BYTES) / 4);
  tapMem.fill(0, (newW * HROW_TAP_BYTES) / 4);
  const tapI32 = HROW_TAP_BYTES / 4;
  for (let x = 0, o = 0; x < newW; x++, o += tapI32) {
    tapMem[o] = tx.i0[x];
    tapMem[o + 1] = tx.i1[x];
    // (a, b) as two i16 in one little-endian i32, four times.
    const ab = tx.w0[x] | (tx.w1[x] << 16);
    tapMem[o + 4] = ab;
    tapMem[o + 5] = ab;
    tapMem[o + 6] = ab;
    tapMem[o + 7] = ab;
  }
  const planeOf = [layout.channelPlane[0] * planeStride, layout.channelPlane[1] * planeStride, layout.channelPlane[2] * planeStride];
  let rowA = rowA0;
  let rowB = rowB0;
  let idxA = -1;
  let idxB = -1;
  for (let y = 0; y < newH; y++) {
    const sy0 = ty.i0[y];
    const sy1 = ty.i1[y];
    if (idxA !== sy0) {
      if (idxB === sy0) {
        const t = rowA;
        rowA = rowB;
        rowB = t;
        idxA = sy0;
        idxB = -1;
      } else {
        k.hrow(sy0 * srcStride, tapsOff, rowA, rowStride, newW);
        idxA = sy0;
      }
    }
    if (idxB !== sy1 && sy1 !== sy0) {
      k.hrow(sy1 * srcStride, tapsOff, rowB, rowStride, newW);
      idxB = sy1;
    }
    const h1 = sy1 === sy0 ? rowA : rowB;
    const at = ((padY + y) * size + padX) * 4;
    const vrow = !floats ? k.vrowi : scale === 1 ? k.vrow1 : k.vrow;
    for (let c = 0; c < 3; c++) {
      vrow(rowA + c * rowStride, h1 + c * rowStride, ty.w0[y], ty.w1[y], outOff + planeOf[c] + at, newW, scale);
    }
  }
  // Pads last: they also overwrite the 4-wide tails written past each image row.
  const planes = floats ? new Float32Array(buf, outOff, (3 * planeStride) / 4) : new Int32Array(buf, outOff, (3 * planeStride) / 4);
  const right = size - padX - newW;
  const below = (padY + newH) * size;
  for (let p = 0; p < 3; p++) {
    const base = (p * planeStride) / 4;
    planes.fill(padElement, base, base + padY * size);
    planes.fill(padElement, base + below, base + area);
    for (let y = padY; y < padY + newH; y++) {
      const row = base + y * size;
      if (padX > 0) planes.fill(padElement, row, row + padX);
      if (right > 0) planes.fill(padElement, row + padX + newW, row + size);
    }
    if (out instanceof Float32Array) {
      out.set(planes.subarray(base, base + area), p * area);
    } else {
      const lut = layout.lut;
      for (let i = 0, o = p * area; i < area; i++, o++) out[o] = lut[planes[base + i]];
    }
  }
  return true;
}
