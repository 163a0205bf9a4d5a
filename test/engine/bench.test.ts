// The engine benchmark's JSON has the SPEC §11 fields and its derived figures
// follow their definitions (no timing is asserted here).
import t from 'tap';
import { limitFps, runEngineBench } from '../../bench/engine.js';
import { MODELS_DIR } from '../helpers/env.js';

t.test('bench engine - fields and formulas of SPEC §11', async (t) => {
  const r = await runEngineBench({ modelsDir: MODELS_DIR, device: 'cpu', threads: 1, frames: 4, rounds: 1, outFile: null });
  for (const k of ['model', 'device', 'threads', 'image', 'frames', 'rawFps', 'prepMsPerFrame', 'pipelineFps', 'limitFps', 'ratio']) {
    t.ok(k in r, `has ${k}`);
  }
  t.equal(r.model, 'yolox-nano');
  t.equal(r.device, 'cpu');
  t.equal(r.image, 'coco128-train2017-000000000257.jpg');
  t.ok(r.rawFps > 0 && r.prepMsPerFrame > 0 && r.pipelineFps > 0);
  t.ok(r.detections > 0, 'the pipeline really detected objects');
  t.equal(r.rawFps, Math.max(r.rounds[0]!.rawFps), 'rawFps is the better inference scheme');
  t.ok(Math.abs(r.limitFps - limitFps('cpu', r.rawFps, r.prepMsPerFrame, 1)) < 0.05 * r.limitFps, 'limitFps per the CPU formula');
  t.ok(Math.abs(r.ratio - r.pipelineFps / r.limitFps) < 0.01, 'ratio = pipelineFps / limitFps');
  t.equal(limitFps('cpu', 100, 5, 2), 1 / (1 / 100 + 5 / 1000 / 2));
  t.equal(limitFps('cuda', 500, 5, 2), 400);
});
