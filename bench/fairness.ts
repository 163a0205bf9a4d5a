/**
 * `bench fairness` (SPEC.md §8, §11): weighted fair share and tenant
 * isolation through a real scheduler process over ZeroMQ, with echo worker
 * processes that hold every batch for a fixed time (`echoDelayMs`) so the
 * cluster saturates at `workers × slots` frames per `echoDelayMs`.
 *
 * - Shares: three tenants with plan weights 1:2:3 each keep `window` frames
 *   outstanding (far more than the cluster's slots, so every tenant always
 *   has frames waiting at the scheduler). After `warmupMs`, the frames each
 *   tenant gets served during `measureMs` give its measured share;
 *   `expectedShare = weight / Σweights`; `jain` is Jain's index over
 *   `share / expectedShare` (1 = exactly as entitled).
 * - Isolation: a quiet tenant sends at a steady `quietFps` alone (its p99
 *   round trip is `soloP99Ms`), then at the same pace while a flooding tenant
 *   of the same weight keeps `floodWindow` frames outstanding
 *   (`contendedP99Ms`). Rounds alternate solo and contended runs so load
 *   from elsewhere on the machine hits both alike; percentiles pool the rounds.
 *
 * Targets (issue #4): `jain ≥ 0.99`; `contendedP99Ms ≤ 1.5 × soloP99Ms`.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SchedulerClient } from '../protocol/index.js';
import type { Lane } from '../protocol/index.js';
import { startEntry } from './processes.js';
import type { BenchProc } from './processes.js';
import { isMainModule, machineInfo, scriptFlags, writeBenchResult } from './script-args.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// From sources this file is bench/X.ts; built, dist/bench/X.js.
const REPO_ROOT = resolve(HERE, basename(dirname(HERE)) === 'dist' ? '../..' : '..');

/** Plan tokens per hour of the `free` plan: the unit weight (SPEC.md §7). */
const UNIT_WEIGHT = 3600;

/** Options of {@link runFairnessBench}; all optional. */
export interface FairnessBenchOptions {
  /** Relative weights of the share tenants (default [1, 2, 3]); each is multiplied by 3,600 tokens/h. */
  weights?: number[];
  /** Echo worker processes (default 2). */
  workers?: number;
  /** Frames each worker accepts in flight (default 8). */
  slots?: number;
  /** Time each worker holds a batch before answering, ms (default 40). */
  echoDelayMs?: number;
  /** Frames each share tenant keeps outstanding (default 64). */
  window?: number;
  /** Saturated time before shares are counted, ms (default 1,500). */
  warmupMs?: number;
  /** Time shares are counted, ms (default 6,000). */
  measureMs?: number;
  /** Pace of the quiet tenant, frames/s (default 20). */
  quietFps?: number;
  /** Quiet frames per isolation run (default 150). */
  quietFrames?: number;
  /** Frames the flooding tenant keeps outstanding (default 256). */
  floodWindow?: number;
  /** Solo/contended round pairs (default 3). */
  rounds?: number;
  /** Lane of every frame (default `standard`, the REST lane). */
  lane?: Lane;
  /** Scheduler micro-batching (defaults: the product's 16 frames, 2 ms). */
  maxBatch?: number;
  maxDelayMs?: number;
  /** Result file (default bench/results/fairness.json; `null` writes nothing). */
  outFile?: string | null;
}

/** One share tenant in the result. */
export interface TenantShare {
  id: string;
  /** Plan tokens per hour sent as the frame weight. */
  weight: number;
  /** Fraction of the frames served in the measuring window. */
  share: number;
  /** `weight / Σweights`. */
  expectedShare: number;
  /** Frames served in the measuring window. */
  frames: number;
}

/** `bench/results/fairness.json`. */
export interface FairnessBenchResult {
  tenants: TenantShare[];
  jain: number;
  isolation: {
    soloP99Ms: number;
    contendedP99Ms: number;
    /** `contendedP99Ms / soloP99Ms` (target ≤ 1.5). */
    ratio: number;
    soloP50Ms: number;
    contendedP50Ms: number;
    /** Frames the flooder got served during the contended runs (it really flooded). */
    floodFrames: number;
  };
  /** Served frames per second while the share tenants saturated the cluster. */
  saturatedFps: number;
  /** `workers × slots × 1000 / echoDelayMs`: what the workers can take. */
  capacityFps: number;
  /** Frames answered with an error during the whole run (expected 0). */
  errors: number;
  workers: number;
  slots: number;
  echoDelayMs: number;
  window: number;
  floodWindow: number;
  quietFps: number;
  warmupMs: number;
  measureMs: number;
  rounds: number;
  lane: Lane;
  maxBatch: number;
  maxDelayMs: number;
  cpuCores: number;
  loadAvg: { start: number; end: number };
  node: string;
  date: string;
}

/**
 * Jain's fairness index of `xs`: `(Σx)² / (n · Σx²)`, 1 when all are equal,
 * 1/n when one takes everything. NaN for an empty list.
 */
export function jainIndex(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let sum = 0;
  let sq = 0;
  for (const x of xs) {
    sum += x;
    sq += x * x;
  }
  return sq === 0 ? 1 : (sum * sum) / (xs.length * sq);
}

/** Shares of served frames per tenant against their weights, and Jain's index over share ÷ entitled share. */
export function fairShares(tenants: ReadonlyArray<{ id: string; weight: number; frames: number }>): { tenants: TenantShare[]; jain: number } {
  const totalFrames = tenants.reduce((s, x) => s + x.frames, 0);
  const totalWeight = tenants.reduce((s, x) => s + x.weight, 0);
  const out = tenants.map((x) => ({
    id: x.id,
    weight: x.weight,
    share: totalFrames > 0 ? x.frames / totalFrames : 0,
    expectedShare: x.weight / totalWeight,
    frames: x.frames,
  }));
  return { tenants: out, jain: jainIndex(out.map((x) => x.share / x.expectedShare)) };
}

/** The value at quantile `q` (nearest rank) of `values`, NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function positive(v: unknown, name: string, integer: boolean): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new TypeError(`options.${name} must be a positive ${integer ? 'integer' : 'number'}`);
  }
}

/** Sends frames for one tenant through the client, counting answers. */
class TenantLoad {
  served = 0;
  errors = 0;
  #inFlight = 0;
  #stopped = false;
  #idle: (() => void) | null = null;
  #seq = 0;
  constructor(
    readonly id: string,
    readonly weight: number,
    readonly send: (tenant: string, weight: number, frameId: string) => Promise<unknown>,
  ) {}

  /** One frame; resolves with its round trip in ms (NaN when it failed). */
  one(): Promise<number> {
    const start = performance.now();
    this.#inFlight++;
    return this.send(this.id, this.weight, `${this.id}-${++this.#seq}`).then(
      () => {
        this.served++;
        return this.#settle(performance.now() - start);
      },
      () => {
        this.errors++;
        return this.#settle(NaN);
      },
    );
  }

  /** Keeps `window` frames outstanding until {@link stop}. */
  flood(window: number): void {
    this.#stopped = false;
    const loop = (): void => {
      if (this.#stopped) return;
      void this.one().then(loop);
    };
    for (let i = 0; i < window; i++) loop();
  }

  /** Stops flooding and resolves once nothing is outstanding. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#inFlight === 0) return;
    await new Promise<void>((r) => (this.#idle = r));
  }

  /** Sends `n` frames at `fps`, on schedule; resolves with the round trips of those that succeeded. */
  async paced(n: number, fps: number): Promise<number[]> {
    const t0 = performance.now();
    const pending: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      const wait = t0 + (i * 1000) / fps - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(this.one());
    }
    return (await Promise.all(pending)).filter((x) => !Number.isNaN(x));
  }

  #settle(v: number): number {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle) {
      const r = this.#idle;
      this.#idle = null;
      r();
    }
    return v;
  }
}

/** Runs the benchmark and writes `bench/results/fairness.json`. */
export async function runFairnessBench(opts: FairnessBenchOptions = {}): Promise<FairnessBenchResult> {
  for (const k of ['workers', 'slots', 'window', 'quietFrames', 'floodWindow', 'rounds', 'maxBatch'] as const) positive(opts[k], k, true);
  for (const k of ['echoDelayMs', 'warmupMs', 'measureMs', 'quietFps'] as const) positive(opts[k], k, false);
  if (opts.maxDelayMs !== undefined && !(typeof opts.maxDelayMs === 'number' && opts.maxDelayMs >= 0)) throw new TypeError('options.maxDelayMs must be a number ≥ 0');
  const weights = opts.weights ?? [1, 2, 3];
  if (!Array.isArray(weights) || weights.length < 2 || !weights.every((w) => Number.isFinite(w) && w > 0)) throw new TypeError('options.weights must hold at least two positive numbers');
  const workers = opts.workers ?? 2;
  const slots = opts.slots ?? 8;
  const echoDelayMs = opts.echoDelayMs ?? 40;
  const window = opts.window ?? 64;
  const warmupMs = opts.warmupMs ?? 1_500;
  const measureMs = opts.measureMs ?? 6_000;
  const quietFps = opts.quietFps ?? 20;
  const quietFrames = opts.quietFrames ?? 150;
  const floodWindow = opts.floodWindow ?? 256;
  const rounds = opts.rounds ?? 3;
  const lane: Lane = opts.lane ?? 'standard';
  const maxBatch = opts.maxBatch ?? 16;
  const maxDelayMs = opts.maxDelayMs ?? 2;
  const loadStart = loadavg()[0] ?? 0;
  // A small real JPEG: the echo workers read its header; transport stays cheap.
  const photo = join(REPO_ROOT, '..', 'shared', 'images', 'coco128-train2017-000000000257.jpg');
  const image = await sharp(await readFile(photo)).resize(160).jpeg({ quality: 70 }).toBuffer();

  const procs: BenchProc[] = [];
  let client: SchedulerClient | undefined;
  try {
    const sched = await startEntry('scheduler', { maxBatch, maxDelayMs });
    procs.push(sched);
    const workerEndpoint = `tcp://127.0.0.1:${String(sched.info.workerPort)}`;
    const started = await Promise.all(Array.from({ length: workers }, (_, i) => startEntry('worker', { scheduler: workerEndpoint, nodeId: `fair-${i + 1}`, slots, echoDelayMs })));
    procs.push(...started);
    client = new SchedulerClient({ endpoint: `tcp://127.0.0.1:${String(sched.info.clientPort)}` });
    client.connect();
    await client.waitReady(30_000);
    while (client.ready().workers < workers) await sleep(100);
    const c = client;
    const send = (tenant: string, weight: number, frameId: string) =>
      c.submit({ image, model: 'echo', params: {}, tenant, weight, cost: 1, lane, deadlineMs: Date.now() + 30_000, frameId });

    // Shares: every tenant backlogged, count what each gets served once saturated.
    const loads = weights.map((w, i) => new TenantLoad(`tenant-${i + 1}`, w * UNIT_WEIGHT, send));
    for (const l of loads) l.flood(window);
    await sleep(warmupMs);
    const before = loads.map((l) => l.served);
    const t0 = performance.now();
    await sleep(measureMs);
    const counted = loads.map((l, i) => l.served - before[i]);
    const elapsedS = (performance.now() - t0) / 1000;
    await Promise.all(loads.map((l) => l.stop()));
    const shares = fairShares(loads.map((l, i) => ({ id: l.id, weight: l.weight, frames: counted[i] })));

    // Isolation: the quiet tenant alone, then beside a flooder of the same weight.
    const quiet = new TenantLoad('quiet', UNIT_WEIGHT, send);
    const flooder = new TenantLoad('flooder', UNIT_WEIGHT, send);
    await quiet.paced(Math.min(20, quietFrames), quietFps); // warm-up
    const solo: number[] = [];
    const contended: number[] = [];
    for (let r = 0; r < rounds; r++) {
      solo.push(...(await quiet.paced(quietFrames, quietFps)));
      flooder.flood(floodWindow);
      await sleep(Math.max(500, echoDelayMs * 10));
      contended.push(...(await quiet.paced(quietFrames, quietFps)));
      await flooder.stop();
    }
    const soloP99Ms = r3(quantile(solo, 0.99));
    const contendedP99Ms = r3(quantile(contended, 0.99));
    const result: FairnessBenchResult = {
      tenants: shares.tenants.map((x) => ({ ...x, share: r3(x.share), expectedShare: r3(x.expectedShare) })),
      jain: Math.round(shares.jain * 10_000) / 10_000,
      isolation: {
        soloP99Ms,
        contendedP99Ms,
        ratio: r3(contendedP99Ms / soloP99Ms),
        soloP50Ms: r3(quantile(solo, 0.5)),
        contendedP50Ms: r3(quantile(contended, 0.5)),
        floodFrames: flooder.served,
      },
      saturatedFps: Math.round(counted.reduce((s, x) => s + x, 0) / elapsedS),
      capacityFps: Math.round((workers * slots * 1000) / echoDelayMs),
      errors: [...loads, quiet, flooder].reduce((s, l) => s + l.errors, 0),
      workers,
      slots,
      echoDelayMs,
      window,
      floodWindow,
      quietFps,
      warmupMs,
      measureMs,
      rounds,
      lane,
      maxBatch,
      maxDelayMs,
      ...machineInfo(loadStart),
    };
    await writeBenchResult('fairness', result, opts.outFile);
    return result;
  } finally {
    await client?.close().catch(() => {});
    await Promise.all(procs.reverse().map((p) => p.stop()));
  }
}

// `npx tsx bench/fairness.ts [--workers N] [--slots N] [--echo-delay-ms N] [--measure-ms N] [--rounds N] [--out FILE]`
if (isMainModule(import.meta.url)) {
  const { get, num } = scriptFlags();
  const r = await runFairnessBench({
    workers: num('workers'),
    slots: num('slots'),
    echoDelayMs: num('echo-delay-ms'),
    window: num('window'),
    warmupMs: num('warmup-ms'),
    measureMs: num('measure-ms'),
    quietFps: num('quiet-fps'),
    quietFrames: num('quiet-frames'),
    floodWindow: num('flood-window'),
    rounds: num('rounds'),
    maxBatch: num('max-batch'),
    maxDelayMs: num('max-delay-ms'),
    ...(get('lane') ? { lane: get('lane') as Lane } : {}),
    ...(get('out') ? { outFile: get('out') } : {}),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
