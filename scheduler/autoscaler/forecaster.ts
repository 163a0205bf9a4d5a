import {
  fitHolt,
  fitHoltWinters,
  holtForecast,
  holtInit,
  holtUpdate,
  holtWintersForecast,
  holtWintersRun,
  holtWintersUpdate,
} from './smoothing.js';
import type { HoltParams, HoltState, HoltWintersParams, HoltWintersState } from './smoothing.js';

/**
 * Demand forecaster of SPEC.md §9: per-model tokens/s in one-minute buckets;
 * additive Holt-Winters with a daily season once at least one season plus a
 * margin of history exists, Holt's damped linear trend before that; an upper
 * bound from the recent one-step forecast error. Pure data structure: time
 * comes in as arguments, nothing is read from clocks or files.
 */

/** Options of {@link Forecaster}; all optional. */
export interface ForecasterOptions {
  /** Bucket width in seconds (default 60). */
  bucketS?: number;
  /** Buckets per season (default 1440: one day of minutes). */
  seasonBuckets?: number;
  /** History (buckets) past the first season before Holt-Winters takes over (default 60). */
  seasonMarginBuckets?: number;
  /** Width of the upper bound in robust standard deviations (default 2). */
  upperK?: number;
  /** One-step errors kept for the upper bound (default 60). */
  errorWindow?: number;
  /** Parameters are refitted every this many buckets (default 720: twice a day). */
  refitEveryBuckets?: number;
  /** Buckets of history kept per model (default 3 seasons). */
  maxHistoryBuckets?: number;
}

const DEFAULTS = Object.freeze({
  bucketS: 60,
  seasonBuckets: 1440,
  seasonMarginBuckets: 60,
  upperK: 2,
  errorWindow: 60,
  refitEveryBuckets: 720,
  maxHistoryBuckets: 0,
});

/** Forecasting method in use for a series. */
export type ForecastMethod = 'none' | 'holt' | 'holt-winters';

/** One model's (or the total's) forecast over a horizon. */
export interface SeriesForecast {
  method: ForecastMethod;
  /** Tokens/s of the last complete bucket. */
  last: number;
  /** Start (epoch ms) of each forecast bucket. */
  bucketStartMs: number[];
  /** Point forecast per bucket, tokens/s, never negative. */
  point: number[];
  /** Upper bound per bucket, tokens/s. */
  upper: number[];
  /** Maximum of `point` over the horizon. */
  peakPoint: number;
  /** Maximum of `upper` over the horizon: what the planner provisions for. */
  peakUpper: number;
  /** Robust standard deviation of recent one-step errors, tokens/s. */
  sigma: number;
}

/** Forecast of every model plus the total, as served by `GET /v1/pool/forecast`. */
export interface Forecast {
  atMs: number;
  horizonS: number;
  models: Record<string, SeriesForecast>;
  total: SeriesForecast;
}

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`options.${name} must be a positive integer`);
  return v;
}

/** Robust spread: 1.4826 × median absolute deviation, and the median. */
function robustStats(errors: readonly number[]): { median: number; sigma: number } {
  if (errors.length === 0) return { median: 0, sigma: 0 };
  const sorted = [...errors].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1];
  const dev = sorted.map((e) => Math.abs(e - median)).sort((a, b) => a - b);
  return { median, sigma: 1.4826 * dev[dev.length >> 1] };
}

/** Per-series online model. */
class SeriesModel {
  history: number[] = [];
  errors: number[] = [];
  holt: HoltState | undefined;
  holtParams: HoltParams = { alpha: 0.4, beta: 0.1, phi: 0.9 };
  hw: HoltWintersState | undefined;
  hwParams: HoltWintersParams = { alpha: 0.3, beta: 0.01, phi: 0.9, gamma: 0.3 };
  sinceRefit = 0;
  seen = 0;
  #stats: { median: number; sigma: number } | undefined;

  constructor(readonly opts: Readonly<Required<ForecasterOptions>>) {}

  get method(): ForecastMethod {
    if (this.hw) return 'holt-winters';
    return this.holt ? 'holt' : 'none';
  }

  /** Point forecast `h` buckets ahead of the last observation. */
  predict(h: number): number {
    if (this.hw) return holtWintersForecast(this.hw, this.hwParams, h);
    if (this.holt) return holtForecast(this.holt, this.holtParams, h);
    return 0;
  }

  add(x: number): void {
    const o = this.opts;
    if (this.seen > 0) this.#pushError(x - this.predict(1));
    this.seen += 1;
    this.history.push(x);
    if (this.history.length > o.maxHistoryBuckets) this.history.splice(0, this.history.length - o.maxHistoryBuckets);
    if (this.holt) holtUpdate(this.holt, this.holtParams, x);
    else this.holt = holtInit(x);
    if (this.hw) holtWintersUpdate(this.hw, this.hwParams, x);
    this.sinceRefit += 1;
    const canSeason = this.history.length >= o.seasonBuckets + o.seasonMarginBuckets;
    if (canSeason && !this.hw) this.#refit(true);
    else if (this.sinceRefit >= o.refitEveryBuckets) this.#refit(false);
  }

  /** Robust statistics of the recent one-step errors (cached until the next observation). */
  stats(): { median: number; sigma: number } {
    this.#stats ??= robustStats(this.errors);
    return this.#stats;
  }

  #pushError(e: number): void {
    this.#stats = undefined;
    this.errors.push(e);
    if (this.errors.length > this.opts.errorWindow) this.errors.shift();
  }

  #refit(switching: boolean): void {
    const o = this.opts;
    this.sinceRefit = 0;
    if (this.history.length >= o.seasonBuckets + o.seasonMarginBuckets) {
      this.hwParams = fitHoltWinters(this.history, o.seasonBuckets);
      const { state, errors } = holtWintersRun(this.history, o.seasonBuckets, this.hwParams);
      this.hw = state;
      // The state was rebuilt from the kept history; renumber so season positions keep their phase.
      this.hw.t = this.seen - this.history.length + state.t;
      this.#rephase();
      if (switching) {
        this.errors = errors.slice(-o.errorWindow);
        this.#stats = undefined;
      }
    } else {
      const window = this.history.slice(-Math.min(this.history.length, 720));
      this.holtParams = fitHolt(window);
      const s = holtInit(window[0]);
      for (let i = 1; i < window.length; i++) holtUpdate(s, this.holtParams, window[i]);
      this.holt = s;
    }
  }

  /** After trimming history the run starts mid-season: rotate seasonal terms so `t % m` indexes them. */
  #rephase(): void {
    if (!this.hw) return;
    const m = this.hw.season.length;
    const offset = (this.seen - this.history.length) % m;
    if (offset === 0) return;
    const rotated = new Float64Array(m);
    for (let i = 0; i < m; i++) rotated[(i + offset) % m] = this.hw.season[i];
    this.hw.season = rotated;
  }
}

/**
 * Per-model tokens/s forecaster. Feed it with {@link Forecaster.record}
 * (tokens as they are admitted) or {@link Forecaster.observeBucket} (one
 * bucket's rate), close buckets with {@link Forecaster.advance}, and ask
 * {@link Forecaster.forecast} for the horizon the planner needs.
 */
export class Forecaster {
  readonly #o: Readonly<Required<ForecasterOptions>>;
  readonly #series = new Map<string, SeriesModel>();
  /** Tokens accumulated per model in the open bucket. */
  readonly #open = new Map<string, number>();
  /** Index (epoch ms / bucket ms) of the open bucket; undefined before the first observation. */
  #openBucket: number | undefined;

  constructor(options: ForecasterOptions = {}) {
    const bucketS = positiveInt('bucketS', options.bucketS, DEFAULTS.bucketS);
    const seasonBuckets = positiveInt('seasonBuckets', options.seasonBuckets, DEFAULTS.seasonBuckets);
    const upperK = options.upperK ?? DEFAULTS.upperK;
    if (!Number.isFinite(upperK) || upperK < 0) throw new RangeError('options.upperK must be a non-negative number');
    this.#o = Object.freeze({
      bucketS,
      seasonBuckets,
      seasonMarginBuckets: positiveInt('seasonMarginBuckets', options.seasonMarginBuckets, DEFAULTS.seasonMarginBuckets),
      upperK,
      errorWindow: positiveInt('errorWindow', options.errorWindow, DEFAULTS.errorWindow),
      refitEveryBuckets: positiveInt('refitEveryBuckets', options.refitEveryBuckets, DEFAULTS.refitEveryBuckets),
      maxHistoryBuckets: positiveInt('maxHistoryBuckets', options.maxHistoryBuckets, 3 * seasonBuckets),
    });
  }

  /** Bucket width in seconds. */
  get bucketS(): number {
    return this.#o.bucketS;
  }

  /** Models seen so far. */
  get models(): string[] {
    return [...this.#series.keys()];
  }

  /** Method currently used for `model`. */
  method(model: string): ForecastMethod {
    return this.#series.get(model)?.method ?? 'none';
  }

  /** Adds `tokens` admitted for `model` at `atMs` to the open bucket (closing earlier buckets first). */
  record(model: string, tokens: number, atMs: number): void {
    if (!Number.isFinite(tokens) || tokens < 0) return;
    this.advance(atMs);
    this.#ensure(model);
    this.#open.set(model, (this.#open.get(model) ?? 0) + tokens);
  }

  /**
   * Closes every bucket that ended at or before `nowMs`: each model's bucket
   * becomes one observation (tokens/s); buckets with nothing recorded are zero.
   */
  advance(nowMs: number): void {
    const bucketMs = this.#o.bucketS * 1000;
    const current = Math.floor(nowMs / bucketMs);
    if (this.#openBucket === undefined) {
      this.#openBucket = current;
      return;
    }
    if (current <= this.#openBucket) return;
    const gap = current - this.#openBucket;
    for (const [model, series] of this.#series) {
      const first = (this.#open.get(model) ?? 0) / this.#o.bucketS;
      series.add(first);
      // Long silences: at most one season of zeros is replayed.
      for (let i = 1; i < Math.min(gap, this.#o.seasonBuckets + 1); i++) series.add(0);
    }
    this.#open.clear();
    this.#openBucket = current;
  }

  /** Adds one complete bucket's rate (tokens/s) for `model` directly (simulator, CSV replays). */
  observeBucket(model: string, tokensPerS: number): void {
    this.#ensure(model).add(Math.max(0, tokensPerS));
  }

  #ensure(model: string): SeriesModel {
    let s = this.#series.get(model);
    if (!s) {
      s = new SeriesModel(this.#o);
      this.#series.set(model, s);
    }
    return s;
  }

  /**
   * Forecast of each model and the total for the buckets overlapping
   * `[nowMs, nowMs + horizonS)`. The total's point is the sum of the models'
   * points; its spread combines theirs as independent errors.
   */
  forecast(nowMs: number, horizonS: number): Forecast {
    const bucketMs = this.#o.bucketS * 1000;
    const openStart = this.#openBucket === undefined ? Math.floor(nowMs / bucketMs) * bucketMs : this.#openBucket * bucketMs;
    const endMs = nowMs + horizonS * 1000;
    const starts: number[] = [];
    for (let s = openStart; s < endMs; s += bucketMs) starts.push(s);
    const models: Record<string, SeriesForecast> = {};
    const totalPoint = starts.map(() => 0);
    const totalVar = starts.map(() => 0);
    let totalLast = 0;
    let method: ForecastMethod = 'none';
    for (const [name, series] of this.#series) {
      const f = this.#seriesForecast(series, starts);
      models[name] = f;
      totalLast += f.last;
      if (f.method === 'holt-winters' || (f.method === 'holt' && method === 'none')) method = f.method;
      starts.forEach((_, i) => {
        totalPoint[i] += f.point[i];
        const spread = (f.upper[i] - f.point[i]) / Math.max(this.#o.upperK, 1e-9);
        totalVar[i] += spread * spread;
      });
    }
    const k = this.#o.upperK;
    const totalUpper = totalPoint.map((p, i) => p + k * Math.sqrt(totalVar[i]));
    const total: SeriesForecast = {
      method,
      last: totalLast,
      bucketStartMs: starts,
      point: totalPoint,
      upper: totalUpper,
      peakPoint: Math.max(0, ...totalPoint),
      peakUpper: Math.max(0, ...totalUpper),
      sigma: Math.sqrt(totalVar[0] ?? 0),
    };
    return { atMs: nowMs, horizonS, models, total };
  }

  #seriesForecast(series: SeriesModel, starts: number[]): SeriesForecast {
    const { median, sigma } = series.stats();
    const bias = Math.max(0, median);
    // Variance of an h-step exponential-smoothing forecast grows as 1 + (h − 1)α² one-step variances.
    const alpha = series.hw ? series.hwParams.alpha : series.holtParams.alpha;
    const point: number[] = [];
    const upper: number[] = [];
    starts.forEach((_, i) => {
      const h = i + 1;
      const p = Math.max(0, series.predict(h));
      point.push(p);
      upper.push(p + bias + this.#o.upperK * sigma * Math.sqrt(1 + (h - 1) * alpha * alpha));
    });
    return {
      method: series.method,
      last: series.history.at(-1) ?? 0,
      bucketStartMs: starts,
      point,
      upper,
      peakPoint: Math.max(0, ...point),
      peakUpper: Math.max(0, ...upper),
      sigma,
    };
  }
}
