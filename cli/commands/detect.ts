import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ErrorCode, YoloscaleError } from '../../protocol/index.js';
import type { DetectionResult } from '../../protocol/index.js';
import { DEFAULT_MODEL_ID } from '../../worker/engine/models.js';
import type { Engine, EngineDetectParams } from '../../worker/index.js';
import type { CommandContext, CommandSpec } from '../context.js';
import { intFlag, numberFlag, parseCommandArgs, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { resolveSettings, SETTING_FLAGS } from '../settings.js';
import { formatTable } from '../table.js';

const USAGE = 'detect IMAGE... [--model ID] [--conf C] [--iou I] [--classes a,b] [--max-det N] [--agnostic] [--annotate OUT.jpg|DIR] [--gateway URL --key KEY]';

/** Parses `--classes person,car,2` into names and ids. */
export function parseClasses(value: string | undefined): Array<string | number> | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new UsageError('--classes needs at least one class name or id');
  return items.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Human table of one result. */
export function resultTable(file: string, r: DetectionResult): string {
  const head = `${file}: ${r.model}, ${r.image.width}×${r.image.height}, ${r.detections.length} detections, ${r.timing.totalMs.toFixed(1)} ms (inference ${r.timing.inferMs.toFixed(1)} ms)${r.tokens ? `, ${r.tokens.charged} tokens charged, ${r.tokens.remaining} left` : ''}\n`;
  if (!r.detections.length) return head;
  return (
    head +
    formatTable(
      ['CLASS', 'ID', 'SCORE', 'X1', 'Y1', 'X2', 'Y2'],
      r.detections.map((d) => [d.class, d.classId, Number(d.score.toFixed(3)), Number(d.box.x1.toFixed(1)), Number(d.box.y1.toFixed(1)), Number(d.box.x2.toFixed(1)), Number(d.box.y2.toFixed(1))]),
    )
  );
}

async function viaGateway(url: string, key: string, bytes: Uint8Array, model: string, params: EngineDetectParams): Promise<DetectionResult> {
  const q = new URLSearchParams({ model });
  if (params.conf !== undefined) q.set('conf', String(params.conf));
  if (params.iou !== undefined) q.set('iou', String(params.iou));
  if (params.maxDet !== undefined) q.set('maxDet', String(params.maxDet));
  if (params.classes) q.set('classes', params.classes.join(','));
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, '')}/v1/detect?${q}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      body: bytes,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the gateway at ${url} (${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message})`);
  }
  const body = (await res.json().catch(() => ({}))) as DetectionResult & { error?: { code: ErrorCode; message: string } };
  if (!res.ok) throw new YoloscaleError(body.error?.code ?? ErrorCode.internal, body.error?.message ?? `HTTP ${res.status}`);
  return body;
}

async function runDetect(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      ...SETTING_FLAGS,
      model: { type: 'string' },
      conf: { type: 'string' },
      iou: { type: 'string' },
      classes: { type: 'string' },
      'max-det': { type: 'string' },
      agnostic: { type: 'boolean' },
      annotate: { type: 'string' },
      gateway: { type: 'string' },
      key: { type: 'string' },
    },
    USAGE,
  );
  if (!positionals.length) throw new UsageError('detect needs at least one IMAGE', USAGE);
  if (values.gateway && !values.key) throw new UsageError('--gateway needs --key KEY', USAGE);
  const model = (values.model as string | undefined) ?? DEFAULT_MODEL_ID;
  const params: EngineDetectParams = {
    conf: numberFlag('conf', values.conf as string | undefined, 0, 1),
    iou: numberFlag('iou', values.iou as string | undefined, 0, 1),
    classes: parseClasses(values.classes as string | undefined),
    maxDet: intFlag('max-det', values['max-det'] as string | undefined),
    agnostic: values.agnostic ? true : undefined,
  };
  const annotate = values.annotate as string | undefined;
  if (annotate && positionals.length > 1) mkdirSync(annotate, { recursive: true });

  const images = await Promise.all(
    positionals.map(async (file) => {
      try {
        return await readFile(file);
      } catch (err) {
        throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }),
  );
  let engine: Engine | undefined;
  const results: DetectionResult[] = [];
  try {
    if (!values.gateway) {
      const settings = resolveSettings(values, ctx.io.env);
      const { Engine } = await import('../../worker/index.js');
      engine = await Engine.create({ modelsDir: settings.models, device: settings.device, threads: Math.min(images.length, 2) });
    }
    const out = await Promise.all(
      images.map((bytes) => (engine ? engine.detect(new Uint8Array(bytes), model, params) : viaGateway(values.gateway as string, values.key as string, bytes, model, params))),
    );
    results.push(...out);
  } finally {
    await engine?.close();
  }
  if (annotate) {
    const { annotateImage } = await import('../../gateway/annotate.js');
    await Promise.all(
      results.map(async (r, i) => {
        const dest = positionals.length > 1 ? join(annotate, `${basename(positionals[i]).replace(/\.[^.]+$/, '')}.jpg`) : annotate;
        await writeFile(dest, await annotateImage(images[i], r));
      }),
    );
  }
  if (ctx.global.json) printJson(ctx.io, results.length === 1 ? results[0] : results);
  else {
    ctx.io.stdout.write(results.map((r, i) => resultTable(positionals[i], r)).join('\n'));
    if (engine) ctx.io.stderr.write(`device: ${engine.device}${engine.deviceReason ? ` (${engine.deviceReason})` : ''}\n`);
  }
  return 0;
}

export const detectCommand: CommandSpec = {
  name: 'detect',
  summary: 'Detect objects in images with the local engine (or through a gateway)',
  usage: [USAGE],
  examples: [
    'yoloscale detect bus.jpg',
    'yoloscale detect bus.jpg --model yolo11n-320 --conf 0.4 --classes person,bus --annotate bus-boxes.jpg',
    'yoloscale detect *.jpg --json > results.json',
    'yoloscale detect bus.jpg --gateway http://127.0.0.1:8080 --key ys_...',
  ],
  run: runDetect,
};
