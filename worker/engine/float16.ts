/**
 * IEEE 754 half-precision helpers. Halves are stored as their 16-bit patterns
 * in `Uint16Array`s, which is what onnxruntime takes and returns for
 * `float16` tensors.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Lookup table: half bits → float32 value (65,536 entries, built once). */
let table: Float32Array | null = null;

function halfBitsToFloatSlow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The half→float lookup table (256 KiB), for hot loops that read halves directly. */
export function halfToFloatTable(): Float32Array {
  if (table === null) {
    table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = halfBitsToFloatSlow(i);
  }
  return table;
}

/** Converts one half (16-bit pattern) to a number. */
export function halfToFloat(h: number): number {
  return halfToFloatTable()[h & 0xffff]!;
}

/**
 * Converts a number to half bits with round-to-nearest-even; overflow gives
 * ±Infinity, NaN stays NaN.
 */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

/** Converts float32 values to half bits into `out` (allocated when absent). */
export function float32ToHalfArray(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (out.length < src.length) throw new RangeError('out is shorter than src');
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return out;
}

/** Converts half bits to float32 values into `out` (allocated when absent). */
export function halfToFloat32Array(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  if (out.length < src.length) throw new RangeError('out is shorter than src');
  const t = halfToFloatTable();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}
