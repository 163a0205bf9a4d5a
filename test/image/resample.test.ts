import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { fillLetterbox } from '../../worker/image/resample.js';
import { simdKernel } from '../../worker/image/simd-kernel.js';
import { image } from '../helpers/env.js';

async function decode(name: string, opts: { alpha?: boolean } = {}) {
  let p = sharp(readFileSync(image(name)), { ignoreIcc: true });
  if (opts.alpha) p = p.ensureAlpha(0.5);
  const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

t.test('resample - the WebAssembly SIMD kernel assembles and instantiates', async (t) => {
  t.ok(simdKernel(), 'Node 20 has WebAssembly SIMD');
});

t.test('resample - SIMD and JS passes give identical float32 and float16 tensors', async (t) => {
  const cases = [
    { img: 'coco128-train2017-000000000257.jpg', size: 416, newW: 416, newH: 312, padX: 0, padY: 0, scale: 1, order: [2, 1, 0] },
    { img: 'bus.jpg', size: 320, newW: 240, newH: 320, padX: 40, padY: 0, scale: 255, order: [0, 1, 2] },
    { img: 'dog.jpg', size: 256, newW: 253, newH: 190, padX: 1, padY: 33, scale: 255, order: [0, 1, 2] },
    { img: 'coco128-train2017-000000000257.jpg', size: 640, newW: 640, newH: 480, padX: 0, padY: 80, scale: 255, order: [0, 1, 2] },
    { img: 'zidane.jpg', size: 640, newW: 640, newH: 360, padX: 0, padY: 140, scale: 255, order: [0, 1, 2] },
    { img: 'coco128-train2017-000000000071.jpg', size: 999, newW: 997, newH: 664, padX: 1, padY: 167, scale: 1, order: [2, 1, 0], alpha: true },
  ];
  for (const c of cases) {
    const px = await decode(c.img, { alpha: c.alpha });
    const what = `${c.img} into ${c.size} (${c.newW}x${c.newH} at ${c.padX},${c.padY}${c.alpha ? ', RGBA' : ''})`;
    const base = { size: c.size, newW: c.newW, newH: c.newH, padX: c.padX, padY: c.padY, channelPlane: c.order as [number, number, number], scale: c.scale, padValue: 114 };
    const f32 = Float32Array.from({ length: 256 }, (_, i) => i / c.scale);
    // A float16 "table" of the identity makes the half path yield the integer pixel values themselves.
    const ident = Uint16Array.from({ length: 256 }, (_, i) => i);
    const n = 3 * c.size * c.size;
    const simd = new Float32Array(n).fill(NaN);
    const js = new Float32Array(n).fill(NaN);
    const simdInts = new Uint16Array(n).fill(999);
    const jsInts = new Uint16Array(n).fill(999);
    fillLetterbox(px, { ...base, lut: f32, padElement: f32[114] }, simd);
    fillLetterbox(px, { ...base, lut: f32, padElement: f32[114], simd: false }, js);
    fillLetterbox(px, { ...base, lut: ident, padElement: 114 }, simdInts);
    fillLetterbox(px, { ...base, lut: ident, padElement: 114, simd: false }, jsInts);
    let mismatches = 0;
    for (let i = 0; i < n; i++) {
      if (simd[i] !== js[i] || simdInts[i] !== jsInts[i] || simd[i] !== f32[jsInts[i]]) mismatches++;
    }
    t.equal(mismatches, 0, what);
  }
});

t.test('resample - refuses layouts it cannot fill', async (t) => {
  const px = { data: new Uint8Array(16), width: 4, height: 4, channels: 1 };
  const lut = new Float32Array(256);
  t.throws(() => fillLetterbox(px, { size: 8, newW: 4, newH: 4, padX: 0, padY: 0, channelPlane: [0, 1, 2], scale: 1, lut, padElement: 0, padValue: 0 }, new Float32Array(192)), RangeError);
});
