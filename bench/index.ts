// Public surface of bench/: every benchmark by its SPEC §11 name. Each loads its own modules
// when it runs, so listing them (CLI usage, completion) loads none.

/** Options every benchmark understands; each ignores what does not apply. */
export interface BenchRunOptions {
  /** `--image FILE` (engine, preprocess). */
  image?: string;
  /** `--device` (engine, batching). */
  device?: 'auto' | 'cuda' | 'cpu';
  /** `--model` (engine, batching, e2e, eval-crosscheck). */
  model?: string;
  /** `--frames` (most). */
  frames?: number;
  /** `--trace` (autoscale). */
  traces?: string[];
  /** `--minutes` (soak). */
  minutes?: number;
}

/** One benchmark: writes `bench/results/NAME.json` and returns its result and a one-line summary. */
export interface Benchmark {
  name: string;
  summary: string;
  run(opts: BenchRunOptions): Promise<{ result: unknown; line: string }>;
}

const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : String(n));

/** Every benchmark, by name. */
export const BENCHMARKS: readonly Benchmark[] = Object.freeze([
  {
    name: 'engine',
    summary: 'raw session.run fps, preprocessing cost and the whole engine pipeline against their overlap limit',
    async run(opts: BenchRunOptions) {
      const { runEngineBench } = await import('./engine.js');
      const r = await runEngineBench({ model: opts.model, device: opts.device, image: opts.image, frames: opts.frames });
      return { result: r, line: `engine: ${r.model} on ${r.device} × ${r.threads} threads: raw ${fmt(r.rawFps, 1)} fps, prep ${fmt(r.prepMsPerFrame)} ms/frame, pipeline ${fmt(r.pipelineFps, 1)} fps, limit ${fmt(r.limitFps, 1)} fps, ratio ${fmt(r.ratio, 3)} (target ≥ 0.9)` };
    },
  },
  {
    name: 'batching',
    summary: 'engine fps at batch 1, 2, 4, 8, 16 on a dynamic-batch model',
    async run(opts: BenchRunOptions) {
      const { runBatchingBench } = await import('./batching.js');
      const r = await runBatchingBench({ device: opts.device, image: opts.image, frames: opts.frames });
      return { result: r, line: `batching: ${r.model} on ${r.device}: ${r.batches.map((b, i) => `b${b} ${fmt(r.fps[i], 1)} fps`).join(', ')}` };
    },
  },
  {
    name: 'scheduler',
    summary: 'cluster throughput and added latency with echo workers vs the bare ZeroMQ round trip',
    async run(opts: BenchRunOptions) {
      const { runSchedulerBench } = await import('./scheduler.js');
      const r = await runSchedulerBench({ frames: opts.frames, image: opts.image });
      return { result: r, line: `scheduler: ${fmt(r.schedulerFps, 0)} frames/s vs transport ${fmt(r.transportRtPerS, 0)} rt/s, ratio ${fmt(r.ratio)} (target ≥ 0.5); added latency p50 ${fmt(r.addedLatencyMs.p50)} ms, p99 ${fmt(r.addedLatencyMs.p99)} ms` };
    },
  },
  {
    name: 'e2e',
    summary: 'REST through gateway, scheduler and a local worker vs the engine alone',
    async run(opts: BenchRunOptions) {
      const { runE2eBench } = await import('./e2e.js');
      const r = await runE2eBench({ model: opts.model, device: opts.device, frames: opts.frames, image: opts.image });
      return { result: r, line: `e2e: ${r.model} ${fmt(r.fps, 1)} fps through the cluster vs ${fmt(r.engineFps, 1)} fps engine alone, ratio ${fmt(r.ratio)} (target ≥ 0.8); p50 ${fmt(r.latencyMs.p50, 0)} ms, p99 ${fmt(r.latencyMs.p99, 0)} ms` };
    },
  },
  {
    name: 'fairness',
    summary: 'weighted shares of three backlogged tenants (1:2:3) and a quiet tenant’s p99 alone vs beside a flooder',
    async run() {
      const { runFairnessBench } = await import('./fairness.js');
      const r = await runFairnessBench();
      const shares = r.tenants.map((x) => `${fmt(x.share, 3)}/${fmt(x.expectedShare, 3)}`).join(', ');
      return { result: r, line: `fairness: shares ${shares} (measured/entitled), Jain ${fmt(r.jain, 4)} (target ≥ 0.99); quiet p99 ${fmt(r.isolation.soloP99Ms, 1)} ms alone, ${fmt(r.isolation.contendedP99Ms, 1)} ms beside a flooder, ratio ${fmt(r.isolation.ratio)} (target ≤ 1.5)` };
    },
  },
  {
    name: 'preprocess',
    summary: 'image decode + letterbox + tensor layout vs OpenCV, one thread, same run',
    async run(opts: BenchRunOptions) {
      const { runPreprocessBench } = await import('./preprocess.js');
      const r = await runPreprocessBench({ image: opts.image, frames: opts.frames });
      return { result: r, line: `preprocess: ours ${fmt(r.prepareMsPerFrame)} ms/frame, OpenCV ${fmt(r.opencvMsPerFrame)} ms/frame, ratio ${fmt(r.ratio)} (target ≤ 0.8)` };
    },
  },
  {
    name: 'eval-crosscheck',
    summary: '`yoloscale eval` mAP vs an independent Python evaluation (OpenCV, numpy) of each built-in model file',
    async run(opts: BenchRunOptions) {
      const { runEvalCrosscheck } = await import('./eval-crosscheck.js');
      const r = await runEvalCrosscheck(opts.model ? { models: [opts.model] } : {});
      return { result: r, line: r.summary };
    },
  },
  {
    name: 'soak',
    summary: 'mixed REST + WebSocket traffic of four tenants at the cluster’s capacity for --minutes (default 2): fps, latency, errors, memory',
    async run(opts: BenchRunOptions) {
      const { runSoakBench } = await import('./soak.js');
      const r = await runSoakBench({ ...(opts.minutes !== undefined ? { minutes: opts.minutes } : {}), ...(opts.image ? { image: opts.image } : {}) });
      const statuses = Object.entries(r.errorsByStatus).map(([s, n]) => `${s}×${n}`).join(', ') || 'none';
      return { result: r, line: `soak: ${fmt(r.minutes)} min at ${fmt(r.fps, 1)} fps, p50 ${fmt(r.latencyMs.p50, 1)} ms, p99 ${fmt(r.latencyMs.p99, 1)} ms; errors by status ${statuses} (target: 429/503 only); RSS ${fmt(r.rssMb.afterWarmup, 1)} → ${fmt(r.rssMb.end, 1)} MiB (target within 10%)` };
    },
  },
  {
    name: 'autoscale',
    summary: 'predictive vs reactive (HPA) autoscaling on the surge and diurnal traces',
    async run(opts: BenchRunOptions) {
      const { runAutoscaleBench } = await import('./autoscale.js');
      const r = await runAutoscaleBench({ traces: opts.traces });
      return { result: r, line: `autoscale: ${r.summary}` };
    },
  },
]);
