/**
 * Exponential-smoothing models used by the forecaster (SPEC.md §9): Holt's
 * damped linear trend for short histories and additive Holt-Winters with a
 * daily season once a full season has been seen. Both are online: each
 * observation updates the state in O(1); {@link fitHoltWinters} and
 * {@link fitHolt} pick parameters by a small grid search on one-step error.
 * Pure data and functions, no I/O.
 */

/** Parameters of Holt's damped linear trend. */
export interface HoltParams {
  alpha: number;
  beta: number;
  /** Trend damping (1 = undamped). */
  phi: number;
}

/** State of Holt's method. */
export interface HoltState {
  level: number;
  trend: number;
  /** Observations absorbed. */
  n: number;
}

/** Parameters of additive Holt-Winters with a damped trend. */
export interface HoltWintersParams extends HoltParams {
  gamma: number;
  /**
   * Half-width of the running median applied to the first season's profile
   * when Holt-Winters is initialised (0: none). One day of minutes is a noisy
   * estimate of a daily profile; a median removes that noise but keeps steps
   * (a surge at 10:00 stays at 10:00). Default 5.
   */
  smoothing?: number;
}

/** State of additive Holt-Winters: level, trend and one seasonal term per position in the season. */
export interface HoltWintersState {
  level: number;
  trend: number;
  /** `season[i]` is the additive effect of position `i` (bucket index modulo season length). */
  season: Float64Array;
  /** Absolute index of the next observation (its season position is `t % season.length`). */
  t: number;
}

/** Sum φ + φ² + … + φʰ (h steps of damped trend). */
function dampedSum(phi: number, h: number): number {
  if (phi === 1) return h;
  return (phi * (1 - phi ** h)) / (1 - phi);
}

/** A fresh Holt state from the first observation. */
export function holtInit(x0: number): HoltState {
  return { level: x0, trend: 0, n: 1 };
}

/** One-step-ahead Holt forecast `h` steps after the last observation. */
export function holtForecast(s: HoltState, p: HoltParams, h: number): number {
  return s.level + dampedSum(p.phi, h) * s.trend;
}

/** Absorbs observation `x` into `s` (mutates and returns it). */
export function holtUpdate(s: HoltState, p: HoltParams, x: number): HoltState {
  const prevLevel = s.level;
  const level = p.alpha * x + (1 - p.alpha) * (prevLevel + p.phi * s.trend);
  s.trend = p.beta * (level - prevLevel) + (1 - p.beta) * p.phi * s.trend;
  s.level = level;
  s.n += 1;
  return s;
}

/**
 * Initialises Holt-Winters from the first full season of `series`
 * (level = its mean, season = deviations from it, trend 0) and replays the
 * rest. Returns the state after the last observation and the one-step errors
 * of the replayed part.
 */
export function holtWintersRun(
  series: ArrayLike<number>,
  seasonLength: number,
  p: HoltWintersParams,
): { state: HoltWintersState; errors: number[] } {
  if (series.length < seasonLength) throw new RangeError('holtWintersRun needs at least one full season');
  let mean = 0;
  for (let i = 0; i < seasonLength; i++) mean += series[i];
  mean /= seasonLength;
  const raw = new Float64Array(seasonLength);
  for (let i = 0; i < seasonLength; i++) raw[i] = series[i] - mean;
  // Circular running median of the first day's profile: removes that day's noise, keeps its steps.
  const w = Math.min(p.smoothing ?? 5, Math.floor((seasonLength - 1) / 2));
  const season = new Float64Array(seasonLength);
  const win: number[] = [];
  for (let i = 0; i < seasonLength; i++) {
    win.length = 0;
    for (let k = -w; k <= w; k++) win.push(raw[(i + k + seasonLength) % seasonLength]);
    win.sort((a, b) => a - b);
    season[i] = win[w];
  }
  const state: HoltWintersState = { level: mean, trend: 0, season, t: seasonLength };
  const errors: number[] = [];
  for (let i = seasonLength; i < series.length; i++) {
    errors.push(series[i] - holtWintersForecast(state, p, 1));
    holtWintersUpdate(state, p, series[i]);
  }
  return { state, errors };
}

/** Holt-Winters forecast `h` ≥ 1 steps after the last observation. */
export function holtWintersForecast(s: HoltWintersState, p: HoltWintersParams, h: number): number {
  const m = s.season.length;
  return s.level + dampedSum(p.phi, h) * s.trend + s.season[(s.t + h - 1) % m];
}

/** Absorbs observation `x` into `s` (mutates and returns it). */
export function holtWintersUpdate(s: HoltWintersState, p: HoltWintersParams, x: number): HoltWintersState {
  const m = s.season.length;
  const pos = s.t % m;
  const prevLevel = s.level;
  const level = p.alpha * (x - s.season[pos]) + (1 - p.alpha) * (prevLevel + p.phi * s.trend);
  s.trend = p.beta * (level - prevLevel) + (1 - p.beta) * p.phi * s.trend;
  s.season[pos] += p.gamma * (x - level - s.season[pos]);
  s.level = level;
  s.t += 1;
  return s;
}

/** Grid searched by {@link fitHolt}. */
const HOLT_GRID = Object.freeze({ alpha: [0.2, 0.4, 0.7], beta: [0.02, 0.1], phi: [0.9] });

/** Grid searched by {@link fitHoltWinters}. */
const HW_GRID = Object.freeze({ alpha: [0.2, 0.4, 0.6, 0.8], beta: [0.01, 0.05], phi: [0.9], gamma: [0.1, 0.3] });

/** Picks Holt parameters minimising one-step squared error over `series` (≥ 2 points; defaults otherwise). */
export function fitHolt(series: ArrayLike<number>): HoltParams {
  let best: HoltParams = { alpha: 0.4, beta: 0.1, phi: 0.9 };
  if (series.length < 10) return best;
  let bestSse = Infinity;
  for (const alpha of HOLT_GRID.alpha)
    for (const beta of HOLT_GRID.beta)
      for (const phi of HOLT_GRID.phi) {
        const p = { alpha, beta, phi };
        const s = holtInit(series[0]);
        let sse = 0;
        for (let i = 1; i < series.length; i++) {
          const e = series[i] - holtForecast(s, p, 1);
          sse += e * e;
          holtUpdate(s, p, series[i]);
        }
        if (sse < bestSse) {
          bestSse = sse;
          best = p;
        }
      }
  return best;
}

/**
 * Picks Holt-Winters parameters minimising one-step squared error over the
 * part of `series` after its first season. With less than a few hours past
 * the first season there is too little to choose from, and the defaults are
 * returned.
 */
export function fitHoltWinters(series: ArrayLike<number>, seasonLength: number): HoltWintersParams {
  let best: HoltWintersParams = { alpha: 0.3, beta: 0.01, phi: 0.9, gamma: 0.3 };
  if (series.length < seasonLength + Math.max(60, seasonLength / 4)) return best;
  let bestSse = Infinity;
  for (const alpha of HW_GRID.alpha)
    for (const beta of HW_GRID.beta)
      for (const phi of HW_GRID.phi)
        for (const gamma of HW_GRID.gamma) {
          const p = { alpha, beta, phi, gamma };
          const { errors } = holtWintersRun(series, seasonLength, p);
          let sse = 0;
          for (const e of errors) sse += e * e;
          if (sse < bestSse) {
            bestSse = sse;
            best = p;
          }
        }
  return best;
}
