import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../worker/engine/engine.js';
import { isYoloscaleError, silentLogger, YoloscaleError } from '../../protocol/index.js';
import type { DetectionResult, Logger } from '../../protocol/index.js';
import { MODELS_DIR, image } from '../helpers/env.js';

const bus = readFileSync(image('bus.jpg'));
const dog = readFileSync(image('dog.jpg'));

function recordingLogger(lines: string[]): Logger {
  const log = (o: object | string, msg?: string) => lines.push(`${typeof o === 'string' ? o : JSON.stringify(o)} ${msg ?? ''}`);
  const l: Logger = { debug: log, info: log, warn: log, error: log, child: () => l };
  return l;
}

async function expectCode(t: Test, p: Promise<unknown>, code: string, what: string): Promise<YoloscaleError | undefined> {
  try {
    await p;
    t.fail(`${what}: no error`);
  } catch (err) {
    t.ok(isYoloscaleError(err), `${what}: a YoloscaleError`);
    t.equal((err as YoloscaleError).code, code, `${what}: ${code}`);
    return err as YoloscaleError;
  }
  return undefined;
}

// One engine for most tests: starting pool threads from TypeScript sources is not free.
const lines: string[] = [];
const engine = await Engine.create({
  modelsDir: MODELS_DIR,
  device: 'auto',
  threads: 2,
  // Two frames per thread at once: exercises the load barrier and the per-thread input buffers.
  tasksPerThread: 2,
  models: ['yolox-nano'],
  echo: true,
  logger: recordingLogger(lines),
});
t.teardown(() => engine.close());

t.test('engine - auto picks CPU here, says why, and finds the bus with yolox-nano', async (t) => {
  t.equal(engine.device, 'cpu');
  t.match(engine.deviceReason, /cuda/i, 'the CUDA load failure is kept');
  t.ok(lines.some((l) => /using CPU/.test(l)), 'the choice is logged');
  t.equal(engine.threads, 2);
  t.same(
    engine.models().map((m) => [m.id, m.family, m.dynamicBatch]),
    [
      ['echo', 'echo', true],
      ['yolox-nano', 'yolox', false],
    ],
  );
  const r = await engine.detect(bus, 'yolox-nano');
  t.equal(r.model, 'yolox-nano');
  t.same(r.image, { width: 810, height: 1080 });
  const b = r.detections.find((d) => d.class === 'bus');
  t.ok(b && b.score > 0.8, 'bus above 0.8');
  t.ok(r.detections.filter((d) => d.class === 'person').length >= 3, 'three or more people');
  t.ok(r.timing.inferMs > 0 && r.timing.totalMs >= r.timing.inferMs && r.timing.queueMs >= 0, 'timings filled');
  t.equal(r.tokens, undefined, 'no tokens without a ledger');
  const people = await engine.detect(bus, 'yolox-nano', { classes: ['person'], maxDet: 2 });
  t.equal(people.detections.length, 2);
  t.ok(people.detections.every((d) => d.class === 'person'));
});

t.test('engine - a bad image fails only its own frame in a batch', async (t) => {
  const truncated = bus.subarray(0, 2000);
  const garbage = new Uint8Array(500).fill(7);
  const out = await engine.detectBatch('yolox-nano', [
    { image: bus },
    { image: truncated },
    { image: dog, params: { classes: ['dog'] } },
    { image: new Uint8Array(0) },
    { image: garbage },
    { image: bus, params: { conf: 7 } },
  ]);
  t.equal(out.length, 6);
  const ok0 = out[0] as DetectionResult;
  t.ok(!(ok0 instanceof Error) && ok0.detections.some((d) => d.class === 'bus'), 'frame 0 answered');
  const ok2 = out[2] as DetectionResult;
  t.ok(!(ok2 instanceof Error) && ok2.detections.length >= 1 && ok2.detections.every((d) => d.class === 'dog'), 'frame 2 answered');
  for (const i of [1, 3, 4]) t.ok(isYoloscaleError(out[i], 'bad_image'), `frame ${i} is bad_image`);
  t.ok(isYoloscaleError(out[5], 'bad_request'), 'frame 5 has bad params');
  // The engine keeps serving.
  const again = await engine.detect(dog, 'yolox-nano');
  t.ok(again.detections.some((d) => d.class === 'dog'));
});

t.test('engine - bad input, too large, unknown and missing models give typed errors', async (t) => {
  await expectCode(t, engine.detect(bus.subarray(0, 3000), 'yolox-nano'), 'bad_image', 'truncated JPEG');
  await expectCode(t, engine.detect(new Uint8Array(0), 'yolox-nano'), 'bad_image', 'empty image');
  // A PNG header claiming 10000×10000 pixels is refused before decoding.
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000027100000271008020000000000000000', 'hex');
  await expectCode(t, engine.detect(png, 'yolox-nano'), 'too_large', 'huge PNG');
  const unknown = await expectCode(t, engine.detect(bus, 'yolo-unicorn'), 'unknown_model', 'unknown model');
  t.match(unknown?.message, /known models: yolox-nano, yolo11n-320/);
  await expectCode(t, engine.detectBatch('yolo-unicorn', [{ image: bus }]), 'unknown_model', 'unknown model in a batch');

  const empty = mkdtempSync(join(tmpdir(), 'ys-models-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const missing = await expectCode(t, Engine.create({ modelsDir: empty, device: 'cpu', threads: 1, models: ['yolox-nano'] }), 'model_missing', 'missing model');
  t.equal(
    missing?.message,
    `model yolox-nano is not installed: looked for ${join(empty, 'yolox_nano.onnx')}; run \`yoloscale models pull yolox-nano\` or copy yolox_nano.onnx into ${empty}`,
  );
  t.notOk(missing?.message.includes('\n'), 'one line');
  const lazy = await Engine.create({ modelsDir: empty, device: 'cpu', threads: 1 });
  t.teardown(() => lazy.close());
  const m2 = await expectCode(t, lazy.detect(bus, 'yolo11n-320'), 'model_missing', 'missing on first use');
  t.match(m2?.message, /copy yolo11n_coco_int8dyn_320\.onnx into/);
  await expectCode(t, lazy.detect(bus, 'echo'), 'unknown_model', 'echo is off unless enabled');
});

t.test('engine - cuda on a machine without CUDA is a clear error', async (t) => {
  const err = await expectCode(t, Engine.create({ modelsDir: MODELS_DIR, device: 'cuda', threads: 1, logger: silentLogger }), 'internal', 'cuda');
  t.match(err?.message, /CUDA execution provider did not load.*setup:cuda/);
});

t.test('engine - echo answers at once with no detections when enabled', async (t) => {
  const r = await engine.detect(bus, 'echo');
  t.same({ model: r.model, image: r.image, detections: r.detections }, { model: 'echo', image: { width: 810, height: 1080 }, detections: [] });
  const batch = await engine.detectBatch('echo', [{ image: dog }, { image: new Uint8Array(3) }]);
  t.same((batch[0] as DetectionResult).image, { width: 768, height: 576 });
  t.ok(isYoloscaleError(batch[1], 'bad_image'));
});

t.test('engine - options are validated and transfer hands the buffer over', async (t) => {
  await t.rejects(Engine.create({ modelsDir: MODELS_DIR, threads: 0 }), { message: 'options.threads must be a positive integer' });
  await t.rejects(Engine.create({ modelsDir: MODELS_DIR, device: 'tpu' as never }), { message: 'options.device must be one of auto, cuda, cpu' });
  await t.rejects(Engine.create({ modelsDir: '' }), { message: 'options.modelsDir must be a non-empty string' });
  await t.rejects(Engine.create({ modelsDir: MODELS_DIR, tasksPerThread: 1.5 }), { message: 'options.tasksPerThread must be a positive integer' });
  const copy = new Uint8Array(dog);
  await engine.detect(copy, 'yolox-nano');
  t.equal(copy.byteLength, dog.byteLength, 'copied by default: the caller keeps its bytes');
  const owned = new Uint8Array(dog);
  const r = await engine.detect(owned, 'yolox-nano', {}, { transfer: true });
  t.equal(owned.byteLength, 0, 'transferred: detached');
  t.ok(r.detections.some((d) => d.class === 'dog'));
});
