/**
 * `bench scheduler` (SPEC.md §11): what the scheduler costs on top of bare
 * ZeroMQ, measured side by side in the same run.
 *
 * - `transportRtPerS`: round trips per second of a bare DEALER → ROUTER
 *   echo (another process, no codec, no queueing) with the same message
 *   sizes as the cluster: a submit header plus the image out, a reply
 *   header back, the same window of frames in flight.
 * - `schedulerFps`: frames per second through `SchedulerClient` → scheduler
 *   process → echo worker processes → back, same window.
 * - `addedLatencyMs`: at a paced 1,000 frames/s, the cluster's round-trip
 *   percentile minus the bare transport's. A sleeping pacer thread keeps
 *   the schedule (see `paced`): the spinning loop used before took one of
 *   the two cores away from the processes under test, and with it their
 *   p99 (side by side, Nov 2026: added p99 5.0–7.6 ms spinning, 2.4–3.8 ms
 *   paced by the thread; p50 0.54–0.56 against 0.43–0.54 ms).
 *
 * Rounds alternate transport and cluster so load from elsewhere on the
 * machine hits both alike; throughputs are the medians of the rounds,
 * latency percentiles come from all paced frames pooled.
 *
 * - `cpuUsPerFrame`: CPU time (all threads, from /proc on Linux) each
 *   process spent per frame during the throughput runs. On a machine where
 *   every core is busy, the throughput ratio is the ratio of these totals,
 *   and unlike the rates they hardly move with load from elsewhere.
 *
 * Where the cluster's CPU goes (2 vCPUs, Nov 2026). Every image a process
 * receives is external memory to V8 (zeromq.js reports each one twice), and
 * V8 starts a full mark-compact whenever 64 MB more of it is counted; the
 * count only falls when a collection frees the buffers. What keeps that
 * cheap, each measured side by side in this benchmark:
 * - the scheduler core runs in its own worker thread (scheduler/
 *   core-thread.ts), so each mark-compact marks ~6 MB instead of the whole
 *   process's ~13 MB: scheduler 137–141 → 107–111 µs per frame;
 * - it lets go of each image once its batch is on a worker's socket (the
 *   gateway re-sends images of frames re-queued from a lost worker), so
 *   images die young instead of being promoted: about half the
 *   mark-compacts, → 93–104 µs;
 * - the scheduler's gateway socket and each worker's socket run a scavenge
 *   per 8 MB of received images (`scavengeEveryMb`), which uncounts dead
 *   images before the limit: workers 66–75 → 51–61 µs.
 * The bare transport echo is a plain FramePipe without that pacing: paced
 * like the cluster's sockets, its echo costs ~15% less and the ratio would
 * read about 0.05 lower. What remains per frame is mostly ZeroMQ's I/O
 * threads (about a third of the scheduler's CPU: loopback TCP copies of
 * every image, twice) and msgpack.
 *
 * Latency at 1,000 frames/s, traced per hop with timestamps in every
 * process (a temporary tracer, Nov 2026, 2 vCPUs): the cluster's round trip
 * is four hops (gateway → scheduler → worker → scheduler → gateway), the
 * bare one two. A hop costs 0.15–0.25 ms at p50 (the sender's ZeroMQ I/O
 * thread, loopback TCP, the receiver's I/O thread and JavaScript thread),
 * the scheduler's own work about 0.1 ms per frame: that is the added p50.
 * At this rate a message costs 40–100 µs of JavaScript-thread CPU in every
 * process (zeromq.js's synchronous part of a send alone measured 40–95 µs:
 * each thread hand-off is a wake-up of a vCPU), so the cluster keeps about
 * one of the two vCPUs busy against half of one for the bare echo.
 * The p99 is made of stalls, each hitting the few frames in flight. Found
 * and removed (side by side, three runs each, cluster p99):
 * - the scheduler core's per-frame Map churn promoted every frame's objects
 *   (protocol/id-table.ts), for a mark-compact per second and scavenges of
 *   1–1.8 ms (now 0.4–0.6 ms): p99 4.9–7.9 → 3.2–6.1 ms;
 * - scavenges waiting for V8's helper threads on the busy vCPUs
 *   (`--single-threaded-gc`, protocol/v8-flags.ts): 4.4–5.2 → 3.6–4.7 ms.
 * - stalls of 2–4 ms in which no collection ran anywhere (three in four
 *   slow frames): `perf sched` showed a woken frame-path thread waiting
 *   for the next kernel tick (4 ms at HZ=250) behind a thread running out
 *   its 1.4 ms slice, most often a V8 platform thread compiling with
 *   TurboFan. V8's background threads now run SCHED_IDLE
 *   (protocol/thread-sched.ts) in the benchmark's processes of both setups:
 *   cluster p99 3.5–5.2 → 2.6–3.0 ms, added p99 1.3–4.1 → 0.7–1.5 ms, p50
 *   unchanged (four alternating pairs). A 0.1 ms time slice for the
 *   frame-path threads on top did no better and cost ~0.04 ms of p50;
 * - V8's memory reducer running mark-compacts of up to 14 ms in the second
 *   echo worker, which looks idle (`--no-memory-reducer`, v8-flags.ts):
 *   cluster max 12–15 → 6–7 ms, p99 2.4–2.9 → 2.3–2.4 ms (three pairs).
 * The bare echo has the remaining stalls too (its own p99 moves between 0.6
 * and 3.2 ms from run to run), so the added p99 is the difference of two
 * noisy figures.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { FramePipe, SchedulerClient, encodeMessage } from '../protocol/index.js';
import type { Lane } from '../protocol/index.js';
import { startEntry } from './processes.js';
import type { BenchProc } from './processes.js';
import { isMainModule, machineInfo, median, round, scriptFlags, writeBenchResult } from './script-args.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// From sources this file is bench/X.ts; built, dist/bench/X.js.
const REPO_ROOT = resolve(HERE, basename(dirname(HERE)) === 'dist' ? '../..' : '..');

/** Options of {@link runSchedulerBench}. */
export interface SchedulerBenchOptions {
  /** Frames per throughput run, per round (default 10,000). */
  frames?: number;
  /** Frames in flight during throughput runs (default 128). */
  window?: number;
  /** Echo worker processes (default 2). */
  workers?: number;
  /** Paced rate for the latency runs, frames/s (default 1,000). */
  paceFps?: number;
  /** Frames per paced run, per round (default 2,000). */
  paceFrames?: number;
  /** Interleaved rounds (default 3). */
  rounds?: number;
  /**
   * Encoded frame sent as is. Default: the 640×480 photo
   * ../shared/images/coco128-train2017-000000000257.jpg re-encoded at JPEG
   * quality 75 (about 60 KB), the size of a browser's stream frame.
   */
  image?: string;
  /** Scheduler micro-batching (defaults 32 frames, 2 ms). */
  maxBatch?: number;
  maxDelayMs?: number;
  /** Result file (default bench/results/scheduler.json; `null` writes nothing). */
  outFile?: string | null;
}

/** Latency percentiles in milliseconds. */
export interface Percentiles {
  p50: number;
  p99: number;
}

/** `bench/results/scheduler.json`. */
export interface SchedulerBenchResult {
  frames: number;
  transportRtPerS: number;
  schedulerFps: number;
  ratio: number;
  addedLatencyMs: Percentiles;
  latencyMs: { transport: Percentiles; cluster: Percentiles };
  rounds: Array<{ transportRtPerS: number; schedulerFps: number }>;
  /** CPU µs per frame by process during the throughput runs (null where /proc is missing). */
  cpuUsPerFrame: { transport: { client: number; echo: number; total: number }; cluster: { client: number; scheduler: number; workers: number; total: number } } | null;
  image: string;
  imageBytes: number;
  window: number;
  workers: number;
  paceFps: number;
  maxBatch: number;
  maxDelayMs: number;
  cpuCores: number;
  loadAvg: { start: number; end: number };
  node: string;
  date: string;
}

type Send = () => Promise<unknown>;

/** Paced frames sent to each side before measuring (see the warm-up in `runSchedulerBench`). */
const WARM_UP_PACED = 2000;

/** Runs `n` sends keeping `window` in flight; returns completions per second. */
async function throughput(send: Send, n: number, window: number): Promise<number> {
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  await new Promise<void>((resolveAll, reject) => {
    const next = (): void => {
      if (started >= n) return;
      started++;
      send().then(() => {
        done++;
        if (done === n) resolveAll();
        else next();
      }, reject);
    };
    for (let i = 0; i < Math.min(window, n); i++) next();
  });
  return n / ((performance.now() - t0) / 1000);
}

/**
 * Sends `n` frames at `fps` on schedule (not waiting for answers); returns
 * each round trip in ms. A pacer thread keeps the schedule: it sleeps in
 * `Atomics.wait` (microsecond timer precision) and posts one message per
 * frame. So the load generator neither spins (a spinning loop takes one of
 * the machine's cores away from the processes it measures) nor sends in
 * bursts (Node's timers step in whole milliseconds, the interval itself at
 * 1,000 frames/s).
 */
async function paced(send: Send, n: number, fps: number): Promise<number[]> {
  const latencies: number[] = [];
  await new Promise<void>((resolveAll, reject) => {
    // Frames in flight, plus one for the pacer until it exits.
    let outstanding = 1;
    const settled = (): void => {
      if (--outstanding === 0) resolveAll();
    };
    const pacer = new Worker(PACER_SOURCE, { eval: true, workerData: { n, interval: 1000 / fps } });
    pacer.on('message', () => {
      const start = performance.now();
      outstanding++;
      send().then(() => {
        latencies.push(performance.now() - start);
        settled();
      }, reject);
    });
    pacer.once('error', reject);
    pacer.once('exit', settled);
  });
  return latencies;
}

/** The pacer thread of {@link paced}: one message per frame, at `t0 + i × interval`. */
const PACER_SOURCE = `const { parentPort, workerData } = require('node:worker_threads');
const { n, interval } = workerData;
const cell = new Int32Array(new SharedArrayBuffer(4));
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const wait = t0 + i * interval - performance.now();
  if (wait > 0) Atomics.wait(cell, 0, 0, wait);
  parentPort.postMessage(i);
}`;

/** CPU time of a process, all threads, in ms (Linux /proc), or NaN. */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime, fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

function sumCpuMs(pids: ReadonlyArray<number | undefined>): number {
  let ms = 0;
  for (const pid of pids) ms += cpuMs(pid);
  return ms;
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: round(at(0.5), 3), p99: round(at(0.99), 3) };
}

function cpuPerFrame(cpu: { bareClient: number; echo: number; clusterClient: number; scheduler: number; workers: number }, n: number): SchedulerBenchResult['cpuUsPerFrame'] {
  if (Object.values(cpu).some((v) => Number.isNaN(v))) return null;
  const us = (ms: number) => round((ms * 1000) / n, 1);
  return {
    transport: { client: us(cpu.bareClient), echo: us(cpu.echo), total: us(cpu.bareClient + cpu.echo) },
    cluster: { client: us(cpu.clusterClient), scheduler: us(cpu.scheduler), workers: us(cpu.workers), total: us(cpu.clusterClient + cpu.scheduler + cpu.workers) },
  };
}



function positiveInt(v: unknown, name: string): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) throw new TypeError(`options.${name} must be a positive integer`);
}

/** Runs the benchmark and writes `bench/results/scheduler.json`. */
export async function runSchedulerBench(opts: SchedulerBenchOptions = {}): Promise<SchedulerBenchResult> {
  for (const k of ['frames', 'window', 'workers', 'paceFps', 'paceFrames', 'rounds', 'maxBatch'] as const) positiveInt(opts[k], k);
  const frames = opts.frames ?? 10_000;
  const window = opts.window ?? 128;
  const workers = opts.workers ?? 2;
  const paceFps = opts.paceFps ?? 1000;
  const paceFrames = opts.paceFrames ?? 2000;
  const rounds = opts.rounds ?? 3;
  const maxBatch = opts.maxBatch ?? 32;
  const maxDelayMs = opts.maxDelayMs ?? 2;
  const photo = join(REPO_ROOT, '..', 'shared', 'images', 'coco128-train2017-000000000257.jpg');
  const imagePath = opts.image === undefined ? `${photo} (JPEG q75 stream frame)` : resolve(opts.image);
  const image = opts.image === undefined ? await sharp(await readFile(photo)).jpeg({ quality: 75 }).toBuffer() : await readFile(imagePath);
  const loadStart = loadavg()[0] ?? 0;

  // The cluster's own message sizes for the bare transport.
  const lane: Lane = 'realtime';
  const submitFrames = encodeMessage(
    { kind: 'submit', frames: [{ seq: 123456, frameId: 'bench-000123456', model: 'echo', params: {}, tenant: 'bench', weight: 3600, cost: 1, lane, budgetMs: 10_000 }] },
    [image],
  );
  const replyFrames = encodeMessage({
    kind: 'reply',
    outcomes: [{ seq: 123456, result: { model: 'echo', image: { width: 640, height: 480 }, detections: [], timing: { queueMs: 0.1, inferMs: 0, totalMs: 0.2 } } }],
  });

  const procs: BenchProc[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const echo = await startEntry('transport-echo', { replyFrames: replyFrames.map((b) => b.toString('base64')) });
    procs.push(echo);
    const waiting: Array<() => void> = [];
    let head = 0;
    const bare = new FramePipe({
      type: 'dealer',
      name: 'bench-bare',
      onFrames: () => {
        const r = waiting[head];
        waiting[head++] = () => {};
        if (head > 100_000) {
          waiting.splice(0, head);
          head = 0;
        }
        r?.();
      },
    });
    bare.connect(String(echo.info.endpoint));
    cleanups.push(() => bare.close());
    const sendBare: Send = () =>
      new Promise<void>((r) => {
        waiting.push(r);
        bare.sendFrames(submitFrames);
      });

    const sched = await startEntry('scheduler', { maxBatch, maxDelayMs });
    procs.push(sched);
    const workerEndpoint = `tcp://127.0.0.1:${String(sched.info.workerPort)}`;
    for (const p of await Promise.all(Array.from({ length: workers }, (_, i) => startEntry('worker', { scheduler: workerEndpoint, nodeId: `echo-${i + 1}` })))) procs.push(p);
    const client = new SchedulerClient({ endpoint: `tcp://127.0.0.1:${String(sched.info.clientPort)}` });
    client.connect();
    cleanups.push(() => client.close());
    await client.waitReady(30_000);
    while (client.ready().workers < workers) await new Promise((r) => setTimeout(r, 100));
    let seq = 0;
    const sendCluster: Send = () =>
      client.submit({ image, model: 'echo', params: {}, tenant: 'bench', weight: 3600, cost: 1, lane, deadlineMs: Date.now() + 10_000, frameId: `bench-${++seq}` });

    // Warm-up: JIT, connections, buffers. The paced path (one frame per
    // message) needs its own: after 300 paced frames the first measured
    // cluster round still ran at a p50 of 0.9–1.2 ms against 0.7 in later
    // rounds, with 2,000 it matches them (Nov 2026).
    await throughput(sendBare, 2000, window);
    await throughput(sendCluster, 2000, window);
    await paced(sendBare, WARM_UP_PACED, paceFps);
    await paced(sendCluster, WARM_UP_PACED, paceFps);

    const perRound: Array<{ transportRtPerS: number; schedulerFps: number }> = [];
    const bareLat: number[] = [];
    const clusterLat: number[] = [];
    const workerPids = procs.slice(2).map((p) => p.child.pid);
    const cpu = { bareClient: 0, echo: 0, clusterClient: 0, scheduler: 0, workers: 0 };
    for (let r = 0; r < rounds; r++) {
      let own = ownCpuMs();
      let peer = cpuMs(echo.child.pid);
      const transportRtPerS = await throughput(sendBare, frames, window);
      cpu.bareClient += ownCpuMs() - own;
      cpu.echo += cpuMs(echo.child.pid) - peer;
      own = ownCpuMs();
      peer = cpuMs(sched.child.pid);
      const workersBefore = sumCpuMs(workerPids);
      const schedulerFps = await throughput(sendCluster, frames, window);
      cpu.clusterClient += ownCpuMs() - own;
      cpu.scheduler += cpuMs(sched.child.pid) - peer;
      cpu.workers += sumCpuMs(workerPids) - workersBefore;
      perRound.push({ transportRtPerS: round(transportRtPerS, 0), schedulerFps: round(schedulerFps, 0) });
      bareLat.push(...(await paced(sendBare, paceFrames, paceFps)));
      clusterLat.push(...(await paced(sendCluster, paceFrames, paceFps)));
    }
    const transportRtPerS = median(perRound.map((x) => x.transportRtPerS));
    const schedulerFps = median(perRound.map((x) => x.schedulerFps));
    const transport = percentiles(bareLat);
    const cluster = percentiles(clusterLat);
    const result: SchedulerBenchResult = {
      frames: frames * rounds,
      transportRtPerS,
      schedulerFps,
      ratio: round(schedulerFps / transportRtPerS, 3),
      addedLatencyMs: { p50: round(cluster.p50 - transport.p50, 3), p99: round(cluster.p99 - transport.p99, 3) },
      latencyMs: { transport, cluster },
      rounds: perRound,
      cpuUsPerFrame: cpuPerFrame(cpu, frames * rounds),
      image: imagePath,
      imageBytes: image.length,
      window,
      workers,
      paceFps,
      maxBatch,
      maxDelayMs,
      ...machineInfo(loadStart),
    };
    await writeBenchResult('scheduler', result, opts.outFile);
    return result;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await Promise.all(procs.reverse().map((p) => p.stop()));
  }
}

// `npx tsx bench/scheduler.ts [--frames N] [--window N] [--workers N] [--rounds N] [--image F] [--out FILE]`
if (isMainModule(import.meta.url)) {
  const { get, num } = scriptFlags();
  const r = await runSchedulerBench({
    frames: num('frames'),
    window: num('window'),
    workers: num('workers'),
    rounds: num('rounds'),
    paceFrames: num('pace-frames'),
    maxBatch: num('max-batch'),
    maxDelayMs: num('max-delay-ms'),
    ...(get('image') ? { image: get('image') } : {}),
    ...(get('out') ? { outFile: get('out') } : {}),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
