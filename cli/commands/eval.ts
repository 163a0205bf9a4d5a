import { readFile } from 'node:fs/promises';
import { DEFAULT_MODEL_ID } from '../../worker/engine/models.js';
import type { EvalImage } from '../../worker/index.js';
import type { CommandSpec } from '../context.js';
import { intFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { resolveSettings, SETTING_FLAGS } from '../settings.js';

const USAGE = 'eval --data DIR [--model ID] [--threads N] [--json]';

/**
 * COCO-style evaluation settings of SPEC §4. Multi-label candidates follow how
 * each family's own validator runs (Ultralytics and YOLOv5 keep every class
 * above the threshold; YOLOX takes the best class; YOLOv10 is end-to-end).
 */
const EVAL_PARAMS = Object.freeze({ conf: 0.001, iou: 0.65, maxDet: 300 });

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'COCO-style mAP@0.5 and mAP@0.5:0.95 of a model on a YOLO-format labelled set',
  usage: [USAGE],
  examples: ['yoloscale eval --data ./coco-subset', 'yoloscale eval --data ./coco-subset --model yolo11n-320 --json'],
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, { ...SETTING_FLAGS, data: { type: 'string' }, model: { type: 'string' }, threads: { type: 'string' } }, USAGE);
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, USAGE);
    if (!values.data) throw new UsageError('eval needs --data DIR (holding images/ and labels/)', USAGE);
    const settings = resolveSettings(values, ctx.io.env);
    const model = (values.model as string | undefined) ?? DEFAULT_MODEL_ID;
    const { Engine, evaluate, listModels, loadYoloDataset } = await import('../../worker/index.js');
    const listing = (await listModels(settings.models)).find((m) => m.id === model);
    const multiLabel = listing ? listing.family === 'ultralytics' || listing.family === 'yolov5' : false;
    const dataset = await loadYoloDataset(values.data as string);
    if (!dataset.length) throw new Error(`no images found under ${values.data}/images`);
    const engine = await Engine.create({ modelsDir: settings.models, device: settings.device, threads: intFlag('threads', values.threads as string | undefined) });
    const images: EvalImage[] = new Array(dataset.length);
    try {
      let next = 0;
      // Keep every pool thread busy without holding every image in memory at once.
      const lanes = Array.from({ length: Math.max(1, engine.threads * 2) }, async () => {
        for (let i = next++; i < dataset.length; i = next++) {
          const item = dataset[i];
          const r = await engine.detect(new Uint8Array(await readFile(item.path)), model, { ...EVAL_PARAMS, multiLabel });
          if (r.image.width !== item.width || r.image.height !== item.height) {
            throw new Error(`${item.name}: engine saw ${r.image.width}×${r.image.height}, labels assume ${item.width}×${item.height}`);
          }
          images[i] = { gt: item.gt, dets: r.detections.map((d) => ({ classId: d.classId, score: d.score, box: d.box })) };
        }
      });
      await Promise.all(lanes);
    } finally {
      await engine.close();
    }
    // pycocotools keeps the 100 best detections per image and class.
    const summary = evaluate(images, { maxDetsPerClass: 100 });
    const out = { images: summary.images, boxes: summary.boxes, map50: summary.map50, map50_95: summary.map50_95 };
    if (ctx.global.json) printJson(ctx.io, out);
    else ctx.io.stdout.write(`${model} on ${values.data}: ${out.images} images, ${out.boxes} boxes, mAP@0.5 ${out.map50.toFixed(4)}, mAP@0.5:0.95 ${out.map50_95.toFixed(4)}\n`);
    return 0;
  },
};
