// Every built-in model through the whole engine; the four first loads race on
// a two-thread pool (each load holds every thread once, so they must not interleave).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Engine } from '../../worker/engine/engine.js';
import { MODELS_DIR, image } from '../helpers/env.js';

const bus = readFileSync(image('bus.jpg'));
const engine = await Engine.create({ modelsDir: MODELS_DIR, device: 'cpu', threads: 2 });
t.teardown(() => engine.close());

t.test('engine - every built-in model finds the bus (concurrent first loads)', async (t) => {
  const results = await Promise.all(
    ['yolox-nano', 'yolo11n-320', 'yolov5n-256', 'yolov10n'].map((id) => engine.detect(bus, id, { conf: 0.3 })),
  );
  for (const r of results) {
    const b = r.detections.find((d) => d.class === 'bus');
    t.ok(b && b.score > 0.6, `${r.model} finds the bus (${b?.score})`);
    t.ok(b && b.box.x1 < 60 && b.box.x2 > 750, `${r.model} bus box spans the bus`);
  }
  t.same(engine.models().map((m) => m.id).sort(), ['yolo11n-320', 'yolov10n', 'yolov5n-256', 'yolox-nano']);
});
