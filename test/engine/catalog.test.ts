import t from 'tap';
import type { Test } from 'tap';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addModel, listModels, loadUserModels, resolveModel } from '../../worker/engine/catalog.js';
import { inspectModel, parseClassNames } from '../../worker/engine/detect-family.js';
import { BUILTIN_MODELS } from '../../worker/engine/models.js';
import { parseOnnx } from '../../worker/engine/onnx-file.js';
import { COCO_CLASSES } from '../../worker/engine/coco.js';
import { isYoloscaleError } from '../../protocol/index.js';
import { MODELS_DIR } from '../helpers/env.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ys-catalog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('catalog - the four built-ins match SPEC §3 and the shared files', async (t) => {
  t.same(
    BUILTIN_MODELS.map((m) => [m.id, m.file, m.family, m.input.size, m.input.channelOrder, m.input.placement, m.input.scale, m.input.dtype, m.tokensPerFrame]),
    [
      ['yolox-nano', 'yolox_nano.onnx', 'yolox', 416, 'bgr', 'top-left', 1, 'float32', 1],
      ['yolo11n-320', 'yolo11n_coco_int8dyn_320.onnx', 'ultralytics', 320, 'rgb', 'centre', 255, 'float32', 1],
      ['yolov5n-256', 'yolov5n_coco_fp16_256.onnx', 'yolov5', 256, 'rgb', 'centre', 255, 'float16', 1],
      ['yolov10n', 'yolov10n_coco_int8dyn_640.onnx', 'yolov10', 640, 'rgb', 'centre', 255, 'float32', 2],
    ],
  );
  const readme = readFileSync(join(MODELS_DIR, 'README.md'), 'utf8');
  for (const m of BUILTIN_MODELS) t.match(readme, `${m.sha256}  ${m.file}`, `${m.id} hash matches the README`);
  t.equal(BUILTIN_MODELS[0]!.url, 'https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx');
  t.ok(BUILTIN_MODELS.slice(1).every((m) => m.url === undefined), 'only yolox-nano has a download URL');
});

t.test('catalog - family detection recognises each real model file', async (t) => {
  for (const m of BUILTIN_MODELS) {
    const info = inspectModel(parseOnnx(readFileSync(join(MODELS_DIR, m.file))));
    t.equal(info.family, m.family, `${m.file} → ${m.family} (${info.reason})`);
    t.equal(info.size, m.input.size, `${m.file} input size`);
    t.equal(info.inputDtype, m.input.dtype, `${m.file} input dtype`);
    t.same(info.classNames, COCO_CLASSES, `${m.file} class names`);
    t.equal(info.dynamicBatch, false, `${m.file} has a fixed batch`);
  }
  const forced = inspectModel(parseOnnx(readFileSync(join(MODELS_DIR, 'yolox_nano.onnx'))), { family: 'yolov5' });
  t.equal(forced.family, 'yolov5', 'the family can be forced');
});

t.test('catalog - class names from Python and JSON metadata', async (t) => {
  t.same(parseClassNames("{0: 'cat', 1: \"women's shoe\", 2: 'a\\'b'}"), ['cat', "women's shoe", "a'b"]);
  t.same(parseClassNames('["a","b"]'), ['a', 'b']);
  t.same(parseClassNames('{"0":"x","1":"y"}'), ['x', 'y']);
  t.equal(parseClassNames('{0: "a", 2: "c"}'), null, 'gaps are rejected');
  t.equal(parseClassNames(undefined), null);
});

t.test('catalog - listModels shows presence and sizes; resolveModel errors are one clear line', async (t) => {
  const list = await listModels(MODELS_DIR);
  t.same(
    list.map((m) => [m.id, m.present, m.sizeBytes]),
    [
      ['yolox-nano', true, 3659407],
      ['yolo11n-320', true, 2923970],
      ['yolov5n-256', true, 3826255],
      ['yolov10n', true, 2739948],
    ],
  );
  const dir = tempDir(t);
  const empty = await listModels(dir);
  t.ok(empty.every((m) => !m.present && m.sizeBytes === null));
  t.same(empty.map((m) => m.downloadable), [true, false, false, false]);
  await t.rejects(resolveModel(dir, 'yolov10n'), {
    code: 'model_missing',
    message: `model yolov10n is not installed: looked for ${join(dir, 'yolov10n_coco_int8dyn_640.onnx')}; copy yolov10n_coco_int8dyn_640.onnx into ${dir} (set YOLOSCALE_MODELS or --models to use another directory)`,
  });
  await t.rejects(resolveModel(dir, 'nope'), { code: 'unknown_model' });
  const ok = await resolveModel(MODELS_DIR, 'yolox-nano');
  t.equal(ok.path, join(MODELS_DIR, 'yolox_nano.onnx'));
});

t.test('catalog - addModel registers a user model in models.json with its detected family', async (t) => {
  const dir = tempDir(t);
  const src = tempDir(t);
  copyFileSync(join(MODELS_DIR, 'yolov5n_coco_fp16_256.onnx'), join(src, 'my-v5.onnx'));
  const added = await addModel(dir, join(src, 'my-v5.onnx'), { id: 'my-v5', tokensPerFrame: 3 });
  t.equal(added.descriptor.family, 'yolov5');
  t.equal(added.descriptor.input.dtype, 'float16');
  t.equal(added.descriptor.outputDtype, 'float16');
  t.equal(added.descriptor.tokensPerFrame, 3);
  t.ok(existsSync(join(dir, 'my-v5.onnx')), 'copied into the model directory');
  const reg = JSON.parse(readFileSync(join(dir, 'models.json'), 'utf8'));
  t.equal(reg.models[0].id, 'my-v5');
  t.equal(reg.models[0].sha256, 'cda141ef759c43c2b3461810aaeb937922e712dde6b73104680ddd2fc784d076');
  const users = await loadUserModels(dir);
  t.same(users.map((m) => [m.id, m.family, m.builtIn]), [['my-v5', 'yolov5', false]]);
  const list = await listModels(dir);
  t.same(list.at(-1), {
    id: 'my-v5',
    file: 'my-v5.onnx',
    path: join(dir, 'my-v5.onnx'),
    family: 'yolov5',
    inputSize: 256,
    tokensPerFrame: 3,
    builtIn: false,
    present: true,
    sizeBytes: 3826255,
    downloadable: false,
    description: 'user model (yolov5, 256×256)',
  });
  await t.rejects(addModel(dir, join(src, 'my-v5.onnx'), { id: 'my-v5' }), { code: 'conflict' });
  await t.rejects(addModel(dir, join(src, 'my-v5.onnx'), { id: 'yolox-nano' }), { code: 'conflict' });
  await t.rejects(addModel(dir, join(src, 'my-v5.onnx'), { id: 'bad id!' }), { code: 'bad_request' });
  const forced = await addModel(dir, join(src, 'my-v5.onnx'), { id: 'my-v5', family: 'yolox', replace: true });
  t.equal(forced.descriptor.family, 'yolox', 'forced family');
  t.equal(forced.descriptor.input.channelOrder, 'bgr', 'forced family brings its letterbox');
});

t.test('catalog - broken inputs give typed errors', async (t) => {
  const dir = tempDir(t);
  const junk = join(dir, 'junk.onnx');
  writeFileSync(junk, 'this is not protobuf at all');
  const err = await addModel(dir, junk, { id: 'junk' }).catch((e: unknown) => e);
  t.ok(isYoloscaleError(err, 'bad_request'), 'junk file is bad_request');
  await t.rejects(addModel(dir, join(dir, 'absent.onnx'), { id: 'absent' }), { code: 'not_found' });
  writeFileSync(join(dir, 'models.json'), '{"version":1,"models":[{"id":"x"}]}');
  await t.rejects(loadUserModels(dir), { code: 'bad_request', message: /models\.json/ });
  writeFileSync(join(dir, 'models.json'), '{oops');
  await t.rejects(listModels(dir), { code: 'bad_request', message: /not valid JSON/ });
});
