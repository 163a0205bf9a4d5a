import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { prepareImage } from '../../worker/image/index.js';
import { float32ToHalfArray, floatToHalf, halfToFloat, halfToFloat32Array } from '../../worker/engine/float16.js';
import { familyLetterbox } from '../../worker/engine/models.js';
import { resolveParams } from '../../worker/engine/params.js';
import { postprocess, unletterbox } from '../../worker/engine/postprocess.js';
import { COCO_CLASSES } from '../../worker/engine/coco.js';
import { isYoloscaleError } from '../../protocol/index.js';
import { image } from '../helpers/env.js';

t.test('float16 - known values and round trips', async (t) => {
  t.equal(floatToHalf(0), 0);
  t.equal(floatToHalf(1), 0x3c00);
  t.equal(floatToHalf(-2), 0xc000);
  t.equal(floatToHalf(65504), 0x7bff);
  t.equal(floatToHalf(1e6), 0x7c00, 'overflow → +Inf');
  t.equal(floatToHalf(5.960464477539063e-8), 0x0001, 'smallest subnormal');
  t.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
  t.equal(halfToFloat(0x3555), 0.333251953125);
  t.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'ties round to even');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), (h) => {
      const v = halfToFloat(h);
      return Number.isNaN(v) || floatToHalf(v) === h;
    }),
    { numRuns: 2000 },
  );
  const src = Float32Array.from([0.5, 114 / 255, 1, 0]);
  t.same(Array.from(halfToFloat32Array(float32ToHalfArray(src))), [0.5, halfToFloat(floatToHalf(114 / 255)), 1, 0]);
});

t.test('letterbox geometry - boxes map back to original pixels', async (t) => {
  // 810×1080 into 640, centred: ratio 640/1080, left pad (640 - 480)/2 = 80.
  const g = { width: 810, height: 1080, ratio: 640 / 1080, padX: 80, padY: 0 };
  const b = unletterbox(80, 0, 560, 640, g);
  t.same(
    [b.x1, b.y1, b.x2, b.y2].map((v) => Math.round(v * 1000) / 1000),
    [0, 0, 810, 1080],
  );
  const clipped = unletterbox(-20, -5, 700, 700, g);
  t.same([clipped.x1, clipped.y1, clipped.x2, clipped.y2], [0, 0, 810, 1080], 'clipped to the image');
});

t.test('letterbox geometry - prepared images agree with the mapping for both placements', async (t) => {
  const bytes = readFileSync(image('zidane.jpg')); // 1280×720
  const top = await prepareImage(bytes, familyLetterbox('yolox', 416));
  t.same([top.width, top.height, top.padX, top.padY], [1280, 720, 0, 0], 'YOLOX pads right and bottom only');
  t.equal(top.ratio, 416 / 1280);
  const centre = await prepareImage(bytes, familyLetterbox('ultralytics', 320));
  t.equal(centre.padX, 0);
  t.equal(centre.padY, 70, 'Ultralytics centres: (320 - 180) / 2');
  // A box covering the whole resized image maps to the whole original image.
  const whole = unletterbox(0, 70, 320, 250, centre);
  t.same([whole.x1, whole.y1, whole.x2, whole.y2], [0, 0, 1280, 720]);
});

t.test('postprocess - synthetic YOLOX row decodes to the expected box', async (t) => {
  // One positive cell: stride 32 level, cell (gx=3, gy=2) at input 416.
  const rows = 52 * 52 + 26 * 26 + 13 * 13;
  const data = new Float32Array(rows * 85);
  const row = 52 * 52 + 26 * 26 + 2 * 13 + 3;
  data.set([0.5, 0.25, Math.log(2), Math.log(1)], row * 85);
  data[row * 85 + 4] = 0.9; // objectness
  data[row * 85 + 5 + 16] = 0.8; // dog
  const dets = postprocess(
    { family: 'yolox', inputSize: 416, classNames: COCO_CLASSES },
    { data, offset: 0, dims: [rows, 85] },
    { width: 832, height: 832, ratio: 0.5, padX: 0, padY: 0 },
    resolveParams({}, COCO_CLASSES),
  );
  t.equal(dets.length, 1);
  const d = dets[0]!;
  t.equal(d.class, 'dog');
  t.equal(d.score, 0.72);
  // cx = (0.5+3)·32 = 112, cy = (0.25+2)·32 = 72, w = 64, h = 32 → /0.5
  t.same(d.box, { x1: 160, y1: 112, x2: 288, y2: 176 });
});

t.test('params - defaults, names to ids, and clear errors', async (t) => {
  const p = resolveParams(undefined, COCO_CLASSES);
  t.same(p, { conf: 0.25, iou: 0.45, classIds: null, maxDet: 100, agnostic: false, multiLabel: false });
  t.same(resolveParams({ classes: ['bus', 0, 'person', ' dog '] }, COCO_CLASSES).classIds, [0, 5, 16]);
  const cases: Array<[unknown, string]> = [
    [{ conf: 1.5 }, 'params.conf must be a number between 0 and 1'],
    [{ iou: -1 }, 'params.iou must be a number between 0 and 1'],
    [{ maxDet: 0 }, 'params.maxDet must be an integer between 1 and 10000'],
    [{ classes: ['unicorn'] }, 'params.classes: unknown class "unicorn"'],
    [{ classes: [80] }, 'params.classes: class id 80 is out of range 0..79'],
    [{ classes: 'bus' }, 'params.classes must be an array of class names or ids'],
  ];
  for (const [params, message] of cases) {
    try {
      resolveParams(params as never, COCO_CLASSES);
      t.fail(`accepted ${JSON.stringify(params)}`);
    } catch (err) {
      t.ok(isYoloscaleError(err, 'bad_request'), 'bad_request');
      t.equal((err as Error).message, message);
    }
  }
});
