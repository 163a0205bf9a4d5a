import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAP_TOLERANCE, runEvalCrosscheck } from '../../bench/eval-crosscheck.js';
import { HAVE_MODELS, IMAGES_DIR, MODELS_DIR, OPENCV_PYTHON } from '../helpers/env.js';

const haveCv2 = OPENCV_PYTHON !== undefined;
const skip = !haveCv2 ? 'python3-opencv is not installed' : !HAVE_MODELS ? 'models missing' : false;

t.test('eval cross-check - yoloscale eval agrees with an independent OpenCV/numpy evaluation of yolox-nano', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ys-xcheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runEvalCrosscheck({ models: ['yolox-nano'], images: IMAGES_DIR, modelsDir: MODELS_DIR, outDir: dir });
  t.same(JSON.parse(readFileSync(join(dir, 'eval-crosscheck.json'), 'utf8')), r, 'file holds the returned result');
  t.equal(r.images, 4, 'the four labelled COCO photos');
  t.equal(r.boxes, 69);
  const [m] = r.models;
  t.equal(m.model, 'yolox-nano');
  t.ok(m.independent, `independent side ran (${m.skipped ?? m.independent?.engine})`);
  t.ok(m.ours.map50 > 0.3 && m.ours.map50_95 > 0.15, `a real model finds real objects: ${JSON.stringify(m.ours)}`);
  t.ok(Math.abs(m.diff?.map50 ?? 1) <= MAP_TOLERANCE, `mAP@0.5 differs by ${m.diff?.map50}`);
  t.ok(Math.abs(m.diff?.map50_95 ?? 1) <= MAP_TOLERANCE, `mAP@0.5:0.95 differs by ${m.diff?.map50_95}`);
  t.equal(m.withinTolerance, true);
});
