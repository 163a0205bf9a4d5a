import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { isYoloscaleError } from '../../protocol/index.js';
import { lastDecode, prepareImage, turboJpeg, useJpegDecoder } from '../../worker/image/index.js';
import type { DecodeReport, LetterboxSpec, PreparedImage } from '../../worker/image/index.js';
import { IMAGES_DIR, OPENCV_PYTHON, REPO_ROOT, image } from '../helpers/env.js';

const YOLOX: LetterboxSpec = { size: 416, channelOrder: 'bgr', scale: 1, placement: 'top-left', padValue: 114, dtype: 'float32' };
const ULTRA: LetterboxSpec = { size: 640, channelOrder: 'rgb', scale: 255, placement: 'centre', padValue: 114, dtype: 'float16' };

const plaza = readFileSync(image('coco128-train2017-000000000257.jpg')); // 640x480
const photos = readdirSync(IMAGES_DIR)
  .filter((f) => f.endsWith('.jpg'))
  .sort();
const tj = turboJpeg();
const noLib = tj.ok ? false : `no libturbojpeg here: ${tj.reason}`;
const python = OPENCV_PYTHON;

/** prepareImage with the JPEG decoder held to `choice`, and which decoder it used. */
async function prepareWith(choice: 'auto' | 'sharp', bytes: Uint8Array, spec: LetterboxSpec): Promise<{ r: PreparedImage; used: DecodeReport }> {
  const previous = useJpegDecoder(choice);
  try {
    const r = await prepareImage(bytes, spec);
    return { r, used: lastDecode() };
  } finally {
    useJpegDecoder(previous);
  }
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; differing: number } {
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) differing++;
    if (d > max) max = d;
  }
  return { max, differing };
}

/** Runs prepareImage on `bytes` in a fresh worker thread (tsx registered there, as the engine's thread-dev.mjs does). */
function prepareInWorker(bytes: Uint8Array, spec: LetterboxSpec, env: NodeJS.ProcessEnv = process.env): Promise<{ data: Float32Array; used: DecodeReport; loaded: string }> {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const imageModule = pathToFileURL(join(REPO_ROOT, 'worker', 'image', 'index.ts')).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      (await import(workerData.tsxApi)).register();
      const m = await import(workerData.imageModule);
      const r = await m.prepareImage(workerData.bytes, workerData.spec);
      const load = m.turboJpeg();
      parentPort.postMessage({ data: r.data, used: m.lastDecode(), loaded: load.ok ? load.decoder.name : load.reason });
    })().catch((err) => { throw err; });
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, env, workerData: { tsxApi, imageModule, bytes, spec } });
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
    w.once('exit', (c) => (c !== 0 ? reject(new Error(`worker exited with ${c}`)) : undefined));
  });
}

t.test('turbojpeg - real photos: TurboJPEG path gives the sharp path tensor', { skip: noLib }, async (t) => {
  let viaTurbo = 0;
  for (const name of photos) {
    const bytes = readFileSync(image(name));
    for (const spec of [YOLOX, ULTRA]) {
      const fast = await prepareWith('auto', bytes, spec);
      const slow = await prepareWith('sharp', bytes, spec);
      t.equal(slow.used.decoder, 'sharp');
      if (fast.used.decoder === 'turbojpeg') viaTurbo++;
      const d = diff(fast.r.data, slow.r.data);
      // Measured: identical (libvips decodes with libjpeg-turbo too, with the same accurate DCT and fancy upsampling).
      t.equal(d.max, 0, `${name} ${spec.size}/${spec.channelOrder}: max diff ${d.max} (${fast.used.decoder} vs sharp), ${d.differing} elements differ`);
      t.same([fast.r.width, fast.r.height, fast.r.ratio, fast.r.padX, fast.r.padY], [slow.r.width, slow.r.height, slow.r.ratio, slow.r.padX, slow.r.padY]);
    }
  }
  t.ok(viaTurbo >= 4, `most photos go through TurboJPEG (${viaTurbo} of ${photos.length * 2})`);
});

t.test('turbojpeg - the decoder is really used, and skipped where sharp must decode', { skip: noLib }, async (t) => {
  await prepareImage(plaza, YOLOX);
  t.same(lastDecode(), { decoder: 'turbojpeg' }, 'plain 640x480 JPEG');
  await prepareImage(await sharp(plaza).png().toBuffer(), YOLOX);
  t.same(lastDecode(), { decoder: 'sharp' }, 'PNG: sharp, TurboJPEG not tried');
  await prepareImage(await sharp(plaza).withMetadata({ orientation: 6 }).jpeg().toBuffer(), YOLOX);
  t.same(lastDecode(), { decoder: 'sharp' }, 'EXIF-rotated JPEG: sharp applies the orientation');
  await prepareImage(await sharp(plaza).resize(1920, 1440).jpeg().toBuffer(), YOLOX);
  t.same(lastDecode(), { decoder: 'sharp' }, 'large frame: libvips shrink-on-load');
  await prepareWith('sharp', plaza, YOLOX);
  t.match(lastDecode(), { decoder: 'sharp', declined: /useJpegDecoder/ }, 'forced to sharp');
  t.throws(() => useJpegDecoder('turbo' as never), TypeError);
});

t.test('turbojpeg - decoded pixels are exactly cv2.imdecode(IMREAD_COLOR)', { skip: noLib || (python ? false : 'python3-opencv is not installed') }, async (t) => {
  if (!tj.ok || !python) return;
  const dir = mkdtempSync(join(tmpdir(), 'ys-tj-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const greyPath = join(dir, 'grey.jpg');
  writeFileSync(greyPath, await sharp(plaza).greyscale().jpeg({ quality: 90 }).toBuffer());
  const files = [...photos.map((n) => image(n)), greyPath];
  // One interpreter for all: cv2.imdecode's BGR bytes of file i go to DIR/i.bgr.
  const script = 'import sys, cv2, numpy as np\nfor i, f in enumerate(sys.argv[2:]):\n    cv2.imdecode(np.fromfile(f, np.uint8), cv2.IMREAD_COLOR).tofile(f"{sys.argv[1]}/{i}.bgr")';
  const r = spawnSync(python, ['-c', script, dir, ...files], { encoding: 'utf8' });
  t.equal(r.status, 0, `cv2 ran ${r.stderr}`);
  for (const [i, file] of files.entries()) {
    const ref = readFileSync(join(dir, `${i}.bgr`));
    const got = tj.decoder.decode(readFileSync(file), 'bgr');
    if (!got.ok) {
      t.fail(`${file}: ${got.reason}`);
      continue;
    }
    t.equal(got.px.data.length, ref.length, `${file}: ${got.px.width}x${got.px.height}`);
    const d = diff(got.px.data, ref);
    t.equal(d.max, 0, `${file}: BGR pixels equal OpenCV's (${d.differing} differ)`);
  }
});

t.test('turbojpeg - grey and CMYK JPEGs work and match the sharp path', { skip: noLib }, async (t) => {
  const grey = await sharp(plaza).greyscale().jpeg({ quality: 90 }).toBuffer();
  const cmyk = await sharp(plaza).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer();
  t.equal((await sharp(cmyk).metadata()).space, 'cmyk', 'really a CMYK JPEG');

  const g = await prepareWith('auto', grey, YOLOX);
  t.same(g.used, { decoder: 'turbojpeg' }, 'grey: TurboJPEG');
  const gs = await prepareWith('sharp', grey, YOLOX);
  t.equal(diff(g.r.data, gs.r.data).max, 0, 'grey: same tensor as sharp');
  t.equal(g.r.data[100 * 416 + 100], g.r.data[2 * 416 * 416 + 100 * 416 + 100], 'grey: blue plane equals red plane');

  const c = await prepareWith('auto', cmyk, YOLOX);
  t.match(c.used, { decoder: 'sharp', declined: /CMYK is not handled/ }, 'CMYK: declined, sharp decodes');
  const cs = await prepareWith('sharp', cmyk, YOLOX);
  t.equal(diff(c.r.data, cs.r.data).max, 0, 'CMYK: the sharp path tensor');
  t.ok(diff(c.r.data, g.r.data).max > 0, 'CMYK result is a colour image');
});

t.test('turbojpeg - truncated or corrupt JPEGs still get bad_image from sharp', { skip: noLib }, async (t) => {
  const badImage = async (bytes: Uint8Array): Promise<string> => {
    try {
      await prepareImage(bytes, YOLOX);
      return 'no error';
    } catch (err) {
      return isYoloscaleError(err, 'bad_image') ? err.message : `not bad_image: ${String(err)}`;
    }
  };
  const cut = plaza.subarray(0, Math.floor(plaza.length / 2));
  t.match(await badImage(cut), /^image could not be decoded: /, 'JPEG cut in half');
  t.match(lastDecode(), { decoder: 'sharp', declined: /tjDecompress2: .*Premature end/ }, 'TurboJPEG warned and declined');
  // Quantisation tables turned into comments: a decoder reused across images would still have the previous image's tables.
  await prepareImage(plaza, YOLOX);
  const noTables = Buffer.from(plaza);
  for (let i = plaza.indexOf(Buffer.from([0xff, 0xdb])); i > 0 && i < plaza.indexOf(Buffer.from([0xff, 0xda])); i = plaza.indexOf(Buffer.from([0xff, 0xdb]), i + 2)) noTables[i + 1] = 0xfe;
  t.match(await badImage(noTables), /^image could not be decoded: /, 'JPEG without quantisation tables');
  t.match(lastDecode(), { decoder: 'sharp', declined: /[Qq]uantization table/ }, 'no tables carried over from the previous image');
  const again = await prepareImage(plaza, YOLOX);
  t.same(lastDecode(), { decoder: 'turbojpeg' }, 'next good image decodes with TurboJPEG again');
  t.equal(again.data.length, 3 * 416 * 416);
});

t.test('turbojpeg - one scratch buffer per thread: results do not alias, concurrent calls stay apart', { skip: noLib }, async (t) => {
  const bus = readFileSync(image('bus.jpg'));
  const a = await prepareImage(plaza, YOLOX);
  const copyA = a.data.slice();
  const b = await prepareImage(bus, YOLOX);
  t.equal(diff(a.data, copyA).max, 0, 'first tensor untouched by the second decode');
  const [pa, pb] = await Promise.all([prepareImage(plaza, YOLOX), prepareImage(bus, YOLOX)]);
  t.equal(diff(pa.data, a.data).max, 0, 'concurrent plaza');
  t.equal(diff(pb.data, b.data).max, 0, 'concurrent bus');
});

t.test('turbojpeg - works inside worker threads, one library load per thread', { skip: noLib }, async (t) => {
  const main = await prepareImage(plaza, YOLOX);
  const results = await Promise.all([prepareInWorker(plaza, YOLOX), prepareInWorker(plaza, YOLOX)]);
  for (const [i, r] of results.entries()) {
    t.same(r.used, { decoder: 'turbojpeg' }, `worker ${i}: TurboJPEG`);
    t.match(r.loaded, /^turbojpeg \(/);
    t.equal(diff(r.data, main.data).max, 0, `worker ${i}: same tensor as the main thread`);
  }
});

t.test('turbojpeg - YOLOSCALE_TURBOJPEG=off or a missing library: sharp decodes everything', async (t) => {
  const main = await prepareWith('sharp', plaza, YOLOX);
  const off = await prepareInWorker(plaza, YOLOX, { ...process.env, YOLOSCALE_TURBOJPEG: 'off' });
  t.match(off.used, { decoder: 'sharp', declined: /disabled by YOLOSCALE_TURBOJPEG=off/ });
  t.equal(diff(off.data, main.r.data).max, 0, 'off: the sharp tensor');
  const missing = await prepareInWorker(plaza, YOLOX, { ...process.env, YOLOSCALE_TURBOJPEG: '/nonexistent/libturbojpeg.so.0' });
  t.match(missing.used, { decoder: 'sharp', declined: /libturbojpeg not found/ });
  t.match(missing.loaded, /nonexistent/, 'the reason names the path tried');
  t.equal(diff(missing.data, main.r.data).max, 0, 'missing: the sharp tensor');
});
