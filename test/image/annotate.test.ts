import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { isYoloscaleError, probeImageHeader } from '../../protocol/index.js';
import type { DetectionResult } from '../../protocol/index.js';
import { annotateImage, classColour } from '../../gateway/index.js';
import { image } from '../helpers/env.js';

const bus = readFileSync(image('bus.jpg')); // 810x1080
const plaza = readFileSync(image('coco128-train2017-000000000257.jpg')); // 640x480

function result(width: number, height: number, dets: DetectionResult['detections']): DetectionResult {
  return { model: 'yolox-nano', image: { width, height }, detections: dets, timing: { queueMs: 0, inferMs: 0, totalMs: 0 } };
}

async function pixels(bytes: Buffer) {
  const { data, info } = await sharp(bytes, { autoOrient: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, at: (x: number, y: number) => [0, 1, 2].map((c) => data[(y * info.width + x) * 3 + c]) };
}

const dist = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

t.test('annotate - draws boxes and labels onto a JPEG of the same size', async (t) => {
  const res = result(810, 1080, [
    { class: 'bus', classId: 5, score: 0.917, box: { x1: 20, y1: 230, x2: 800, y2: 735 } },
    { class: 'person', classId: 0, score: 0.88, box: { x1: 50, y1: 400, x2: 250, y2: 900 } },
  ]);
  const out = await annotateImage(bus, res);
  t.same(probeImageHeader(out), { format: 'jpeg', width: 810, height: 1080 });
  const before = await pixels(bus);
  const after = await pixels(out);
  // On the bus box's left edge the colour is the bus class colour; far from any box the photo is unchanged.
  const hex = classColour(5);
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  t.ok(dist(after.at(20, 600), want) < 40, `left edge drawn in ${hex}: ${after.at(20, 600)}`);
  t.ok(dist(before.at(20, 600), want) > 40, 'the photo was not that colour there');
  t.ok(dist(after.at(500, 1000), before.at(500, 1000)) < 20, 'pixels away from boxes unchanged (JPEG noise only)');
  t.ok(dist(after.at(150, 400), before.at(150, 400)) > 40, 'person box top edge drawn');
  // The label background sits above the box's top-left corner.
  t.ok(dist(after.at(25, 225), want) < 40, 'label background above the bus box');
  t.not(classColour(0), classColour(5));
});

t.test('annotate - draws on the EXIF-oriented image', async (t) => {
  const rotated = await sharp(plaza).withMetadata({ orientation: 6 }).jpeg({ quality: 92 }).toBuffer();
  const res = result(480, 640, [{ class: 'person', classId: 0, score: 0.5, box: { x1: 100, y1: 400, x2: 300, y2: 600 } }]);
  const out = await annotateImage(rotated, res);
  const h = probeImageHeader(out);
  t.same({ width: h.width, height: h.height }, { width: 480, height: 640 }, 'output is upright, 480x640');
  t.equal(h.orientation ?? 1, 1, 'no orientation tag left to apply twice');
  const after = await pixels(out);
  const want = [1, 3, 5].map((i) => parseInt(classColour(0).slice(i, i + 2), 16));
  t.ok(dist(after.at(100, 500), want) < 40, `box edge where the oriented coordinates say: ${after.at(100, 500)}`);
});

t.test('annotate - no detections, odd boxes and bad images', async (t) => {
  const out = await annotateImage(plaza, result(640, 480, []));
  t.same(probeImageHeader(out), { format: 'jpeg', width: 640, height: 480 });
  const odd = await annotateImage(plaza, result(640, 480, [
    { class: '<script>&"', classId: 3, score: 0.3, box: { x1: -50, y1: -50, x2: 2000, y2: 2000 } },
    { class: 'empty', classId: 1, score: 0.3, box: { x1: 10, y1: 10, x2: 10, y2: 10 } },
  ]));
  t.equal(probeImageHeader(odd).width, 640, 'clipped boxes and XML-special labels render');
  for (const [name, bytes] of [['text', Buffer.from('not an image')], ['cut JPEG', plaza.subarray(0, 3000)], ['cut scan', plaza.subarray(0, 60000)]] as const) {
    try {
      await annotateImage(bytes, result(640, 480, []));
      t.fail(`${name}: no error`);
    } catch (err) {
      t.ok(isYoloscaleError(err, 'bad_image'), `${name}: bad_image`);
    }
  }
});
