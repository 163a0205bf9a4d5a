/**
 * `bench e2e` (SPEC.md §11): REST detections through gateway, scheduler and
 * one local worker (separate processes, real model on CPU by default),
 * against the engine alone with the same thread budget, in the same run.
 *
 * `fps` is completed `POST /v1/detect` per second with `clients` requests in
 * flight; `engineFps` is `engine.detect` per second with the same number in
 * flight; `ratio = fps / engineFps` (target ≥ 0.8).
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Engine } from '../worker/index.js';
import { startEntry } from './processes.js';
import type { BenchProc } from './processes.js';
import { isMainModule, machineInfo, round, scriptFlags, writeBenchResult } from './script-args.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// From sources this file is bench/X.ts; built, dist/bench/X.js.
const REPO_ROOT = resolve(HERE, basename(dirname(HERE)) === 'dist' ? '../..' : '..');

/** Options of {@link runE2eBench}. */
export interface E2eBenchOptions {
  /** Model id (default `yolox-nano`). */
  model?: string;
  /** Device of the engine and the worker (default `cpu`). */
  device?: 'auto' | 'cuda' | 'cpu';
  /** Engine threads, alone and in the worker (default: CPU cores). */
  threads?: number;
  /** Requests in flight (default 8). */
  clients?: number;
  /** Frames measured per side (default 200). */
  frames?: number;
  /** Encoded frame (default ../shared/images/coco128-train2017-000000000257.jpg, a 640×480 photo). */
  image?: string;
  /** Model directory (default `YOLOSCALE_MODELS`, else ../shared/models). */
  modelsDir?: string;
  /** Result file (default bench/results/e2e.json; `null` writes nothing). */
  outFile?: string | null;
}

/** `bench/results/e2e.json`. */
export interface E2eBenchResult {
  model: string;
  clients: number;
  frames: number;
  fps: number;
  latencyMs: { p50: number; p95: number; p99: number };
  engineFps: number;
  ratio: number;
  device: string;
  threads: number;
  image: string;
  cpuCores: number;
  loadAvg: { start: number; end: number };
  node: string;
  date: string;
}

async function closedLoop(send: () => Promise<void>, n: number, clients: number): Promise<{ fps: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        next++;
        const s = performance.now();
        await send();
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { fps: n / ((performance.now() - t0) / 1000), latencies };
}

function pct(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN);
}


/** Runs the benchmark and writes `bench/results/e2e.json`. */
export async function runE2eBench(opts: E2eBenchOptions = {}): Promise<E2eBenchResult> {
  const model = opts.model ?? 'yolox-nano';
  const device = opts.device ?? 'cpu';
  const threads = opts.threads ?? availableParallelism();
  const clients = opts.clients ?? 8;
  const frames = opts.frames ?? 200;
  for (const [k, v] of Object.entries({ threads, clients, frames })) if (!Number.isInteger(v) || v < 1) throw new TypeError(`options.${k} must be a positive integer`);
  const modelsDir = resolve(opts.modelsDir ?? process.env.YOLOSCALE_MODELS ?? join(REPO_ROOT, '..', 'shared', 'models'));
  const imagePath = resolve(opts.image ?? join(REPO_ROOT, '..', 'shared', 'images', 'coco128-train2017-000000000257.jpg'));
  const image = await readFile(imagePath);
  const loadStart = loadavg()[0] ?? 0;
  const warm = Math.max(clients * 2, 10);

  // The engine alone.
  const engine = await Engine.create({ modelsDir, device, threads, models: [model] });
  let engineFps: number;
  let engineDevice: string;
  try {
    engineDevice = engine.device;
    const detect = async () => {
      await engine.detect(image, model);
    };
    await closedLoop(detect, warm, clients);
    engineFps = (await closedLoop(detect, frames, clients)).fps;
  } finally {
    await engine.close();
  }

  // The cluster: scheduler, one worker, gateway, each its own process.
  const procs: BenchProc[] = [];
  try {
    const sched = await startEntry('scheduler', {});
    procs.push(sched);
    procs.push(await startEntry('worker', { scheduler: `tcp://127.0.0.1:${String(sched.info.workerPort)}`, inference: true, echo: false, modelsDir, device, threads, preload: [model] }, 120_000));
    const gw = await startEntry('gateway', { scheduler: `tcp://127.0.0.1:${String(sched.info.clientPort)}` });
    procs.push(gw);
    const url = `${String(gw.info.url)}/v1/detect?model=${encodeURIComponent(model)}`;
    const headers = { authorization: `Bearer ${String(gw.info.key)}`, 'content-type': 'image/jpeg' };
    const until = Date.now() + 60_000;
    for (;;) {
      const r = await fetch(`${String(gw.info.url)}/readyz`);
      if (r.ok) break;
      if (Date.now() > until) throw new Error('gateway not ready after 60 s');
      await new Promise((res) => setTimeout(res, 200));
    }
    const post = async () => {
      const res = await fetch(url, { method: 'POST', headers, body: image });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`POST /v1/detect answered ${res.status}: ${body.slice(0, 200)}`);
    };
    await closedLoop(post, warm, clients);
    const { fps, latencies } = await closedLoop(post, frames, clients);
    const result: E2eBenchResult = {
      model,
      clients,
      frames,
      fps: round(fps),
      latencyMs: { p50: pct(latencies, 0.5), p95: pct(latencies, 0.95), p99: pct(latencies, 0.99) },
      engineFps: round(engineFps),
      ratio: round(fps / engineFps, 3),
      device: engineDevice,
      threads,
      image: imagePath,
      ...machineInfo(loadStart),
    };
    await writeBenchResult('e2e', result, opts.outFile);
    return result;
  } finally {
    await Promise.all(procs.reverse().map((p) => p.stop()));
  }
}

// `npx tsx bench/e2e.ts [--frames N] [--clients N] [--threads N] [--model ID] [--device D] [--out FILE]`
if (isMainModule(import.meta.url)) {
  const { get, num } = scriptFlags();
  const r = await runE2eBench({
    frames: num('frames'),
    clients: num('clients'),
    threads: num('threads'),
    ...(get('model') ? { model: get('model') } : {}),
    ...(get('device') ? { device: get('device') as 'auto' | 'cuda' | 'cpu' } : {}),
    ...(get('image') ? { image: get('image') } : {}),
    ...(get('out') ? { outFile: get('out') } : {}),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
