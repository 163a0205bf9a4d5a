// Real detections through the whole cluster path: a scheduler process, a
// worker process running yolox-nano on CPU, and a SchedulerClient.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { SchedulerClient } from '../../protocol/index.js';
import { HAVE_MODELS, MODELS_DIR, image } from '../helpers/env.js';
import { startScheduler, startWorker } from '../helpers/processes.js';

t.test('inference - a worker runs yolox-nano on real photos and the scheduler returns per-frame results and errors', { skip: HAVE_MODELS ? false : `no models in ${MODELS_DIR}` }, async (t) => {
  const s = await startScheduler(t);
  await startWorker(t, s.workerEndpoint, { nodeId: 'cpu-1', inference: true, echo: false, modelsDir: MODELS_DIR, device: 'cpu', threads: 1 }, 60_000);
  const c = new SchedulerClient({ endpoint: s.clientEndpoint });
  t.teardown(() => c.close());
  c.connect();
  await c.waitReady(30_000);
  const models = c.models().map((m) => m.id);
  t.ok(models.includes('yolox-nano'), `the worker offers the models present (${models.join(', ')})`);
  t.notOk(models.includes('echo'), 'echo only when asked for');
  const yolox = c.models().find((m) => m.id === 'yolox-nano');
  t.match(yolox, { tokensPerFrame: 1, inputSize: 416, family: 'yolox' });
  const frame = (name: string, bytes = readFileSync(image(name))) => ({
    image: bytes,
    model: 'yolox-nano',
    params: {},
    tenant: 't',
    weight: 3600,
    cost: 1,
    lane: 'standard' as const,
    deadlineMs: Date.now() + 30_000,
    frameId: name,
  });
  const [bus, dog, broken] = await Promise.allSettled([c.submit(frame('bus.jpg')), c.submit(frame('dog.jpg')), c.submit(frame('broken', readFileSync(image('dog.jpg')).subarray(0, 2000)))]);
  if (bus.status !== 'fulfilled' || dog.status !== 'fulfilled') throw new Error(`detections failed: ${JSON.stringify([bus, dog])}`);
  t.same(bus.value.image, { width: 810, height: 1080 });
  const busClasses = new Set(bus.value.detections.map((d) => d.class));
  t.ok(busClasses.has('bus') && busClasses.has('person'), `bus.jpg: a bus and people (${[...busClasses].join(', ')})`);
  const dogClasses = new Set(dog.value.detections.map((d) => d.class));
  t.ok(dogClasses.has('dog') && dogClasses.has('bicycle'), `dog.jpg: a dog and a bicycle (${[...dogClasses].join(', ')})`);
  const big = bus.value.detections.find((d) => d.class === 'bus');
  t.ok(big && big.box.x2 - big.box.x1 > 600, 'boxes are in original-image pixels');
  t.ok(bus.value.timing.inferMs > 0 && bus.value.timing.totalMs >= bus.value.timing.inferMs, 'timing filled');
  t.equal(broken.status, 'rejected');
  t.match((broken as PromiseRejectedResult).reason, { code: 'bad_image' }, 'a truncated image fails alone');
});
