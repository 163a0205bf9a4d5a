import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUILTIN_MODELS, Engine, addModel, makeDynamic } from '../worker/engine/index.js';
import type { DeviceRequest } from '../worker/engine/index.js';
import { prepareImage } from '../worker/image/index.js';
import { benchImage, benchModelsDir } from './engine.js';
import { isMainModule, round, scriptFlags, writeBenchResult } from './script-args.js';

/**
 * `bench batching` (SPEC.md §11): throughput of a dynamic-batch model at
 * batch sizes 1, 2, 4, 8 and 16. The shared models all have a fixed batch of
 * 1, so the bench first runs `makeDynamic` on `yolox_nano.onnx` (proved
 * against single runs) and registers the result in a temporary model
 * directory. `fps` is the engine's `detectBatch` (encoded frames in, each
 * batch prepared across the pool and run as one stacked `session.run`);
 * `rawFps` is bare `session.run` of a stacked batch on one thread.
 */


/** Options of {@link runBatchingBench}. */
export interface BatchingBenchOptions {
  device?: DeviceRequest;
  /** Pool threads (default: CPU cores). */
  threads?: number;
  /** Frames per batch size (default 64, rounded up to whole batches). */
  frames?: number;
  batches?: number[];
  image?: string;
  modelsDir?: string;
  /** Result file (default bench/results/batching.json; `null` writes nothing). */
  outFile?: string | null;
}

/** `bench/results/batching.json`. */
export interface BatchingBenchResult {
  device: 'cpu' | 'cuda';
  model: string;
  batches: number[];
  /** Encoded frames → detections per second through `detectBatch`, per batch size. */
  fps: number[];
  /** Bare stacked `session.run` frames per second on one thread, per batch size. */
  rawFps: number[];
  threads: number;
  frames: number;
  /** Largest |batched − single| of the make-dynamic proof. */
  proofMaxAbsDiff: number;
  loadAvg: { start: number; end: number };
  date: string;
}


/** Runs `bench batching` and writes its JSON. */
export async function runBatchingBench(opts: BatchingBenchOptions = {}): Promise<BatchingBenchResult> {
  const batches = opts.batches ?? [1, 2, 4, 8, 16];
  const threads = opts.threads ?? availableParallelism();
  const frames = opts.frames ?? 64;
  const modelsDir = opts.modelsDir ?? benchModelsDir();
  const bytes = new Uint8Array(await readFile(resolve(opts.image ?? benchImage(modelsDir))));
  const loadStart = loadavg()[0]!;
  const work = await mkdtemp(join(tmpdir(), 'yoloscale-batching-'));
  try {
    const yolox = BUILTIN_MODELS.find((m) => m.id === 'yolox-nano')!;
    const dynFile = join(work, 'yolox_nano_dynamic.onnx');
    const proof = await makeDynamic(join(modelsDir, yolox.file), dynFile, { batch: 4 });
    const dir = join(work, 'models');
    await addModel(dir, dynFile, { id: 'yolox-nano-dynamic' });
    const modelId = 'yolox-nano-dynamic';
    const engine = await Engine.create({ modelsDir: dir, device: opts.device ?? 'auto', threads, models: [modelId], maxBatch: Math.max(...batches) });
    try {
      const tensor = (await prepareImage(bytes, yolox.input)).data;
      const fps: number[] = [];
      const rawFps: number[] = [];
      for (const b of batches) {
        const items = Array.from({ length: b }, () => ({ image: bytes }));
        const n = Math.max(1, Math.ceil(frames / b));
        await engine.detectBatch(modelId, items); // warm-up at this shape
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const out = await engine.detectBatch(modelId, items);
          if (out.some((r) => r instanceof Error)) throw new Error('a frame failed during the bench');
        }
        fps.push(round((n * b * 1000) / (performance.now() - t0)));
        await engine.runRaw(modelId, tensor, b, 1);
        const runs = await engine.runRaw(modelId, tensor, b, n);
        rawFps.push(round((n * b * 1000) / runs.reduce((a, x) => a + x, 0)));
      }
      const result: BatchingBenchResult = {
        device: engine.device,
        model: modelId,
        batches,
        fps,
        rawFps,
        threads,
        frames,
        proofMaxAbsDiff: proof.maxAbsDiff,
        loadAvg: { start: round(loadStart), end: round(loadavg()[0]!) },
        date: new Date().toISOString(),
      };
      await writeBenchResult('batching', result, opts.outFile);
      return result;
    } finally {
      await engine.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// `npx tsx bench/batching.ts [--device D] [--frames N]`
if (isMainModule(import.meta.url)) {
  const { get } = scriptFlags();
  const r = await runBatchingBench({
    ...(get('device') ? { device: get('device') as DeviceRequest } : {}),
    ...(get('frames') ? { frames: Number(get('frames')) } : {}),
    ...(get('threads') ? { threads: Number(get('threads')) } : {}),
    ...(get('out') ? { outFile: get('out') } : {}),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
