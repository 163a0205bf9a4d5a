import t from 'tap';
import { CapacityModel, Forecaster, builtinTrace } from '../../scheduler/autoscaler/index.js';

const DAY = 1440;

/** Replays `series` into a forecaster; returns the h-step-ahead point and upper forecasts for every bucket after `from`. */
function replay(series: number[], from: number, h: number, opts: ConstructorParameters<typeof Forecaster>[0] = {}) {
  const f = new Forecaster(opts);
  const start = Date.UTC(2026, 0, 5);
  const out: { actual: number; point: number; upper: number; method: string }[] = [];
  for (let i = 0; i < series.length; i++) {
    if (i >= from && i + h - 1 < series.length) {
      // Forecast made at the start of bucket i for bucket i + h − 1.
      const fc = f.forecast(start + i * 60_000, h * 60);
      const model = fc.models.m;
      out.push({ actual: series[i + h - 1], point: model.point[h - 1], upper: model.upper[h - 1], method: model.method });
    }
    f.observeBucket('m', series[i]);
  }
  return { f, out };
}

const mae = (rows: { actual: number; point: number }[]): number => rows.reduce((s, r) => s + Math.abs(r.actual - r.point), 0) / rows.length;

t.test('forecaster - Holt-Winters takes over after a day and beats the simple method on a seasonal series', async (t) => {
  // A daily profile with a steep morning ramp and independent noise (seeded).
  let seed = 11;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const series = Array.from({ length: 3 * DAY }, (_, i) => {
    const m = i % DAY;
    const base = 200 + 800 * Math.min(1, Math.max(0, (m - 480) / 20)) * Math.max(0, Math.min(1, (1200 - m) / 60));
    return base * (1 + (rand() - 0.5) * 0.2);
  });
  const seasonal = replay(series, 2 * DAY, 4);
  const simple = replay(series, 2 * DAY, 4, { seasonBuckets: 10 * DAY }); // never enough history for a season
  t.ok(seasonal.out.every((r) => r.method === 'holt-winters'), 'day 3 is forecast by Holt-Winters');
  t.ok(simple.out.every((r) => r.method === 'holt'), 'the baseline stays on Holt');
  const hw = mae(seasonal.out);
  const holt = mae(simple.out);
  t.ok(hw < holt * 0.97, `Holt-Winters MAE ${hw.toFixed(1)} < Holt MAE ${holt.toFixed(1)} at the planner's 4-minute horizon`);
  const hw30 = mae(replay(series, 2 * DAY, 30).out);
  const holt30 = mae(replay(series, 2 * DAY, 30, { seasonBuckets: 10 * DAY }).out);
  t.ok(hw30 < holt30 * 0.7, `and far better 30 minutes ahead: ${hw30.toFixed(1)} vs ${holt30.toFixed(1)}`);
});

t.test('forecaster - on the diurnal trace Holt-Winters wins on the ramps and at longer horizons', async (t) => {
  // Autocorrelated noise makes the last value a strong 4-minute predictor; the season pays
  // where demand moves on schedule and further ahead.
  const series = builtinTrace('diurnal', 3).tokensPerS.slice(0, 4 * DAY);
  const ramp = <T>(rows: T[]): T[] => rows.filter((_, i) => i % DAY >= 8 * 60 - 4 && i % DAY < 8 * 60 + 20);
  const hw4 = replay(series, 3 * DAY, 4).out;
  const holt4 = replay(series, 3 * DAY, 4, { seasonBuckets: 10 * DAY }).out;
  t.ok(mae(ramp(hw4)) < mae(ramp(holt4)) * 0.7, `morning ramp, 4 min ahead: ${mae(ramp(hw4)).toFixed(1)} vs ${mae(ramp(holt4)).toFixed(1)}`);
  t.ok(mae(hw4) < mae(holt4) * 1.1, `whole day, 4 min ahead: within 10 % (${mae(hw4).toFixed(1)} vs ${mae(holt4).toFixed(1)})`);
  const hw30 = mae(replay(series, 3 * DAY, 30).out);
  const holt30 = mae(replay(series, 3 * DAY, 30, { seasonBuckets: 10 * DAY }).out);
  t.ok(hw30 < holt30 * 0.8, `whole day, 30 min ahead: ${hw30.toFixed(1)} vs ${holt30.toFixed(1)}`);
});

t.test('forecaster - uses the simple method before a season of history', async (t) => {
  const series = builtinTrace('diurnal', 4).tokensPerS.slice(0, DAY);
  const { f, out } = replay(series, 30, 1);
  t.equal(f.method('m'), 'holt');
  t.ok(out.every((r) => r.method === 'holt'));
  t.equal(new Forecaster().method('unknown'), 'none');
});

t.test('forecaster - the upper bound covers most actuals', async (t) => {
  const series = builtinTrace('diurnal', 5).tokensPerS.slice(0, 3 * DAY);
  for (const h of [1, 4]) {
    const { out } = replay(series, DAY + 120, h);
    const covered = out.filter((r) => r.actual <= r.upper).length / out.length;
    const pointCovered = out.filter((r) => r.actual <= r.point).length / out.length;
    t.ok(covered >= 0.9, `upper bound covers ${(covered * 100).toFixed(1)} % of actuals ${h} bucket(s) ahead`);
    t.ok(pointCovered < 0.7, `the point forecast alone covers only ${(pointCovered * 100).toFixed(1)} %`);
    const widths = out.map((r) => r.upper - r.point);
    const meanWidth = widths.reduce((a, b) => a + b, 0) / widths.length;
    const meanLevel = out.reduce((a, r) => a + r.point, 0) / out.length;
    t.ok(meanWidth < 0.4 * meanLevel, `and stays reasonably tight (${meanWidth.toFixed(0)} vs level ${meanLevel.toFixed(0)})`);
  }
});

t.test('forecaster - buckets recorded tokens per model and sums them into the total', async (t) => {
  const f = new Forecaster();
  const t0 = Date.UTC(2026, 0, 5, 10, 0, 0);
  for (let m = 0; m < 30; m++) {
    for (let s = 0; s < 60; s += 1) {
      f.record('a', 2, t0 + m * 60_000 + s * 1000); // 2 tokens/s
      f.record('b', 1, t0 + m * 60_000 + s * 1000 + 500); // 1 token/s
    }
  }
  f.advance(t0 + 30 * 60_000);
  const fc = f.forecast(t0 + 30 * 60_000, 195);
  t.same(f.models.sort(), ['a', 'b']);
  t.equal(fc.models.a.last, 2);
  t.equal(fc.models.b.last, 1);
  t.equal(fc.total.point.length, 4, '195 s from a bucket start spans 4 one-minute buckets');
  t.ok(Math.abs(fc.total.peakPoint - 3) < 0.05, `total forecast ≈ 3 tok/s (got ${fc.total.peakPoint})`);
  t.ok(fc.total.peakUpper >= fc.total.peakPoint);
  // Silence closes buckets as zeros.
  f.advance(t0 + 40 * 60_000);
  t.equal(f.forecast(t0 + 40 * 60_000, 60).models.a.last, 0);
});

t.test('forecaster - options are validated', async (t) => {
  t.throws(() => new Forecaster({ bucketS: 0 }), /options\.bucketS must be a positive integer/);
  t.throws(() => new Forecaster({ upperK: -1 }), /options\.upperK/);
});

t.test('capacity - learns tokens/s per node from throughput and utilisation', async (t) => {
  const c = new CapacityModel({ priors: { gpu: 500 }, defaultTokensPerS: 50 });
  t.equal(c.get('gpu'), 500);
  t.equal(c.get('cpu'), 50);
  t.notOk(c.observe({ type: 'cpu', tokensPerS: 3, utilisation: 0.05 }), 'too little load says nothing');
  for (let i = 0; i < 40; i++) t.ok(c.observe({ type: 'cpu', tokensPerS: 60 + (i % 2) * 4, utilisation: 0.5 + (i % 2) * 0.033 }));
  t.ok(Math.abs(c.get('cpu') - 120) < 5, `learned ≈ 120 tok/s per cpu node (got ${c.get('cpu').toFixed(1)})`);
  t.equal(c.snapshot().cpu.samples, 40);
  t.equal(c.get('gpu'), 500, 'other types untouched');
});
