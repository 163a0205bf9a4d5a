import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_MODELS, Engine, openSession } from '../worker/engine/index.js';
import type { DeviceRequest } from '../worker/engine/index.js';
import { prepareImage } from '../worker/image/index.js';
import { isMainModule, machineInfo, round, scriptFlags, writeBenchResult } from './script-args.js';

/**
 * `bench engine` (SPEC.md §11): how close the engine's pipeline (encoded
 * bytes → detections, decode and inference overlapped across the pool)
 * comes to the limit that perfect overlap of its two stages allows.
 *
 * - `prepMsPerFrame`: `prepareImage` of the encoded frame on one thread.
 * - `rawFps`: bare `session.run` on a prepared tensor with the same thread
 *   budget, the better of the engine's own scheme (every pool thread running
 *   its session, with as many runs in flight as the pipeline keeps) and one
 *   session using every core (onnxruntime's intra-op threads), so the limit
 *   is not understated.
 * - `pipelineFps`: `engine.detect` on the encoded frame with enough frames in
 *   flight to keep every thread busy.
 * - `limitFps`: CPU `1 / (1/rawFps + prepMsPerFrame/1000/threads)`; GPU
 *   `min(rawFps, threads × 1000/prepMsPerFrame)`. `ratio = pipelineFps / limitFps`.
 *
 * Rounds are interleaved (prep, raw, pipeline, prep, …) and the median round's
 * figures count, so a burst of load from elsewhere hits every stage alike.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..');

/** Options of {@link runEngineBench}. */
export interface EngineBenchOptions {
  /** Model id (default `yolox-nano`). */
  model?: string;
  /** Device request (default `auto`). */
  device?: DeviceRequest;
  /** Thread budget = pool threads (default: CPU cores). */
  threads?: number;
  /** Encoded frame (default ../shared/images/coco128-train2017-000000000257.jpg, a 640×480 photo). */
  image?: string;
  /** Frames each pool thread works on at once (engine `tasksPerThread`, default 1). */
  tasksPerThread?: number;
  /** Frames per stage per round (default 120). */
  frames?: number;
  /** Interleaved rounds; the median counts (default 3). */
  rounds?: number;
  /** Model directory (default `YOLOSCALE_MODELS`, else ../shared/models). */
  modelsDir?: string;
  /** Result file (default bench/results/engine.json; `null` writes nothing). */
  outFile?: string | null;
}

/** `bench/results/engine.json`: SPEC.md §11 fields plus the parts they are made of. */
export interface EngineBenchResult {
  model: string;
  device: 'cpu' | 'cuda';
  threads: number;
  /** Frames each pool thread works on at once. */
  tasksPerThread: number;
  image: string;
  frames: number;
  rawFps: number;
  prepMsPerFrame: number;
  pipelineFps: number;
  limitFps: number;
  ratio: number;
  /** rawFps of each scheme: every pool thread at once, and one session with `threads` intra-op threads. */
  rawFpsPool: number;
  rawFpsSingleSession: number;
  /** Per-round figures (prepMsPerFrame, rawFps, pipelineFps). */
  rounds: Array<{ prepMsPerFrame: number; rawFps: number; pipelineFps: number }>;
  /** Detections the pipeline found in the frame (a sanity check that real work was done). */
  detections: number;
  cpuCores: number;
  /** 1-minute load average before and after (other processes competing for the cores skew every figure). */
  loadAvg: { start: number; end: number };
  node: string;
  date: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The default model directory of benches: `YOLOSCALE_MODELS`, else ../shared/models. */
export function benchModelsDir(): string {
  return process.env.YOLOSCALE_MODELS ? resolve(process.env.YOLOSCALE_MODELS) : resolve(REPO_ROOT, '..', 'shared', 'models');
}

/** The default frame: a 640×480 COCO street scene beside the models. */
export function benchImage(modelsDir: string): string {
  return resolve(modelsDir, '..', 'images', 'coco128-train2017-000000000257.jpg');
}

/** `limitFps` of SPEC.md §11. */
export function limitFps(device: 'cpu' | 'cuda', rawFps: number, prepMsPerFrame: number, threads: number): number {
  return device === 'cpu' ? 1 / (1 / rawFps + prepMsPerFrame / 1000 / threads) : Math.min(rawFps, (threads * 1000) / prepMsPerFrame);
}

/** Runs `bench engine` and writes its JSON. */
export async function runEngineBench(opts: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const modelId = opts.model ?? 'yolox-nano';
  const threads = opts.threads ?? availableParallelism();
  const frames = opts.frames ?? 120;
  const roundsN = opts.rounds ?? 3;
  if (!Number.isInteger(frames) || frames < 4) throw new TypeError('options.frames must be an integer of at least 4');
  if (!Number.isInteger(roundsN) || roundsN < 1) throw new TypeError('options.rounds must be a positive integer');
  const modelsDir = opts.modelsDir ?? benchModelsDir();
  const imagePath = resolve(opts.image ?? benchImage(modelsDir));
  const bytes = new Uint8Array(await readFile(imagePath));
  const loadStart = loadavg()[0]!;
  const tasksPerThread = opts.tasksPerThread ?? 1;
  const engine = await Engine.create({ modelsDir, device: opts.device ?? 'auto', threads, tasksPerThread, models: [modelId] });
  try {
    const info = engine.models().find((m) => m.id === modelId)!;
    const descriptor = BUILTIN_MODELS.find((m) => m.id === modelId);
    const spec = descriptor?.input ?? { size: info.inputSize, channelOrder: 'rgb', scale: 255, placement: 'centre', padValue: 114, dtype: 'float32' };
    const tensor = (await prepareImage(bytes, spec)).data;

    // One session using every core, on the engine's provider: the other way to spend the budget on inference.
    const path = join(modelsDir, descriptor?.file ?? '');
    const single = descriptor ? await openSession(path, { device: engine.device, intraOpNumThreads: threads }) : null;

    const rounds: EngineBenchResult['rounds'] = [];
    let rawPool: number[] = [];
    let rawSingle: number[] = [];
    let detections = 0;
    // Warm-up: every stage once.
    for (let i = 0; i < 3; i++) await prepareImage(bytes, spec);
    await Promise.all(Array.from({ length: threads * tasksPerThread }, () => engine.runRaw(modelId, tensor, 1, 3)));
    if (single) for (let i = 0; i < 3; i++) await single.run({ data: tensor, dims: [1, 3, spec.size, spec.size] });
    await Promise.all(Array.from({ length: threads * 2 }, () => engine.detect(bytes, modelId)));

    for (let r = 0; r < roundsN; r++) {
      // Preprocessing alone, one thread.
      let t0 = performance.now();
      for (let i = 0; i < frames; i++) await prepareImage(bytes, spec);
      const prepMsPerFrame = (performance.now() - t0) / frames;

      // Inference alone, every pool thread at once, as many runs in flight as the pipeline has.
      const lanes = threads * tasksPerThread;
      const per = Math.max(1, Math.ceil(frames / lanes));
      t0 = performance.now();
      await Promise.all(Array.from({ length: lanes }, () => engine.runRaw(modelId, tensor, 1, per)));
      const pool = (per * lanes * 1000) / (performance.now() - t0);
      rawPool.push(pool);

      // Inference alone, one session with intra-op threads.
      let one = 0;
      if (single) {
        t0 = performance.now();
        for (let i = 0; i < frames; i++) await single.run({ data: tensor, dims: [1, 3, spec.size, spec.size] });
        one = (frames * 1000) / (performance.now() - t0);
        rawSingle.push(one);
      }

      // The pipeline: encoded bytes → detections, one frame queued beyond what the threads hold.
      let next = 0;
      t0 = performance.now();
      const worker = async () => {
        while (next < frames) {
          next++;
          const res = await engine.detect(bytes, modelId);
          detections = res.detections.length;
        }
      };
      await Promise.all(Array.from({ length: threads * (tasksPerThread + 1) }, worker));
      const pipelineFps = (frames * 1000) / (performance.now() - t0);
      rounds.push({ prepMsPerFrame, rawFps: Math.max(pool, one), pipelineFps });
    }
    if (single) await single.release();
    rawPool = rawPool.map((x) => Math.round(x * 10) / 10);
    rawSingle = rawSingle.map((x) => Math.round(x * 10) / 10);

    // The median round by pipeline/limit ratio keeps each round's figures together.
    const withRatio = rounds.map((r) => ({ ...r, ratio: r.pipelineFps / limitFps(engine.device, r.rawFps, r.prepMsPerFrame, threads) }));
    const mid = [...withRatio].sort((a, b) => a.ratio - b.ratio)[withRatio.length >> 1]!;
    const limit = limitFps(engine.device, mid.rawFps, mid.prepMsPerFrame, threads);
    const result: EngineBenchResult = {
      model: modelId,
      device: engine.device,
      threads,
      tasksPerThread,
      image: basename(imagePath),
      frames,
      rawFps: round(mid.rawFps),
      prepMsPerFrame: round(mid.prepMsPerFrame, 3),
      pipelineFps: round(mid.pipelineFps),
      limitFps: round(limit),
      ratio: round(mid.pipelineFps / limit, 3),
      rawFpsPool: round(median(rawPool)),
      rawFpsSingleSession: rawSingle.length ? round(median(rawSingle)) : 0,
      rounds: rounds.map((r) => ({ prepMsPerFrame: round(r.prepMsPerFrame, 3), rawFps: round(r.rawFps), pipelineFps: round(r.pipelineFps) })),
      detections,
      ...machineInfo(loadStart),
    };
    await writeBenchResult('engine', result, opts.outFile);
    return result;
  } finally {
    await engine.close();
  }
}


// `npx tsx bench/engine.ts [--device D] [--threads N] [--frames N] [--image F] [--model ID]`
if (isMainModule(import.meta.url)) {
  const { get } = scriptFlags();
  const r = await runEngineBench({
    ...(get('device') ? { device: get('device') as DeviceRequest } : {}),
    ...(get('threads') ? { threads: Number(get('threads')) } : {}),
    ...(get('frames') ? { frames: Number(get('frames')) } : {}),
    ...(get('rounds') ? { rounds: Number(get('rounds')) } : {}),
    ...(get('tasks') ? { tasksPerThread: Number(get('tasks')) } : {}),
    ...(get('image') ? { image: get('image') } : {}),
    ...(get('model') ? { model: get('model') } : {}),
    ...(get('out') ? { outFile: get('out') } : {}),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
