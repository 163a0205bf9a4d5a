// Every decoder on real outputs of the four shared models on real photos,
// checked against the sanity table of ../shared/models/README.md.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareImage } from '../../worker/image/index.js';
import { BUILTIN_MODELS } from '../../worker/engine/models.js';
import type { ModelDescriptor } from '../../worker/engine/models.js';
import { openSession } from '../../worker/engine/ort.js';
import type { ModelSession, OutputTensor } from '../../worker/engine/ort.js';
import { postprocess } from '../../worker/engine/postprocess.js';
import { resolveParams } from '../../worker/engine/params.js';
import type { EngineDetectParams } from '../../worker/engine/params.js';
import type { Detection } from '../../protocol/index.js';
import { MODELS_DIR, image } from '../helpers/env.js';

const sessions = new Map<string, ModelSession>();
t.teardown(async () => {
  for (const s of sessions.values()) await s.release();
});

function model(id: string): ModelDescriptor {
  const m = BUILTIN_MODELS.find((d) => d.id === id);
  if (!m) throw new Error(`no model ${id}`);
  return m;
}

async function run(id: string, photo: string): Promise<{ out: OutputTensor; prepared: Awaited<ReturnType<typeof prepareImage>>; m: ModelDescriptor }> {
  const m = model(id);
  let s = sessions.get(id);
  if (!s) {
    s = await openSession(join(MODELS_DIR, m.file), { device: 'cpu' });
    sessions.set(id, s);
  }
  const prepared = await prepareImage(readFileSync(image(photo)), m.input);
  const out = await s.run({ data: prepared.data, dims: [1, 3, m.input.size, m.input.size] });
  return { out, prepared, m };
}

function decode(r: Awaited<ReturnType<typeof run>>, params: EngineDetectParams = { conf: 0.3 }): Detection[] {
  const [, rows, cols] = r.out.dims;
  return postprocess(
    { family: r.m.family, inputSize: r.m.input.size, classNames: r.m.classNames },
    { data: r.out.data, offset: 0, dims: [rows!, cols!] },
    r.prepared,
    resolveParams(params, r.m.classNames),
  );
}

/** The detection of `cls` whose box overlaps `box` most. */
function find(dets: Detection[], cls: string, box: [number, number, number, number]): Detection | undefined {
  let best: Detection | undefined;
  let bestIou = 0;
  for (const d of dets) {
    if (d.class !== cls) continue;
    const ix = Math.max(0, Math.min(d.box.x2, box[2]) - Math.max(d.box.x1, box[0]));
    const iy = Math.max(0, Math.min(d.box.y2, box[3]) - Math.max(d.box.y1, box[1]));
    const inter = ix * iy;
    const u = (d.box.x2 - d.box.x1) * (d.box.y2 - d.box.y1) + (box[2] - box[0]) * (box[3] - box[1]) - inter;
    const iou = inter / u;
    if (iou > bestIou) {
      bestIou = iou;
      best = d;
    }
  }
  return bestIou > 0.9 ? best : undefined;
}

function count(dets: Detection[], cls: string): number {
  return dets.filter((d) => d.class === cls).length;
}

// The README allows about 0.01 in score and 1 px for a different resizer; the
// shared photos are resized by different paths (libvips shrink for large
// frames), so a little more is allowed here.
const SCORE_TOL = 0.03;

t.test('decode - YOLOX grid decoding reproduces the bus.jpg sanity table', async (t) => {
  const dets = decode(await run('yolox-nano', 'bus.jpg'));
  const table: Array<[string, number, [number, number, number, number]]> = [
    ['bus', 0.917, [9, 230, 806, 734]],
    ['person', 0.85, [49, 393, 214, 900]],
    ['person', 0.821, [218, 403, 350, 855]],
    ['person', 0.681, [682, 446, 810, 877]],
  ];
  for (const [cls, score, box] of table) {
    const d = find(dets, cls, box);
    t.ok(d, `${cls} near [${box}]`);
    if (d) t.ok(Math.abs(d.score - score) <= SCORE_TOL, `${cls} score ${d.score} ≈ ${score}`);
  }
  const bus = dets.find((d) => d.class === 'bus');
  t.ok(bus && bus.score > 0.8, 'bus above 0.8');
  t.ok(count(dets, 'person') >= 3, 'at least three people');
  for (let i = 1; i < dets.length; i++) t.ok(dets[i - 1]!.score >= dets[i]!.score, 'sorted by score');
});

t.test('decode - YOLOX on zidane.jpg and dog.jpg', async (t) => {
  const z = decode(await run('yolox-nano', 'zidane.jpg'));
  const p1 = find(z, 'person', [149, 199, 681, 713]);
  const p2 = find(z, 'person', [714, 38, 1151, 706]);
  t.ok(p1 && Math.abs(p1.score - 0.846) <= SCORE_TOL, 'person 0.846');
  t.ok(p2 && Math.abs(p2.score - 0.816) <= SCORE_TOL, 'person 0.816');
  t.ok(count(z, 'tie') >= 1, 'a tie');
  const d = decode(await run('yolox-nano', 'dog.jpg'));
  const dog = find(d, 'dog', [133, 207, 325, 542]);
  t.ok(dog && Math.abs(dog.score - 0.826) <= 0.04, `dog ≈ 0.826 (${dog?.score})`);
  t.ok(count(d, 'car') >= 1 && count(d, 'bicycle') >= 1, 'car and bicycle');
});

t.test('decode - Ultralytics channel-major output (yolo11n int8)', async (t) => {
  const bus = decode(await run('yolo11n-320', 'bus.jpg'));
  const b = bus.find((d) => d.class === 'bus');
  t.ok(b && Math.abs(b.score - 0.852) <= 0.04, `bus ≈ 0.852 (${b?.score})`);
  t.equal(count(bus, 'person'), 4, 'four people');
  t.ok(b && b.box.x1 < 40 && b.box.x2 > 780 && b.box.y1 > 200 && b.box.y2 < 780, 'bus box spans the frame');
  const dog = decode(await run('yolo11n-320', 'dog.jpg'));
  for (const cls of ['dog', 'car', 'bicycle']) t.ok(count(dog, cls) >= 1, `dog.jpg has a ${cls}`);
});

t.test('decode - YOLOv5 objectness with float16 input and output', async (t) => {
  const r = await run('yolov5n-256', 'bus.jpg');
  t.equal(r.out.type, 'float16', 'output really is float16');
  t.ok(r.out.data instanceof Uint16Array);
  const bus = decode(r);
  const b = bus.find((d) => d.class === 'bus');
  t.ok(b && Math.abs(b.score - 0.705) <= 0.04, `bus ≈ 0.705 (${b?.score})`);
  t.equal(count(bus, 'person'), 3, 'three people');
  const dog = decode(await run('yolov5n-256', 'dog.jpg'));
  t.ok(count(dog, 'cat') >= 1, 'the README notes yolov5n-256 calls the dog a cat');
});

t.test('decode - YOLOv10 end-to-end rows without NMS', async (t) => {
  const r = await run('yolov10n', 'bus.jpg');
  t.same(r.out.dims, [1, 300, 6]);
  const bus = decode(r);
  const b = bus.find((d) => d.class === 'bus');
  t.ok(b && Math.abs(b.score - 0.947) <= SCORE_TOL, `bus ≈ 0.947 (${b?.score})`);
  t.equal(count(bus, 'person'), 4, 'four people');
  // iou is ignored for end-to-end models: a tiny IoU would suppress people under NMS.
  const noNms = decode(r, { conf: 0.3, iou: 0.01 });
  t.equal(noNms.length, bus.length, 'iou does not change YOLOv10 results');
  const two = decode(r, { conf: 0.3, maxDet: 2 });
  t.same(two, bus.slice(0, 2), 'maxDet keeps the top rows');
});

t.test('decode - classes filter by name and id, multi-label adds classes', async (t) => {
  const r = await run('yolox-nano', 'bus.jpg');
  const people = decode(r, { conf: 0.3, classes: ['person'] });
  t.ok(people.length >= 3);
  t.ok(people.every((d) => d.class === 'person' && d.classId === 0));
  const buses = decode(r, { conf: 0.3, classes: [5] });
  t.ok(buses.length >= 1 && buses.every((d) => d.class === 'bus'));
  const single = decode(r, { conf: 0.05 });
  const multi = decode(r, { conf: 0.05, multiLabel: true });
  t.ok(multi.length >= single.length, 'multi-label never finds fewer boxes');
  const low = decode(r, { conf: 0.05, maxDet: 3 });
  t.equal(low.length, 3, 'maxDet caps the answer');
  t.same(low, single.slice(0, 3), 'maxDet keeps the best');
});

t.test('decode - boxes are in original pixels and inside the image', async (t) => {
  for (const id of ['yolox-nano', 'yolo11n-320', 'yolov5n-256']) {
    const r = await run(id, 'zidane.jpg');
    const dets = decode(r, { conf: 0.05 });
    t.ok(dets.length > 0, `${id} finds something`);
    for (const d of dets) {
      if (!(d.box.x1 >= 0 && d.box.y1 >= 0 && d.box.x2 <= 1280 && d.box.y2 <= 720 && d.box.x1 <= d.box.x2 && d.box.y1 <= d.box.y2)) {
        t.fail(`${id} box out of the image: ${JSON.stringify(d.box)}`);
      }
    }
  }
});

t.test('decode - YOLOX on the COCO street scene matches the README class counts', async (t) => {
  const dets = decode(await run('yolox-nano', 'coco128-train2017-000000000257.jpg'));
  const counts: Record<string, number> = {};
  for (const d of dets) counts[d.class] = (counts[d.class] ?? 0) + 1;
  const table: Record<string, number> = { person: 10, bus: 2, truck: 1, car: 1, motorcycle: 1, 'traffic light': 1, backpack: 1 };
  t.same(Object.keys(counts).sort(), Object.keys(table).sort(), 'the same classes');
  for (const [cls, n] of Object.entries(table)) t.ok(Math.abs((counts[cls] ?? 0) - n) <= 1, `${cls}: ${counts[cls]} ≈ ${n}`);
});
