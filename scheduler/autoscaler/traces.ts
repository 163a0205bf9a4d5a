import { ErrorCode, YoloscaleError } from '../../protocol/index.js';

/**
 * Demand traces for the simulator (SPEC.md §9): the built-in `diurnal`
 * (7 days), `surge` (3× at 10:00) and `event` (a 5× spike), generated
 * deterministically from a seed, and CSV traces `timestamp,tokens_per_s`.
 * A trace is a series of one-minute buckets of tokens/s.
 */

/** A demand trace in one-minute buckets. */
export interface DemandTrace {
  name: string;
  /** Epoch ms of the first bucket. */
  startMs: number;
  /** Tokens/s of each one-minute bucket. */
  tokensPerS: number[];
}

/** Names of the built-in traces. */
export const BUILTIN_TRACES: readonly string[] = Object.freeze(['diurnal', 'surge', 'event']);

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from a uniform source (Box–Muller). */
function gauss(r: () => number): number {
  const u = Math.max(1e-12, r());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Smooth step from 0 to 1 as `x` goes from `a` to `b`. */
function ramp(x: number, a: number, b: number): number {
  if (x <= a) return 0;
  if (x >= b) return 1;
  const u = (x - a) / (b - a);
  return u * u * (3 - 2 * u);
}

/**
 * Working-day shape, relative to the daily peak, at minute-of-day `m`:
 * quiet nights, a steep start of business at 08:00–08:20, a lunch dip, the
 * afternoon peak and an evening decline.
 */
function dayShape(m: number): number {
  const h = m / 60;
  const morning = ramp(h, 8, 8 + 20 / 60) * 0.6;
  const midday = ramp(h, 9, 11) * 0.3;
  const lunch = -0.15 * Math.exp(-(((h - 12.75) / 0.6) ** 2));
  const afternoon = 0.1 * Math.exp(-(((h - 15) / 1.5) ** 2));
  const evening = 1 - ramp(h, 18, 22);
  return 0.15 + (morning + midday + afternoon) * evening + lunch * ramp(h, 11, 12);
}

/** Multiplicative AR(1) noise series with standard deviation `sd` and lag-1 correlation `rho`. */
function noise(r: () => number, n: number, sd: number, rho: number): number[] {
  const out: number[] = [];
  let e = 0;
  const innov = sd * Math.sqrt(1 - rho * rho);
  for (let i = 0; i < n; i++) {
    e = rho * e + innov * gauss(r);
    out.push(Math.max(0.5, 1 + e));
  }
  return out;
}

const DAY = 1440;
const EPOCH = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC

/**
 * Builds a built-in trace by name. `seed` changes the noise, never the shape.
 * Throws a `bad_request` error for unknown names.
 */
export function builtinTrace(name: string, seed = 1): DemandTrace {
  const r = rng(seed);
  if (name === 'diurnal') {
    const days = 7;
    const peak = 2000;
    const dayScale = Array.from({ length: days }, () => 0.9 + 0.2 * r());
    const eps = noise(r, days * DAY, 0.06, 0.7);
    const v = eps.map((e, i) => peak * dayScale[Math.floor(i / DAY)] * dayShape(i % DAY) * e);
    return { name, startMs: EPOCH, tokensPerS: v };
  }
  if (name === 'surge') {
    // Four days of steady demand with a mild daily swing; every day at 10:00 demand
    // triples (a scheduled batch job, a market opening) for two hours.
    const days = 4;
    const base = 600;
    const eps = noise(r, days * DAY, 0.05, 0.6);
    const v = eps.map((e, i) => {
      const m = i % DAY;
      const swing = 1 + 0.2 * Math.sin(((m - 6 * 60) / DAY) * 2 * Math.PI);
      const surge = m >= 600 && m < 720 ? 3 : 1;
      return base * swing * surge * e;
    });
    return { name, startMs: EPOCH, tokensPerS: v };
  }
  if (name === 'event') {
    // Two days of working-day demand; on the second evening an unannounced event multiplies it by 5 for 30 minutes.
    const days = 2;
    const peak = 1500;
    const eps = noise(r, days * DAY, 0.06, 0.7);
    const v = eps.map((e, i) => {
      const spike = i >= DAY + 20 * 60 && i < DAY + 20 * 60 + 30 ? 5 : 1;
      return peak * dayShape(i % DAY) * e * spike;
    });
    return { name, startMs: EPOCH, tokensPerS: v };
  }
  throw new YoloscaleError(ErrorCode.badRequest, `unknown trace "${name}" (built-in: ${BUILTIN_TRACES.join(', ')}; or a CSV file)`);
}

function parseTimestamp(raw: string): number {
  const s = raw.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return n > 1e11 ? n : n * 1000; // epoch ms or epoch seconds
  }
  return Date.parse(s);
}

/**
 * Parses a CSV trace `timestamp,tokens_per_s` (header optional; timestamps
 * ISO-8601, epoch seconds or epoch ms, increasing). Each row's rate holds
 * until the next row; the result is resampled to one-minute averages.
 * Throws a `bad_request` error naming the line for malformed input.
 */
export function parseTraceCsv(text: string, name = 'csv'): DemandTrace {
  const rows: { t: number; v: number }[] = [];
  const lines = text.split(/\r?\n/);
  let first = true;
  lines.forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    const cells = l.split(',');
    const isHeader = first && /^[a-z_ ]+$/i.test(cells[1]?.trim() ?? '');
    first = false;
    if (isHeader) return;
    if (cells.length < 2) throw new YoloscaleError(ErrorCode.badRequest, `${name}: line ${i + 1}: expected "timestamp,tokens_per_s"`);
    const t = parseTimestamp(cells[0]);
    const v = Number(cells[1].trim());
    if (!Number.isFinite(t)) throw new YoloscaleError(ErrorCode.badRequest, `${name}: line ${i + 1}: bad timestamp "${cells[0]}"`);
    if (cells[1].trim() === '' || !Number.isFinite(v) || v < 0) {
      throw new YoloscaleError(ErrorCode.badRequest, `${name}: line ${i + 1}: tokens_per_s must be a non-negative number`);
    }
    if (rows.length > 0 && t <= rows[rows.length - 1].t) {
      throw new YoloscaleError(ErrorCode.badRequest, `${name}: line ${i + 1}: timestamps must increase`);
    }
    rows.push({ t, v });
  });
  if (rows.length < 2) throw new YoloscaleError(ErrorCode.badRequest, `${name}: a trace needs at least two rows`);
  const startMs = Math.floor(rows[0].t / 60_000) * 60_000;
  // The last row lasts as long as the median row spacing.
  const gaps = rows.slice(1).map((r, i) => r.t - rows[i].t).sort((a, b) => a - b);
  const endMs = rows[rows.length - 1].t + gaps[gaps.length >> 1];
  const minutes = Math.max(1, Math.ceil((endMs - startMs) / 60_000));
  if (minutes > 60 * DAY) throw new YoloscaleError(ErrorCode.badRequest, `${name}: traces are limited to 60 days`);
  const acc = new Float64Array(minutes);
  for (let k = 0; k < rows.length; k++) {
    const from = rows[k].t;
    const to = k + 1 < rows.length ? rows[k + 1].t : endMs;
    let t = from;
    while (t < to) {
      const b = Math.floor((t - startMs) / 60_000);
      const bEnd = startMs + (b + 1) * 60_000;
      const seg = Math.min(to, bEnd) - t;
      acc[b] += rows[k].v * (seg / 60_000);
      t += seg;
    }
  }
  return { name, startMs, tokensPerS: Array.from(acc) };
}
