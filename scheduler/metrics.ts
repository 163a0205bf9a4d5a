/**
 * Scheduler metrics of SPEC.md §10, registered on a prom-client registry the
 * process creates in `main` and injects (never the global default).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Lane } from '../protocol/index.js';
import { LANE_ORDER } from './lanes.js';
import { NODE_STATES } from './registry.js';
import type { NodeState } from './registry.js';

/** Live values the gauges read when scraped. */
export interface MetricsSources {
  queueDepth(lane: Lane): number;
  nodeCounts(): Record<NodeState, number>;
}

/**
 * Tokens of completed frames per model over a sliding window, for
 * `tokens_used_per_second{model}`. Pure: the caller passes the clock (ms).
 */
export class TokenRate {
  readonly #windowS: number;
  readonly #buckets = new Map<string, Map<number, number>>();

  constructor(windowS = 10) {
    if (!Number.isInteger(windowS) || windowS < 1) throw new TypeError('windowS must be a positive integer');
    this.#windowS = windowS;
  }

  /** Adds the tokens of a completed frame. */
  add(model: string, tokens: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    let m = this.#buckets.get(model);
    if (!m) this.#buckets.set(model, (m = new Map()));
    m.set(second, (m.get(second) ?? 0) + tokens);
  }

  /** Tokens per second per model over the last full window (older buckets are forgotten). */
  rates(nowMs: number): Map<string, number> {
    const now = Math.floor(nowMs / 1000);
    const out = new Map<string, number>();
    for (const [model, m] of this.#buckets) {
      let sum = 0;
      for (const [second, tokens] of m) {
        if (second <= now - this.#windowS) m.delete(second);
        else if (second < now) sum += tokens;
      }
      out.set(model, sum / (this.#windowS - 1 || 1));
    }
    return out;
  }
}

/** The scheduler's metric handles. */
export class SchedulerMetrics {
  readonly frames: Counter<'model' | 'outcome'>;
  readonly batchSize: Histogram;
  readonly inferenceSeconds: Histogram;
  /** `yoloscale_queue_wait_seconds`: time a completed frame waited in the scheduler and on its worker before inference. */
  readonly queueWaitSeconds: Histogram;
  readonly requeued: Counter;
  readonly dropped: Counter<'socket' | 'reason'>;
  readonly tokenRate = new TokenRate(10);

  constructor(registry: Registry, sources: MetricsSources) {
    const registers = [registry];
    this.frames = new Counter({ name: 'yoloscale_frames_total', help: 'Frames finished by the scheduler, by model and outcome (ok or an error code)', labelNames: ['model', 'outcome'], registers });
    this.batchSize = new Histogram({ name: 'yoloscale_batch_size', help: 'Frames per batch dispatched to workers', buckets: [1, 2, 4, 8, 16, 32, 64], registers });
    this.inferenceSeconds = new Histogram({
      name: 'yoloscale_inference_seconds',
      help: 'Inference time per frame reported by workers, seconds',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.queueWaitSeconds = new Histogram({
      name: 'yoloscale_queue_wait_seconds',
      help: 'Time completed frames waited before inference (scheduler queue plus worker queue), seconds',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.requeued = new Counter({ name: 'yoloscale_frames_requeued_total', help: 'Frames re-queued after their worker was lost', registers });
    this.dropped = new Counter({ name: 'yoloscale_messages_dropped_total', help: 'Malformed, foreign or wrong-version ZeroMQ messages dropped', labelNames: ['socket', 'reason'], registers });
    new Gauge({
      name: 'yoloscale_queue_depth',
      help: 'Frames waiting in each lane',
      labelNames: ['lane'],
      registers,
      collect() {
        for (const lane of LANE_ORDER) this.set({ lane }, sources.queueDepth(lane));
      },
    });
    new Gauge({
      name: 'yoloscale_nodes',
      help: 'Worker nodes by state',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = sources.nodeCounts();
        for (const state of NODE_STATES) this.set({ state }, counts[state]);
      },
    });
    const rate = this.tokenRate;
    new Gauge({
      name: 'tokens_used_per_second',
      help: 'Tokens of frames completed per second, by model (10 s window); feeds the HPA',
      labelNames: ['model'],
      registers,
      collect() {
        for (const [model, r] of rate.rates(Date.now())) this.set({ model }, r);
      },
    });
  }
}
