/**
 * `bench soak` (issue #8, SPEC.md §11): a bounded soak of the whole cluster
 * (scheduler, echo workers that hold each batch `echoDelayMs` like a real
 * model would, gateway with its SQLite ledger, each its own process) under
 * mixed REST and WebSocket traffic of several tenants, closed-loop so the
 * cluster runs at its capacity for the whole time.
 *
 * Tenants: two `pro` and one `starter` tenant with top-ups (served), and one
 * `free` tenant without, which runs out of tokens early and keeps asking
 * (its 429s and 4029 closes are part of the planned load).
 *
 * Reports completed frames per second, round-trip percentiles, errors by
 * code and by HTTP status, and the resident memory of the cluster's
 * processes (summed, MiB) after warm-up and at the end. Targets: memory at the
 * end within 10% of its level after warm-up; no error status besides 429/503.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchCluster } from './cluster.js';
import type { ClusterTenant } from './cluster.js';
import { LoadTally, quantile, restLoop, rssMb, streamLoop } from './load.js';
import type { LoadClient } from './load.js';
import { isMainModule, machineInfo, round, scriptFlags, writeBenchResult } from './script-args.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// From sources this file is bench/X.ts; built, dist/bench/X.js.
const REPO_ROOT = resolve(HERE, basename(dirname(HERE)) === 'dist' ? '../..' : '..');

/** Options of {@link runSoakBench}; all optional. */
export interface SoakBenchOptions {
  /** Measured time after warm-up, minutes (default 2). */
  minutes?: number;
  /** Warm-up before measuring, s (default 30: long enough for the processes' heaps to reach their working size). */
  warmupS?: number;
  /** Echo workers (default 2), frames each holds at once (default 8), time each batch takes, ms (default 25). */
  workers?: number;
  slots?: number;
  echoDelayMs?: number;
  /** REST requests in flight per served tenant (default 3). */
  restConcurrency?: number;
  /** Camera rate of each tenant's stream, frames/s (default 30). */
  streamFps?: number;
  /** Encoded frame (default ../shared/images/dog.jpg). */
  image?: string;
  /** Result file (default bench/results/soak.json; `null` writes nothing). */
  outFile?: string | null;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** `bench/results/soak.json`. */
export interface SoakBenchResult {
  minutes: number;
  /** Frames answered per second (REST 200 + stream detections) while measuring. */
  fps: number;
  latencyMs: { p50: number; p99: number };
  /** Errors by code while measuring (REST answers, stream error messages, refusing closes as `close_CODE`). */
  errors: Record<string, number>;
  /** The same by HTTP status (`0`: gateway unreachable). */
  errorsByStatus: Record<string, number>;
  /** Summed resident memory of scheduler, gateway and workers, MiB. */
  rssMb: { afterWarmup: number; end: number };
  /** Per process, MiB. */
  rssMbByProcess: Record<string, { afterWarmup: number; end: number }>;
  /** Summed resident memory every 15 s while measuring, MiB (shows a plateau or a climb). */
  rssMbSamples: number[];
  frames: number;
  /** Stream frames dropped (stale/replaced, never charged) while measuring. */
  dropped: number;
  warmupS: number;
  tenants: ClusterTenant[];
  workers: number;
  slots: number;
  echoDelayMs: number;
  /** Frames/s the workers could take: `workers × slots × 1000 / echoDelayMs`. */
  workerCapacityFps: number;
  restConcurrency: number;
  streamFps: number;
  cpuCores: number;
  loadAvg: { start: number; end: number };
  node: string;
  date: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs the soak and writes `bench/results/soak.json`. */
export async function runSoakBench(opts: SoakBenchOptions = {}): Promise<SoakBenchResult> {
  const minutes = opts.minutes ?? 2;
  const warmupS = opts.warmupS ?? 30;
  const workers = opts.workers ?? 2;
  const slots = opts.slots ?? 8;
  const echoDelayMs = opts.echoDelayMs ?? 25;
  const restConcurrency = opts.restConcurrency ?? 3;
  const streamFps = opts.streamFps ?? 30;
  if (!(minutes > 0)) throw new TypeError('options.minutes must be a positive number');
  if (!(warmupS >= 0)) throw new TypeError('options.warmupS must be a number ≥ 0');
  for (const [k, v] of Object.entries({ workers, slots, restConcurrency })) if (!Number.isInteger(v) || v < 1) throw new TypeError(`options.${k} must be a positive integer`);
  if (!(echoDelayMs > 0)) throw new TypeError('options.echoDelayMs must be a positive number');
  if (!(streamFps > 0)) throw new TypeError('options.streamFps must be a positive number');
  const log = opts.log ?? (() => {});
  const image = await readFile(resolve(opts.image ?? join(REPO_ROOT, '..', 'shared', 'images', 'dog.jpg')));
  const tenants: ClusterTenant[] = [
    { name: 'soak-pro-a', plan: 'pro', topup: 10_000_000 },
    { name: 'soak-pro-b', plan: 'pro', topup: 10_000_000 },
    { name: 'soak-starter', plan: 'starter', topup: 10_000_000 },
    { name: 'soak-free', plan: 'free' },
  ];
  const loadStart = loadavg()[0] ?? 0;
  const cluster = await BenchCluster.start({ workers, slots, echoDelayMs, tenants });
  const clients: LoadClient[] = [];
  try {
    const tally = new LoadTally();
    const url = () => cluster.url;
    const runId = Date.now().toString(36);
    cluster.keys.forEach((tenant, i) => {
      clients.push(restLoop({ url, tenant, image, tally, concurrency: restConcurrency, keyPrefix: `soak-${runId}-${i}` }));
      clients.push(streamLoop({ url, tenant, image, tally, fps: streamFps }));
    });
    const memory = () => {
      const p = cluster.pids();
      const by: Record<string, number> = {};
      for (const [name, pid] of [['scheduler', p.scheduler], ['gateway', p.gateway], ...p.workers.map((w, i) => [`worker-${i}`, w] as const)] as const) {
        by[name] = rssMb(pid) ?? NaN;
      }
      return by;
    };
    log(`warming up for ${warmupS} s`);
    await sleep(warmupS * 1000);
    const memWarm = memory();
    tally.resetLatencies();
    const answered0 = tally.answered;
    const dropped0 = tally.dropped;
    const t0 = Date.now();
    const endAt = t0 + minutes * 60_000;
    const sum = (m: Record<string, number>) => round(Object.values(m).reduce((s, v) => s + v, 0), 1);
    const samples = [sum(memWarm)];
    while (Date.now() < endAt) {
      await sleep(Math.min(15_000, endAt - Date.now()));
      samples.push(sum(memory()));
      log(`${Math.round((Date.now() - t0) / 1000)} s: ${tally.answered - answered0} frames, errors ${JSON.stringify(tally.errors)}, RSS ${samples.at(-1)} MiB`);
    }
    const elapsedS = (Date.now() - t0) / 1000;
    const memEnd = memory();
    const frames = tally.answered - answered0;
    const latencies = tally.latenciesMs;
    const errors = { ...tally.errors };
    const errorsByStatus = { ...tally.errorsByStatus };
    const dropped = tally.dropped - dropped0;
    await Promise.all(clients.splice(0).map((c) => c.stop(5_000)));
    const result: SoakBenchResult = {
      minutes: round(elapsedS / 60),
      fps: round(frames / elapsedS, 1),
      latencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) },
      errors,
      errorsByStatus,
      rssMb: { afterWarmup: sum(memWarm), end: sum(memEnd) },
      rssMbByProcess: Object.fromEntries(Object.keys(memWarm).map((k) => [k, { afterWarmup: memWarm[k]!, end: memEnd[k]! }])),
      rssMbSamples: samples,
      frames,
      dropped,
      warmupS,
      tenants,
      workers,
      slots,
      echoDelayMs,
      workerCapacityFps: round((workers * slots * 1000) / echoDelayMs, 0),
      restConcurrency,
      streamFps,
      ...machineInfo(loadStart),
    };
    await writeBenchResult('soak', result, opts.outFile);
    return result;
  } finally {
    await Promise.all(clients.map((c) => c.stop(0)));
    await cluster.stop();
  }
}

// `npx tsx bench/soak.ts [--minutes M] [--warmup-s S] [--echo-delay-ms D] [--out FILE]`
if (isMainModule(import.meta.url)) {
  const { get, num } = scriptFlags();
  const r = await runSoakBench({
    minutes: num('minutes'),
    warmupS: num('warmup-s'),
    echoDelayMs: num('echo-delay-ms'),
    ...(get('out') ? { outFile: get('out') } : {}),
    log: (l) => process.stderr.write(`soak: ${l}\n`),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
