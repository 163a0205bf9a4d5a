import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { isYoloscaleError } from '../../protocol/index.js';
import { letterboxLayout, prepareImage } from '../../worker/image/index.js';
import type { LetterboxSpec } from '../../worker/image/index.js';
import { image } from '../helpers/env.js';

const plaza = readFileSync(image('coco128-train2017-000000000257.jpg')); // 640x480
const bus = readFileSync(image('bus.jpg')); // 810x1080, portrait
const zidane = readFileSync(image('zidane.jpg')); // 1280x720

const YOLOX: LetterboxSpec = { size: 416, channelOrder: 'bgr', scale: 1, placement: 'top-left', padValue: 114, dtype: 'float32' };
const ULTRA = (size: number): LetterboxSpec => ({ size, channelOrder: 'rgb', scale: 255, placement: 'centre', padValue: 114, dtype: 'float32' });

async function rgb(bytes: Buffer) {
  const { data, info } = await sharp(bytes, { ignoreIcc: true, autoOrient: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Textbook bilinear with half-pixel centres (OpenCV's convention), in doubles, rounded. */
function bilinear(px: { data: Buffer; width: number; height: number }, newW: number, newH: number, x: number, y: number, c: number): number {
  const fx = Math.max(0, (x + 0.5) * (px.width / newW) - 0.5);
  const fy = Math.max(0, (y + 0.5) * (px.height / newH) - 0.5);
  const x0 = Math.min(Math.floor(fx), px.width - 1);
  const y0 = Math.min(Math.floor(fy), px.height - 1);
  const x1 = Math.min(x0 + 1, px.width - 1);
  const y1 = Math.min(y0 + 1, px.height - 1);
  const ax = fx - x0;
  const ay = fy - y0;
  const at = (xx: number, yy: number) => px.data[(yy * px.width + xx) * 3 + c];
  return Math.round((1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) + ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1)));
}

function plane(data: Float32Array | Uint16Array, size: number, p: number, x: number, y: number): number {
  return data[p * size * size + y * size + x];
}

t.test('prepare - letterbox geometry follows YOLOX and Ultralytics exactly', async (t) => {
  t.same(letterboxLayout(640, 480, 416, 'top-left'), { ratio: 0.65, newW: 416, newH: 312, padX: 0, padY: 0 });
  t.same(letterboxLayout(810, 1080, 416, 'top-left'), { ratio: 416 / 1080, newW: 312, newH: 416, padX: 0, padY: 0 }, 'portrait: int() truncates 312.0');
  t.same(letterboxLayout(640, 480, 320, 'centre'), { ratio: 0.5, newW: 320, newH: 240, padX: 0, padY: 40 });
  t.same(letterboxLayout(810, 1080, 320, 'centre'), { ratio: 320 / 1080, newW: 240, newH: 320, padX: 40, padY: 0 });
  // 500x333 into 320: r = 0.64, h*r = 213.12 -> 213; free 107 -> top round(53.5 - 0.1) = 53, bottom 54.
  t.same(letterboxLayout(500, 333, 320, 'centre'), { ratio: 0.64, newW: 320, newH: 213, padX: 0, padY: 53 });
  // YOLOX truncates where Ultralytics rounds: 1000x999 at 416 -> 415.58...
  t.equal(letterboxLayout(1000, 999, 416, 'top-left').newH, 415);
  t.equal(letterboxLayout(1000, 999, 416, 'centre').newH, 416);
});

t.test('prepare - yolox tensor: top-left, BGR, 0..255, pad 114, pixels are OpenCV bilinear', async (t) => {
  const r = await prepareImage(plaza, YOLOX);
  t.ok(r.data instanceof Float32Array);
  t.equal(r.data.length, 3 * 416 * 416);
  t.same({ width: r.width, height: r.height, ratio: r.ratio, padX: r.padX, padY: r.padY }, { width: 640, height: 480, ratio: 0.65, padX: 0, padY: 0 });
  for (let p = 0; p < 3; p++) {
    for (const [x, y] of [[0, 312], [415, 415], [200, 380]]) t.equal(plane(r.data, 416, p, x, y), 114, `pad at ${x},${y} plane ${p}`);
  }
  const px = await rgb(plaza);
  let worst = 0;
  let bgrHolds = true;
  for (const [x, y] of [[0, 0], [415, 311], [208, 156], [100, 37], [333, 290], [17, 250]]) {
    for (let c = 0; c < 3; c++) {
      const ref = bilinear(px, 416, 312, x, y, c);
      const got = plane(r.data, 416, 2 - c, x, y); // plane 0 is blue
      worst = Math.max(worst, Math.abs(ref - got));
      if (!Number.isInteger(got)) bgrHolds = false;
    }
  }
  t.ok(worst <= 1, `image pixels match a reference bilinear resize within 1 (worst ${worst})`);
  t.ok(bgrHolds, 'values are integers 0..255, not scaled');
  t.not(plane(r.data, 416, 0, 100, 100), plane(r.data, 416, 2, 100, 100), 'blue and red planes differ on a colour photo');
});

t.test('prepare - ultralytics tensor: centred, RGB, /255, landscape and portrait', async (t) => {
  const land = await prepareImage(plaza, ULTRA(320));
  t.same({ padX: land.padX, padY: land.padY, ratio: land.ratio }, { padX: 0, padY: 40, ratio: 0.5 });
  const pad = 114 / 255;
  t.equal(plane(land.data, 320, 0, 160, 39), Math.fround(pad), 'last top pad row');
  t.equal(plane(land.data, 320, 1, 160, 280), Math.fround(pad), 'first bottom pad row');
  t.not(plane(land.data, 320, 1, 160, 40), Math.fround(pad), 'first image row is image');
  const px = await rgb(plaza);
  const ref = bilinear(px, 320, 240, 160, 120, 0) / 255;
  t.ok(Math.abs(plane(land.data, 320, 0, 160, 160) - ref) <= 1 / 255 + 1e-6, 'red plane first, scaled to 0..1');

  const portrait = await prepareImage(bus, ULTRA(320));
  t.same({ width: portrait.width, height: portrait.height, padX: portrait.padX, padY: portrait.padY }, { width: 810, height: 1080, padX: 40, padY: 0 });
  t.equal(plane(portrait.data, 320, 2, 39, 160), Math.fround(pad), 'left pad');
  t.equal(plane(portrait.data, 320, 2, 280, 160), Math.fround(pad), 'right pad');
  t.not(plane(portrait.data, 320, 2, 40, 160), Math.fround(pad));
});

t.test('prepare - large JPEG frames go through libvips shrink-on-load and still land right', async (t) => {
  // 1280x720 into 320: shrink 4, libvips path; the result equals sharp's own resize.
  const r = await prepareImage(zidane, ULTRA(320));
  t.same({ width: r.width, height: r.height, padX: r.padX, padY: r.padY, ratio: r.ratio }, { width: 1280, height: 720, padX: 0, padY: 70, ratio: 0.25 });
  const { data } = await sharp(zidane, { ignoreIcc: true })
    .resize(320, 180, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  for (const [x, y] of [[160, 90], [10, 10], [300, 170]]) {
    for (let c = 0; c < 3; c++) t.equal(plane(r.data, 320, c, x, y + 70), Math.fround(data[(y * 320 + x) * 3 + c] / 255), `pixel ${x},${y} channel ${c}`);
  }
  t.equal(plane(r.data, 320, 0, 5, 69), Math.fround(114 / 255));
  t.equal(plane(r.data, 320, 0, 5, 250), Math.fround(114 / 255));
});

t.test('prepare - float16 output and reuse of the out buffer', async (t) => {
  const f32 = await prepareImage(plaza, ULTRA(256));
  const out = new Uint16Array(3 * 256 * 256);
  const f16 = await prepareImage(plaza, { ...ULTRA(256), dtype: 'float16' }, out);
  t.equal(f16.data, out, 'writes into the given buffer');
  const half = (h: number) => {
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    return e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  };
  let worst = 0;
  for (let i = 0; i < out.length; i += 97) worst = Math.max(worst, Math.abs(half(out[i]) - f32.data[i]));
  t.ok(worst < 5e-4, `halves decode to the float32 values (worst ${worst})`);
  t.equal(out[0], 0x3727, '114/255 as half bits (numpy: float16(114/255) = 0x3727)');

  const reuse = new Float32Array(3 * 416 * 416).fill(-1);
  await prepareImage(bus, YOLOX, reuse);
  await prepareImage(plaza, YOLOX, reuse);
  t.equal(reuse[416 * 415 + 415], 114, 'pad from the second image overwrites the first image');
  t.notOk(reuse.includes(-1), 'every element written');
  await t.rejects(prepareImage(plaza, YOLOX, new Float32Array(10)), TypeError);
  await t.rejects(prepareImage(plaza, YOLOX, new Uint16Array(3 * 416 * 416)), TypeError);
  await t.rejects(prepareImage(plaza, { ...YOLOX, size: 0 }), /spec.size/);
});

t.test('prepare - identity size, grey and RGBA PNG inputs', async (t) => {
  const { data } = await sharp(plaza).resize(416, 416, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const png = await sharp(data, { raw: { width: 416, height: 416, channels: 3 } }).png().toBuffer();
  const r = await prepareImage(png, YOLOX);
  let same = true;
  for (let i = 0; i < 416 * 416; i += 7) if (r.data[i] !== data[i * 3 + 2] || r.data[2 * 416 * 416 + i] !== data[i * 3]) same = false;
  t.ok(same, 'no resize: tensor holds the exact pixels');

  const grey = await sharp(plaza).greyscale().png().toBuffer();
  const g = await prepareImage(grey, ULTRA(320));
  t.equal(g.data[320 * 100 + 100], g.data[320 * 320 + 320 * 100 + 100], 'grey fills all planes alike');
  const rgba = await sharp(plaza).ensureAlpha(0.3).png().toBuffer();
  const a = await prepareImage(rgba, ULTRA(320));
  const plain = await prepareImage(await sharp(plaza).png().toBuffer(), ULTRA(320));
  t.equal(a.data[320 * 160 + 160], plain.data[320 * 160 + 160], 'alpha is ignored like OpenCV IMREAD_COLOR');
});

t.test('prepare - EXIF orientation is applied; sizes and pads are of the oriented image', async (t) => {
  const rotated = await sharp(plaza).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
  const r = await prepareImage(rotated, YOLOX);
  t.same({ width: r.width, height: r.height, ratio: r.ratio }, { width: 480, height: 640, ratio: 0.65 });
  // The same oriented pixels as a plain PNG give the same tensor.
  const upright = await sharp(rotated).autoOrient().png().toBuffer();
  t.same((await sharp(upright).metadata()).width, 480);
  const ref = await prepareImage(upright, YOLOX);
  let diff = 0;
  for (let i = 0; i < r.data.length; i++) diff = Math.max(diff, Math.abs(r.data[i] - ref.data[i]));
  t.equal(diff, 0, 'tensor of the EXIF-rotated JPEG equals that of the upright pixels');
  t.equal(plane(r.data, 416, 0, 312, 100), 114, 'right pad after rotation (312 wide)');
  t.not(plane(r.data, 416, 0, 100, 400), 114);
});

t.test('prepare - bad images get bad_image, huge ones too_large before decoding', async (t) => {
  const expectCode = async (bytes: Uint8Array, want: string, name: string) => {
    try {
      await prepareImage(bytes, YOLOX);
      t.fail(`${name}: no error`);
    } catch (err) {
      t.ok(isYoloscaleError(err, want as never), `${name}: ${isYoloscaleError(err) ? err.code : String(err)}`);
    }
  };
  await expectCode(new Uint8Array(0), 'bad_image', 'empty');
  await expectCode(Buffer.from('definitely not an image, just some text'), 'bad_image', 'garbage');
  await expectCode(plaza.subarray(0, Math.floor(plaza.length / 2)), 'bad_image', 'JPEG cut in half');
  const png = await sharp(plaza).png().toBuffer();
  await expectCode(png.subarray(0, Math.floor(png.length / 2)), 'bad_image', 'PNG cut in half');
  // Headers walk fine (so the probe passes) but the quantisation tables became comments: libjpeg must give up.
  const corrupt = Buffer.from(plaza);
  const sos = plaza.indexOf(Buffer.from([0xff, 0xda]));
  let dqts = 0;
  for (let i = plaza.indexOf(Buffer.from([0xff, 0xdb])); i > 0 && i < sos; i = plaza.indexOf(Buffer.from([0xff, 0xdb]), i + 2)) {
    corrupt[i + 1] = 0xfe;
    dqts++;
  }
  t.ok(dqts > 0 && sos > 0, 'found the tables');
  await expectCode(corrupt, 'bad_image', 'JPEG without quantisation tables');
  await expectCode(Buffer.concat([plaza.subarray(0, sos + 200), Buffer.alloc(20000, 0xff)]), 'bad_image', 'JPEG whose scan is garbage');
  // A PNG header claiming 10000x10000 and no pixel data: refused as too large, not as undecodable.
  const hdr = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(hdr, 0);
  hdr.write('IHDR', 12, 'latin1');
  hdr.writeUInt32BE(10000, 16);
  hdr.writeUInt32BE(10000, 20);
  hdr[24] = 8;
  hdr[25] = 2;
  await expectCode(hdr, 'too_large', '100 MP header');
  await expectCode(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00'), 'unsupported_media_type', 'GIF');
  const good = await prepareImage(plaza, YOLOX);
  t.equal(good.width, 640, 'still works after failures');
});
