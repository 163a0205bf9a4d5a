/**
 * The fused letterbox pass of `resample.ts` as a small WebAssembly module
 * with 128-bit SIMD, assembled here from its instructions (no toolchain, no
 * binary blob). `hrow` is OpenCV's horizontal pass for one source row
 * (every output pixel gathers its own two source pixels, then one SIMD dot
 * product weighs all three channels); `vrow` the
 * vertical blend, rounding and float conversion four pixels at a time;
 * `vrow1` the same for scale 1 without the division; `vrowi` stops at the
 * integer pixel values, which float16 output maps
 * through a table. The arithmetic is that of the JS pass, so both produce
 * identical tensors (tested).
 */

// ---- a minimal WebAssembly assembler ------------------------------------------------

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

/** Instruction encoders (only what the kernel uses). */
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  mul: [0x6c],
  shl: [0x74],
  shrS: [0x75],
  geS: [0x4e],
  load: (offset: number) => [0x28, 2, ...uleb(offset)],
  load8u: (offset: number) => [0x2d, 0, ...uleb(offset)],
  store: (offset: number) => [0x36, 2, ...uleb(offset)],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  end: [0x0b],
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
};
const v128Load = op.simd(0x00, 4, 0);
const v128Store = op.simd(0x0b, 4, 0);
const i32x4Splat = op.simd(0x11);
const f32x4Splat = op.simd(0x13);
const i32x4ShrS = op.simd(0xac);
const i32x4Add = op.simd(0xae);
const i32x4Mul = op.simd(0xb5);
const f32x4Div = op.simd(0xe7);
const f32x4ConvertI32x4S = op.simd(0xfa);
const v128LoadAt = (offset: number) => op.simd(0x00, 4, ...uleb(offset));
const v128Load32Zero = op.simd(0x5c, 2, 0);
const v128Load32Lane = (lane: number) => op.simd(0x56, 2, 0, lane);
const v128Const = (bytes: number[]) => op.simd(0x0c, ...bytes);
const i8x16Shuffle = (lanes: number[]) => op.simd(0x0d, ...lanes);
const i32x4DotI16x8S = op.simd(0xba);

function body(locals: Array<[number, number]>, code: number[][]): number[] {
  const bytes = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code.flat(), ...op.end];
  return [...uleb(bytes.length), ...bytes];
}

/** Bytes per output column in hrow's tap table: p, q (i32), 8 bytes unused, then the weights a, b, a, b, a, b, a, b (i16). */
export const HROW_TAP_BYTES = 32;

/**
 * hrow(srcRow, taps, dst, planeBytes, newW): for x < newW rounded up to 4
 * (the tap table has that many entries), with taps at `taps + 32x` =
 * [p, q, -, -, (a, b)×4 as i16] (byte offsets of the two source pixels in
 * the row, 11-bit weights), writes (S[p+c]·a + S[q+c]·b) >> 4 as i32 to
 * `dst + c·planeBytes + 4x` for channels c = 0, 1, 2. Per column: the two
 * pixels' bytes are interleaved into i16 pairs (one shuffle) and one
 * `i32x4.dot_i16x8_s` forms all three sums exactly (products < 2^20); the
 * fourth lane (the next pixel's first byte, or alpha) is discarded. Four
 * columns at a time, transposed with shuffles into one store per channel.
 */
function hrowBody(): number[] {
  const [srcRow, taps, dst, planeBytes, newW, x, d, plane2] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [v0, t, u] = [8, 12, 13];
  // Bytes 0..3 are p's R, G, B, X and 4..7 q's; 16 is a zero byte of the second operand.
  const interleave = [0, 16, 4, 16, 1, 16, 5, 16, 2, 16, 6, 16, 3, 16, 7, 16];
  // i8x16.shuffle lanes picking 32-bit lanes: ['a', i] from the first operand, ['b', i] from the second.
  const pick = (...lanes: Array<['a' | 'b', number]>) => lanes.flatMap(([from, i]) => [0, 1, 2, 3].map((k) => (from === 'b' ? 16 : 0) + 4 * i + k));
  const column = (j: number) => [
    ...[...op.get(srcRow), ...op.get(taps), ...op.load(4 + HROW_TAP_BYTES * j), ...op.add],
    ...[...op.get(srcRow), ...op.get(taps), ...op.load(HROW_TAP_BYTES * j), ...op.add, ...v128Load32Zero],
    ...v128Load32Lane(1),
    ...[...v128Const(new Array(16).fill(0)), ...i8x16Shuffle(interleave)],
    ...[...op.get(taps), ...v128LoadAt(16 + HROW_TAP_BYTES * j), ...i32x4DotI16x8S, ...op.i32(4), ...i32x4ShrS, ...op.set(v0 + j)],
  ];
  const pair = (a: number, b: number, lanes: number[], into: number) => [...op.get(a), ...op.get(b), ...i8x16Shuffle(lanes), ...op.set(into)];
  const store = (addr: number[], lanes: number[]) => [...addr, ...op.get(t), ...op.get(u), ...i8x16Shuffle(lanes), ...v128Store];
  const low = pick(['a', 0], ['a', 1], ['b', 0], ['b', 1]);
  const high = pick(['a', 2], ['a', 3], ['b', 2], ['b', 3]);
  return body([[3, I32], [6, V128]], [
    [...op.i32(0), ...op.set(x), ...op.get(dst), ...op.set(d)],
    [...op.get(planeBytes), ...op.i32(1), ...op.shl, ...op.set(plane2)],
    [...op.block, ...op.loop],
    [...op.get(x), ...op.get(newW), ...op.geS, ...op.brIf(1)],
    column(0),
    column(1),
    column(2),
    column(3),
    // vj = [Rj Gj Bj Xj] -> t = [R0 R1 G0 G1], u = [R2 R3 G2 G3] -> [R0..R3], [G0..G3].
    pair(v0, v0 + 1, pick(['a', 0], ['b', 0], ['a', 1], ['b', 1]), t),
    pair(v0 + 2, v0 + 3, pick(['a', 0], ['b', 0], ['a', 1], ['b', 1]), u),
    store(op.get(d), low),
    store([...op.get(d), ...op.get(planeBytes), ...op.add], high),
    // t = [B0 B1 X0 X1], u = [B2 B3 X2 X3] -> [B0..B3].
    pair(v0, v0 + 1, pick(['a', 2], ['b', 2], ['a', 3], ['b', 3]), t),
    pair(v0 + 2, v0 + 3, pick(['a', 2], ['b', 2], ['a', 3], ['b', 3]), u),
    store([...op.get(d), ...op.get(plane2), ...op.add], low),
    [...op.get(x), ...op.i32(4), ...op.add, ...op.set(x)],
    [...op.get(taps), ...op.i32(4 * HROW_TAP_BYTES), ...op.add, ...op.set(taps)],
    [...op.get(d), ...op.i32(16), ...op.add, ...op.set(d)],
    [...op.br(0), ...op.end, ...op.end],
  ]);
}

/**
 * vrow(h0, h1, b0, b1, out, n, scale): for x < n (rounded up to 4), writes
 * f32((((h0[x]·b0) >> 16) + ((h1[x]·b1) >> 16) + 2) >> 2) / scale to out[x]
 * (`unscaled`: without the division, for scale 1, where it changes nothing
 * but costs a fifth of the pass; `ints`: the i32 pixel value itself; both
 * leave `scale` unused).
 */
function vrowBody(kind: 'scaled' | 'unscaled' | 'ints'): number[] {
  const [h0, h1, b0, b1, out, n, scale, x, vb0, vb1, vs, v2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const step = (local: number, by: number) => [...op.get(local), ...op.i32(by), ...op.add, ...op.set(local)];
  return body([[1, I32], [4, V128]], [
    [...op.get(b0), ...i32x4Splat, ...op.set(vb0)],
    [...op.get(b1), ...i32x4Splat, ...op.set(vb1)],
    [...op.get(scale), ...f32x4Splat, ...op.set(vs)],
    [...op.i32(2), ...i32x4Splat, ...op.set(v2)],
    [...op.i32(0), ...op.set(x)],
    [...op.block, ...op.loop],
    [...op.get(x), ...op.get(n), ...op.geS, ...op.brIf(1)],
    op.get(out),
    [...op.get(h0), ...v128Load, ...op.get(vb0), ...i32x4Mul, ...op.i32(16), ...i32x4ShrS],
    [...op.get(h1), ...v128Load, ...op.get(vb1), ...i32x4Mul, ...op.i32(16), ...i32x4ShrS],
    [...i32x4Add, ...op.get(v2), ...i32x4Add, ...op.i32(2), ...i32x4ShrS],
    kind === 'ints' ? v128Store : kind === 'unscaled' ? [...f32x4ConvertI32x4S, ...v128Store] : [...f32x4ConvertI32x4S, ...op.get(vs), ...f32x4Div, ...v128Store],
    step(h0, 16),
    step(h1, 16),
    step(out, 16),
    step(x, 4),
    [...op.br(0), ...op.end, ...op.end],
  ]);
}

function assemble(): Uint8Array {
  const types = vec([
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [F32]]), ...vec([])],
  ]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(3, vec([[0], [1], [1], [1]])),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([
      [...name('mem'), 0x02, 0],
      [...name('hrow'), 0x00, 0],
      [...name('vrow'), 0x00, 1],
      [...name('vrowi'), 0x00, 2],
      [...name('vrow1'), 0x00, 3],
    ])),
    ...section(10, vec([hrowBody(), vrowBody('scaled'), vrowBody('ints'), vrowBody('unscaled')])),
  ];
  return Uint8Array.from(bytes);
}

// ---- the driver ----------------------------------------------------------------------

/** The part of `WebAssembly.Memory` used here (the compiler's lib has no WebAssembly types). */
export interface KernelMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** The instantiated kernel. */
export interface SimdKernel {
  memory: KernelMemory;
  hrow(srcRow: number, taps: number, dst: number, planeBytes: number, newW: number): void;
  vrow(h0: number, h1: number, b0: number, b1: number, out: number, n: number, scale: number): void;
  /** {@link SimdKernel.vrow} writing the integer pixel values (i32) instead of floats. */
  vrowi(h0: number, h1: number, b0: number, b1: number, out: number, n: number, scale: number): void;
  /** {@link SimdKernel.vrow} for scale 1: the same floats without the division. */
  vrow1(h0: number, h1: number, b0: number, b1: number, out: number, n: number, scale: number): void;
}

let kernel: SimdKernel | null | undefined;

/** The per-thread kernel instance, or null where WebAssembly SIMD is unavailable. */
export function simdKernel(): SimdKernel | null {
  if (kernel === undefined) {
    try {
      const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
      const e = new wasm.Instance(new wasm.Module(assemble()), {}).exports;
      kernel = { memory: e.mem as KernelMemory, hrow: e.hrow as SimdKernel['hrow'], vrow: e.vrow as SimdKernel['vrow'], vrowi: e.vrowi as SimdKernel['vrowi'], vrow1: e.vrow1 as SimdKernel['vrow1'] };
    } catch {
      kernel = null;
    }
  }
  return kernel;
}

/** Ensures the kernel's memory holds at least `bytes`. */
export function ensureKernelMemory(k: SimdKernel, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
}
