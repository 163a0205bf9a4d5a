/**
 * What the scheduler core records into (`MetricsSink`), and a recorder that
 * keeps it as plain numbers (`MetricsRecorder`) for when the core runs in
 * its own thread: the thread never loads prom-client, and the process's main
 * thread applies each drained {@link MetricsDelta} to its prom-client
 * metrics (`applyMetricsDelta` in metrics.ts). Pure: no I/O, no clock.
 */

/** A counter with labels. */
export interface LabelledCounterSink<L extends string> {
  inc(labels: Record<L, string>, value?: number): void;
}

/** The metric handles the scheduler core uses; `SchedulerMetrics` fits, and so does {@link MetricsRecorder}. */
export interface MetricsSink {
  frames: LabelledCounterSink<'model' | 'outcome'>;
  batchSize: { observe(value: number): void };
  inferenceSeconds: { observe(value: number): void };
  queueWaitSeconds: { observe(value: number): void };
  requeued: { inc(value?: number): void };
  dropped: LabelledCounterSink<'socket' | 'reason'>;
  tokenRate: { add(model: string, tokens: number, nowMs: number): void };
}

/** Everything recorded since the last drain (structured-clone safe). */
export interface MetricsDelta {
  /** `[model, outcome, count]`. */
  frames: Array<[string, string, number]>;
  /** `[socket, reason, count]`. */
  dropped: Array<[string, string, number]>;
  batchSizes: number[];
  inferenceSeconds: number[];
  queueWaitSeconds: number[];
  requeued: number;
  /** `[model, tokens, epoch ms]`, one entry per model and second. */
  tokens: Array<[string, number, number]>;
}

function bump(m: Map<string, [string, string, number]>, a: string, b: string, n: number): void {
  const key = `${a}\u0000${b}`;
  const e = m.get(key);
  if (e) e[2] += n;
  else m.set(key, [a, b, n]);
}

/** Records metrics as numbers until {@link MetricsRecorder.drain}. */
export class MetricsRecorder implements MetricsSink {
  #frames = new Map<string, [string, string, number]>();
  #dropped = new Map<string, [string, string, number]>();
  #tokens = new Map<string, [string, number, number]>();
  #batchSizes: number[] = [];
  #infer: number[] = [];
  #wait: number[] = [];
  #requeued = 0;

  readonly frames: LabelledCounterSink<'model' | 'outcome'> = { inc: (l, n = 1) => bump(this.#frames, l.model, l.outcome, n) };
  readonly dropped: LabelledCounterSink<'socket' | 'reason'> = { inc: (l, n = 1) => bump(this.#dropped, l.socket, l.reason, n) };
  readonly batchSize = { observe: (v: number) => void this.#batchSizes.push(v) };
  readonly inferenceSeconds = { observe: (v: number) => void this.#infer.push(v) };
  readonly queueWaitSeconds = { observe: (v: number) => void this.#wait.push(v) };
  readonly requeued = { inc: (n = 1) => void (this.#requeued += n) };
  readonly tokenRate = {
    add: (model: string, tokens: number, nowMs: number) => {
      // Per model and second, the resolution of the token-rate window.
      const second = Math.floor(nowMs / 1000) * 1000;
      const key = `${model}\u0000${second}`;
      const e = this.#tokens.get(key);
      if (e) e[1] += tokens;
      else this.#tokens.set(key, [model, tokens, second]);
    },
  };

  /** Returns what was recorded since the last drain and starts afresh. */
  drain(): MetricsDelta {
    const d: MetricsDelta = {
      frames: [...this.#frames.values()],
      dropped: [...this.#dropped.values()],
      batchSizes: this.#batchSizes,
      inferenceSeconds: this.#infer,
      queueWaitSeconds: this.#wait,
      requeued: this.#requeued,
      tokens: [...this.#tokens.values()],
    };
    this.#frames = new Map();
    this.#dropped = new Map();
    this.#tokens = new Map();
    this.#batchSizes = [];
    this.#infer = [];
    this.#wait = [];
    this.#requeued = 0;
    return d;
  }
}

/** Replays a delta into any sink (the main thread's prom-client metrics). */
export function applyMetricsDelta(sink: MetricsSink, d: MetricsDelta): void {
  for (const [model, outcome, n] of d.frames) sink.frames.inc({ model, outcome }, n);
  for (const [socket, reason, n] of d.dropped) sink.dropped.inc({ socket, reason }, n);
  for (const v of d.batchSizes) sink.batchSize.observe(v);
  for (const v of d.inferenceSeconds) sink.inferenceSeconds.observe(v);
  for (const v of d.queueWaitSeconds) sink.queueWaitSeconds.observe(v);
  if (d.requeued > 0) sink.requeued.inc(d.requeued);
  for (const [model, tokens, at] of d.tokens) sink.tokenRate.add(model, tokens, at);
}
