import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import {
  MAX_IMAGE_BYTES,
  checkImageLimits,
  isYoloscaleError,
  orientedSize,
  probeImageHeader,
} from '../../protocol/index.js';
import { IMAGES_DIR, image } from '../helpers/env.js';

const bus = readFileSync(image('bus.jpg'));
const plaza = readFileSync(image('coco128-train2017-000000000257.jpg'));

/** A PNG signature and IHDR chunk claiming `w`×`h`, with no pixel data at all. */
function pngHeaderOnly(w: number, h: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  b[24] = 8; // bit depth
  b[25] = 2; // RGB
  return b;
}

/** A JPEG that is SOI, one APP0 and a baseline SOF claiming `w`×`h`, nothing else. */
function jpegHeaderOnly(w: number, h: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, h >> 8, h & 0xff, w >> 8, w & 0xff, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof]);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isYoloscaleError(err) ? err.code : `not a YoloscaleError: ${String(err)}`;
  }
}

t.test('image-header - every shared photo probes to the size libvips reads', async (t) => {
  const files = readdirSync(IMAGES_DIR).filter((f) => f.endsWith('.jpg'));
  t.ok(files.length >= 7);
  for (const f of files) {
    const bytes = readFileSync(image(f));
    const meta = await sharp(bytes).metadata();
    const h = probeImageHeader(bytes);
    t.same({ format: h.format, width: h.width, height: h.height }, { format: 'jpeg', width: meta.width, height: meta.height }, f);
    t.equal(h.orientation ?? 1, meta.orientation ?? 1, `${f} orientation`);
  }
});

t.test('image-header - PNG, lossy/lossless/extended WebP and progressive JPEG', async (t) => {
  const src = sharp(plaza).resize(321, 237, { fit: 'fill' });
  const cases: Array<[string, Buffer, string]> = [
    ['png', await src.clone().png().toBuffer(), 'png'],
    ['webp lossy (VP8)', await src.clone().webp({ quality: 80 }).toBuffer(), 'webp'],
    ['webp lossless (VP8L)', await src.clone().webp({ lossless: true }).toBuffer(), 'webp'],
    ['webp with alpha (VP8X)', await src.clone().ensureAlpha(0.5).webp({ quality: 80 }).toBuffer(), 'webp'],
    ['progressive jpeg (SOF2)', await src.clone().jpeg({ progressive: true }).toBuffer(), 'jpeg'],
  ];
  for (const [name, bytes, format] of cases) {
    t.same(probeImageHeader(bytes), { format, width: 321, height: 237 }, name);
  }
  const vp8x = cases[3][1];
  t.equal(vp8x.toString('latin1', 12, 16), 'VP8X', 'the alpha case really is VP8X');
});

t.test('image-header - EXIF orientation is read and swaps the oriented size', async (t) => {
  const rotated = await sharp(plaza).withMetadata({ orientation: 6 }).jpeg().toBuffer();
  const h = probeImageHeader(rotated);
  t.same(h, { format: 'jpeg', width: 640, height: 480, orientation: 6 });
  t.same(orientedSize(h), { width: 480, height: 640 });
  const mirrored = await sharp(plaza).withMetadata({ orientation: 2 }).jpeg().toBuffer();
  t.same(orientedSize(probeImageHeader(mirrored)), { width: 640, height: 480 });
});

t.test('image-header - empty, garbage, truncated and foreign inputs get typed errors', async (t) => {
  t.equal(code(() => probeImageHeader(new Uint8Array(0))), 'bad_image', 'empty');
  t.equal(code(() => probeImageHeader(Buffer.from('hello, this is not an image at all'))), 'bad_image', 'text');
  t.equal(code(() => probeImageHeader(Buffer.from([0xff, 0xd8]))), 'bad_image', 'bare SOI');
  // bus.jpg's frame header sits at byte 5466, after APP0/APP1/APP1/APP13/APP2.
  t.equal(code(() => probeImageHeader(bus.subarray(0, 5000))), 'bad_image', 'JPEG cut inside the APP segments');
  t.match(String((() => { try { probeImageHeader(bus.subarray(0, 5000)); } catch (e) { return (e as Error).message; } })()), /truncated/);
  t.equal(code(() => probeImageHeader(bus.subarray(0, 5470))), 'bad_image', 'JPEG cut inside the SOF');
  t.equal(code(() => probeImageHeader(pngHeaderOnly(10, 10).subarray(0, 20))), 'bad_image', 'PNG cut inside IHDR');
  t.equal(code(() => probeImageHeader(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))), 'bad_image', 'WebP cut');
  t.equal(code(() => probeImageHeader(pngHeaderOnly(0, 10))), 'bad_image', 'zero width');
  t.equal(code(() => probeImageHeader(Buffer.from('GIF89a\x01\x00\x01\x00'))), 'unsupported_media_type', 'GIF');
  t.equal(code(() => probeImageHeader(Buffer.from('BM\0\0\0\0\0\0\0\0\0\0\0\0'))), 'unsupported_media_type', 'BMP');
  t.equal(code(() => probeImageHeader(Buffer.from('\0\0\0\x1cftypavif\0\0\0\0'))), 'unsupported_media_type', 'AVIF');
});

t.test('image-header - limits refuse 40+ megapixels and 20+ MB from the header alone', async (t) => {
  t.same(checkImageLimits(pngHeaderOnly(8000, 5000)), { format: 'png', width: 8000, height: 5000 }, 'exactly 40 MP passes');
  t.equal(code(() => checkImageLimits(pngHeaderOnly(10000, 10000))), 'too_large', '100 MP PNG with no pixel data');
  t.equal(code(() => checkImageLimits(jpegHeaderOnly(65535, 65535))), 'too_large', '4.3 GP JPEG header');
  const huge = Buffer.alloc(MAX_IMAGE_BYTES + 1);
  plaza.copy(huge, 0);
  t.equal(code(() => checkImageLimits(huge)), 'too_large', 'over 20 MB');
  try {
    checkImageLimits(pngHeaderOnly(10000, 10000));
  } catch (err) {
    t.ok(isYoloscaleError(err, 'too_large') && err.httpStatus === 413, 'too_large maps to 413');
  }
  t.same(checkImageLimits(plaza), { format: 'jpeg', width: 640, height: 480 });
});
