// Property tests of the header probe (protocol/image-header.ts): random bytes
// behind real JPEG/PNG/WebP signatures give a sane header or a typed error,
// never another throw; cutting a real image short never yields other sizes.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { MAX_IMAGE_PIXELS, checkImageLimits, isYoloscaleError, probeImageHeader } from '../../protocol/index.js';
import type { ImageHeader } from '../../protocol/index.js';
import { image } from '../helpers/env.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat().map((n) => n >>> 0);

function u16be(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** JPEG: SOI, then segments with real markers (APPn, EXIF, DQT, DHT, SOFn, SOS, RSTn, fill bytes) and random lengths and payloads. */
const jpeg = fc
  .array(
    fc.oneof(
      fc.tuple(fc.integer({ min: 0xc0, max: 0xfe }), u16, bytes(40)).map(([m, len, payload]) => Buffer.concat([Buffer.from([0xff, m]), u16be(len), payload])),
      fc.tuple(u16, u16, bytes(12)).map(([h, w, rest]) => Buffer.concat([Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08]), u16be(h), u16be(w), rest])),
      fc.tuple(u16, bytes(40)).map(([len, rest]) => Buffer.concat([Buffer.from([0xff, 0xe1]), u16be(len), Buffer.from('Exif\0\0'), rest])),
      fc.constantFrom(Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0xff, 0xd0]), Buffer.from([0xff, 0xd9]), Buffer.from([0xff, 0x01])),
      bytes(8),
    ),
    { maxLength: 6 },
  )
  .map((parts) => ({ magic: 'jpeg' as const, bytes: Buffer.concat([Buffer.from([0xff, 0xd8]), ...parts]) }));

/** PNG: signature, then a real or random first chunk. */
const png = fc
  .tuple(fc.oneof(fc.constant('IHDR'), fc.string({ minLength: 4, maxLength: 4 })), u32, u32, bytes(30), fc.boolean())
  .map(([chunk, w, h, rest, full]) => {
    const head = Buffer.alloc(24);
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1').copy(head, 0);
    head.writeUInt32BE(13, 8);
    head.write(chunk, 12, 'latin1');
    head.writeUInt32BE(w, 16);
    head.writeUInt32BE(h, 20);
    return { magic: 'png' as const, bytes: full ? Buffer.concat([head, rest]) : head.subarray(0, rest.length % 24) };
  });

/** WebP: RIFF/WEBP with a VP8, VP8L, VP8X or random first chunk and random bits. */
const webp = fc
  .tuple(fc.constantFrom('VP8 ', 'VP8L', 'VP8X', 'ABCD'), bytes(40), fc.boolean())
  .map(([chunk, rest, startCode]) => {
    const b = Buffer.concat([Buffer.from(`RIFF\0\0\0\0WEBP${chunk}`, 'latin1'), rest]);
    if (startCode && b.length >= 26) {
      b[23] = 0x9d;
      b[24] = 0x01;
      b[25] = 0x2a;
      b[20] = 0x2f;
    }
    return { magic: 'webp' as const, bytes: b };
  });

const anything = bytes(64).map((b) => ({ magic: null, bytes: b }));

/** Runs `fn`; a thrown error must be a YoloscaleError with one of `codes`. */
function typed<T>(fn: () => T, codes: readonly string[]): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (!isYoloscaleError(err)) throw new Error(`threw a non-typed error: ${String(err)}`);
    if (!codes.includes(err.code)) throw new Error(`unexpected code ${err.code}: ${err.message}`);
    if (err.httpStatus < 400 || err.httpStatus >= 500) throw new Error(`${err.code} is not a 4xx`);
    return undefined;
  }
}

function sane(h: ImageHeader, magic: string | null): void {
  if (magic !== null && h.format !== magic) throw new Error(`${magic} bytes probed as ${h.format}`);
  if (!Number.isInteger(h.width) || !Number.isInteger(h.height) || h.width < 1 || h.height < 1 || h.width > 0xffffffff || h.height > 0xffffffff) {
    throw new Error(`bad dimensions ${h.width}x${h.height}`);
  }
  if (h.format === 'jpeg' && (h.width > 0xffff || h.height > 0xffff)) throw new Error('JPEG sides are 16-bit');
  if (h.orientation !== undefined && !(Number.isInteger(h.orientation) && h.orientation >= 1 && h.orientation <= 8)) throw new Error(`orientation ${h.orientation}`);
}

t.test('fuzz image-header - signatures with garbage behind them: a sane header or bad_image / unsupported_media_type', async (t) => {
  const seen = { ok: 0, refused: 0 };
  fc.assert(
    fc.property(fc.oneof(jpeg, png, webp, anything), ({ magic, bytes: b }) => {
      const h = typed(() => probeImageHeader(b), ['bad_image', 'unsupported_media_type']);
      if (h) {
        seen.ok++;
        sane(h, magic);
      } else seen.refused++;
      const limited = typed(() => checkImageLimits(b), ['bad_image', 'unsupported_media_type', 'too_large']);
      if (limited && limited.width * limited.height > MAX_IMAGE_PIXELS) throw new Error('over 40 megapixels passed the limit check');
      if (!h && limited) throw new Error('the limit check accepted what the probe refused');
    }),
    { numRuns: 20_000 },
  );
  t.ok(seen.ok > 1000, `${seen.ok} probed to a header`);
  t.ok(seen.refused > 1000, `${seen.refused} refused`);
});

t.test('fuzz image-header - a real image cut anywhere gives its own size or bad_image, never another size', async (t) => {
  const files = ['bus.jpg', 'dog.jpg', 'coco128-train2017-000000000257.jpg'].map((f) => readFileSync(image(f)));
  const full = files.map((f) => probeImageHeader(f));
  fc.assert(
    fc.property(fc.nat({ max: files.length - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), (i, at) => {
      const cut = files[i].subarray(0, Math.floor(at * files[i].length));
      const h = typed(() => probeImageHeader(cut), ['bad_image']);
      if (h && JSON.stringify(h) !== JSON.stringify(full[i])) throw new Error(`cut at ${cut.length}: ${JSON.stringify(h)} instead of ${JSON.stringify(full[i])}`);
    }),
    { numRuns: 3000 },
  );
  t.pass('3,000 truncations');
});
