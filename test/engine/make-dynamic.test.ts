import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addModel } from '../../worker/engine/catalog.js';
import { Engine } from '../../worker/engine/engine.js';
import { makeDynamic, rewriteDynamicBatch } from '../../worker/engine/make-dynamic.js';
import { parseOnnx } from '../../worker/engine/onnx-file.js';
import { isYoloscaleError } from '../../protocol/index.js';
import type { DetectionResult } from '../../protocol/index.js';
import { MODELS_DIR, image } from '../helpers/env.js';

const dir = mkdtempSync(join(tmpdir(), 'ys-dyn-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const dynPath = join(dir, 'yolox_nano_dynamic.onnx');

t.test('make-dynamic - the rewrite makes dim 0 symbolic and fixes the Reshape shapes', async (t) => {
  const rw = rewriteDynamicBatch(readFileSync(join(MODELS_DIR, 'yolox_nano.onnx')));
  t.same(rw.tensors, ['images', 'output']);
  t.equal(rw.reshapes.length, 3, 'the three head Reshapes');
  const s = parseOnnx(rw.bytes);
  t.same(s.inputs[0]!.dims, ['batch', 3, 416, 416]);
  t.same(s.outputs[0]!.dims, ['batch', 3549, 85]);
  t.throws(() => rewriteDynamicBatch(rw.bytes), { code: 'bad_request', message: /already has a symbolic batch \(batch\)/ });
});

t.test('make-dynamic - yolox_nano is proved by one batch of N against N single runs', async (t) => {
  const report = await makeDynamic(join(MODELS_DIR, 'yolox_nano.onnx'), dynPath, { batch: 3 });
  t.equal(report.batch, 3);
  t.ok(report.maxAbsDiff <= 1e-3, `batched vs single max |diff| ${report.maxAbsDiff}`);
  t.ok(report.maxAbsDiffVsOriginal <= 1e-3, `rewritten vs original ${report.maxAbsDiffVsOriginal}`);
  t.ok(existsSync(dynPath));
});

t.test('make-dynamic - yolov5n (float16, Resize to constant sizes) is rewritten and proved', async (t) => {
  const out = join(dir, 'v5.onnx');
  const report = await makeDynamic(join(MODELS_DIR, 'yolov5n_coco_fp16_256.onnx'), out, { batch: 2 });
  t.ok(report.maxAbsDiff <= report.atol, `float16 outputs agree (${report.maxAbsDiff})`);
  const s = parseOnnx(readFileSync(out));
  t.same(s.inputs[0]!.dims, ['batch', 3, 256, 256]);
  t.same(s.outputs[0]!.dims, ['batch', 4032, 85]);
  t.ok(s.nodes.filter((n) => n.opType === 'Resize').length === 2);
  t.ok(s.nodes.some((n) => n.opType === 'Shape'), 'Resize sizes now follow the input');
});

t.test('make-dynamic - refuses what it cannot prove, writing nothing', async (t) => {
  // Dynamic int8 quantization shares one scale across the batch: the proof catches it.
  const q = join(dir, 'y11.onnx');
  const err = await makeDynamic(join(MODELS_DIR, 'yolo11n_coco_int8dyn_320.onnx'), q, { batch: 2 }).catch((e: unknown) => e);
  t.ok(isYoloscaleError(err, 'bad_request'), 'refused');
  t.match((err as Error).message, /not equivalent: a batch of 2 differs from 2 single runs by up to .*DynamicQuantizeLinear/);
  t.notOk(existsSync(q), 'nothing written');
  await t.rejects(makeDynamic(join(dir, 'absent.onnx'), join(dir, 'x.onnx')), { code: 'not_found' });
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
});

t.test('engine - a dynamic-batch model runs stacked batches that match single frames', async (t) => {
  const models = join(dir, 'models');
  await addModel(models, dynPath, { id: 'yolox-dyn' });
  const engine = await Engine.create({ modelsDir: models, device: 'cpu', threads: 1, models: ['yolox-dyn'], maxBatch: 2 });
  t.teardown(() => engine.close());
  t.same(
    engine.models().map((m) => [m.id, m.family, m.dynamicBatch]),
    [['yolox-dyn', 'yolox', true]],
  );
  const bus = readFileSync(image('bus.jpg'));
  const zidane = readFileSync(image('zidane.jpg'));
  const dog = readFileSync(image('dog.jpg'));
  const out = await engine.detectBatch('yolox-dyn', [
    { image: bus },
    { image: bus.subarray(0, 100) },
    { image: zidane },
    { image: dog, params: { classes: ['dog'] } },
  ]);
  t.ok(isYoloscaleError(out[1], 'bad_image'), 'the truncated frame fails alone');
  const singles = await Promise.all([bus, zidane, dog].map((b, i) => engine.detect(b, 'yolox-dyn', i === 2 ? { classes: ['dog'] } : {})));
  for (const [k, i] of [0, 2, 3].entries()) {
    const r = out[i] as DetectionResult;
    t.notOk(r instanceof Error, `frame ${i} answered`);
    t.same(r.detections, singles[k]!.detections, `frame ${i} equals its single-frame result`);
  }
  t.ok((out[0] as DetectionResult).detections.some((d) => d.class === 'bus' && d.score > 0.8));
});
